import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import type { AsyncBuffer } from 'hyparquet'
import { parquetMetadata } from 'hyparquet'
import { parseNpy } from '../../src/io/npy.js'
import { describeEmbeddingColumn, readColumnRange, readVectors, type Vectors } from '../../src/parquet/embedding.js'
import { SHARED } from './fixtures.js'

export function bufferSource(path: string): AsyncBuffer {
  const b = readFileSync(path)
  const ab = b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength)
  return { byteLength: ab.byteLength, slice: (s, e) => ab.slice(s, e) }
}

export interface Dataset {
  base: Vectors
  ids: Int32Array
  queries: Vectors
  truth: (metric: 'l2' | 'cos') => Int32Array
}

/** A dataset of ../shared/data: base vectors, their `id` values, queries and ground truth. */
export async function loadDataset(name: string): Promise<Dataset> {
  const read = async (file: string) => {
    const source = bufferSource(join(SHARED, name, file))
    const metadata = parquetMetadata(await source.slice(0))
    const vectors = await readVectors(source, metadata, describeEmbeddingColumn(metadata, 'embedding'))
    return { vectors, source, metadata }
  }
  const base = await read('base.parquet')
  const queries = await read('queries.parquet')
  const ids = Int32Array.from((await readColumnRange(base.source, base.metadata, 'id', 0, base.vectors.rows)) as number[])
  return {
    base: base.vectors,
    ids,
    queries: queries.vectors,
    truth: (metric) => parseNpy(new Uint8Array(readFileSync(join(SHARED, name, `gt_${metric}_top100_ids.npy`)))).data as Int32Array,
  }
}

/** Mean recall@k of `found` (ids per query) against the first k ground-truth ids. */
export function recallAtK(found: number[][], truth: Int32Array, k: number): number {
  let hits = 0
  for (const [q, ids] of found.entries()) {
    const want = new Set(truth.subarray(q * 100, q * 100 + k))
    for (const id of ids.slice(0, k)) if (want.has(id)) hits++
  }
  return hits / (found.length * k)
}
