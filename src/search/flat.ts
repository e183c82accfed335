import type { FileMetaData } from 'hyparquet'
import { checkpoint, ParquetSeekError } from '../errors.js'
import type { Metric } from '../index/model.js'
import type { ByteSource } from '../io/source.js'
import { describeEmbeddingColumn, readColumnRange } from '../parquet/embedding.js'
import type { Hit } from './memory.js'
import { exactDistance, prepareQuery } from './metric.js'
import { TopK } from './topk.js'

export interface FlatOptions {
  column: string
  metric: Metric
  k: number
  signal?: AbortSignal
  onProgress?: (rowsDone: number, rowsTotal: number) => void
}

/**
 * Exact search over any Parquet file (indexed or not), one row group at a time, so memory
 * stays bounded by a row group. Rows with null or malformed vectors are skipped. Ground truth
 * for benchmarks, and the answer for small files.
 */
export async function flatSearch(source: ByteSource, metadata: FileMetaData, queries: Float32Array[], o: FlatOptions): Promise<Hit[][]> {
  const column = describeEmbeddingColumn(metadata, o.column, source.name)
  const prepared = queries.map((q) => prepareQuery(q, o.metric))
  const dim = prepared[0]?.length ?? 0
  const tops = prepared.map(() => new TopK(o.k))
  const rows = Number(metadata.num_rows)
  const vector = new Float32Array(dim)
  let rowStart = 0
  for (const group of metadata.row_groups) {
    await checkpoint(o.signal)
    const rowEnd = rowStart + Number(group.num_rows)
    const values = await readColumnRange(source, metadata, column.name, rowStart, rowEnd, source.name)
    for (const [i, v] of values.entries()) {
      if (!toVector(v, column.kind, vector)) continue
      for (const [qi, q] of prepared.entries()) (tops[qi] as TopK).push(exactDistance(o.metric, q, vector, 0), rowStart + i)
    }
    rowStart = rowEnd
    o.onProgress?.(rowStart, rows)
  }
  if (rowStart === 0) throw new ParquetSeekError('the file has zero rows', { file: source.name })
  return tops.map((t) => t.sorted())
}

function toVector(v: unknown, kind: 'list' | 'flba', out: Float32Array): boolean {
  if (v === null || v === undefined) return false
  if (kind === 'flba') {
    const bytes = v as Uint8Array
    if (bytes.length !== out.length * 4) return false
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
    for (let j = 0; j < out.length; j++) out[j] = view.getFloat32(j * 4, true)
  } else {
    const list = v as ArrayLike<number | null>
    if (list.length !== out.length) return false
    for (let j = 0; j < out.length; j++) {
      const x = list[j]
      if (x === null || x === undefined || !Number.isFinite(x)) return false
      out[j] = x
    }
  }
  return true
}
