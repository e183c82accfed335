import type { Kernels } from './backend.js'
import { probe } from './probe.js'

/**
 * Spilled rows (SOAR, Sun et al. 2023): a row is also stored in a second list, so a query
 * whose true neighbour sits just across a list boundary finds it in a list it probes anyway, and
 * the same recall needs far fewer lists — fewer, wider stretches of the file to fetch. The second
 * list is the one among the first list's SPILL_NEIGHBOURS nearest centroids that minimizes
 * SOAR's loss ‖x − c′‖² + λ·⟨r, x − c′⟩²/‖r‖² (r = x − c₁, the first residual): near the row, and
 * with a residual as far from parallel to the first one as can be, so the two PQ estimates err
 * in different directions. On 1 M rows of 100-d (4,000 lists; 200 held-out words, adaptive
 * probing; `.bench/spill.mjs`, docs/BENCHMARKS.md) the true top 10 were covered 0.968 by one
 * list per row in 8.9 stretches of lists a query, every row spilled 0.9645 in 4.4 stretches.
 */
export const SPILL_NEIGHBOURS = 64
/** SOAR's λ: how much a residual parallel to the first one counts against a list. */
const LAMBDA = 1
/**
 * A row spills only when its second centroid is at most this many times as far as its first
 * (squared L2), as SPANN's closure assignment does: rows deep inside their list seldom have a
 * neighbour across its boundary. Built and tuned at each ratio (held-out words, s3, 2026-12-04),
 * recall@10, KiB and requests a query: 300 k rows 1.25 → 0.958, 402, 13.1; 1.75 → 0.965, 383,
 * 11.4; 2 → 0.969, 362, 10.9; every row → 0.969, 357, 10.5. 1 M rows 1.25 → 0.9585, 468, 11.2;
 * 1.75 → 0.9575, 509, 10.7; 2 → 0.9525, 481, 10.0; every row → 0.9475, 497, 10.1. At 2 three
 * rows in four spill.
 */
export const SPILL_MAX_RATIO = 2
/** Marks a row kept in its first list only. */
export const NO_LIST = 0xffffffff

/** Each list's nearest other lists, and their centroids' squared distance. */
export interface SpillGraph {
  /** Neighbours a list (nlist − 1 when fewer lists). */
  k: number
  /** nlist × k, nearest first (ties: the lower list). */
  neighbours: Uint32Array
  /** ‖c_l − c_neighbour‖², beside `neighbours`. */
  gapSq: Float64Array
}

/** The graph rows' second lists are chosen from; undefined with a single list (nowhere to spill). */
export function spillGraph(
  centroids: Float32Array,
  nlist: number,
  dim: number,
  kernels: Pick<Kernels, 'distances'>,
): SpillGraph | undefined {
  const k = Math.min(SPILL_NEIGHBOURS, nlist - 1)
  if (k < 1) return undefined
  const lists = Array.from({ length: nlist }, (_, l) => centroids.subarray(l * dim, (l + 1) * dim))
  const neighbours = new Uint32Array(nlist * k)
  const gapSq = new Float64Array(nlist * k)
  for (const [l, near] of probe(kernels, lists, centroids, nlist, 'l2', k + 1).entries()) {
    // itself dropped: it is nearest, or tied with a copy of itself
    neighbours.set(near.filter((o) => o !== l).subarray(0, k), l * k)
    for (let e = l * k; e < (l + 1) * k; e++) {
      const o = neighbours[e] as number
      let s = 0
      for (let j = 0; j < dim; j++) s += ((centroids[l * dim + j] as number) - (centroids[o * dim + j] as number)) ** 2
      gapSq[e] = s
    }
  }
  return { k, neighbours, gapSq }
}

/**
 * The second list of each of n rows (NO_LIST past SPILL_MAX_RATIO), and its residual:
 * `residuals` holds each row's residual to its first list (`assign`); `out` gets
 * x − c₂ = r + c₁ − c₂. Plain arithmetic in row order, the
 * same on every backend (the GPU build runs it on the CPU after its own assignment).
 */
export function spillRows(
  graph: SpillGraph,
  centroids: Float32Array,
  dim: number,
  residuals: Float32Array,
  n: number,
  assign: Uint32Array,
  out: Float32Array,
): Uint32Array {
  const { k, neighbours, gapSq } = graph
  const second = new Uint32Array(n)
  // the row's residual and first centroid, read once; each neighbour's ⟨r, c₁ − c₂⟩
  const r64 = new Float64Array(dim)
  const c64 = new Float64Array(dim)
  const along = new Float64Array(k)
  for (let i = 0; i < n; i++) {
    const c1 = assign[i] as number
    const r = i * dim
    let rr = 0
    for (let j = 0; j < dim; j++) {
      r64[j] = residuals[r + j] as number
      c64[j] = centroids[c1 * dim + j] as number
      rr += (r64[j] as number) ** 2
    }
    // four neighbours at a time: each sum is still added up j by j, as one at a time did (the
    // same bits), but four chains of additions run side by side instead of waiting on one
    // another — twice as fast (1 M rows of 100-d: this loop was 17 of the encode step's 45 s)
    const e0 = c1 * k
    let q = 0
    for (; q + 4 <= k; q += 4) {
      const a = (neighbours[e0 + q] as number) * dim
      const b = (neighbours[e0 + q + 1] as number) * dim
      const c = (neighbours[e0 + q + 2] as number) * dim
      const d = (neighbours[e0 + q + 3] as number) * dim
      let ta = 0
      let tb = 0
      let tc = 0
      let td = 0
      for (let j = 0; j < dim; j++) {
        const x = r64[j] as number
        const y = c64[j] as number
        ta += x * (y - (centroids[a + j] as number))
        tb += x * (y - (centroids[b + j] as number))
        tc += x * (y - (centroids[c + j] as number))
        td += x * (y - (centroids[d + j] as number))
      }
      along[q] = ta
      along[q + 1] = tb
      along[q + 2] = tc
      along[q + 3] = td
    }
    for (; q < k; q++) {
      const a = (neighbours[e0 + q] as number) * dim
      let t = 0
      for (let j = 0; j < dim; j++) t += (r64[j] as number) * ((c64[j] as number) - (centroids[a + j] as number))
      along[q] = t
    }
    let best = 0
    let bestLoss = Number.POSITIVE_INFINITY
    let bestSq = 0
    for (let q = 0; q < k; q++) {
      const c2 = neighbours[e0 + q] as number
      const gap = gapSq[e0 + q] as number
      // x − c₂ = r + (c₁ − c₂): ‖x − c₂‖² = ‖r‖² + 2t + ‖c₁ − c₂‖², ⟨r, x − c₂⟩ = ‖r‖² + t
      const t = along[q] as number
      const parallel = rr + t
      const loss = rr + 2 * t + gap + (rr > 0 ? (LAMBDA * parallel * parallel) / rr : 0)
      if (loss < bestLoss || (loss === bestLoss && c2 < best)) {
        bestLoss = loss
        best = c2
        bestSq = rr + 2 * t + gap
      }
    }
    second[i] = bestSq <= SPILL_MAX_RATIO * rr ? best : NO_LIST
    for (let j = 0; j < dim; j++)
      out[r + j] = (residuals[r + j] as number) + (centroids[c1 * dim + j] as number) - (centroids[best * dim + j] as number)
  }
  return second
}
