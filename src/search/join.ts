import type { FileMetaData } from 'hyparquet'
import { ParquetSeekError } from '../errors.js'
import type { ByteSource } from '../io/source.js'
import { describeEmbeddingColumn, type InvalidRow, readVectors } from '../parquet/embedding.js'
import type { SearchOptions } from '../query/pipeline.js'

/** What a join searches: any index kind's batch search (rows as that index numbers them). */
export interface JoinTarget {
  readonly params: { dim: number }
  searchBatch(
    queries: ArrayLike<number>[],
    o: SearchOptions,
  ): Promise<Array<{ results: Array<{ row: number; distance: number }>; stats: { bytes: number; requests: number } }>>
}

export interface JoinOptions {
  /** The queries' vector column. */
  column: string
  k: number
  nprobe?: number
  refine?: number
  /** Leave a query's own row out of its neighbours (a file joined with itself). */
  excludeSelf?: boolean
  /** Queries searched together: each list is read once a batch (default 256). */
  batch?: number
  signal?: AbortSignal
  onProgress?: (done: number, total: number) => void
}

export interface JoinResult {
  queries: number
  /** One entry per (query, neighbour): the query's row, the neighbour's rank (1…k), row and distance. */
  query: Int32Array
  rank: Int32Array
  row: Int32Array
  distance: Float64Array
  bytes: number
  requests: number
  /** Rows of the queries file without a usable vector (null, ragged, not finite), skipped: how many, and the first. */
  skipped: { rows: number; first?: InvalidRow }
}

/**
 * A kNN join: each valid vector of the queries file against the index, its k nearest rows, in
 * batches that fetch each list once and read all candidate pages in one pass. Rows without a
 * valid vector are skipped.
 */
export async function knnJoin(queries: ByteSource, metadata: FileMetaData, index: JoinTarget, o: JoinOptions): Promise<JoinResult> {
  const vectors = await readVectors(queries, metadata, describeEmbeddingColumn(metadata, o.column, queries.name), {
    file: queries.name,
    skipInvalid: true,
    signal: o.signal,
  })
  const n = vectors.rowIds.length
  const { dim } = vectors
  if (n && dim !== index.params.dim)
    throw new ParquetSeekError(`the queries are ${dim}-d; the index is ${index.params.dim}-d`, { file: queries.name, column: o.column })
  const batchSize = o.batch ?? 256
  const out = { query: [] as number[], rank: [] as number[], row: [] as number[], distance: [] as number[] }
  let bytes = 0
  let requests = 0
  for (let start = 0; start < n; start += batchSize) {
    const end = Math.min(n, start + batchSize)
    const batch = Array.from({ length: end - start }, (_, i) => vectors.data.subarray((start + i) * dim, (start + i + 1) * dim))
    const results = await index.searchBatch(batch, {
      k: o.excludeSelf ? o.k + 1 : o.k,
      nprobe: o.nprobe,
      refine: o.refine,
      signal: o.signal,
    })
    bytes += results[0]?.stats.bytes ?? 0
    requests += results[0]?.stats.requests ?? 0
    for (const [i, r] of results.entries()) {
      const queryRow = vectors.rowIds[start + i] as number
      const hits = (o.excludeSelf ? r.results.filter((h) => h.row !== queryRow) : r.results).slice(0, o.k)
      for (const [rank, h] of hits.entries()) {
        out.query.push(queryRow)
        out.rank.push(rank + 1)
        out.row.push(h.row)
        out.distance.push(h.distance)
      }
    }
    o.onProgress?.(end, n)
  }
  return {
    queries: n,
    query: Int32Array.from(out.query),
    rank: Int32Array.from(out.rank),
    row: Int32Array.from(out.row),
    distance: Float64Array.from(out.distance),
    bytes,
    requests,
    skipped: { rows: vectors.invalid.length, first: vectors.invalid[0] },
  }
}
