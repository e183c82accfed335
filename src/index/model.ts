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
  /** Default lists to probe (at most, with `slack`), measured at build time for recall@10 ≥ 0.98 (tune.ts). */
  nprobe?: number
  /**
   * Default adaptive-probing slack (search option `slack`), measured with nprobe and refine:
   * absent when probing nprobe lists every query costs less.
   */
  slack?: number
  /** Default re-rank factor (candidates = k × refine), measured with nprobe. */
  refine?: number
  /**
   * Default cut of those candidates (search option `refineSlack`): only those at most (1 +
   * refineSlack) times the k-th's PQ distance are re-ranked; absent when the tune found none
   * that keeps its recall target.
   */
  refineSlack?: number
  /** recall@10 measured at that nprobe and refine on rows of the data. */
  tunedRecall?: number
  /**
   * Rows stored list by list (build option clusterRows): row numbers are those of this file;
   * each row's number in the input is in its `parquetseek_row` column.
   */
  clustered?: boolean
  /**
   * Each row is also in a second list (compute/spill.ts): a row may come from two probed lists,
   * and a search keeps it once, at its better estimate. Read from the blob's directory (v5).
   */
  spilled?: boolean
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
 * ordered by row ascending inside each list (clustered rows: in rowOrder.ts's order).
 */
export interface InvertedLists {
  listStart: Uint32Array
  rowIds: Uint32Array
  /** entries × m bytes */
  codes: Uint8Array
  /**
   * Spilled rows (compute/spill.ts): list l's own rows are [listStart[l], spillStart[l]), the
   * rows it holds as their second list [spillStart[l], listStart[l+1]). Absent: every row once.
   */
  spillStart?: Uint32Array
}

/** End of list l's own entries (its spilled ones follow). */
export function ownEnd(lists: InvertedLists, l: number): number {
  return (lists.spillStart?.[l] ?? lists.listStart[l + 1]) as number
}

/** Where each indexed row's vector page lives in the file (absolute bytes, header included). */
export interface PageLocations {
  offsets: Float64Array
  lengths: Uint32Array
}

export const defaults = {
  nbits: 8,
  seed: 1,
  coarseIterations: 8,
  pqIterations: 10,
  /**
   * 4·√rows lists: finer lists cut the bytes a query reads for a given recall (1 M rows of
   * 100-d, rows stored list by list, tuned to the same recall: 2,000 lists read 3,502 KiB a
   * query in 58.8 requests, 4,000 lists 1,817 KiB in 44.3); at least 32 rows per list, and
   * centroids (read at open, one byte a value since format v2) kept under 1 MiB or 0.1 % of the
   * vectors (at 4 bytes a value), whichever is more. Under 1 MiB alone, lists stopped growing
   * at high dimension (768-d: 1,365 lists from 120 k rows on) and a query's bytes grew with the
   * file; 1 M rows of 768-d (bench:scale --dim 768, s3, 50 Mbit/s): 1,365 lists read 3.1 MiB a
   * query in 47 requests, p50 547 ms, recall@10 0.934; 4,000 lists 2.1 MiB in 29, p50 322 ms,
   * 0.945 — for a first query 924 ms where it took 671 (2 MiB more centroids at open).
   */
  nlist(rows: number, dim: number): number {
    const byHead = Math.floor(Math.max((1 << 20) / dim, rows / 250))
    return Math.max(1, Math.min(65536, Math.round(4 * Math.sqrt(rows)), Math.floor(rows / 32), byHead))
  },
  /**
   * About 4 dims per code byte up to 256-d, 8 above. Fewer bytes would shrink the lists a query
   * downloads, but on wordnet (100-d) 8 dims a byte cost ~0.03 recall@10 at refine 10.
   */
  m(dim: number): number {
    return Math.max(1, Math.min(dim, Math.ceil(dim / (dim <= 256 ? 4 : 8))))
  },
  sample(rows: number, nlist: number): number {
    return Math.min(rows, Math.max(16384, Math.min(65536, 32 * nlist)))
  },
}

/** What a build is asked to make, as an indexed file records it; a setting left undefined: any will do. */
export interface AskedBuild {
  metric: Metric
  column?: string
  nlist?: number
  m?: number
  nbits?: number
  seed?: number
  /** The model a file's text is embedded with first (a build from text). */
  model?: string
  /** Its texts cut into passages, a row each (a build from text). */
  passages?: boolean
  /** The vectors it makes stored as half floats (a build from text). */
  float16?: boolean
  /** Rows stored list by list. */
  clustered: boolean
}

/**
 * How an index already built (its stored params, its vector column, the model its vectors came
 * from, whether its rows are passages, whether its vectors are half floats) differs from what
 * `asked` would build — "was built with nlist 8, not 16", "stores its rows list by list" — or
 * undefined where it is that build's. A dataset built again keeps the files that are (`index
 * --out-dir --update`, the page's dataset build).
 */
export function builtOtherwise(
  built: { params: Partial<IndexParams>; column: string; model?: string; passages: boolean; float16: boolean },
  asked: AskedBuild,
): string | undefined {
  const { params } = built
  const given: Array<[string, unknown, unknown]> = [
    ['metric', params.metric, asked.metric],
    ['column', built.column, asked.column],
    ['nlist', params.nlist, asked.nlist],
    ['m', params.m, asked.m],
    ['nbits', params.nbits, asked.nbits],
    ['seed', params.seed, asked.seed],
    ['model', built.model, asked.model],
  ]
  const [what, was, wanted] = given.find(([, was, wanted]) => wanted !== undefined && was !== wanted) ?? []
  if (what) return `was built with ${what} ${was ?? 'none'}, not ${wanted}`
  if (asked.passages !== undefined && built.passages !== asked.passages)
    return asked.passages ? 'embeds each text whole, not in passages' : 'embeds texts in passages, a row each'
  if (asked.float16 !== undefined && built.float16 !== asked.float16)
    return asked.float16 ? 'stores its vectors as 32-bit floats, not half floats' : 'stores its vectors as half floats'
  if ((params.clustered === true) !== asked.clustered)
    return asked.clustered ? 'stores its rows in input order, not list by list' : 'stores its rows list by list'
  return undefined
}
