import * as Comlink from 'comlink'
import type { Kernels } from '../compute/backend.js'
import { type KernelPool, runQueue } from '../compute/pool.js'
import { checkpoint, throwIfAborted } from '../errors.js'
import { kmeans } from './kmeans.js'

/**
 * Product quantizer layout. The vector is cut into m contiguous subvectors; subvector j covers
 * dims [starts[j], starts[j+1]) with starts[j] = floor(j·dim/m), so m need not divide dim
 * (lengths differ by at most one).
 *
 * Codebooks: f32[ksub × dim] — subvector j's ksub centroids are stored contiguously at float
 * offset ksub·starts[j], each centroid `len_j` floats. Codes: one byte per subvector.
 */
export interface PqLayout {
  dim: number
  m: number
  ksub: number
  starts: Uint32Array
}

export function pqLayout(dim: number, m: number, nbits: number): PqLayout {
  const starts = new Uint32Array(m + 1)
  for (let j = 0; j <= m; j++) starts[j] = Math.floor((j * dim) / m)
  return { dim, m, ksub: 1 << nbits, starts }
}

export interface TrainPqOptions {
  iterations: number
  seed: number
  signal?: AbortSignal
  kernels?: Kernels
  /** Workers that train some of the subspaces (the codebooks are the same). */
  pool?: KernelPool
  onSubspace?: (done: number, total: number) => void
}

export async function trainPq(x: Float32Array, n: number, layout: PqLayout, options: TrainPqOptions): Promise<Float32Array> {
  const { dim, m, ksub, starts } = layout
  const codebooks = new Float32Array(ksub * dim)
  const slice = (j: number) => {
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    const sub = new Float32Array(n * len)
    for (let i = 0; i < n; i++) sub.set(x.subarray(i * dim + s, i * dim + s + len), i * len)
    return { s, len, sub, seed: options.seed + 7919 * (j + 1) }
  }
  let done = 0
  const finish = (s: number, centroids: Float32Array) => {
    codebooks.set(centroids, ksub * s)
    options.onSubspace?.(++done, m)
  }
  // subspaces are independent: each thread takes the next one until none is left
  await runQueue(
    m,
    options.pool?.workers ?? [],
    async (j) => {
      await checkpoint(options.signal)
      const { s, len, sub, seed } = slice(j)
      const opts = { k: ksub, iterations: options.iterations, seed, signal: options.signal, kernels: options.kernels }
      finish(s, await kmeans(sub, n, len, opts))
    },
    async (worker, j) => {
      throwIfAborted(options.signal)
      const { s, len, sub, seed } = slice(j)
      finish(s, await worker.kmeans(Comlink.transfer(sub, [sub.buffer]), n, len, ksub, options.iterations, seed))
    },
  )
  throwIfAborted(options.signal)
  return codebooks
}

/** Reconstruction of one code row (for tests and diagnostics). */
export function pqDecode(codes: Uint8Array, at: number, layout: PqLayout, codebooks: Float32Array, out: Float32Array) {
  const { m, ksub, starts } = layout
  for (let j = 0; j < m; j++) {
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    const co = ksub * s + (codes[at + j] as number) * len
    for (let t = 0; t < len; t++) out[s + t] = codebooks[co + t] as number
  }
}
