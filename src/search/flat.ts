import type { FileMetaData } from 'hyparquet'
import { jsKernels, type Kernels } from '../compute/backend.js'
import type { GpuExact } from '../compute/gpu/exact.js'
import { float32Query, fromKernel, packRows, prepareQuery } from '../compute/metric.js'
import { TopK } from '../compute/topk.js'
import { checkpoint, ParquetSeekError } from '../errors.js'
import type { Metric } from '../index/model.js'
import type { ByteSource } from '../io/source.js'
import { checkVector, copyVector, describeEmbeddingColumn, readColumnBlocks, vectorLength } from '../parquet/embedding.js'
import type { Hit } from '../query/memory.js'

export interface FlatOptions {
  column: string
  metric: Metric
  k: number
  signal?: AbortSignal
  /** Distance kernels (default: the TypeScript reference; every backend gives the same answer). */
  kernels?: Kernels
  /** Distances on the GPU instead (exactL2.wgsl; the same rows, distances to float rounding). */
  gpu?: GpuExact
  onProgress?: (rowsDone: number, rowsTotal: number) => void
  /** Rows that may be returned (1), as filterRows and allowedRows give them; default every row. */
  allowed?: Uint8Array
}

/**
 * Exact search over any Parquet file (indexed or not), a block of rows at a time (a row group,
 * or part of a large one: rowBlocks), so memory stays bounded by a block. Rows with null or
 * malformed vectors are skipped (a file of only such rows is an error naming the first, not an
 * empty answer), and so are rows `allowed` leaves out (a row group with none allowed is not
 * read). Ground truth for benchmarks, and the answer for small files.
 */
export async function flatSearch(source: ByteSource, metadata: FileMetaData, queries: Float32Array[], o: FlatOptions): Promise<Hit[][]> {
  const column = describeEmbeddingColumn(metadata, o.column, source.name)
  const floats = queries.map((q, i) => float32Query(q, i))
  const dim = floats[0]?.length ?? 0
  const prepared = floats.map((q, i) => {
    if (q.length !== dim) throw new ParquetSeekError(`query ${i} has ${q.length} values; query 0 has ${dim}`)
    return prepareQuery(q, o.metric)
  })
  const tops = prepared.map(() => new TopK(o.k))
  const rows = Number(metadata.num_rows)
  const kernels = o.kernels ?? jsKernels
  const nq = prepared.length
  const queryMatrix = packRows(prepared, dim)
  const kind = o.metric === 'l2' ? 'l2' : 'ip'
  let rowStart = 0
  /** Rows scored so far. */
  let scored = 0
  /** Why the first row skipped was, for a file with no searchable row. */
  let firstProblem: string | undefined
  // a row group at a time, or a block of a large one (readColumnBlocks): one with no row allowed is not decoded
  const wanted = (a: number, b: number) => !o.allowed || o.allowed.subarray(a, b).includes(1)
  async function* blocks() {
    let start = 0
    for (const [g, group] of metadata.row_groups.entries()) {
      const end = start + Number(group.num_rows)
      if (!wanted(start, end)) yield { rowStart: start, rowEnd: end, values: [], skipped: true }
      else
        yield* readColumnBlocks(source, metadata, column.name, column.leafIndex, g, start, {
          file: source.name,
          signal: o.signal,
          wanted,
          // (blocks of full vectors of the queries' length come as one matrix)
          vectors: column.kind === 'list' ? { column, dim } : undefined,
        })
      start = end
    }
  }
  for await (const { rowEnd, values, skipped, vectors } of blocks()) {
    await checkpoint(o.signal)
    if (skipped) {
      rowStart = rowEnd
      o.onProgress?.(rowStart, rows)
      continue
    }
    // the group's valid vectors as one matrix, scored against every query in one kernel call
    // (float32: vectors not asked for as stored)
    let matrix = (vectors?.data as Float32Array | undefined) ?? new Float32Array(values.length * dim)
    const rowOf: number[] = []
    /** Until a vector of the queries' length is found: vectors of other lengths, by length (how many, the first row). */
    const others = new Map<number, { count: number; row: number }>()
    /** A row that cannot be scored (its value, why): the first named, other lengths counted. */
    const skip = (row: number, v: unknown, problem: string) => {
      firstProblem ??= `row ${row}: ${problem}`
      const length = v === null || v === undefined ? 0 : vectorLength(v)
      if (!scored && length > 0 && length !== dim) {
        const seen = others.get(length)
        if (seen) seen.count++
        else others.set(length, { count: 1, row })
      }
    }
    if (vectors) {
      // decoded straight from its pages (readListVectors): the valid rows allowed moved to the front
      const invalid = new Map(vectors.invalid.map((x) => [x.at, x]))
      for (let r = rowStart; r < rowEnd; r++) {
        if (o.allowed && !o.allowed[r]) continue
        const i = r - rowStart
        const bad = invalid.get(i)
        if (bad) {
          skip(r, bad.value, bad.reason)
          continue
        }
        if (i !== rowOf.length) matrix.copyWithin(rowOf.length * dim, i * dim, (i + 1) * dim)
        rowOf.push(r)
      }
      matrix = matrix.subarray(0, rowOf.length * dim)
    }
    for (const [i, v] of values.entries()) {
      if (o.allowed && !o.allowed[rowStart + i]) continue
      const problem = checkVector(v, dim, column.kind)
      if (problem !== undefined) {
        skip(rowStart + i, v, problem)
        continue
      }
      copyVector(matrix, rowOf.length * dim, v as ArrayLike<number> | Uint8Array, column.kind)
      rowOf.push(rowStart + i)
    }
    const count = rowOf.length
    scored += count
    // no vector so far of the queries' length, and some of another: the file's vectors have the
    // commonest of those lengths (a few ragged rows among the right ones are only skipped)
    const [length, other] = [...others].reduce<[number, { count: number; row: number } | undefined]>(
      (best, [l, seen]) => (seen.count > (best[1]?.count ?? 0) ? [l, seen] : best),
      [0, undefined],
    )
    if (!scored && other)
      throw new ParquetSeekError(`the queries have ${dim} values; column "${column.name}" holds vectors of ${length} (row ${other.row})`, {
        file: source.name,
      })
    let out = new Float32Array(nq * count)
    if (o.gpu) out = await o.gpu.distances(kind, queryMatrix, nq, matrix, count, dim, o.signal)
    else kernels.distances(kind, queryMatrix, nq, matrix, count, dim, out)
    const norms = o.metric === 'cosine' ? kernels.rowNormsSq(matrix, count, dim) : undefined
    for (let qi = 0; qi < nq; qi++) {
      const top = tops[qi] as TopK
      for (let i = 0; i < count; i++) {
        const v = out[qi * count + i] as number
        top.push(fromKernel(o.metric, v, norms?.[i]), rowOf[i] as number)
      }
    }
    rowStart = rowEnd
    o.onProgress?.(rowStart, rows)
  }
  if (rowStart === 0) throw new ParquetSeekError('the file has zero rows', { file: source.name })
  if (!scored && firstProblem !== undefined)
    throw new ParquetSeekError(`no row of ${rows} holds a vector that can be searched (first: ${firstProblem})`, {
      file: source.name,
      column: column.name,
    })
  return tops.map((t) => t.sorted())
}
