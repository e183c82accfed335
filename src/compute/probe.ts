import type { Kernels } from './backend.js'
import { l2sq } from './js.js'
import { TopK } from './topk.js'

/** Query × centroid distances computed per call: a block of queries against every centroid. */
const BLOCK_VALUES = 1 << 22

/**
 * The nprobe lists whose centroids are nearest to each query (ties to the lower list), nearest
 * first. Distances come from the backend's `distances` kernel (squared L2, or −dot), which every
 * CPU backend computes bit for bit alike, so the lists do not depend on the backend; a block of
 * queries goes in one call (at 4,000 lists the TypeScript loop took ~5 ms a query).
 */
export function probe(
  kernels: Pick<Kernels, 'distances'>,
  queries: readonly Float32Array[],
  centroids: Float32Array,
  nlist: number,
  kind: 'l2' | 'ip',
  nprobe: number,
): Uint32Array[] {
  const keep = Math.min(nprobe, nlist)
  const out: Uint32Array[] = []
  if (!queries.length) return out
  const dim = (queries[0] as Float32Array).length
  const block = Math.max(1, Math.min(queries.length, Math.floor(BLOCK_VALUES / Math.max(1, nlist))))
  const q = new Float32Array(block * dim)
  const d = new Float32Array(block * nlist)
  for (let start = 0; start < queries.length; start += block) {
    const count = Math.min(block, queries.length - start)
    for (let i = 0; i < count; i++) q.set(queries[start + i] as Float32Array, i * dim)
    kernels.distances(kind, q, count, centroids, nlist, dim, d)
    for (let i = 0; i < count; i++) {
      const top = new TopK(keep)
      const base = i * nlist
      const sign = kind === 'l2' ? 1 : -1
      for (let l = 0; l < nlist; l++) {
        const v = sign * (d[base + l] as number)
        if (v <= top.bound) top.push(v, l)
      }
      out.push(Uint32Array.from(top.sorted(), (h) => h.row))
    }
  }
  return out
}

/**
 * Each query's probed lists (nearest first, as `probe` returns them) cut to those whose centroid
 * is at most (1 + `slack`) times as far as the nearest one, in squared L2 (`l2`: l2 and cosine
 * indexes): an easy query (near one centroid, far from the rest) reads few lists, a hard one
 * (many centroids about as near) up to all it was given. Relative, so a query far from all the
 * data (every centroid about as far) keeps them all rather than losing its neighbours to a cut
 * tuned on near ones. The nearest list is always kept; a query on a centroid (distance 0), and
 * every `ip` (dot) query, keeps all it was given.
 */
export function pruneProbes(
  queries: readonly Float32Array[],
  probes: readonly Uint32Array[],
  centroids: Float32Array,
  kind: 'l2' | 'ip',
  slack: number,
): Uint32Array[] {
  if (kind === 'ip') return probes.slice()
  return probes.map((lists, qi) => {
    if (lists.length <= 1) return lists
    const gaps = gapsOf(queries[qi] as Float32Array, lists, centroids)
    return lists.filter((_, i) => (gaps[i] as number) <= slack)
  })
}

/** Every slack that changes some query's lists under pruneProbes, ascending (no repeats; none for `ip`). */
export function slackSteps(
  queries: readonly Float32Array[],
  probes: readonly Uint32Array[],
  centroids: Float32Array,
  kind: 'l2' | 'ip',
): Float64Array {
  if (kind === 'ip') return new Float64Array(0)
  const all = probes.flatMap((lists, qi) => Array.from(gapsOf(queries[qi] as Float32Array, lists, centroids)))
  return Float64Array.from(new Set(all)).sort()
}

/**
 * How much farther each list's centroid is than the nearest of them, relative to the nearest's
 * squared distance (0 for all when that is 0): by the TypeScript reference kernel
 * (compute/js.ts), for the given lists only (nprobe × dim a query), not taken from the probe's
 * backend, so the cut is the same everywhere, the GPU's probe included.
 */
function gapsOf(q: Float32Array, lists: Uint32Array, centroids: Float32Array): Float64Array {
  const dim = q.length
  const d = Float64Array.from(lists, (l) => l2sq(q, 0, centroids, l * dim, dim))
  let min = Number.POSITIVE_INFINITY
  for (const v of d) min = Math.min(min, v)
  return d.map((v) => (min > 0 ? (v - min) / min : 0))
}
