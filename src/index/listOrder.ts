import type { Kernels } from '../compute/backend.js'
import { probe } from '../compute/probe.js'

/** Rows of the data standing in for queries when ordering lists: what a build has in memory. */
export interface ProbeSample {
  /** Row-major vectors, prepared as queries are (unit length for cosine). */
  data: Float32Array
  /** Rows in `data`. */
  n: number
  /** How queries probe: squared L2 (l2, cosine) or inner product (dot). */
  kind: 'l2' | 'ip'
}

/** Each sample row's nearest lists counted as read together (a hard query probes about this many). */
const CO_PROBED = 64
/** The lists a list may be stored beside: its nearest centroids. */
const NEIGHBOURS = 32
/** Sample rows a list, at most (1 M rows, 4,000 lists: 2.5 a list gave 8.4 stretches a query, 1 a list 8.7, the walk 9.5). */
const SAMPLE_PER_LIST = 4

/**
 * Lists in an order where lists that queries read together sit side by side. Each of up to
 * SAMPLE_PER_LIST × nlist rows of `sample` (evenly spaced) probes its CO_PROBED nearest lists, as
 * a query would; two lists score each time both are among one row's, when one is among the
 * other's NEIGHBOURS nearest centroids: 4 when both are among the row's nearest 8, 3 among 16, 2
 * among 32, 1 among 64 (queries probe from a few lists to the tuned cap: counting the 64 alone
 * suited queries of 64 lists and lost to the walk at 8). A query's lists form as many stretches
 * of the file as it has lists whose predecessor it does not probe, so the order is a path that
 * keeps the pairs scored highest adjacent: pairs taken greedily by score (ties: the lower lists),
 * each list joined to at most two and no cycle closed; the paths that leaves are chained from the
 * one holding list 0, each next the path whose end is nearest (squared L2; ties: the lower list)
 * to the last list placed.
 *
 * Against the nearest-centroid walk (1 M rows of 100-d, 4,000 lists; 200 held-out words; gaps
 * under 64 KiB merged, as the planner does; `.bench/coorder2.mjs`): stretches of lists a query
 * 9.47 → 8.77 at the tuned defaults, 2.94 → 2.71 at 8 lists, 5.92 → 5.43 at 32, 8.29 → 7.60 at 64,
 * for 2–9 % more bytes read through gaps; 2.4 s. Deterministic: the backends' distances agree bit
 * for bit, and every tie goes to the lower list.
 */
export function coProbeOrder(centroids: Float32Array, nlist: number, dim: number, sample: ProbeSample, kernels: Kernels): Uint32Array {
  const rows = Math.min(sample.n, SAMPLE_PER_LIST * nlist)
  const queries = Array.from({ length: rows }, (_, i) => {
    const r = Math.floor((i * sample.n) / rows)
    return sample.data.subarray(r * dim, (r + 1) * dim)
  })
  const lists = Array.from({ length: nlist }, (_, l) => centroids.subarray(l * dim, (l + 1) * dim))
  const k = Math.min(NEIGHBOURS, nlist - 1)
  // each list's nearest others (itself dropped: it is nearest, or tied with a copy of itself)
  const neighbours = new Uint32Array(nlist * k)
  for (const [l, near] of probe(kernels, lists, centroids, nlist, 'l2', k + 1).entries())
    neighbours.set(near.filter((o) => o !== l).subarray(0, k), l * k)
  const together = new Uint32Array(nlist * k)
  const seen = new Int32Array(nlist).fill(-1)
  const rank = new Uint32Array(nlist)
  for (const [s, probed] of probe(kernels, queries, centroids, nlist, sample.kind, Math.min(nlist, CO_PROBED)).entries()) {
    for (const [r, l] of probed.entries()) {
      seen[l] = s
      rank[l] = r
    }
    for (const a of probed)
      for (let e = a * k; e < (a + 1) * k; e++) {
        const b = neighbours[e] as number
        if (seen[b] !== s) continue
        const deeper = Math.max(rank[a] as number, rank[b] as number)
        together[e] = (together[e] as number) + (deeper < 8 ? 4 : deeper < 16 ? 3 : deeper < 32 ? 2 : 1)
      }
  }
  // the pairs, most often read together first (a pair found from both ends counts once)
  const pairs: number[] = []
  for (let e = 0; e < nlist * k; e++) if (together[e]) pairs.push(e)
  const ends = (e: number): [number, number] => {
    const a = Math.floor(e / k)
    const b = neighbours[e] as number
    return a < b ? [a, b] : [b, a]
  }
  pairs.sort((x, y) => {
    const [xa, xb] = ends(x)
    const [ya, yb] = ends(y)
    return (together[y] as number) - (together[x] as number) || xa - ya || xb - yb
  })
  const degree = new Uint8Array(nlist)
  const root = Int32Array.from({ length: nlist }, (_, l) => l)
  const find = (l: number): number => {
    while (root[l] !== l) {
      root[l] = root[root[l] as number] as number
      l = root[l] as number
    }
    return l
  }
  const link: number[][] = Array.from({ length: nlist }, () => [])
  for (const e of pairs) {
    const [a, b] = ends(e)
    if ((degree[a] as number) >= 2 || (degree[b] as number) >= 2) continue
    const ra = find(a)
    const rb = find(b)
    if (ra === rb) continue
    root[ra] = rb
    degree[a] = (degree[a] as number) + 1
    degree[b] = (degree[b] as number) + 1
    ;(link[a] as number[]).push(b)
    ;(link[b] as number[]).push(a)
  }
  // the paths, each from its lower end; `pathOf` gives each list's path
  const pathOf = new Int32Array(nlist).fill(-1)
  const paths: number[][] = []
  for (let start = 0; start < nlist; start++) {
    if (pathOf[start] !== -1 || (degree[start] as number) === 2) continue
    const path = [start]
    pathOf[start] = paths.length
    for (let previous = -1, at = start; ; ) {
      const next = (link[at] as number[]).find((o) => o !== previous)
      if (next === undefined) break
      path.push(next)
      pathOf[next] = paths.length
      previous = at
      at = next
    }
    paths.push(path)
  }
  const isEnd = new Uint8Array(nlist)
  for (const p of paths) {
    isEnd[p[0] as number] = 1
    isEnd[p.at(-1) as number] = 1
  }
  const scanner = kernels.rowScanner(centroids, nlist, dim)
  const distance = new Float32Array(nlist)
  const placed = new Uint8Array(paths.length)
  const order: number[] = []
  let next = pathOf[0] as number
  let from = 0
  for (let taken = 0; taken < paths.length; taken++) {
    const path = paths[next] as number[]
    placed[next] = 1
    order.push(...(path[0] === from ? path : path.slice().reverse()))
    if (taken + 1 === paths.length) break
    const last = order.at(-1) as number
    scanner.l2(centroids.subarray(last * dim, (last + 1) * dim), distance)
    let best = Number.POSITIVE_INFINITY
    for (let l = 0; l < nlist; l++) {
      if (!isEnd[l] || placed[pathOf[l] as number] || !((distance[l] as number) < best)) continue
      best = distance[l] as number
      next = pathOf[l] as number
      from = l
    }
    if (best === Number.POSITIVE_INFINITY) {
      // distances that are not numbers (a damaged model): the rest in id order
      for (let l = 0; l < nlist; l++)
        if (!placed[pathOf[l] as number] && isEnd[l]) {
          next = pathOf[l] as number
          from = l
          break
        }
    }
  }
  return Uint32Array.from(order)
}
