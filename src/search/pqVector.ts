import type { FileMetaData } from 'hyparquet'
import { jsKernels, type Kernels } from '../compute/backend.js'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import { footerValue } from '../index/keys.js'
import type { Metric } from '../index/model.js'
import type { ByteSource } from '../io/source.js'
import { describeEmbeddingColumn, findEmbeddingColumns, readColumnRange } from '../parquet/embedding.js'
import type { Hit } from './memory.js'
import { exactDistance, prepareQuery } from './metric.js'
import { TopK } from './topk.js'

/**
 * Files indexed by the Rust pq-vector (IVF-flat inside Parquet): the footer key
 * `pq_vector_index_offset` points at `PQ_VECTOR1`, a u64 length (of what follows), then u32 dim,
 * u32 nclusters, f32 centroids (nclusters × dim), and per cluster a u32 count and that many u32
 * row ids. Search probes the nearest clusters and ranks their rows exactly, reading their
 * vectors from the file (only the pages that hold them, where the file has an offset index).
 */
export const PQ_VECTOR_KEY = 'pq_vector_index_offset'
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

export interface PqVectorSearchOptions {
  k?: number
  /** Clusters probed (default 8). */
  nprobe?: number
  metric?: Metric
  /** The vector column (default: the file's only one). */
  column?: string
  kernels?: Kernels
  signal?: AbortSignal
}

/** Opens a pq-vector file: reads and checks its index; throws when the file has none. */
export async function openPqVector(source: ByteSource, metadata: FileMetaData): Promise<PqVectorIndex> {
  const offset = pqVectorOffset(metadata)
  const file = source.name
  if (offset === undefined) throw new ParquetSeekError(`no ${PQ_VECTOR_KEY} in the footer`, { file })
  if (!Number.isSafeInteger(offset) || offset < 4 || offset + HEAD > source.byteLength)
    throw new ParquetSeekError(`${PQ_VECTOR_KEY} ${offset} is not inside the file`, { file, section: 'key-value metadata' })
  const head = new DataView(await source.slice(offset, offset + HEAD))
  const length = Number(head.getBigUint64(MAGIC.length, true))
  if (offset + HEAD + length > source.byteLength)
    throw new ParquetSeekError(`pq-vector index of ${length} bytes runs past the file`, { file, section: 'pq-vector index', offset })
  const bytes = new Uint8Array(await source.slice(offset, offset + HEAD + length))
  return parsePqVector(bytes, Number(metadata.num_rows), { file, offset })
}

/** Exact top-k over the rows of the nprobe clusters nearest the query. */
export async function searchPqVector(
  source: ByteSource,
  metadata: FileMetaData,
  index: PqVectorIndex,
  query: Float32Array,
  o: PqVectorSearchOptions = {},
): Promise<{ hits: Hit[]; rowsScored: number; clustersProbed: number }> {
  const { dim, centroids, clusters } = index
  const metric = o.metric ?? 'l2'
  const names = findEmbeddingColumns(metadata).map((c) => c.name)
  const column = describeEmbeddingColumn(metadata, o.column ?? (names.length === 1 ? (names[0] as string) : ''), source.name)
  if (query.length !== dim) throw new ParquetSeekError(`the query has ${query.length} values; the pq-vector index is ${dim}-d`)
  const q = prepareQuery(query, metric)
  const kernels = o.kernels ?? jsKernels
  const d = new Float32Array(clusters.length)
  kernels.distances(metric === 'dot' ? 'ip' : 'l2', q, 1, centroids, clusters.length, dim, d)
  const order = Array.from(clusters.keys()).sort(
    (a, b) => (metric === 'dot' ? (d[b] as number) - (d[a] as number) : (d[a] as number) - (d[b] as number)) || a - b,
  )
  const probed = order.slice(0, Math.min(clusters.length, o.nprobe ?? 8))
  const wanted = new Set<number>()
  for (const c of probed) for (const row of clusters[c] as Uint32Array) wanted.add(row)
  const top = new TopK(o.k ?? 10)
  // per row group, read the span that holds its wanted rows (pages only, with an offset index)
  let rowStart = 0
  for (const group of metadata.row_groups) {
    throwIfAborted(o.signal)
    const rowEnd = rowStart + Number(group.num_rows)
    let lo = Number.POSITIVE_INFINITY
    let hi = -1
    for (const row of wanted)
      if (row >= rowStart && row < rowEnd) {
        lo = Math.min(lo, row)
        hi = Math.max(hi, row)
      }
    if (hi >= 0) {
      const values = await readColumnRange(source, metadata, column.name, lo, hi + 1, source.name, o.signal)
      const vector = new Float32Array(dim)
      for (let row = lo; row <= hi; row++) {
        if (!wanted.has(row)) continue
        const v = values[row - lo]
        if (v === null || v === undefined) continue
        if (v instanceof Uint8Array) {
          const view = new DataView(v.buffer, v.byteOffset, v.byteLength)
          for (let j = 0; j < dim; j++) vector[j] = view.getFloat32(j * 4, true)
        } else vector.set(v as ArrayLike<number>)
        top.push(exactDistance(metric, q, vector, 0), row)
      }
    }
    rowStart = rowEnd
  }
  return { hits: top.sorted(), rowsScored: wanted.size, clustersProbed: probed.length }
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
