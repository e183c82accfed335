import type { PqLayout } from './pq.js'

export type Metric = 'l2' | 'cosine' | 'dot'
export const METRICS: readonly Metric[] = ['l2', 'cosine', 'dot']

/** What the index was built with; stored in the blob trailer and, as JSON, in the footer. */
export interface IndexParams {
  metric: Metric
  dim: number
  nlist: number
  m: number
  nbits: number
  /** Rows in the file. */
  rows: number
  /** Rows in the index (rows minus skipped invalid vectors). */
  indexedRows: number
  sample: number
  seed: number
  coarseIterations: number
  pqIterations: number
}

/** The trained quantizers. Cosine models are trained on unit-normalised vectors. */
export interface IvfPqModel {
  params: IndexParams
  /** f32[nlist × dim] */
  centroids: Float32Array
  /** f32[ksub × dim], layout in pq.ts */
  codebooks: Float32Array
  layout: PqLayout
}

/**
 * Inverted lists in CSR form: entries of list l are [listStart[l], listStart[l+1]),
 * ordered by row ascending inside each list.
 */
export interface InvertedLists {
  listStart: Uint32Array
  rowIds: Uint32Array
  /** entries × m bytes */
  codes: Uint8Array
}

/** Where each indexed row's vector page lives in the file (absolute bytes, header included). */
export interface PageLocations {
  offsets: Float64Array
  lengths: Uint32Array
}

export const defaults = {
  nbits: 8,
  seed: 1,
  coarseIterations: 12,
  pqIterations: 10,
  nlist(rows: number): number {
    return Math.max(1, Math.min(65536, rows, Math.round(Math.sqrt(rows))))
  },
  /** About 4 dims per code byte up to 512-d, 8 above: ~dim/4 … dim/8 bytes a vector. */
  m(dim: number): number {
    return Math.max(1, Math.min(dim, Math.ceil(dim / (dim <= 512 ? 4 : 8))))
  },
  sample(rows: number, nlist: number): number {
    return Math.min(rows, Math.max(16384, Math.min(65536, 64 * nlist)))
  },
}
