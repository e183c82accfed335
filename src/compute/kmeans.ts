import * as Comlink from 'comlink'
import { checkpoint } from '../errors.js'
import type { KernelWorkerApi } from '../index/kernelWorker.js'
import { jsKernels, type Kernels } from './backend.js'
import type { GpuBuild } from './gpu/build.js'
import { updateMeans } from './js.js'
import { type KernelPool, splitRange } from './pool.js'
import { mulberry32, sampleIndices } from './random.js'

/** How a clustering runs: its iterations and seed, and where (kernels, worker pool, GPU); the result is the same everywhere. */
export interface ClusteringRun {
  iterations: number
  seed: number
  signal?: AbortSignal
  /** CPU kernels (default: the TypeScript reference). */
  kernels?: Kernels
  /** Workers that share the work (k-means: a share of the rows each iteration; PQ: some of the subspaces). */
  pool?: KernelPool
  /** On the GPU instead (k-means seeding stays on the CPU: the same starting centroids). */
  gpu?: GpuBuild
}

export interface KMeansOptions extends ClusteringRun {
  k: number
  onIteration?: (done: number, total: number) => void
  /**
   * After the last iteration (CPU only): the centroids become `snap(centroids)` and each row's
   * nearest of them goes to `assign`, with the rows still spread over the pool (an IVF's sample,
   * assigned again for its residuals after the centroids move onto the stored grid).
   */
  finish?: { snap: (centroids: Float32Array) => Float32Array; assign: Uint32Array }
}

/**
 * k-means++ seeding (on a pool of at most 16·k points: a smaller pool, 16,384 points for 4,000
 * centroids, saved 20 s of a 1 M-row build but its index read 24 % more a query at the same
 * recall) then Lloyd iterations.
 * A cluster left empty is re-seeded by splitting the largest one. Deterministic for a given
 * seed. Returns k × dim centroids.
 */
export async function kmeans(x: Float32Array, n: number, dim: number, options: KMeansOptions): Promise<Float32Array> {
  const { k, iterations, seed, signal, onIteration, kernels = jsKernels, pool } = options
  const rand = mulberry32(seed)
  const centroids = new Float32Array(k * dim)
  if (n <= k) {
    // Too few points: every point is a centroid; the rest repeat them (never nearest, harmless).
    for (let c = 0; c < k; c++) centroids.set(x.subarray((c % n) * dim, ((c % n) + 1) * dim), c * dim)
    if (!options.finish) return centroids
    const snapped = options.finish.snap(centroids)
    kernels.assignNearest(x, n, dim, snapped, k, options.finish.assign)
    return snapped
  }
  await seedPlusPlus(x, n, dim, centroids, k, rand, kernels, signal)
  if (options.gpu) {
    await options.gpu.lloyd(x, n, dim, k, 1, centroids, iterations, (counts) => splitEmpty(centroids, counts, k, dim), {
      signal,
      onIteration,
    })
    return centroids
  }
  const assign = new Uint32Array(n)
  const sums = new Float64Array(k * dim)
  const counts = new Uint32Array(k)
  const assignAll = await sharedAssigner(x, n, dim, kernels, pool, signal)
  for (let it = 0; it < iterations; it++) {
    await assignAll(centroids, k, assign)
    updateMeans(x, n, dim, assign, centroids, k, counts, sums)
    splitEmpty(centroids, counts, k, dim)
    onIteration?.(it + 1, iterations)
  }
  if (options.finish) {
    const snapped = options.finish.snap(centroids)
    await assignAll(snapped, k, options.finish.assign)
    return snapped
  }
  return centroids
}

/**
 * Assignment of x's rows to the nearest of k centroids, rows [0, local) here and the rest by the
 * pool's workers (each sent its share once, then only the centroids per call).
 */
async function sharedAssigner(
  x: Float32Array,
  n: number,
  dim: number,
  kernels: Kernels,
  pool: KernelPool | undefined,
  signal: AbortSignal | undefined,
): Promise<(centroids: Float32Array, k: number, assign: Uint32Array) => Promise<void>> {
  const parts = pool && n >= MIN_SHARED_ROWS ? splitRange(n, pool.threads) : [[0, n] as [number, number]]
  const local = (parts[0] as [number, number])[1]
  const remote = parts.slice(1).map((range, w) => ({ range, worker: pool?.workers[w] as Comlink.Remote<KernelWorkerApi> }))
  await Promise.all(
    remote.map(({ range: [a, b], worker }) => {
      const part = x.slice(a * dim, b * dim)
      return worker.setRows(Comlink.transfer(part, [part.buffer]), b - a, dim)
    }),
  )
  return async (centroids, k, assign) => {
    const norms = kernels.rowNormsSq(centroids, k, dim)
    const shares = remote.map(({ range: [a], worker }) => worker.assignRows(centroids, k, norms).then((r) => assign.set(r, a)))
    for (let start = 0; start < local; start += CHUNK) {
      await checkpoint(signal)
      const end = Math.min(local, start + CHUNK)
      kernels.assignNearest(x.subarray(start * dim, end * dim), end - start, dim, centroids, k, assign.subarray(start, end), norms)
    }
    await Promise.all(shares)
  }
}

/** Centroids picked between event-loop turns (cancellation latency). */
const SEED_CHUNK = 128

export async function seedPlusPlus(
  x: Float32Array,
  n: number,
  dim: number,
  centroids: Float32Array,
  k: number,
  rand: () => number,
  kernels: Kernels,
  signal?: AbortSignal,
) {
  const pool = sampleIndices(n, Math.min(n, 16 * k), rand)
  const m = pool.length
  const { rows, stride } = quantizeRows(x, dim, pool)
  const seeder = kernels.seeder(rows, m, stride)
  let chosen = Math.floor(rand() * m)
  for (let c = 0; c < k; c++) {
    if (c % SEED_CHUNK === SEED_CHUNK - 1) await checkpoint(signal)
    const pick = pool[chosen] as number
    centroids.set(x.subarray(pick * dim, (pick + 1) * dim), c * dim)
    if (c === k - 1) break
    const total = seeder.add(chosen)
    if (total === 0) {
      // All remaining points coincide with a centroid: any choice is as good.
      chosen = Math.floor(rand() * m)
      continue
    }
    let r = rand() * total
    chosen = m - 1
    const minDist = seeder.minDist
    for (let i = 0; i < m; i++) {
      r -= minDist[i] as number
      if (r <= 0) {
        chosen = i
        break
      }
    }
  }
}

/**
 * The pool's rows at one byte a value, for seeding: one grid spanning every value of every row
 * (so squared distances keep their shape across dimensions), rows zero-padded to 16 bytes.
 * Seeding only samples by these distances; the centroids it returns are the rows' own floats. At
 * 4,000 centroids over 64,000 rows of 100-d, 7.2 MB of bytes read a pick instead of 25.6 MB of
 * floats took seeding from 20 s to 8 s, and the 1 M-row index it leads to probes as well (same
 * recall and bytes a query at the same settings: docs/BENCHMARKS.md). The grid has fewer than 256
 * steps only where a row's integer distance could pass 2^32 (over 66,000 dimensions).
 */
export function quantizeRows(x: Float32Array, dim: number, pick: ArrayLike<number>): { rows: Uint8Array; stride: number } {
  const m = pick.length
  let lo = Number.POSITIVE_INFINITY
  let hi = Number.NEGATIVE_INFINITY
  for (let i = 0; i < m; i++) {
    const at = (pick[i] as number) * dim
    for (let j = 0; j < dim; j++) {
      const v = x[at + j] as number
      if (v < lo) lo = v
      if (v > hi) hi = v
    }
  }
  const stride = Math.ceil(dim / 16) * 16
  const top = Math.min(255, Math.floor(Math.sqrt(0xffffffff / stride)))
  const scale = hi > lo ? top / (hi - lo) : 0
  const rows = new Uint8Array(m * stride)
  for (let i = 0; i < m; i++) {
    const at = (pick[i] as number) * dim
    for (let j = 0; j < dim; j++) rows[i * stride + j] = Math.round(((x[at + j] as number) - lo) * scale)
  }
  return { rows, stride }
}

const SPLIT_EPS = 1 / 1024
/** Points assigned between event-loop turns (cancellation latency). */
const CHUNK = 4096
/** Fewer rows than this are not worth a round trip to the workers. */
const MIN_SHARED_ROWS = 8192

export function splitEmpty(centroids: Float32Array, counts: Uint32Array, k: number, dim: number) {
  for (let c = 0; c < k; c++) {
    if (counts[c] !== 0) continue
    let largest = 0
    for (let o = 1; o < k; o++) if ((counts[o] as number) > (counts[largest] as number)) largest = o
    if ((counts[largest] as number) < 2) return
    for (let j = 0; j < dim; j++) {
      const v = centroids[largest * dim + j] as number
      // Opposite nudges so the two halves separate on the next assignment.
      const sign = j % 2 === 0 ? 1 : -1
      centroids[c * dim + j] = v * (1 + sign * SPLIT_EPS) + sign * SPLIT_EPS
      centroids[largest * dim + j] = v * (1 - sign * SPLIT_EPS) - sign * SPLIT_EPS
    }
    const half = Math.floor((counts[largest] as number) / 2)
    counts[c] = half
    counts[largest] = (counts[largest] as number) - half
  }
}
