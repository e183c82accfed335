import { type FileMetaData, parquetMetadata } from 'hyparquet'
import { ByteWriter } from 'hyparquet-writer'
import { jsKernels, type Kernels } from '../compute/backend.js'
import { NoIndexError, ParquetSeekError, throwIfAborted } from '../errors.js'
import type { ListView } from '../index/blob.js'
import { footerValue, PQ_VECTOR_KEY } from '../index/keys.js'
import type { IvfPqModel, Metric } from '../index/model.js'
import { type FileInput, readable, TAKES_ADDRESS } from '../io/blobSource.js'
import { CachedSource } from '../io/cache.js'
import { openHttp } from '../io/httpSource.js'
import { withLocalFile } from '../io/local.js'
import { DEFAULT_CONCURRENCY } from '../io/ranges.js'
import { type ByteSource, CountingSource, type RoundTripClock } from '../io/source.js'
import {
  copyVector,
  describeEmbeddingColumn,
  type EmbeddingColumn,
  findEmbeddingColumns,
  readVectorRange,
  summarizeColumns,
} from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { writeFooter } from '../parquet/writeIndexed.js'
import { type Expr, type FilterResult, filterRows } from '../query/filter.js'
import {
  type IndexKind,
  QueryPipeline,
  type ReadOptions,
  type SearchHit,
  type SearchOptions,
  type SearchResult,
  type SearchStats,
} from '../query/pipeline.js'
import { readRows } from './columns.js'
import { DEFAULT_MAX_BYTES } from './open.js'

/**
 * Files indexed by the Rust pq-vector (IVF-flat inside Parquet): the footer key
 * `pq_vector_index_offset` points at `PQ_VECTOR1`, a u64 length (of what follows), then u32 dim,
 * u32 nclusters, f32 centroids (nclusters × dim), and per cluster a u32 count and that many u32
 * row ids. Search probes the nearest clusters and ranks their rows exactly, reading their
 * vectors from the file (only the pages that hold them, where the file has an offset index).
 */
const MAGIC = 'PQ_VECTOR1'
const HEAD = MAGIC.length + 8

export interface PqVectorIndex {
  dim: number
  centroids: Float32Array
  /** Row ids of each cluster. */
  clusters: Uint32Array[]
}

export function pqVectorOffset(metadata: FileMetaData): number | undefined {
  const value = footerValue(metadata, PQ_VECTOR_KEY)
  return value === undefined ? undefined : Number(value)
}

/** Parses the index bytes (everything from the magic on), checking every count against the bytes. */
export function parsePqVector(bytes: Uint8Array, rows: number, where: { file?: string; offset: number }): PqVectorIndex {
  const fail = (what: string): never => {
    throw new ParquetSeekError(`pq-vector index: ${what}`, { file: where.file, section: 'pq-vector index', offset: where.offset })
  }
  if (bytes.length < HEAD + 8 || String.fromCharCode(...bytes.subarray(0, MAGIC.length)) !== MAGIC) fail(`no ${MAGIC} magic`)
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const length = Number(view.getBigUint64(MAGIC.length, true))
  if (HEAD + length > bytes.length) fail(`length ${length} runs past the ${bytes.length - HEAD} bytes after the header`)
  const dim = view.getUint32(HEAD, true)
  const n = view.getUint32(HEAD + 4, true)
  let at = HEAD + 8
  if (dim < 1 || n < 1 || at + n * dim * 4 > HEAD + length) fail(`${n} centroids of ${dim} floats do not fit`)
  const centroids = new Float32Array(n * dim)
  for (let i = 0; i < n * dim; i++) centroids[i] = view.getFloat32(at + 4 * i, true)
  at += n * dim * 4
  const clusters: Uint32Array[] = []
  for (let c = 0; c < n; c++) {
    if (at + 4 > HEAD + length) fail(`cluster ${c} is missing`)
    const count = view.getUint32(at, true)
    at += 4
    if (at + count * 4 > HEAD + length) fail(`cluster ${c} claims ${count} rows past the end`)
    const ids = new Uint32Array(count)
    for (let i = 0; i < count; i++) {
      const row = view.getUint32(at + 4 * i, true)
      if (row >= rows) fail(`cluster ${c} names row ${row} of a ${rows}-row file`)
      ids[i] = row
    }
    at += count * 4
    clusters.push(ids)
  }
  return { dim, centroids, clusters }
}

export interface PqVectorFileOptions {
  /** pq-vector does not record one (default l2). */
  metric?: Metric
  /** The vector column (default: the file's only one). */
  column?: string
  kernels?: Kernels
  /** Requests in flight at once. */
  connections?: number
  signal?: AbortSignal
}

export interface PqVectorSearchOptions extends PqVectorFileOptions {
  k?: number
  /** Clusters probed (default 8). */
  nprobe?: number
  /** Columns to return for each hit. */
  columns?: string[]
  where?: string
  deleted?: Iterable<number>
}

/** Opens a pq-vector file: reads and checks its index; throws when the file has none. */
export async function openPqVector(source: ByteSource, metadata: FileMetaData): Promise<PqVectorIndex> {
  const offset = pqVectorOffset(metadata)
  const file = source.name
  // neither a ParquetSeek nor a pq-vector index: the error every index opener gives
  if (offset === undefined) throw new NoIndexError(file)
  if (!Number.isSafeInteger(offset) || offset < 4 || offset + HEAD > source.byteLength)
    throw new ParquetSeekError(`${PQ_VECTOR_KEY} ${offset} is not inside the file`, { file, section: 'key-value metadata' })
  const head = new DataView(await source.slice(offset, offset + HEAD))
  const length = Number(head.getBigUint64(MAGIC.length, true))
  if (offset + HEAD + length > source.byteLength)
    throw new ParquetSeekError(`pq-vector index of ${length} bytes runs past the file`, { file, section: 'pq-vector index', offset })
  const bytes = new Uint8Array(await source.slice(offset, offset + HEAD + length))
  return parsePqVector(bytes, Number(metadata.num_rows), { file, offset })
}

/**
 * A file indexed by pq-vector, opened for search: its clusters read once, then the query
 * pipeline every index uses (an IVF-flat kind: no codes, every row of a probed cluster ranked
 * exactly from the file's vectors). Default nprobe 8.
 */
export class PqVectorFile {
  private constructor(
    /** The file's size in bytes. */
    readonly byteLength: number,
    readonly metadata: FileMetaData,
    readonly index: PqVectorIndex,
    readonly column: EmbeddingColumn,
    private readonly pipeline: QueryPipeline,
  ) {}

  /** A URL, a ByteSource, or in Node a local path (its file let go by close()). */
  static async open(given: FileInput | string, o: PqVectorFileOptions = {}): Promise<PqVectorFile> {
    const input = typeof given === 'string' ? given : readable(given, 'PqVectorFile.open', TAKES_ADDRESS)
    if (typeof input === 'string') {
      const local = await withLocalFile(input, async (file) => {
        const opened = await PqVectorFile.open(file, o)
        opened.#held = file
        return opened
      })
      if (local) return local
    }
    const source = typeof input === 'string' ? (await openHttp(input, { signal: o.signal })).source : input
    const metadata = await readMetadata(source, source.name)
    return PqVectorFile.over(source, metadata, await openPqVector(source, metadata), o)
  }

  /** A local file open() took hold of. */
  #held: { close(): Promise<void> } | undefined

  /** Lets go of a local file opened by its path (searches go on, opening it again). */
  close(): void {
    this.#held?.close().catch(() => {})
  }

  /** A file whose footer and pq-vector index are already read. */
  static over(source: ByteSource, metadata: FileMetaData, index: PqVectorIndex, o: PqVectorFileOptions = {}): PqVectorFile {
    const names = findEmbeddingColumns(metadata).map((c) => c.name)
    const column = describeEmbeddingColumn(metadata, o.column ?? (names.length === 1 ? (names[0] as string) : ''), source.name)
    const pipeline = new QueryPipeline(new PqVectorKind(source, metadata, index, column, o.metric ?? 'l2'), {
      kernels: o.kernels ?? jsKernels,
      cacheBytes: 0,
      maxBytesPerQuery: DEFAULT_MAX_BYTES,
      connections: o.connections ?? DEFAULT_CONCURRENCY,
    })
    return new PqVectorFile(source.byteLength, metadata, index, column, pipeline)
  }

  get params() {
    return this.pipeline.kind.model.params
  }
  get rows(): number {
    return Number(this.metadata.num_rows)
  }

  async search(query: ArrayLike<number>, o: SearchOptions = {}): Promise<SearchResult> {
    const [result] = await this.searchBatch([query], o)
    return result as SearchResult
  }

  searchBatch(queries: ArrayLike<number>[], o: SearchOptions = {}): Promise<SearchResult[]> {
    if (queries.some((q) => q.length !== this.index.dim))
      throw new ParquetSeekError(
        `the query has ${queries.find((q) => q.length !== this.index.dim)?.length} values; the pq-vector index is ${this.index.dim}-d`,
      )
    return this.pipeline.search(queries, { ...o, nprobe: o.nprobe ?? 8 })
  }

  /** Nothing is cached between searches but the clusters (read at open). */
  clearCache(): void {
    this.pipeline.clearCache()
  }
}

/** One search of a pq-vector file already opened (its metadata and index read). */
export async function searchPqVector(
  source: ByteSource,
  metadata: FileMetaData,
  index: PqVectorIndex,
  query: Float32Array,
  o: PqVectorSearchOptions = {},
): Promise<{ hits: SearchHit[]; rowsScored: number; clustersProbed: number; stats: SearchStats }> {
  const { results, stats } = await PqVectorFile.over(source, metadata, index, o).search(query, o)
  return { hits: results, rowsScored: stats.candidates, clustersProbed: stats.listsProbed, stats }
}

/** A pq-vector file: clusters held in memory (read at open), vectors and columns from the file. */
class PqVectorKind implements IndexKind {
  readonly scoring = 'flat'
  readonly model: IvfPqModel
  readonly counters: CountingSource[]
  readonly clock: RoundTripClock
  private readonly cached: CachedSource
  readonly columnNames: ReadonlySet<string>

  constructor(
    source: ByteSource,
    private readonly metadata: FileMetaData,
    private readonly index: PqVectorIndex,
    private readonly column: EmbeddingColumn,
    metric: Metric,
  ) {
    const counting = new CountingSource(source)
    this.columnNames = new Set(summarizeColumns(metadata).map((c) => c.name))
    this.counters = [counting]
    this.clock = counting.clock
    this.cached = new CachedSource(counting)
    const rows = Number(metadata.num_rows)
    const { dim, centroids, clusters } = index
    this.model = {
      params: {
        metric,
        dim,
        nlist: clusters.length,
        m: 0,
        nbits: 0,
        rows,
        indexedRows: rows,
        sample: 0,
        seed: 0,
        coarseIterations: 0,
        pqIterations: 0,
      },
      centroids,
      codebooks: new Float32Array(0),
      layout: { dim, m: 0, ksub: 1, starts: new Uint32Array(1) },
    }
  }
  get file() {
    return this.cached.name
  }
  get rows() {
    return Number(this.metadata.num_rows)
  }
  listSize(l: number): number {
    return this.index.clusters[l]?.length ?? 0
  }
  async readLists(lists: number[]): Promise<ListView[]> {
    return lists.map((l) => {
      const rowIds = this.index.clusters[l] as Uint32Array
      return { rowIds, codes: new Uint8Array(0), pageOffsets: new Float64Array(rowIds.length), pageLengths: new Uint32Array(rowIds.length) }
    })
  }
  /** Per row group, the span holding its wanted rows (only the pages, with an offset index). */
  async readVectors(rows: number[], _place: unknown, out: Float32Array, o: ReadOptions): Promise<Uint8Array> {
    const { dim } = this.index
    const present = new Uint8Array(rows.length)
    let at = 0
    let rowStart = 0
    for (const [g, group] of this.metadata.row_groups.entries()) {
      throwIfAborted(o.signal)
      const rowEnd = rowStart + Number(group.num_rows)
      const first = at
      while (at < rows.length && (rows[at] as number) < rowEnd) at++
      if (at > first) {
        const lo = rows[first] as number
        const hi = (rows[at - 1] as number) + 1
        const vectorAt = await readVectorRange(this.cached, this.metadata, this.column, g, rowStart, lo, hi, dim, this.file, o.signal)
        for (let i = first; i < at; i++) {
          const v = vectorAt(rows[i] as number)
          if (v === null || v === undefined) continue
          copyVector(out, i * dim, v as ArrayLike<number> | Uint8Array, this.column.kind)
          present[i] = 1
        }
      }
      rowStart = rowEnd
    }
    return present
  }
  readColumns(rows: number[], columns: string[], o: ReadOptions): Promise<Map<number, Record<string, unknown>>> {
    return readRows({ cached: this.cached, metadata: this.metadata, name: this.file }, rows, columns, o)
  }
  filter(expr: Expr, o: ReadOptions): Promise<FilterResult> {
    return filterRows(this.cached, this.metadata, expr, o.signal)
  }
}

/** Used by tests and tools: pq-vector's own layout for given clusters. */
export function writePqVectorBlob(dim: number, centroids: Float32Array, clusters: Uint32Array[]): Uint8Array {
  const length = 8 + centroids.length * 4 + clusters.reduce((s, c) => s + 4 + 4 * c.length, 0)
  const out = new Uint8Array(HEAD + length)
  const view = new DataView(out.buffer)
  for (let i = 0; i < MAGIC.length; i++) out[i] = MAGIC.charCodeAt(i)
  view.setBigUint64(MAGIC.length, BigInt(length), true)
  view.setUint32(HEAD, dim, true)
  view.setUint32(HEAD + 4, clusters.length, true)
  let at = HEAD + 8
  for (const v of centroids) {
    view.setFloat32(at, v, true)
    at += 4
  }
  for (const c of clusters) {
    view.setUint32(at, c.length, true)
    at += 4
    for (const row of c) {
      view.setUint32(at, row, true)
      at += 4
    }
  }
  return out
}

/** Used by tests and tools: `plain` (a Parquet file) with a pq-vector index of `clusters` added before its footer, as pq-vector writes it. */
export function withPqVectorIndex(plain: Uint8Array, dim: number, centroids: Float32Array, clusters: Uint32Array[]): Uint8Array {
  const metadata = parquetMetadata(plain.slice().buffer)
  const dataEnd = plain.length - 8 - new DataView(plain.buffer, plain.byteOffset, plain.byteLength).getUint32(plain.length - 8, true)
  const blob = writePqVectorBlob(dim, centroids, clusters)
  const footer = new ByteWriter()
  writeFooter(footer, {
    ...metadata,
    key_value_metadata: [...(metadata.key_value_metadata ?? []), { key: PQ_VECTOR_KEY, value: String(dataEnd) }],
  })
  // writeMetadata ends with the footer's length; the magic follows
  const out = new Uint8Array(dataEnd + blob.length + footer.offset + 4)
  out.set(plain.subarray(0, dataEnd))
  out.set(blob, dataEnd)
  out.set(new Uint8Array(footer.getBytes()), dataEnd + blob.length)
  out.set([0x50, 0x41, 0x52, 0x31], out.length - 4)
  return out
}
