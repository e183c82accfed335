import { readOffsetIndex } from 'hyparquet'
import { type BackendName, type Kernels, loadKernels } from '../compute/backend.js'
import { sharedFloats } from '../compute/pool.js'
import { type Query, queryVectors } from '../encode/encoders.js'
import { decoding, ParquetSeekError } from '../errors.js'
import type { ListView } from '../index/blob.js'
import { parseList } from '../index/blob.js'
import { footerValue, KV } from '../index/keys.js'
import type { Metric } from '../index/model.js'
import type { FileInput } from '../io/blobSource.js'
import { readRangesPinned } from '../io/cache.js'
import { DEFAULT_CONCURRENCY, DEFAULT_GAP, REQUEST_BYTES, readRanges } from '../io/ranges.js'
import type { CountingSource, RoundTripClock } from '../io/source.js'
import { summarizeColumns } from '../parquet/embedding.js'
import { type ListExtents, listExtents } from '../query/adjacent.js'
import { type Expr, type FilterResult, filterRows } from '../query/filter.js'
import {
  type IndexKind,
  type JointSearch,
  type ListPlace,
  QueryPipeline,
  type ReadOptions,
  type SearchOptions,
  type SearchResult,
} from '../query/pipeline.js'
import { partitionPoint } from '../sorted.js'
import { readRows, rowVector } from './columns.js'
import { DEFAULT_CACHE_BYTES, DEFAULT_MAX_BYTES, type OpenedIndex, type OpenOptions, openSource } from './open.js'
import { decodePages, PageDecoders } from './pageDecoding.js'

export {
  defaultNprobe,
  MAX_K,
  MAX_NPROBE,
  MAX_REFINE,
  type SearchHit,
  type SearchOptions,
  type SearchResult,
  type SearchStats,
  STAGES,
  type Stage,
} from '../query/pipeline.js'

/** More allowed rows than this always go through the lists. */
const DIRECT_MAX_ROWS = 65_536

/**
 * An opened indexed Parquet file: the footer, the index head, and the query pipeline that
 * reads only probed lists, candidate pages and result rows.
 */
export class SeekIndex {
  private constructor(
    readonly opened: OpenedIndex,
    private readonly pipeline: QueryPipeline,
    private readonly decoders: PageDecoders,
  ) {}

  static async open(input: FileInput | string, o: OpenOptions = {}): Promise<SeekIndex> {
    const kernels = await loadKernels(o.backend)
    const opened = await openSource(input, o)
    // loaded on demand: pages that never ask for the GPU do not load its code and shaders
    const gpu =
      o.backend === 'gpu' ? await (await import('../compute/gpu/open.js')).openGpuScan(opened.model, o.gpu, kernels, o.signal) : undefined
    const decoders = new PageDecoders(o.threads ?? 1, o.spawnWorker)
    const pipeline = new QueryPipeline(new EmbeddedKind(opened, decoders), {
      kernels,
      gpu,
      cacheBytes: o.cacheBytes ?? DEFAULT_CACHE_BYTES,
      maxBytesPerQuery: o.maxBytesPerQuery ?? DEFAULT_MAX_BYTES,
      connections: o.connections ?? DEFAULT_CONCURRENCY,
    })
    return new SeekIndex(opened, pipeline, decoders)
  }

  /** The compute backend scoring this index's queries. */
  get backend(): BackendName | 'gpu' {
    return this.pipeline.backend
  }

  /** With backend `gpu`: the adapter and the tunables it searches with, in words. */
  get device(): string | undefined {
    return this.pipeline.device
  }
  get kernels(): Kernels {
    return this.pipeline.kernels
  }
  /** The file's columns (by their top-level names). */
  get columnNames(): ReadonlySet<string> {
    return this.pipeline.kind.columnNames
  }

  /**
   * Gives GPU buffers back, stops page-decoding workers and lets go of a local file it opened by
   * its path (the index still searches: on the CPU, on one thread, opening the file again).
   */
  close(): void {
    this.pipeline.close()
    this.decoders.close()
    this.opened.release?.().catch(() => {})
  }

  get params() {
    return this.opened.model.params
  }
  get metric(): Metric {
    return this.params.metric
  }
  /** The encoder that made the file's vectors (footer key parquetseek.model), for text queries. */
  get encoder(): string | undefined {
    return footerValue(this.opened.metadata, KV.model)
  }
  /** @deprecated the same as `encoder` (the name clashed with `opened.model`, the IVF-PQ model). */
  get model(): string | undefined {
    return this.encoder
  }
  get rows() {
    return Number(this.opened.metadata.num_rows)
  }

  /** The model a text query is embedded with: `encoder` (as a sidecar's and a dataset's textModel()). */
  textModel(): string | undefined {
    return this.encoder
  }

  /** The k nearest rows to a vector, or to a text embedded with the file's model (textModel()). */
  async search(query: Query, o: SearchOptions = {}): Promise<SearchResult> {
    const [result] = await this.searchBatch([query], o)
    return result as SearchResult
  }

  /**
   * Many queries at once (vectors, or texts embedded in one call of the model): one fetch of the
   * union of probed lists, one of candidate pages. `joint`: searched as one with other indexes
   * (search/dataset.ts), no result columns read.
   */
  async searchBatch(queries: Query[], o: SearchOptions = {}, joint?: JointSearch): Promise<SearchResult[]> {
    const vectors = await queryVectors(queries, () => this.encoder, this.opened.raw.name, o.signal)
    return this.pipeline.search(vectors, o, joint)
  }

  /** Values of `columns` for rows (ascending), as a search's hits carry them. */
  readColumns(rows: number[], columns: string[], signal?: AbortSignal): Promise<Map<number, Record<string, unknown>>> {
    return this.pipeline.readColumns(rows, columns, signal)
  }

  /** Forgets fetched lists (the footer and index head stay): every list is read again. */
  clearCache(): void {
    this.pipeline.clearCache()
  }

  /** The stored vector of one row (e.g. "more like row N"), read through the offset index. */
  vectorOf(row: number, signal?: AbortSignal): Promise<Float32Array> {
    const { metadata, column, raw, cached } = this.opened
    return rowVector({ cached, metadata, name: raw.name }, column, row, this.params.dim, signal)
  }
}

/**
 * An index inside the Parquet file it covers: lists from the blob before the footer, each
 * candidate's vector from its own LZ4_RAW page (the list entry says where), columns through
 * the offset indexes.
 */
class EmbeddedKind implements IndexKind {
  readonly scoring = 'pq'
  readonly counters: CountingSource[]
  readonly clock: RoundTripClock
  /** Parsed offset indexes of the vector column, by row group (direct ranking of filtered rows). */
  private readonly offsetIndexes = new Map<number, Array<{ offset: bigint; compressed_page_size: number; first_row_index: bigint }>>()

  private extents: ListExtents | undefined
  readonly columnNames: ReadonlySet<string>

  constructor(
    readonly opened: OpenedIndex,
    private readonly decoders: PageDecoders,
  ) {
    this.counters = [opened.counting]
    this.clock = opened.counting.clock
    this.columnNames = new Set(summarizeColumns(opened.metadata).map((c) => c.name))
  }
  /**
   * The lists where the directory puts them; each entry's page offset is its vector page's; the
   * bytes between ranges come with the reads unless the host answers multi-range requests.
   */
  get layout(): { lists: ListExtents; free: boolean } {
    if (!this.extents) {
      const { directory, listsOffset } = this.opened
      const start = Float64Array.from(directory, (d) => listsOffset + d.offset)
      this.extents = listExtents(
        start,
        Float64Array.from(directory, (d, l) => (start[l] as number) + (d.count ? d.length : 0)),
      )
    }
    return { lists: this.extents, free: !this.opened.raw.sliceMany }
  }
  get file() {
    return this.opened.raw.name
  }
  get model() {
    return this.opened.model
  }
  get rows() {
    return Number(this.opened.metadata.num_rows)
  }
  listSize(l: number): number {
    return this.opened.directory[l]?.count ?? 0
  }

  async readLists(lists: number[], o: ReadOptions & { columns: boolean }): Promise<ListView[]> {
    const { directory } = this.opened
    const ranges = lists.map((l) => {
      const d = directory[l] as (typeof directory)[number]
      const start = this.opened.listsOffset + d.offset
      return { start, end: start + d.length }
    })
    // the other columns' offset indexes, when open did not get them: with the lists, no round trip of their own
    const pageIndex = o.columns ? this.opened.pageIndex : undefined
    if (pageIndex) ranges.push(pageIndex)
    if (!ranges.length) return []
    // a small file's lists may lie in the tail read at open: those cost no request
    const bodies = await readRangesPinned(this.opened.cached, ranges, {
      requestGap: REQUEST_BYTES,
      concurrency: o.connections,
      signal: o.signal,
    })
    if (pageIndex) {
      this.opened.cached.pin(pageIndex.start, (bodies.at(-1) as Uint8Array).slice())
      this.opened.pageIndex = undefined
    }
    const ctx = { file: this.file, blobOffset: this.opened.location.offset }
    return lists.map((l, i) =>
      parseList(bodies[i] as Uint8Array, directory[l] as never, this.model.params.m, l, ctx, {
        rows: this.rows,
        fileBytes: this.opened.raw.byteLength,
      }),
    )
  }

  /** Shared memory when workers decode pages: they write into it (the GPU takes it through GpuContext.uploadStaged). */
  vectorBuffer(n: number): Float32Array {
    return this.decoders.threads > 1 ? sharedFloats(n) : new Float32Array(n)
  }

  async readVectors(rows: number[], place: (row: number) => ListPlace | undefined, out: Float32Array, o: ReadOptions): Promise<Uint8Array> {
    const { dim } = this.model.params
    // a page is one row's vector: from its list entry, else (rows ranked directly) the offset index
    const pages = new Map<number, { offset: number; length: number }>()
    const unplaced: number[] = []
    for (const row of rows) {
      const p = place(row)
      if (p) pages.set(row, { offset: p.list.pageOffsets[p.at] as number, length: p.list.pageLengths[p.at] as number })
      else unplaced.push(row)
    }
    if (unplaced.length) for (const [row, page] of await this.pagesOfRows(unplaced, o)) pages.set(row, page)
    // rows sharing a page mean a damaged index: refused before any decoding
    const owner = new Map<number, number>()
    for (const row of rows) {
      const at = (pages.get(row) as { offset: number }).offset
      const other = owner.get(at)
      if (other !== undefined)
        throw new ParquetSeekError(`rows ${other} and ${row} point at the same vector page`, {
          file: this.file,
          section: 'lists',
          offset: at,
        })
      owner.set(at, row)
    }
    const bodies = await readRangesPinned(
      this.opened.cached,
      rows.map((r) => {
        const p = pages.get(r) as { offset: number; length: number }
        return { start: p.offset, end: p.offset + p.length }
      }),
      // rows stored list by list put a query's candidates close together: on a host that answers one
      // range a request, the pages of one stretch come in one request
      { gap: DEFAULT_GAP, requestGap: REQUEST_BYTES, concurrency: o.connections, signal: o.signal },
    )
    const chunk = this.opened.metadata.row_groups[0]?.columns[this.opened.column.leafIndex]?.meta_data
    const pool = await this.decoders.poolFor(rows.length)
    await decodePages(
      pool,
      bodies,
      this.opened.column,
      chunk?.codec ?? 'LZ4_RAW',
      dim,
      out,
      (i) => ({
        file: this.file,
        column: this.opened.column.name,
        offset: pages.get(rows[i] as number)?.offset ?? 0,
        row: rows[i] as number,
      }),
      o.signal,
    )
    return new Uint8Array(rows.length).fill(1)
  }

  readColumns(rows: number[], columns: string[], o: ReadOptions): Promise<Map<number, Record<string, unknown>>> {
    return readRows({ cached: this.opened.cached, metadata: this.opened.metadata, name: this.file }, rows, columns, o)
  }

  filter(expr: Expr, o: ReadOptions): Promise<FilterResult> {
    return filterRows(this.opened.cached, this.opened.metadata, expr, o.signal)
  }

  /**
   * The allowed rows, when ranking them directly from their pages reads fewer bytes than the
   * lists a filter this narrow makes the search probe (estimated from the footer: each row
   * group's offset index plus its average page size per row, against the probed share of the
   * lists plus `keep` candidate pages). Undefined: go through the lists.
   */
  directRows(allowed: Uint8Array, probed: number, keep: number): number[] | undefined {
    const { metadata, column, directory, model } = this.opened
    // rows left out of the index (null or invalid vectors) have no vector page to rank
    if (model.params.indexedRows !== this.rows) return undefined
    const rows: number[] = []
    for (let r = 0; r < allowed.length; r++) if (allowed[r]) rows.push(r)
    if (rows.length > DIRECT_MAX_ROWS) return undefined
    let directBytes = 0
    let pageBytes = 0
    let rowStart = 0
    let at = 0
    for (const group of metadata.row_groups) {
      const meta = group.columns[column.leafIndex]
      const rowEnd = rowStart + Number(group.num_rows)
      const perRow = Number(meta?.meta_data?.total_compressed_size ?? 0) / Math.max(1, Number(group.num_rows))
      pageBytes = Math.max(pageBytes, perRow)
      let inGroup = 0
      while (at < rows.length && (rows[at] as number) < rowEnd) {
        at++
        inGroup++
      }
      if (inGroup) {
        if (meta?.offset_index_offset === undefined) return undefined
        directBytes += Number(meta.offset_index_length ?? 0) + inGroup * perRow
      }
      rowStart = rowEnd
    }
    const listBytes = directory.reduce((sum, d) => sum + d.length, 0)
    const throughLists = (listBytes * probed) / Math.max(1, directory.length) + keep * pageBytes
    return directBytes < throughLists ? rows : undefined
  }

  /** Each row's vector page, from its row group's offset index (read once per row group, then kept). */
  private async pagesOfRows(rows: number[], o: ReadOptions): Promise<Map<number, { offset: number; length: number }>> {
    const { metadata, column, cached } = this.opened
    const starts: number[] = []
    let total = 0
    for (const g of metadata.row_groups) {
      starts.push(total)
      total += Number(g.num_rows)
    }
    const groupOf = (row: number) => Math.max(0, partitionPoint(0, starts.length, (g) => (starts[g] as number) > row) - 1)
    const needed = [...new Set(rows.map(groupOf))].filter((g) => !this.offsetIndexes.has(g))
    const ranges = needed.map((g) => {
      const meta = metadata.row_groups[g]?.columns[column.leafIndex]
      const start = Number(meta?.offset_index_offset)
      return { start, end: start + Number(meta?.offset_index_length) }
    })
    const bodies = await readRanges(cached, ranges, { gap: DEFAULT_GAP, concurrency: o.connections, signal: o.signal })
    for (const [i, g] of needed.entries()) {
      const bytes = bodies[i] as Uint8Array
      const index = await decoding(
        'reading the offset index',
        { file: this.opened.raw.name, column: column.name, offset: ranges[i]?.start },
        () => readOffsetIndex({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }),
      )
      this.offsetIndexes.set(g, index.page_locations)
    }
    const out = new Map<number, { offset: number; length: number }>()
    for (const row of rows) {
      const g = groupOf(row)
      const locations = this.offsetIndexes.get(g) ?? []
      const local = row - (starts[g] as number)
      // the page whose first row is the last one ≤ local (one vector a page in indexed files)
      const page = locations[Math.max(0, partitionPoint(0, locations.length, (p) => Number(locations[p]?.first_row_index) > local) - 1)]
      if (!page || Number(page.first_row_index) !== local)
        throw new ParquetSeekError(`no page of its own for row ${row} in the offset index`, {
          file: this.opened.raw.name,
          column: column.name,
          row,
        })
      out.set(row, { offset: Number(page.offset), length: page.compressed_page_size })
    }
    return out
  }
}

export async function openIndex(input: FileInput | string, o: OpenOptions = {}): Promise<SeekIndex> {
  return SeekIndex.open(input, o)
}
