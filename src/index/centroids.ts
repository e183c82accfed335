import { ParquetSeekError } from '../errors.js'

/**
 * Coarse centroids at one byte a value (index format v2), so the head read at open stays small
 * while nlist grows with the rows: 4,000 lists of 100-d take 391 KiB instead of 1.5 MiB.
 *
 * Each dimension j has its own grid of 256 points: value = (base_j + code) · 2^exp_j, with
 * |base_j + code| < 2^24, so every grid point is exactly a float32 and decoding is exact on
 * any platform. The grid step is the smallest power of two spanning the dimension's range in
 * 255 steps (at most twice the ideal step). Training snaps the k-means centroids to their grid
 * ({@link snapCentroids}) before rows are assigned and residuals encoded, so the centroids the
 * index was built with are exactly the ones a reader decodes; snapping snapped centroids again
 * changes no value, so a model written twice (a sidecar, a partitioned build) stays the same.
 */
export interface QuantizedCentroids {
  /** Per dimension: the grid's step is 2^exp. */
  exps: Int32Array
  /** Per dimension: the grid's first point is base · 2^exp. */
  bases: Int32Array
  /** nlist × dim, row-major. */
  codes: Uint8Array
}

const EXACT = 2 ** 24
/** The smallest normal float32 exponent (grid points below it would lose bits as subnormals). */
const MIN_EXP = -149
const MAX_EXP = 127

/** `what` names a row and the rows in messages (the codebooks go through here too, pq.ts snapCodebooks). */
export function quantizeCentroids(
  centroids: Float32Array,
  nlist: number,
  dim: number,
  what: readonly [string, string] = ['centroid', 'centroids'],
): QuantizedCentroids {
  const exps = new Int32Array(dim)
  const bases = new Int32Array(dim)
  const codes = new Uint8Array(nlist * dim)
  for (let j = 0; j < dim; j++) {
    let lo = Number.POSITIVE_INFINITY
    let hi = Number.NEGATIVE_INFINITY
    for (let l = 0; l < nlist; l++) {
      const v = centroids[l * dim + j] as number
      if (!Number.isFinite(v)) throw new ParquetSeekError(`${what[0]} ${l} value ${j} is ${v}: ${what[1]} must be finite`)
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
    // the finest power-of-two step spanning [lo, hi] in 255 steps; divisions by 2^e are exact
    let e = 0
    const range = hi - lo
    while (e < MAX_EXP && range / 2 ** e > 255) e++
    while (e > MIN_EXP && range / 2 ** (e - 1) <= 255) e--
    // ...and coarse enough that the grid's integers stay exact in a float32's 24 bits
    for (; e < MAX_EXP; e++) {
      const base = Math.floor(lo / 2 ** e)
      const top = Math.round(hi / 2 ** e)
      if (top - base <= 255 && Math.max(Math.abs(base), Math.abs(top)) < EXACT) break
    }
    const base = Math.floor(lo / 2 ** e)
    exps[j] = e
    bases[j] = base
    for (let l = 0; l < nlist; l++) codes[l * dim + j] = Math.round((centroids[l * dim + j] as number) / 2 ** e) - base
  }
  return { exps, bases, codes }
}

export function dequantizeCentroids(q: QuantizedCentroids, nlist: number, dim: number): Float32Array {
  const out = new Float32Array(nlist * dim)
  for (let j = 0; j < dim; j++) {
    const step = 2 ** (q.exps[j] as number)
    const base = q.bases[j] as number
    for (let l = 0; l < nlist; l++) out[l * dim + j] = (base + (q.codes[l * dim + j] as number)) * step
  }
  return out
}

/** The centroids' grid when every value already lies on it (what a v2 index can store), else undefined. */
export function gridOf(
  centroids: Float32Array,
  nlist: number,
  dim: number,
  what?: readonly [string, string],
): QuantizedCentroids | undefined {
  const grid = quantizeCentroids(centroids, nlist, dim, what)
  const decoded = dequantizeCentroids(grid, nlist, dim)
  for (let i = 0; i < decoded.length; i++) if (!Object.is(decoded[i], centroids[i])) return undefined
  return grid
}

/** Whether every value already lies on its dimension's grid. */
export function onGrid(centroids: Float32Array, nlist: number, dim: number): boolean {
  return gridOf(centroids, nlist, dim) !== undefined
}

/** The centroids as the index stores them: each value on its dimension's grid. */
export function snapCentroids(centroids: Float32Array, nlist: number, dim: number): Float32Array {
  return dequantizeCentroids(quantizeCentroids(centroids, nlist, dim), nlist, dim)
}

/** Bytes of the v2 centroids section: per dimension exp and base (i32 each), then the codes. */
export function quantizedBytes(nlist: number, dim: number): number {
  return 8 * dim + nlist * dim
}

export function writeQuantized(q: QuantizedCentroids, dim: number, out: Uint8Array, at: number): void {
  const view = new DataView(out.buffer, out.byteOffset + at, 8 * dim)
  for (let j = 0; j < dim; j++) {
    view.setInt32(8 * j, q.exps[j] as number, true)
    view.setInt32(8 * j + 4, q.bases[j] as number, true)
  }
  out.set(q.codes, at + 8 * dim)
}

/**
 * Reads a v2 centroids section (exactly its bytes); a grid that would not decode to exact,
 * finite float32 values is refused, naming the dimension (`fail` adds file, section, offset).
 */
export function readQuantized(bytes: Uint8Array, nlist: number, dim: number, fail: (message: string, at: number) => never): Float32Array {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const exps = new Int32Array(dim)
  const bases = new Int32Array(dim)
  for (let j = 0; j < dim; j++) {
    const e = view.getInt32(8 * j, true)
    const base = view.getInt32(8 * j + 4, true)
    if (e < MIN_EXP || e > MAX_EXP || Math.abs(base) >= EXACT || Math.abs(base + 255) >= EXACT)
      fail(`dimension ${j}: grid 2^${e} from ${base} is not exact in float32`, 8 * j)
    exps[j] = e
    bases[j] = base
  }
  const out = dequantizeCentroids({ exps, bases, codes: bytes.subarray(8 * dim, 8 * dim + nlist * dim) }, nlist, dim)
  for (let i = 0; i < out.length; i++) if (!Number.isFinite(out[i] as number)) fail(`value ${i} decodes to ${out[i]}`, 8 * dim + i)
  return out
}
