import { checkpoint, throwIfAborted } from '../errors.js'
import type { IvfPqModel } from '../index/model.js'
import { type AdcScanner, jsKernels, type Kernels } from './backend.js'
import { dot } from './js.js'
import { coarseDistances, probe } from './probe.js'
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
    keepBest(this.score(q, kind, list, codes, rowIds.length), 0, rowIds, into, allowed)
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

/** Entries of one list into `into` by their scores (from `scores[from]`), in list order (allowed rows only). */
function keepBest(scores: Float32Array, from: number, rowIds: Uint32Array, into: TopK, allowed?: Uint8Array): void {
  for (let i = 0; i < rowIds.length; i++) {
    const s = scores[from + i] as number
    if (s > into.bound) continue
    const row = rowIds[i] as number
    if (!allowed || allowed[row]) into.push(s, row)
  }
}

/** ScoreCache's default budget, shared by its queries. */
export const SCORE_CACHE_BYTES = 128 << 20

/**
 * Per query, and kept between searches of the same queries in the same order: the PQ scores of
 * its lists, the exact distances of its re-ranked rows, and its lists nearest first. The build's
 * tune step searches one set of queries at dozens of settings, and none of these depends on the
 * setting: at 300 k rows the tune step took 26.8 s scoring each time, 20.0 s with the scores
 * kept (the same file written). Each query keeps at most its share of `budgetBytes` of scores,
 * filled by the lists it scores first — its nearest, as probes come nearest first; past it,
 * pairs are scored again each time.
 */
export class ScoreCache {
  /**
   * Each query's kept scores, a list's after another in one array (a typed array a list was
   * ~1 µs and garbage each: at 7,000 rows of 32 dims, 0.14 s of a 2.6 s tune), and where each
   * (query, list)'s start there.
   */
  private readonly arenas: Float32Array[] = []
  private readonly used: Float64Array
  private readonly at = new Map<number, number>()
  private readonly share: number
  private readonly exact: ExactDistances[] = []
  private readonly nearestLists: Uint32Array[] = []
  private readonly nearestDistances: Float32Array[] = []

  constructor(
    private readonly nlist: number,
    queries: number,
    private readonly budgetBytes = SCORE_CACHE_BYTES,
    /** Rows the queries rank (row ids below it): their exact distances start as arrays where half the budget holds them all. */
    private readonly rows = 0,
  ) {
    this.used = new Float64Array(queries)
    this.share = budgetBytes / Math.max(1, queries)
  }

  /** Where (query, list)'s scores start in `scoresOf(query)`; −1: not kept. */
  find(query: number, list: number): number {
    return this.at.get(query * this.nlist + list) ?? -1
  }

  scoresOf(query: number): Float32Array {
    return this.arenas[query] as Float32Array
  }

  put(query: number, list: number, scores: Float32Array): void {
    const used = this.used[query]
    if (used === undefined || (used + scores.length) * 4 > this.share) return
    let arena = this.arenas[query] ?? new Float32Array(0)
    if (used + scores.length > arena.length) {
      const grown = new Float32Array(Math.min(Math.floor(this.share / 4), Math.max(used + scores.length, 2 * arena.length, 1024)))
      grown.set(arena.subarray(0, used))
      arena = grown
      this.arenas[query] = arena
    }
    arena.set(scores, used)
    this.at.set(query * this.nlist + list, used)
    this.used[query] = used + scores.length
  }

  /** The exact distances of `query` to the rows re-ranked for it before (the query pipeline's). */
  exactOf(query: number): ExactDistances {
    let known = this.exact[query]
    if (!known) {
      known = new ExactDistances(this.used.length * this.rows * 8 <= this.budgetBytes / 2 ? this.rows : 0)
      this.exact[query] = known
    }
    return known
  }

  /**
   * Each query's `nprobe` nearest lists, nearest first, as `probe` gives them, and their
   * coarseDistances (pruneProbes' cut): every list ordered once a query (a probe a setting was
   * 0.37 s of a 2.6 s tune), then a prefix of it. The order is `probe`'s own: a total order,
   * ties to the lower list, so a prefix of it is the probe of fewer lists. Where the orders would
   * take over the budget (held-out tune queries by the thousand): `probe` each time, no distances.
   */
  nearest(
    kernels: Pick<Kernels, 'distances' | 'rowScanner'>,
    queries: readonly Float32Array[],
    centroids: Float32Array,
    kind: 'l2' | 'ip',
    nprobe: number,
  ): { lists: Uint32Array[]; distances?: Float32Array[] } {
    if (this.used.length * this.nlist * 8 > this.budgetBytes) return { lists: probe(kernels, queries, centroids, this.nlist, kind, nprobe) }
    const missing = queries.flatMap((_, qi) => (this.nearestLists[qi] ? [] : [qi]))
    if (missing.length) {
      const ask = missing.map((qi) => queries[qi] as Float32Array)
      const lists = probe(kernels, ask, centroids, this.nlist, kind, this.nlist)
      const distances = coarseDistances(kernels, ask, lists, centroids, kind)
      for (const [i, qi] of missing.entries()) {
        this.nearestLists[qi] = lists[i] as Uint32Array
        this.nearestDistances[qi] = distances[i] as Float32Array
      }
    }
    const n = Math.min(nprobe, this.nlist)
    return {
      lists: queries.map((_, qi) => (this.nearestLists[qi] as Uint32Array).subarray(0, n)),
      distances: queries.map((_, qi) => (this.nearestDistances[qi] as Float32Array).subarray(0, n)),
    }
  }
}

/**
 * A query's exact distances to rows (NaN: not known): a Map while few, then an array over the
 * rows — the tune step re-ranks thousands of rows a query at small dims (every page within a
 * request's reach of a candidate's comes with it), and looking each up in a Map at every setting
 * was ~8 % of the tune (12,000 rows of 25 dims). The array replaces the Map where it is the
 * smaller of the two (a Map entry is ~40 bytes, an array's row 8).
 */
export class ExactDistances {
  private map: Map<number, number> | undefined
  private dense = new Float64Array(0)
  private last = 0

  /** `rows`: an array over that many rows from the start (0: a Map first). */
  constructor(rows = 0) {
    if (rows > 0) this.grow(rows - 1)
    else this.map = new Map()
  }

  get(row: number): number {
    if (this.map) return this.map.get(row) ?? Number.NaN
    return row < this.dense.length ? (this.dense[row] as number) : Number.NaN
  }

  set(row: number, distance: number): void {
    if (!this.map) {
      if (row >= this.dense.length) this.grow(row)
      this.dense[row] = distance
      return
    }
    this.map.set(row, distance)
    this.last = Math.max(this.last, row)
    if (this.map.size * 5 > this.last + 1) {
      this.grow(this.last)
      for (const [r, d] of this.map) this.dense[r] = d
      this.map = undefined
    }
  }

  private grow(row: number): void {
    const grown = new Float64Array(Math.max(row + 1, 2 * this.dense.length)).fill(Number.NaN)
    grown.set(this.dense)
    this.dense = grown
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
      const at = cache ? cache.find(qi, l) : -1
      if (at >= 0) keepBest((cache as ScoreCache).scoresOf(qi), at, list.rowIds, top, allowed)
      else {
        const scores = scanner.score(q, kind, l, list.codes, list.rowIds.length)
        cache?.put(qi, l, scores)
        keepBest(scores, 0, list.rowIds, top, allowed)
      }
    }
    out.push(top.ranked())
  }
  return out
}
