import { describe, expect, it } from 'vitest'
import { jsKernels, type Kernels } from '../src/compute/backend.js'
import { assignNearest, l2sq, pqEncode } from '../src/compute/js.js'
import { kmeans } from '../src/compute/kmeans.js'
import { principalAxes } from '../src/compute/pca.js'
import { coarseDistances, probe } from '../src/compute/probe.js'
import { mulberry32, sampleIndices } from '../src/compute/random.js'
import { ExactDistances, ListScanner, ScoreCache, scanLists } from '../src/compute/scan.js'
import { TopK } from '../src/compute/topk.js'
import { pqDecode, pqLayout, trainPq } from '../src/index/pq.js'
import { encodeAll, resolveParams, trainModel } from '../src/index/train.js'
import { clusteredVectors } from './helpers/fixtures.js'

describe('TopK', () => {
  it('keeps the k smallest, ties to the lower row, whatever the arrival order', () => {
    const rand = mulberry32(5)
    const entries = Array.from({ length: 500 }, (_, row) => ({ row, distance: Math.floor(rand() * 20) }))
    const ordered = [...entries].sort((a, b) => a.distance - b.distance || a.row - b.row)
    // full heaps of several sizes, and one never filled (k past the entries)
    for (const k of [1, 2, 37, 600])
      for (let trial = 0; trial < 5; trial++) {
        const shuffled = [...entries].sort(() => rand() - 0.5)
        const top = new TopK(k)
        for (const e of shuffled) top.push(e.distance, e.row)
        const expected = ordered.slice(0, k)
        expect(top.sorted()).toEqual(expected)
        const { rows, distances } = top.ranked()
        expect(Array.from(rows)).toEqual(expected.map((e) => e.row))
        expect(Array.from(distances)).toEqual(expected.map((e) => e.distance))
      }
  })
})

describe('k-means', () => {
  it('is deterministic for a seed and finds planted clusters', async () => {
    const x = clusteredVectors(2000, 6, 9, 5)
    const a = await kmeans(x, 2000, 6, { k: 5, iterations: 10, seed: 3 })
    const b = await kmeans(x, 2000, 6, { k: 5, iterations: 10, seed: 3 })
    expect(a).toEqual(b)
    // every point ends within ~noise of its centroid (noise is uniform ±0.5 per dim)
    const idx = new Uint32Array(2000)
    assignNearest(x, 2000, 6, a, 5, idx)
    const dist = Array.from(idx, (c, i) => l2sq(x, i * 6, a, c * 6, 6))
    expect(Math.max(...dist)).toBeLessThan(6 * 0.25 + 1e-3)
  })

  it('re-seeds empty clusters instead of leaving dead centroids', async () => {
    // 3 distinct points, 3 clusters, but duplicates make seeding collide often
    const x = new Float32Array([0, 0, 0, 0, 0, 0, 10, 10, 10, 10, 20, 20])
    const c = await kmeans(x, 6, 2, { k: 3, iterations: 5, seed: 1 })
    const centers = Array.from({ length: 3 }, (_, i) => c[i * 2]).sort((p, q) => (p as number) - (q as number))
    expect(centers.map((v) => Math.round(v as number))).toEqual([0, 10, 20])
  })

  it('finish: the centroids pass through snap and every row is assigned to the snapped ones (also with fewer rows than k)', async () => {
    const x = clusteredVectors(3000, 6, 4, 8)
    const snap = (c: Float32Array) => c.map((v) => Math.round(v * 4) / 4)
    for (const [n, k] of [
      [3000, 12],
      [5, 12],
    ] as const) {
      const assign = new Uint32Array(n)
      const c = await kmeans(x, n, 6, { k, iterations: 4, seed: 2, finish: { snap, assign } })
      expect(c).toEqual(snap(c)) // on the grid
      const expected = new Uint32Array(n)
      assignNearest(x, n, 6, c, k, expected)
      expect(assign).toEqual(expected)
    }
  })

  it('seeding 1,000 centroids stops at the next event-loop turn once aborted, before any Lloyd iteration', async () => {
    const x = clusteredVectors(20_000, 8, 6, 40)
    const controller = new AbortController()
    let scans = 0
    const kernels: Kernels = {
      ...jsKernels,
      seeder(rows, n, stride) {
        const inner = jsKernels.seeder(rows, n, stride)
        return {
          minDist: inner.minDist,
          add(pick) {
            if (++scans === 50) controller.abort()
            return inner.add(pick)
          },
        }
      },
    }
    const iterations: number[] = []
    await expect(
      kmeans(x, 20_000, 8, { k: 1000, iterations: 3, seed: 1, kernels, signal: controller.signal, onIteration: (d) => iterations.push(d) }),
    ).rejects.toThrow(/operation cancelled/)
    expect(scans).toBeLessThan(200)
    expect(iterations).toEqual([])
  })

  it('assignNearest breaks ties toward the lower centroid', () => {
    const c = new Float32Array([1, 0, -1, 0, 1, 0, -1, 0, 1, 0]) // 5 centroids, duplicates
    const idx = new Uint32Array(1)
    assignNearest(new Float32Array([0, 0]), 1, 2, c, 5, idx)
    expect(idx[0]).toBe(0)
    assignNearest(new Float32Array([-2, 0]), 1, 2, c, 5, idx)
    expect(idx[0]).toBe(1)
  })
})

describe('principal axes', () => {
  const dot = (a: Float64Array, i: number, j: number, dim: number) => {
    let s = 0
    for (let t = 0; t < dim; t++) s += (a[i * dim + t] as number) * (a[j * dim + t] as number)
    return s
  }

  it('are orthonormal and ordered by variance: the strongest spreads first', () => {
    // rows spread 8 along dim 5, 4 along dim 2, 1 elsewhere, around a mean of 3
    const n = 2000
    const dim = 12
    const rand = mulberry32(3)
    const spread = Array.from({ length: dim }, (_, j) => (j === 5 ? 8 : j === 2 ? 4 : 1))
    const x = Float32Array.from({ length: n * dim }, (_, i) => 3 + (rand() - 0.5) * (spread[i % dim] as number))
    const { mean, axes, count } = principalAxes(x, n, dim, 4)
    expect(count).toBe(4)
    for (const m of mean) expect(m).toBeCloseTo(3, 1)
    for (let a = 0; a < 4; a++) for (let b = 0; b < 4; b++) expect(dot(axes, a, b, dim)).toBeCloseTo(a === b ? 1 : 0, 10)
    expect(Math.abs(axes[5] as number)).toBeGreaterThan(0.99)
    expect(Math.abs(axes[dim + 2] as number)).toBeGreaterThan(0.99)
  })

  it('stay orthonormal when the rows span fewer directions than axes asked for', () => {
    // every row on one line: one direction of variance, three axes asked for
    const dim = 6
    const x = Float32Array.from({ length: 50 * dim }, (_, i) => Math.floor(i / dim) * (i % dim === 1 ? 1 : 0))
    const { axes, count } = principalAxes(x, 50, dim, 3)
    expect(count).toBe(3)
    expect(Math.abs(axes[1] as number)).toBeCloseTo(1, 10)
    for (let a = 0; a < 3; a++) for (let b = 0; b < 3; b++) expect(dot(axes, a, b, dim)).toBeCloseTo(a === b ? 1 : 0, 10)
  })
})

describe('product quantizer', () => {
  it('splits dims unevenly when m does not divide dim', () => {
    expect(Array.from(pqLayout(10, 4, 8).starts)).toEqual([0, 2, 5, 7, 10])
  })

  it('reconstructs better than the data spread, and encode picks the nearest codeword', async () => {
    const n = 3000
    const dim = 10
    const x = clusteredVectors(n, dim, 4)
    const layout = pqLayout(dim, 4, 6)
    const books = await trainPq(x, n, layout, { iterations: 6, seed: 2 })
    const codes = new Uint8Array(n * 4)
    pqEncode(x, n, layout, books, codes)
    const rec = new Float32Array(dim)
    let err = 0
    let spread = 0
    for (let i = 0; i < n; i++) {
      pqDecode(codes, i * 4, layout, books, rec)
      err += l2sq(rec, 0, x, i * dim, dim)
      spread += l2sq(x, i * dim, x, ((i + 1) % n) * dim, dim)
    }
    expect(err / spread).toBeLessThan(0.05)
    // brute-force check of the first rows' codes
    for (let i = 0; i < 20; i++) {
      for (let j = 0; j < 4; j++) {
        const s = layout.starts[j] as number
        const len = (layout.starts[j + 1] as number) - s
        let best = 0
        let bestD = Number.POSITIVE_INFINITY
        for (let c = 0; c < 64; c++) {
          const d = l2sq(x, i * dim + s, books, 64 * s + c * len, len)
          if (d < bestD) {
            bestD = d
            best = c
          }
        }
        expect(codes[i * 4 + j]).toBe(best)
      }
    }
  })

  it('samples distinct sorted indices deterministically', () => {
    const a = sampleIndices(1000, 100, mulberry32(1))
    expect(new Set(a).size).toBe(100)
    expect(Array.from(a)).toEqual(Array.from(a).sort((p, q) => p - q))
    expect(a).toEqual(sampleIndices(1000, 100, mulberry32(1)))
  })
})

describe('list scans with kept scores (the tune step)', () => {
  it("give the candidates a fresh scan gives, score each (query, list) once, and score again past a query's share", async () => {
    const n = 3000
    const dim = 12
    const data = clusteredVectors(n + 20, dim, 9, 12)
    const params = resolveParams(n, n, dim, { nlist: 24, m: 4, coarseIterations: 3, pqIterations: 3 })
    const model = await trainModel(data, n, params)
    const lists = await encodeAll(
      model,
      data,
      n,
      Uint32Array.from({ length: n }, (_, i) => i),
    )
    const listOf = (l: number) => {
      const [a, b] = [lists.listStart[l] as number, lists.listStart[l + 1] as number]
      return { codes: lists.codes.subarray(a * 4, b * 4), rowIds: lists.rowIds.subarray(a, b) }
    }
    const queries = Array.from({ length: 20 }, (_, i) => data.slice((n + i) * dim, (n + i + 1) * dim))
    const scanner = new ListScanner(model)
    let scored = 0
    const score = scanner.score.bind(scanner)
    scanner.score = (...a) => {
      scored++
      return score(...a)
    }
    const run = (nprobe: number, cache?: ScoreCache) =>
      scanLists(
        scanner,
        queries,
        probe(jsKernels, queries, model.centroids, 24, 'l2', nprobe),
        listOf,
        'l2',
        30,
        undefined,
        undefined,
        cache,
      )
    const fresh = [await run(6), await run(12)]
    const cache = new ScoreCache(24, queries.length)
    scored = 0
    expect(await run(12, cache)).toEqual(fresh[1])
    expect(scored).toBe(20 * 12)
    // fewer lists, the same queries: every score comes from the cache
    expect(await run(6, cache)).toEqual(fresh[0])
    expect(scored).toBe(20 * 12)
    // a share of about one list a query: the rest are scored each time, with the same result
    const small = new ScoreCache(24, queries.length, queries.length * 4 * 200)
    await run(12, small)
    scored = 0
    expect(await run(12, small)).toEqual(fresh[1])
    expect(scored).toBeGreaterThanOrEqual(20 * 10)
  })

  it("each query's lists ordered once: any nprobe is probe's lists and coarseDistances, ties to the lower list; none kept past the budget", () => {
    const dim = 6
    const nlist = 40
    const centroids = clusteredVectors(nlist, dim, 3, 5)
    // two lists at the same place: a tie at every query, broken to the lower list
    centroids.copyWithin(17 * dim, 4 * dim, 5 * dim)
    const queries = Array.from({ length: 9 }, (_, i) => clusteredVectors(1, dim, 100 + i, 5))
    for (const kind of ['l2', 'ip'] as const) {
      const cache = new ScoreCache(nlist, queries.length)
      for (const nprobe of [nlist + 3, 1, 7, 18, nlist]) {
        const got = cache.nearest(jsKernels, queries, centroids, kind, nprobe)
        const want = probe(jsKernels, queries, centroids, nlist, kind, nprobe)
        expect(got?.lists, `${kind} nprobe ${nprobe}`).toEqual(want)
        expect(got?.distances).toEqual(coarseDistances(jsKernels, queries, want, centroids, kind))
      }
    }
    // 9 queries × 40 lists × 8 bytes past a budget of 2,000: nothing kept, probed each time
    expect(new ScoreCache(nlist, queries.length, 2000).nearest(jsKernels, queries, centroids, 'l2', 5)).toEqual({
      lists: probe(jsKernels, queries, centroids, nlist, 'l2', 5),
    })
  })

  it('exact distances kept as a Map while few, then as an array: the same answers either way, rows past the end included', () => {
    const rand = mulberry32(4)
    const writes = Array.from({ length: 3000 }, () => [Math.floor(rand() * 2000), rand() * 10] as const)
    const reference = new Map<number, number>()
    const fromMap = new ExactDistances()
    const fromArray = new ExactDistances(1000) // rows past 1,000 grow it
    for (const [i, [row, d]] of writes.entries()) {
      reference.set(row, d)
      fromMap.set(row, d)
      fromArray.set(row, d)
      // checked while fromMap is still a Map, across its switch to an array, and after
      if (i % 97 === 0 || i === writes.length - 1)
        for (let r = 0; r < 2100; r++) {
          const want = reference.get(r) ?? Number.NaN
          expect(fromMap.get(r)).toBe(want)
          expect(fromArray.get(r)).toBe(want)
        }
    }
  })
})
