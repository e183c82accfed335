import * as Comlink from 'comlink'
import { jsKernels, type Kernels } from '../compute/backend.js'
import type { GpuBuild } from '../compute/gpu/build.js'
import { rowNormsSq } from '../compute/js.js'
import { encodeChunk } from '../compute/kernelWorker.js'
import { kmeans } from '../compute/kmeans.js'
import { type KernelPool, runQueue } from '../compute/pool.js'
import { mulberry32, sampleIndices } from '../compute/random.js'
import { checkpoint, ParquetSeekError, throwIfAborted } from '../errors.js'
import { snapCentroids } from './centroids.js'
import type { IndexParams, InvertedLists, IvfPqModel, Metric } from './model.js'
import { defaults } from './model.js'
import { pqLayout, trainPq } from './pq.js'

export interface TrainOptions {
  metric?: Metric
  nlist?: number
  m?: number
  nbits?: number
  sample?: number
  seed?: number
  coarseIterations?: number
  pqIterations?: number
  signal?: AbortSignal
  /** Compute backend (default: the TypeScript reference; all backends give the same model). */
  kernels?: Kernels
  /** Workers sharing k-means, PQ training and encoding with this thread (same result). */
  pool?: KernelPool
  /** k-means iterations, assignment and encoding on the GPU instead (index of the same quality). */
  gpu?: GpuBuild
  onProgress?: (phase: 'train-coarse' | 'train-pq' | 'encode', done: number, total: number) => void
}

export type ParamOptions = Pick<TrainOptions, 'metric' | 'nlist' | 'm' | 'nbits' | 'sample' | 'seed' | 'coarseIterations' | 'pqIterations'>

/** Resolves defaults and rejects impossible parameters with a message naming the option. */
export function resolveParams(rows: number, indexedRows: number, dim: number, o: ParamOptions): IndexParams {
  const nlist = o.nlist ?? defaults.nlist(indexedRows, dim)
  const m = o.m ?? defaults.m(dim)
  const nbits = o.nbits ?? defaults.nbits
  const check = (ok: boolean, message: string) => {
    if (!ok) throw new ParquetSeekError(message)
  }
  check(Number.isInteger(nlist) && nlist >= 1 && nlist <= indexedRows, `--nlist must be 1…${indexedRows} (rows with vectors), got ${nlist}`)
  check(Number.isInteger(m) && m >= 1 && m <= dim, `--m must be 1…${dim} (the dimension), got ${m}`)
  check(Number.isInteger(nbits) && nbits >= 1 && nbits <= 8, `--nbits must be 1…8, got ${nbits}`)
  const sample = Math.min(indexedRows, o.sample ?? defaults.sample(indexedRows, nlist))
  check(Number.isInteger(sample) && sample >= nlist, `--sample must be at least nlist (${nlist}), got ${sample}`)
  return {
    metric: o.metric ?? 'l2',
    dim,
    nlist,
    m,
    nbits,
    rows,
    indexedRows,
    sample,
    seed: o.seed ?? defaults.seed,
    coarseIterations: o.coarseIterations ?? defaults.coarseIterations,
    pqIterations: o.pqIterations ?? defaults.pqIterations,
  }
}

/** Unit-normalises rows in place (cosine). A zero vector has no direction: reported by row. */
export function normalizeRows(data: Float32Array, n: number, dim: number, rowIds: Uint32Array, column?: string) {
  const norms = rowNormsSq(data, n, dim)
  for (let i = 0; i < n; i++) {
    const norm = Math.sqrt(norms[i] as number)
    if (norm === 0) {
      throw new ParquetSeekError('vector is all zeros, which has no cosine direction', { column, row: rowIds[i] })
    }
    for (let j = 0; j < dim; j++) data[i * dim + j] = (data[i * dim + j] as number) / norm
  }
}

/** Trains the coarse quantizer and the residual PQ on a seeded sample of the rows. */
export async function trainModel(data: Float32Array, n: number, params: IndexParams, o: TrainOptions = {}): Promise<IvfPqModel> {
  const { dim, nlist, sample, seed } = params
  const rand = mulberry32(seed)
  const picks = sampleIndices(n, sample, rand)
  const xs = new Float32Array(picks.length * dim)
  for (let i = 0; i < picks.length; i++) {
    const p = picks[i] as number
    xs.set(data.subarray(p * dim, (p + 1) * dim), i * dim)
  }
  // on the grid the index stores them on (centroids.ts), before any row is assigned to them
  const snap = (c: Float32Array) => snapCentroids(c, nlist, dim)
  let assign: Uint32Array = new Uint32Array(picks.length)
  const trained = await kmeans(xs, picks.length, dim, {
    k: nlist,
    iterations: params.coarseIterations,
    seed: seed + 1,
    signal: o.signal,
    kernels: o.kernels,
    pool: o.pool,
    gpu: o.gpu,
    finish: o.gpu ? undefined : { snap, assign },
    onIteration: (done, total) => o.onProgress?.('train-coarse', done, total),
  })
  const centroids = o.gpu ? snap(trained) : trained
  if (o.gpu) assign = await o.gpu.assign(xs, picks.length, dim, centroids, nlist, o.signal)
  subtractCentroids(xs, picks.length, dim, centroids, assign)
  const layout = pqLayout(dim, params.m, params.nbits)
  const codebooks = await trainPq(xs, picks.length, layout, {
    iterations: params.pqIterations,
    seed: seed + 2,
    signal: o.signal,
    kernels: o.kernels,
    pool: o.pool,
    gpu: o.gpu,
    onSubspace: (done, total) => o.onProgress?.('train-pq', done, total),
  })
  return { params, centroids, codebooks, layout }
}

const ENCODE_CHUNK = 4096

/** Assigns every row to its list and encodes its residual; returns the inverted lists. */
export async function encodeAll(
  model: IvfPqModel,
  data: Float32Array,
  n: number,
  rowIds: Uint32Array,
  o: TrainOptions = {},
): Promise<InvertedLists> {
  const { assign, codes } = await encodeRows(model, data, n, o)
  return groupByList(assign, codes, rowIds, model.params.nlist, model.params.m)
}

/** List (assign) and PQ code (codes, n × m) of each of n rows, split over the pool's threads. */
export async function encodeRows(
  model: IvfPqModel,
  data: Float32Array,
  n: number,
  o: TrainOptions = {},
  progress: { done: number; total: number } = { done: 0, total: n },
): Promise<{ assign: Uint32Array; codes: Uint8Array }> {
  const { dim, nlist, m } = model.params
  if (o.gpu) {
    const encoded = await o.gpu.encode({ ...model, nlist }, data, n, o.signal)
    progress.done += n
    o.onProgress?.('encode', progress.done, progress.total)
    return encoded
  }
  const assign = new Uint32Array(n)
  const codes = new Uint8Array(n * m)
  const kernels = o.kernels ?? jsKernels
  const quantizer = { ...model, nlist, norms: kernels.rowNormsSq(model.centroids, nlist, dim) }
  const workers = o.pool?.workers ?? []
  await Promise.all(workers.map((w) => w.setModel(model.centroids, nlist, model.layout, model.codebooks)))
  const chunks = Math.ceil(n / ENCODE_CHUNK)
  const store = (chunk: number, r: { assign: Uint32Array; codes: Uint8Array }) => {
    assign.set(r.assign, chunk * ENCODE_CHUNK)
    codes.set(r.codes, chunk * ENCODE_CHUNK * m)
    progress.done += r.assign.length
    o.onProgress?.('encode', progress.done, progress.total)
  }
  // chunks are independent: each thread takes the next one until none is left
  const rowsOf = (chunk: number) => data.slice(chunk * ENCODE_CHUNK * dim, Math.min(n, (chunk + 1) * ENCODE_CHUNK) * dim)
  await runQueue(
    chunks,
    workers,
    async (chunk) => {
      await checkpoint(o.signal)
      const x = rowsOf(chunk)
      store(chunk, encodeChunk(kernels, quantizer, x, x.length / dim))
    },
    async (worker, chunk) => {
      throwIfAborted(o.signal)
      const x = rowsOf(chunk)
      store(chunk, await worker.encode(Comlink.transfer(x, [x.buffer]), x.length / dim))
    },
  )
  throwIfAborted(o.signal)
  return { assign, codes }
}

function subtractCentroids(x: Float32Array, n: number, dim: number, centroids: Float32Array, assign: Uint32Array) {
  for (let i = 0; i < n; i++) {
    const c = (assign[i] as number) * dim
    for (let j = 0; j < dim; j++) x[i * dim + j] = (x[i * dim + j] as number) - (centroids[c + j] as number)
  }
}

/** Counting sort by list; stable, so rows stay ascending inside each list. */
export function groupByList(assign: Uint32Array, codes: Uint8Array, rowIds: Uint32Array, nlist: number, m: number): InvertedLists {
  const n = assign.length
  const listStart = new Uint32Array(nlist + 1)
  for (let i = 0; i < n; i++) listStart[(assign[i] as number) + 1] = (listStart[(assign[i] as number) + 1] as number) + 1
  for (let l = 0; l < nlist; l++) listStart[l + 1] = (listStart[l + 1] as number) + (listStart[l] as number)
  const fill = listStart.slice(0, nlist)
  const outIds = new Uint32Array(n)
  const outCodes = new Uint8Array(n * m)
  for (let i = 0; i < n; i++) {
    const l = assign[i] as number
    const at = fill[l] as number
    fill[l] = at + 1
    outIds[at] = rowIds[i] as number
    outCodes.set(codes.subarray(i * m, (i + 1) * m), at * m)
  }
  return { listStart, rowIds: outIds, codes: outCodes }
}
