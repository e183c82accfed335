import * as Comlink from 'comlink'
import { type BackendName, type Kernels, loadKernels } from '../compute/backend.js'
import { kmeans } from '../compute/kmeans.js'
import { type SpillGraph, spillRows } from '../compute/spill.js'
import { pushNearest, TopK } from '../compute/topk.js'
import type { PqLayout } from './pq.js'
import { type TuneSetting, type TuneShare, TuneSlice } from './tuneSlice.js'

/**
 * What a kernel worker does for the build (exposed with comlink; plain data in, transferred
 * typed arrays out). Each worker holds its own slice of rows or its own copy of the model so a
 * k-means iteration or an encode chunk sends only what changes, and its share of the tune step's
 * queries so each setting tried sends only the setting.
 */
export function kernelWorkerApi() {
  let kernels: Kernels | undefined
  let rows: { x: Float32Array; n: number; dim: number } | undefined
  let model: EncodeModel | undefined
  let tune: TuneSlice | undefined
  const tuning = () => {
    if (!tune) throw new Error('tune call before tuneStart')
    return tune
  }
  const ready = () => {
    if (!kernels) throw new Error('kernel worker used before init')
    return kernels
  }
  return {
    async init(backend: BackendName): Promise<BackendName> {
      kernels = await loadKernels(backend)
      return kernels.name
    },
    /** Rows this worker assigns in every k-means iteration until the next setRows. */
    setRows(x: Float32Array, n: number, dim: number): void {
      rows = { x, n, dim }
    },
    assignRows(centroids: Float32Array, k: number, norms: Float32Array): Uint32Array {
      if (!rows) throw new Error('assignRows before setRows')
      const out = new Uint32Array(rows.n)
      ready().assignNearest(rows.x, rows.n, rows.dim, centroids, k, out, norms)
      return Comlink.transfer(out, [out.buffer])
    },
    async kmeans(x: Float32Array, n: number, dim: number, k: number, iterations: number, seed: number): Promise<Float32Array> {
      const c = await kmeans(x, n, dim, { k, iterations, seed, kernels: ready() })
      return Comlink.transfer(c, [c.buffer])
    },
    /** Each query's k nearest of n rows (rows numbered from base), best first (tune.ts exactTruth). */
    async nearestRows(
      kind: 'l2' | 'ip',
      queries: Float32Array,
      nq: number,
      x: Float32Array,
      n: number,
      dim: number,
      k: number,
      base: number,
    ): Promise<Array<Array<{ row: number; distance: number }>>> {
      const tops = Array.from({ length: nq }, () => new TopK(k))
      await pushNearest(ready(), kind, queries, tops, x, n, dim, base)
      return tops.map((t) => t.sorted())
    },
    setModel(centroids: Float32Array, nlist: number, layout: PqLayout, codebooks: Float32Array, spill?: SpillGraph): void {
      model = { centroids, nlist, layout, codebooks, norms: ready().rowNormsSq(centroids, nlist, layout.dim), spill }
    },
    /** List and PQ code of each row of a chunk, and with a spill graph its second ones (train.ts encodeChunk). */
    encode(x: Float32Array, n: number): EncodedChunk {
      if (!model) throw new Error('encode before setModel')
      const r = encodeChunk(ready(), model, x, n)
      const buffers = [r.assign.buffer, r.codes.buffer, ...(r.spill ? [r.spill.assign.buffer, r.spill.codes.buffer] : [])]
      return Comlink.transfer(r, buffers)
    },
    /** This worker's share of the tune step's queries, searched at each setting the tune tries (tune.ts). */
    tuneStart(share: TuneShare): void {
      tune = new TuneSlice(share, ready())
    },
    tuneRecall(s: TuneSetting): Promise<{ hits: number; wanted: number }> {
      return tuning().recall(s)
    },
    tuneCost(s: TuneSetting): Promise<{ bytes: number; requests: number }> {
      return tuning().cost(s)
    },
    tuneEnd(): void {
      tune = undefined
    },
    /** Lets go of what the last build handed this worker: the next build in it hands its own. */
    clear(): void {
      rows = undefined
      model = undefined
      tune = undefined
    },
  }
}

export type KernelWorkerApi = ReturnType<typeof kernelWorkerApi>

/** What encoding needs: the coarse and PQ model, and for spilled rows the lists' neighbours. */
export interface EncodeModel {
  centroids: Float32Array
  norms: Float32Array
  nlist: number
  layout: PqLayout
  codebooks: Float32Array
  spill?: SpillGraph | undefined
}

/** Each row's list and PQ code; `spill`: its second list and code there (spill.ts). */
export interface EncodedChunk {
  assign: Uint32Array
  codes: Uint8Array
  spill?: { assign: Uint32Array; codes: Uint8Array }
}

/**
 * IVF assignment and PQ code of n rows: nearest centroid, residual, nearest codeword per
 * subspace; with `model.spill`, each row's second list too (spill.ts). `x` is consumed (turned
 * into residuals).
 */
export function encodeChunk(kernels: Kernels, model: EncodeModel, x: Float32Array, n: number): EncodedChunk {
  const { dim } = model.layout
  const assign = new Uint32Array(n)
  kernels.assignNearest(x, n, dim, model.centroids, model.nlist, assign, model.norms)
  for (let i = 0; i < n; i++) {
    const c = (assign[i] as number) * dim
    for (let j = 0; j < dim; j++) x[i * dim + j] = (x[i * dim + j] as number) - (model.centroids[c + j] as number)
  }
  const codes = new Uint8Array(n * model.layout.m)
  kernels.pqEncode(x, n, model.layout, model.codebooks, codes)
  return model.spill ? { assign, codes, spill: spillChunk(kernels, { ...model, spill: model.spill }, x, n, assign) } : { assign, codes }
}

/** Each row's second list and its PQ code there (spill.ts), from its residual to its first list `assign`. */
export function spillChunk(
  kernels: Kernels,
  model: Pick<EncodeModel, 'centroids' | 'layout' | 'codebooks'> & { spill: SpillGraph },
  residuals: Float32Array,
  n: number,
  assign: Uint32Array,
): { assign: Uint32Array; codes: Uint8Array } {
  const { dim, m } = model.layout
  const second = new Float32Array(n * dim)
  const spilled = spillRows(model.spill, model.centroids, dim, residuals, n, assign, second)
  const codes = new Uint8Array(n * m)
  kernels.pqEncode(second, n, model.layout, model.codebooks, codes)
  return { assign: spilled, codes }
}
