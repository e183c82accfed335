import type { FileMetaData } from 'hyparquet'
import { encodeEach, type QueryEncoder } from '../encode/encoders.js'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import { isText } from '../index/embed.js'
import type { ByteSource } from '../io/source.js'
import { describeEmbeddingColumn, type InvalidRow, readColumnRange, readVectors, summarizeColumns } from '../parquet/embedding.js'
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
  /** The queries' vector column — or, with `encoder`, their text column. */
  column: string
  /** Embed the queries' text column `column` with this encoder (the model the index names) instead of reading vectors. */
  encoder?: QueryEncoder
  /** Only neighbours passing this filter (search's `where`). */
  where?: string
  /** At most one neighbour per value of this column (search's `distinct`: passages, one a text). */
  distinct?: string
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
  const vectors = o.encoder
    ? await embedQueries(queries, metadata, o.column, o.encoder, o.signal)
    : await readVectors(queries, metadata, describeEmbeddingColumn(metadata, o.column, queries.name), {
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
      where: o.where,
      distinct: o.distinct,
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

/** Texts a model call takes at once: progress between, memory bounded. */
const TEXT_BATCH = 256

/**
 * The queries' text column embedded by `encoder`, as readVectors gives vectors: rows with no text
 * (null, empty, only spaces) skipped and counted, the first named.
 */
async function embedQueries(queries: ByteSource, metadata: FileMetaData, column: string, encoder: QueryEncoder, signal?: AbortSignal) {
  const file = queries.name
  // a top-level text column, as embed takes one (a struct's field by path is embed's alone)
  const columns = summarizeColumns(metadata)
  const c = columns.find((x) => x.name === column)
  const texts = columns.filter(isText).map((x) => x.name)
  if (!c)
    throw new ParquetSeekError(`no such column in the queries; their text columns are: ${texts.join(', ') || '(none)'}`, { file, column })
  if (!isText(c)) throw new ParquetSeekError(`is ${c.logicalType ?? c.type}, not text (a BYTE_ARRAY STRING/UTF8 column)`, { file, column })
  const values = await readColumnRange(queries, metadata, column, 0, Number(metadata.num_rows), file, signal)
  const rowIds: number[] = []
  const invalid: InvalidRow[] = []
  const todo: number[] = []
  for (const [row, v] of values.entries()) {
    if (typeof v === 'string' && v.trim()) todo.push(row)
    else invalid.push({ row, reason: 'no text' })
  }
  const data = new Float32Array(todo.length * encoder.dim)
  for (let start = 0; start < todo.length; start += TEXT_BATCH) {
    throwIfAborted(signal)
    const batch = todo.slice(start, start + TEXT_BATCH)
    // a text the encoder refuses (hash-ngram: "!!!", no words) is a row skipped, not a failed join
    for (const [i, v] of (
      await encodeEach(
        encoder,
        batch.map((r) => values[r] as string),
      )
    ).entries()) {
      if (v) {
        data.set(v, rowIds.length * encoder.dim)
        rowIds.push(batch[i] as number)
      } else invalid.push({ row: batch[i] as number, reason: 'no words the encoder can embed' })
    }
  }
  invalid.sort((a, b) => a.row - b.row)
  return { data: data.subarray(0, rowIds.length * encoder.dim), dim: encoder.dim, rowIds, invalid }
}
