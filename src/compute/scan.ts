import { checkpoint, throwIfAborted } from '../errors.js'
import type { IvfPqModel } from '../index/model.js'
import { type AdcScanner, jsKernels, type Kernels } from './backend.js'
import { dot } from './js.js'
import { type Ranked, TopK } from './topk.js'

/**
 * Scans one inverted list with asymmetric distances: a lookup table per (query, list) for the
 * residual q − c_list (l2), or ⟨q, c_list⟩ + Σ table (ip), summed over each entry's codes.
 */
export class ListScanner {
  private readonly adc: AdcScanner
  private readonly residual: Float32Array
  private scores = new Float32Array(0)

  constructor(
    private readonly model: IvfPqModel,
    kernels: Kernels = jsKernels,
  ) {
    this.adc = kernels.adcScanner(model.layout, model.codebooks)
    this.residual = new Float32Array(model.params.dim)
  }

  /** `allowed`: when given, only rows marked 1 there become candidates (filters, deleted rows). */
  scan(q: Float32Array, kind: 'l2' | 'ip', list: number, codes: Uint8Array, rowIds: Uint32Array, into: TopK, allowed?: Uint8Array): void {
    keepBest(this.score(q, kind, list, codes, rowIds.length), rowIds, into, allowed)
  }

  /** The PQ distance of each of the list's n entries to q (a view, valid until the next call). */
  score(q: Float32Array, kind: 'l2' | 'ip', list: number, codes: Uint8Array, n: number): Float32Array {
    const { dim } = this.model.params
    const c = this.model.centroids
    let bias = 0
    if (kind === 'l2') {
      for (let j = 0; j < dim; j++) this.residual[j] = (q[j] as number) - (c[list * dim + j] as number)
      this.adc.table(this.residual, 'l2')
    } else {
      bias = -dot(q, 0, c, list * dim, dim)
      this.adc.table(q, 'ip')
    }
    if (this.scores.length < n) this.scores = new Float32Array(n)
    this.adc.scan(codes, n, bias, this.scores)
    return this.scores.subarray(0, n)
  }
}

/** Entries of one list into `into` by their scores, in list order (allowed rows only). */
function keepBest(scores: Float32Array, rowIds: Uint32Array, into: TopK, allowed?: Uint8Array): void {
  for (let i = 0; i < rowIds.length; i++) {
    const s = scores[i] as number
    if (s > into.bound) continue
    const row = rowIds[i] as number
    if (!allowed || allowed[row]) into.push(s, row)
  }
}

/** ScoreCache's default budget, shared by its queries. */
export const SCORE_CACHE_BYTES = 128 << 20

/**
 * PQ scores of (query position, list) pairs kept between scans of the same queries in the same
 * order. The build's tune step searches one set of queries at dozens of settings, and a list's
 * scores for a query do not depend on the setting: at 300 k rows the tune step took 26.8 s
 * scoring each time, 20.0 s with this (the same file written). Each query keeps at most its
 * share of `budgetBytes`, filled by the lists it scores first — its nearest, as probes come
 * nearest first; past it, pairs are scored again each time.
 */
export class ScoreCache {
  private readonly scores = new Map<number, Float32Array>()
  private readonly bytes: Float64Array
  private readonly share: number

  constructor(
    private readonly nlist: number,
    queries: number,
    budgetBytes = SCORE_CACHE_BYTES,
  ) {
    this.bytes = new Float64Array(queries)
    this.share = budgetBytes / Math.max(1, queries)
  }

  get(query: number, list: number): Float32Array | undefined {
    return this.scores.get(query * this.nlist + list)
  }

  put(query: number, list: number, scores: Float32Array): void {
    if (query >= this.bytes.length || (this.bytes[query] as number) + scores.byteLength > this.share) return
    this.scores.set(query * this.nlist + list, scores.slice())
    this.bytes[query] = (this.bytes[query] as number) + scores.byteLength
  }

  private readonly exact: Array<Map<number, number>> = []

  /** The exact distances of `query` to the rows re-ranked for it before (the query pipeline's). */
  exactOf(query: number): Map<number, number> {
    let known = this.exact[query]
    if (!known) {
      known = new Map()
      this.exact[query] = known
    }
    return known
  }
}

/**
 * Each query's `keep` best rows by PQ distance over its probed lists (ADC on the CPU kernels),
 * ascending; `allowed`: only rows marked 1 there.
 */
export async function scanLists(
  scanner: ListScanner,
  prepared: Float32Array[],
  probes: Uint32Array[],
  listOf: (l: number) => { codes: Uint8Array; rowIds: Uint32Array } | undefined,
  kind: 'l2' | 'ip',
  keep: number,
  allowed: Uint8Array | undefined,
  signal: AbortSignal | undefined,
  /** Scores kept from earlier scans of these same queries (query positions are the cache's keys). */
  cache?: ScoreCache,
): Promise<Ranked[]> {
  const out: Ranked[] = []
  for (const [qi, q] of prepared.entries()) {
    if (qi % 128 === 127) await checkpoint(signal)
    else throwIfAborted(signal)
    const top = new TopK(keep)
    for (const l of probes[qi] as Uint32Array) {
      const list = listOf(l)
      if (!list) continue
      let scores = cache?.get(qi, l)
      if (!scores) {
        scores = scanner.score(q, kind, l, list.codes, list.rowIds.length)
        cache?.put(qi, l, scores)
      }
      keepBest(scores, list.rowIds, top, allowed)
    }
    out.push(top.ranked())
  }
  return out
}
