import * as Comlink from 'comlink'
import { jsKernels } from '../compute/backend.js'
import type { GpuBuild } from '../compute/gpu/build.js'
import { type ClusteringRun, kmeans, seedPlusPlus, splitEmpty } from '../compute/kmeans.js'
import { runQueue } from '../compute/pool.js'
import { mulberry32 } from '../compute/random.js'
import { checkpoint, throwIfAborted } from '../errors.js'
import { snapCentroids } from './centroids.js'

/**
 * Product quantizer layout. The vector is cut into m contiguous subvectors; subvector j covers
 * dims [starts[j], starts[j+1]) with starts[j] = floor(j·dim/m), so m need not divide dim
 * (lengths differ by at most one).
 *
 * Codebooks: f32[ksub × dim] — subvector j's ksub centroids are stored contiguously at float
 * offset ksub·starts[j], each centroid `len_j` floats (in memory; an index stores them on a
 * per-dimension grid, {@link snapCodebooks}). Codes: one byte per subvector.
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

/** PQ training: one k-means per subspace (on the GPU: all of them in one batched run). */
export interface TrainPqOptions extends ClusteringRun {
  onSubspace?: (done: number, total: number) => void
}

/** Each code c of each subspace: its sub-vector covers dims [s, s + len) and lies at float ksub·s + c·len of the codebooks. */
function eachEntry({ m, ksub, starts }: PqLayout, visit: (c: number, s: number, len: number) => void): void {
  for (let j = 0; j < m; j++) {
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    for (let c = 0; c < ksub; c++) visit(c, s, len)
  }
}

/**
 * The codebooks as rows: entry c of every subspace side by side (ksub × dim, row-major), so each
 * dimension's values form a column as the coarse centroids' do (one grid per dimension).
 */
export function codebookRows(codebooks: Float32Array, layout: PqLayout): Float32Array {
  const { ksub, dim } = layout
  const rows = new Float32Array(ksub * dim)
  eachEntry(layout, (c, s, len) => rows.set(codebooks.subarray(ksub * s + c * len, ksub * s + (c + 1) * len), c * dim + s))
  return rows
}

/** The inverse of {@link codebookRows}. */
export function codebooksOfRows(rows: Float32Array, layout: PqLayout): Float32Array {
  const { ksub, dim } = layout
  const codebooks = new Float32Array(ksub * dim)
  eachEntry(layout, (c, s, len) => codebooks.set(rows.subarray(c * dim + s, c * dim + s + len), ksub * s + c * len))
  return codebooks
}

/**
 * The codebooks as an index stores them since format v4: each value on its dimension's grid of
 * 256 points, as the coarse centroids (centroids.ts), so the index head carries one byte a value
 * instead of four (768-d: 197 KiB instead of 786). Training snaps them before any row is encoded,
 * so the codebooks a reader decodes are exactly those the codes were chosen with.
 */
export function snapCodebooks(codebooks: Float32Array, layout: PqLayout): Float32Array {
  return codebooksOfRows(snapCentroids(codebookRows(codebooks, layout), layout.ksub, layout.dim), layout)
}

/** Trains the codebooks, on their grid ({@link snapCodebooks}). */
export async function trainPq(x: Float32Array, n: number, layout: PqLayout, options: TrainPqOptions): Promise<Float32Array> {
  return snapCodebooks(await trainFloatPq(x, n, layout, options), layout)
}

async function trainFloatPq(x: Float32Array, n: number, layout: PqLayout, options: TrainPqOptions): Promise<Float32Array> {
  const { dim, m, ksub, starts } = layout
  if (options.gpu && n > ksub) return trainPqOnGpu(options.gpu, x, n, layout, options)
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

/**
 * All m subspaces as one batched k-means on the GPU: subvectors zero-padded to the longest
 * subspace (zeros change no distance), each seeded here exactly as kmeans() seeds it.
 */
async function trainPqOnGpu(gpu: GpuBuild, x: Float32Array, n: number, layout: PqLayout, options: TrainPqOptions): Promise<Float32Array> {
  const { dim, m, ksub, starts } = layout
  let width = 0
  for (let j = 0; j < m; j++) width = Math.max(width, (starts[j + 1] as number) - (starts[j] as number))
  const xs = new Float32Array(m * n * width)
  const init = new Float32Array(m * ksub * width)
  for (let j = 0; j < m; j++) {
    await checkpoint(options.signal)
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    const sub = new Float32Array(n * len)
    for (let i = 0; i < n; i++) {
      sub.set(x.subarray(i * dim + s, i * dim + s + len), i * len)
      xs.set(x.subarray(i * dim + s, i * dim + s + len), (j * n + i) * width)
    }
    const seeded = new Float32Array(ksub * len)
    await seedPlusPlus(sub, n, len, seeded, ksub, mulberry32(options.seed + 7919 * (j + 1)), options.kernels ?? jsKernels, options.signal)
    for (let c = 0; c < ksub; c++) init.set(seeded.subarray(c * len, (c + 1) * len), (j * ksub + c) * width)
  }
  await gpu.lloyd(
    xs,
    n,
    width,
    ksub,
    m,
    init,
    options.iterations,
    (counts) => {
      for (let j = 0; j < m; j++) {
        const len = (starts[j + 1] as number) - (starts[j] as number)
        const part = init.subarray(j * ksub * width, (j + 1) * ksub * width)
        splitEmpty(part, counts.subarray(j * ksub, (j + 1) * ksub), ksub, width)
        if (len < width) for (let c = 0; c < ksub; c++) part.fill(0, c * width + len, (c + 1) * width)
      }
    },
    { signal: options.signal, onIteration: (done, total) => options.onSubspace?.(Math.round((done / total) * m), m) },
  )
  const codebooks = new Float32Array(ksub * dim)
  for (let j = 0; j < m; j++) {
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    for (let c = 0; c < ksub; c++) codebooks.set(init.subarray((j * ksub + c) * width, (j * ksub + c) * width + len), ksub * s + c * len)
  }
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
