import { ParquetSeekError } from '../errors.js'
import type { Metric } from '../index/model.js'
import { dot, l2sq } from './js.js'

/**
 * The longest a searchable vector may be, squared: a quarter of float32's largest value. The squared
 * distance of two such vectors is at most (|a| + |b|)² ≤ 4 × this, and their dot product at most
 * this, so every distance the kernels sum in float32 stays finite. Past it distances overflow to
 * Infinity and tie, ranking rows by their number instead — refused instead (no embedding model
 * comes near: that is values of ~10¹⁹).
 */
export const MAX_SQUARED_LENGTH = 3.4028234663852886e38 / 4

/** Why a vector of this squared length (summed in float64) cannot be searched, or undefined. */
export function overlong(squaredLength: number): string | undefined {
  return squaredLength > MAX_SQUARED_LENGTH
    ? `its squared length ${squaredLength.toPrecision(3)} is past ${MAX_SQUARED_LENGTH.toPrecision(3)}, where float32 distances overflow`
    : undefined
}

/**
 * Query `i` as it is searched (`what`: what to call it): a float32 copy, each value checked — one that is not finite, or a
 * number past float32's range (searched as Infinity, every distance infinite), is refused by name,
 * and so is a query too long for finite distances ({@link MAX_SQUARED_LENGTH}).
 */
export function float32Query(query: ArrayLike<number>, i: number, what = 'query'): Float32Array {
  // from JavaScript anything can come: new Float32Array('abc') is empty and new Float32Array(5)
  // five zeros, both searched without a word
  const given: unknown = query
  if (given === null || typeof given !== 'object' || typeof (given as { length?: unknown }).length !== 'number')
    throw new ParquetSeekError(
      `${what} ${i} is not a vector (an array of numbers): it is ${given === null ? 'null' : typeof given === 'string' ? `the text ${JSON.stringify(given.slice(0, 40))}` : typeof given}`,
    )
  const f = new Float32Array(query)
  let squaredLength = 0
  for (let j = 0; j < f.length; j++) {
    const v = f[j] as number
    if (!Number.isFinite(v))
      throw new ParquetSeekError(
        Number.isFinite(query[j])
          ? `${what} ${i}: value ${j} is ${query[j]}, not a finite float32`
          : `${what} ${i}: value ${j} is not finite`,
      )
    squaredLength += v * v
  }
  const reason = overlong(squaredLength)
  if (reason) throw new ParquetSeekError(`${what} ${i}: ${reason}`)
  return f
}

/** Kernel space each metric ranks in: squared L2 (l2, and cosine on unit vectors) or −⟨q,x⟩. */
export function kernelKind(metric: Metric): 'l2' | 'ip' {
  return metric === 'dot' ? 'ip' : 'l2'
}

/** Query as the index expects it: unit length for cosine. */
export function prepareQuery(query: Float32Array, metric: Metric): Float32Array {
  if (metric !== 'cosine') return query
  const norm = Math.sqrt(dot(query, 0, query, 0, query.length))
  if (norm === 0) throw new Error('the query vector is all zeros; cosine distance is undefined')
  return query.map((v) => v / norm)
}

/** Queries (or any rows) of `dim` floats in one array, one after another. */
export function packRows(rows: readonly Float32Array[], dim: number): Float32Array {
  const packed = new Float32Array(rows.length * dim)
  for (const [i, row] of rows.entries()) packed.set(row, i * dim)
  return packed
}

/**
 * Reported distance, as in the ground-truth files: l2 = Euclidean (not squared),
 * cosine = 1 − cos(q, x), dot = −⟨q, x⟩. `q` is the prepared query.
 */
export function exactDistance(metric: Metric, q: Float32Array, x: Float32Array, at: number): number {
  const dim = q.length
  if (metric === 'l2') return Math.sqrt(l2sq(q, 0, x, at, dim))
  if (metric === 'dot') return -dot(q, 0, x, at, dim)
  const norm = Math.sqrt(dot(x, at, x, at, dim))
  return norm === 0 ? 1 : 1 - dot(q, 0, x, at, dim) / norm
}

/**
 * The reported distance (as exactDistance) from a kernel's squared L2 (`l2`, cosine on unit
 * queries) or inner product (`dot`, cosine), with the row's squared norm for cosine.
 */
export function fromKernel(metric: Metric, v: number, normSq?: number): number {
  if (metric === 'l2') return Math.sqrt(v)
  if (metric === 'dot') return -v
  const norm = Math.sqrt(normSq as number)
  return norm === 0 ? 1 : 1 - v / norm
}

/**
 * The farthest distance that still ties with `distance` to rounding (either side of zero: a dot
 * index's distances are negative). A recall measurement counts a result this near as the k-th
 * true neighbour as a hit: rows at one distance are equally right answers, and which of them an
 * index returns turns on rounding (tune truth, `bench`, the app's "Check recall").
 */
export function tieLimit(distance: number): number {
  return Number.isFinite(distance) ? distance + Math.abs(distance) * 1e-5 + 1e-6 : distance
}

/**
 * Mean recall@k of `results` (each query's rows, nearest first, and their distances) against
 * `truth` (each query's true rows). With the true k-th distances, a result no farther than the
 * k-th true neighbour (`tieLimit`) is a hit too: an equally near row is not a miss.
 */
export function recallAtK(
  results: ReadonlyArray<{ rows: readonly number[]; distances: readonly number[] }>,
  truth: readonly (readonly number[])[],
  k: number,
  kth?: Float64Array,
): number {
  let hits = 0
  results.forEach((r, q) => {
    const want = new Set((truth[q] ?? []).slice(0, k))
    const tenth = kth?.[q]
    const limit = tenth === undefined ? Number.NEGATIVE_INFINITY : tieLimit(tenth)
    let found = 0
    for (const [i, row] of r.rows.slice(0, k).entries()) if (want.has(row) || (r.distances[i] as number) <= limit) found++
    hits += Math.min(k, found)
  })
  return hits / Math.max(1, results.length * k)
}
