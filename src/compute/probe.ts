import type { Kernels, RowScanner } from './backend.js'
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
 * Each query's distance to the centroid of each of its lists (squared L2, or the dot product for
 * `ip`), by the backend's kernel — on any CPU backend bit for bit what compute/js.ts l2sq / dot
 * give — through a row scanner holding the centroids (made once per kernels and centroids, kept
 * while the centroids live): each centroid read where it lies. Gathering each query's centroids
 * into one array for the `distances` kernel took most of a 10,000-query batch's cut (10,000 × 32
 * lists × 768: 226 ms on an H200 host).
 */
export function coarseDistances(
  kernels: Pick<Kernels, 'rowScanner'>,
  queries: readonly Float32Array[],
  lists: readonly ArrayLike<number>[],
  centroids: Float32Array,
  kind: 'l2' | 'ip',
): Float32Array[] {
  const dim = queries[0]?.length ?? 0
  if (!dim) return queries.map(() => new Float32Array(0))
  const scanner = centroidScanner(kernels, centroids, dim)
  return queries.map((q, qi) => {
    const ls = lists[qi] as ArrayLike<number>
    const out = new Float32Array(ls.length)
    scanner.at(kind, q, ls, out)
    return out
  })
}

/** Row scanners over centroid arrays, per kernels (coarseDistances). */
const scanners = new WeakMap<Float32Array, WeakMap<object, RowScanner>>()

function centroidScanner(kernels: Pick<Kernels, 'rowScanner'>, centroids: Float32Array, dim: number): RowScanner {
  let byKernels = scanners.get(centroids)
  if (!byKernels) {
    byKernels = new WeakMap()
    scanners.set(centroids, byKernels)
  }
  let scanner = byKernels.get(kernels)
  if (!scanner) {
    scanner = kernels.rowScanner(centroids, centroids.length / dim, dim)
    byKernels.set(kernels, scanner)
  }
  return scanner
}

/**
 * Each query's probed lists (nearest first, as `probe` returns them) cut to those whose centroid
 * is at most (1 + `slack`) times as far as the nearest one, in squared L2 (`l2`: l2 and cosine
 * indexes): an easy query (near one centroid, far from the rest) reads few lists, a hard one
 * (many centroids about as near) up to all it was given. Relative, so a query far from all the
 * data (every centroid about as far) keeps them all rather than losing its neighbours to a cut
 * tuned on near ones. The nearest list is always kept; a query on a centroid (distance 0), and
 * every `ip` (dot) query, keeps all it was given. The distances are coarseDistances' — the same
 * on every CPU backend, and not taken from the probe's (the GPU's differ in rounding), so the cut
 * is the same everywhere — and come back beside the kept lists (`l2` only), for the GPU scan.
 *
 * With `enough`, a list the cut would drop is kept while the lists before it (in the order
 * given) hold fewer than `enough.rows` entries: a query whose nearest lists are small — rows
 * repeated or templated (text from one pattern), a query between clusters — still gets the k
 * results it asks for. Without it, 20,000 templated catalogue rows tuned slack 0 and a query
 * whose nearest list held 3 rows got 3 results of 10.
 */
export function pruneProbes(
  kernels: Pick<Kernels, 'rowScanner'>,
  queries: readonly Float32Array[],
  probes: readonly Uint32Array[],
  centroids: Float32Array,
  kind: 'l2' | 'ip',
  slack: number,
  enough?: { rows: number; sizeOf: (list: number) => number },
  /** coarseDistances of `probes`, where known already (ScoreCache.nearest). */
  known?: readonly Float32Array[],
): { lists: Uint32Array[]; distances?: Float32Array[] } {
  if (kind === 'ip') return { lists: probes.slice() }
  const all = known ?? coarseDistances(kernels, queries, probes, centroids, kind)
  const lists: Uint32Array[] = []
  const distances: Float32Array[] = []
  for (const [qi, probed] of probes.entries()) {
    const d = all[qi] as Float32Array
    if (probed.length <= 1) {
      lists.push(probed)
      distances.push(d)
      continue
    }
    // the kept lists counted, then copied (typed arrays' filter with a closure, and gaps made by
    // Float64Array.from with a mapper, took half of 10,000 queries' 240 ms cut)
    const gaps = gapsOf(d)
    // a list is kept when near enough, or when it is among the first `forced`: those up to the
    // one where the lists before hold enough.rows (a prefix, so no per-query mask is made)
    const rows = enough?.rows ?? 0
    let forced = 0
    for (let before = 0; forced < gaps.length && before < rows; forced++)
      before += (enough as NonNullable<typeof enough>).sizeOf(probed[forced] as number)
    let count = forced
    for (let i = forced; i < gaps.length; i++) if ((gaps[i] as number) <= slack) count++
    const keptLists = new Uint32Array(count)
    const keptDistances = new Float32Array(count)
    for (let i = 0, j = 0; i < gaps.length; i++)
      if (i < forced || (gaps[i] as number) <= slack) {
        keptLists[j] = probed[i] as number
        keptDistances[j++] = d[i] as number
      }
    lists.push(keptLists)
    distances.push(keptDistances)
  }
  return { lists, distances }
}

/**
 * `known` (each query's coarseDistances to the first lists of `lists`, as pruneProbes gives them)
 * extended to all of `lists` (query/adjacent.ts withListsBetween appends lists): the distances
 * to the lists after those computed, the ones known kept.
 */
export function extendDistances(
  kernels: Pick<Kernels, 'rowScanner'>,
  queries: readonly Float32Array[],
  lists: readonly Uint32Array[],
  known: readonly Float32Array[],
  centroids: Float32Array,
  kind: 'l2' | 'ip',
): Float32Array[] {
  const after = lists.map((ls, qi) => ls.subarray((known[qi] as Float32Array).length))
  const more = coarseDistances(kernels, queries, after, centroids, kind)
  return known.map((d, qi) => {
    const extra = more[qi] as Float32Array
    if (!extra.length) return d
    const out = new Float32Array(d.length + extra.length)
    out.set(d)
    out.set(extra, d.length)
    return out
  })
}

/** Every slack that changes some query's lists under pruneProbes, ascending (no repeats; none for `ip`). */
export function slackSteps(
  kernels: Pick<Kernels, 'rowScanner'>,
  queries: readonly Float32Array[],
  probes: readonly Uint32Array[],
  centroids: Float32Array,
  kind: 'l2' | 'ip',
): Float64Array {
  if (kind === 'ip') return new Float64Array(0)
  const distances = coarseDistances(kernels, queries, probes, centroids, kind)
  const all = new Float64Array(distances.reduce((n, d) => n + d.length, 0))
  let at = 0
  for (const d of distances) {
    all.set(gapsOf(d), at)
    at += d.length
  }
  // sorted, then each value once (a Set of them was most of this at 200 queries × 256 lists)
  all.sort()
  let kept = 0
  for (let i = 0; i < all.length; i++) if (i === 0 || (all[i] as number) !== (all[kept - 1] as number)) all[kept++] = all[i] as number
  return all.slice(0, kept)
}

/**
 * How much farther each list's centroid is than the nearest of them, relative to the nearest's
 * squared distance (0 for all when that is 0), from the lists' squared distances.
 */
function gapsOf(d: Float32Array): Float64Array {
  let min = Number.POSITIVE_INFINITY
  for (let i = 0; i < d.length; i++) min = Math.min(min, d[i] as number)
  const gaps = new Float64Array(d.length)
  if (min > 0) for (let i = 0; i < d.length; i++) gaps[i] = ((d[i] as number) - min) / min
  return gaps
}
