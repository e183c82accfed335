import * as Comlink from 'comlink'
import { jsKernels, type Kernels } from '../compute/backend.js'
import type { GpuBuild } from '../compute/gpu/build.js'
import { rowNormsSq } from '../compute/js.js'
import { kmeans } from '../compute/kmeans.js'
import { type KernelPool, runQueue } from '../compute/pool.js'
import { mulberry32, sampleIndices } from '../compute/random.js'
import { NO_LIST, type SpillGraph } from '../compute/spill.js'
import { checkpoint, ParquetSeekError, throwIfAborted } from '../errors.js'
import { snapCentroids } from './centroids.js'
import { type EncodedChunk, encodeChunk, spillChunk } from './kernelWorker.js'
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
  /** Encoding also puts each row in a second list, chosen from this graph (compute/spill.ts). */
  spill?: SpillGraph
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
  const encoded = await encodeRows(model, data, n, o)
  return groupByList(encoded, rowIds, model.params.nlist, model.params.m)
}

/**
 * List (assign) and PQ code (codes, n × m) of each of n rows, split over the pool's threads; with
 * `o.spill`, each row's second list and code there too (`spill`).
 */
export async function encodeRows(
  model: IvfPqModel,
  data: Float32Array,
  n: number,
  o: TrainOptions = {},
  progress: { done: number; total: number } = { done: 0, total: n },
): Promise<EncodedChunk> {
  const { dim, nlist, m } = model.params
  const kernels = o.kernels ?? jsKernels
  if (o.gpu) {
    const encoded: EncodedChunk = await o.gpu.encode({ ...model, nlist }, data, n, o.signal)
    if (o.spill) {
      // the second lists on the CPU, from the GPU's first ones (the same arithmetic as there)
      const residuals = data.slice(0, n * dim)
      subtractCentroids(residuals, n, dim, model.centroids, encoded.assign)
      encoded.spill = spillChunk(kernels, { ...model, spill: o.spill }, residuals, n, encoded.assign)
    }
    progress.done += n
    o.onProgress?.('encode', progress.done, progress.total)
    return encoded
  }
  const assign = new Uint32Array(n)
  const codes = new Uint8Array(n * m)
  const spill = o.spill ? { assign: new Uint32Array(n), codes: new Uint8Array(n * m) } : undefined
  const quantizer = { ...model, nlist, norms: kernels.rowNormsSq(model.centroids, nlist, dim), spill: o.spill }
  const workers = o.pool?.workers ?? []
  await Promise.all(workers.map((w) => w.setModel(model.centroids, nlist, model.layout, model.codebooks, o.spill)))
  const chunks = Math.ceil(n / ENCODE_CHUNK)
  const store = (chunk: number, r: EncodedChunk) => {
    assign.set(r.assign, chunk * ENCODE_CHUNK)
    codes.set(r.codes, chunk * ENCODE_CHUNK * m)
    if (spill && r.spill) {
      spill.assign.set(r.spill.assign, chunk * ENCODE_CHUNK)
      spill.codes.set(r.spill.codes, chunk * ENCODE_CHUNK * m)
    }
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
  return spill ? { assign, codes, spill } : { assign, codes }
}

function subtractCentroids(x: Float32Array, n: number, dim: number, centroids: Float32Array, assign: Uint32Array) {
  for (let i = 0; i < n; i++) {
    const c = (assign[i] as number) * dim
    for (let j = 0; j < dim; j++) x[i * dim + j] = (x[i * dim + j] as number) - (centroids[c + j] as number)
  }
}

/**
 * Counting sort by list; stable, so rows stay ascending inside each list. With `spill`, each
 * list's spilled entries follow its own (`spillStart`), ascending by row too.
 */
export function groupByList(encoded: EncodedChunk, rowIds: Uint32Array, nlist: number, m: number): InvertedLists {
  const { assign, codes, spill } = encoded
  const n = assign.length
  const own = new Uint32Array(nlist)
  const spilled = new Uint32Array(nlist)
  for (const l of assign) own[l] = (own[l] as number) + 1
  for (const l of spill?.assign ?? []) if (l !== NO_LIST) spilled[l] = (spilled[l] as number) + 1
  const listStart = new Uint32Array(nlist + 1)
  for (let l = 0; l < nlist; l++) listStart[l + 1] = (listStart[l] as number) + (own[l] as number) + (spilled[l] as number)
  const fill = listStart.slice(0, nlist)
  const total = listStart[nlist] as number
  const outIds = new Uint32Array(total)
  const outCodes = new Uint8Array(total * m)
  const place = (lists: Uint32Array, from: Uint8Array, fillOf: Uint32Array) => {
    for (let i = 0; i < n; i++) {
      const l = lists[i] as number
      if (l === NO_LIST) continue
      const at = fillOf[l] as number
      fillOf[l] = at + 1
      outIds[at] = rowIds[i] as number
      outCodes.set(from.subarray(i * m, (i + 1) * m), at * m)
    }
  }
  place(assign, codes, fill)
  if (!spill) return { listStart, rowIds: outIds, codes: outCodes }
  const spillStart = Uint32Array.from({ length: nlist }, (_, l) => (listStart[l] as number) + (own[l] as number))
  place(spill.assign, spill.codes, spillStart.slice())
  return { listStart, rowIds: outIds, codes: outCodes, spillStart }
}
