import { existsSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { jsKernels, type Kernels, loadKernels } from '../src/compute/backend.js'
import { dot, l2sq } from '../src/compute/js.js'
import { kmeans, quantizeRows } from '../src/compute/kmeans.js'
import { coarseDistances, extendDistances, probe, pruneProbes, slackSteps } from '../src/compute/probe.js'
import { mulberry32 } from '../src/compute/random.js'
import { boundStats, setWasmMemoryLimit } from '../src/compute/wasm.js'
import { pqLayout, trainPq } from '../src/index/pq.js'
import { loadDataset } from './helpers/data.js'
import { clusteredVectors, firstDifference, SHARED } from './helpers/fixtures.js'

/**
 * The wasm kernels compute float32 in the same order as the TypeScript reference, so every
 * comparison here is exact (the typed arrays' bytes, or toEqual on small ones): tolerance 0.
 */
let wasm: Kernels
beforeAll(async () => {
  wasm = await loadKernels('wasm')
})

function random(n: number, seed: number, scale = 1): Float32Array {
  const rand = mulberry32(seed)
  return Float32Array.from({ length: n }, () => (rand() * 2 - 1) * scale)
}

/** Runs one kernel on both backends and returns [js, wasm] outputs. */
function both<T>(run: (k: Kernels) => T): [T, T] {
  return [run(jsKernels), run(wasm)]
}

function checkAll(x: Float32Array, n: number, dim: number, k: number, m: number, nbits: number, seed: number) {
  const q = random(3 * dim, seed + 1, 2)
  const [dj, dw] = both((kern) => {
    const out = new Float32Array(3 * n)
    kern.distances('l2', q, 3, x, n, dim, out)
    const ip = new Float32Array(3 * n)
    kern.distances('ip', q, 3, x, n, dim, ip)
    const resident = new Float32Array(n)
    kern.rowScanner(x, n, dim).l2(q.subarray(dim, 2 * dim), resident)
    return [out, ip, kern.rowNormsSq(x, n, dim), resident]
  })
  // the scanner over rows handed over once gives what distances gives
  expect(firstDifference(dj[3] as Float32Array, (dj[0] as Float32Array).subarray(n, 2 * n))).toBeUndefined()
  for (const [i, out] of dw.entries()) expect(firstDifference(out, dj[i] as Float32Array), `output ${i}`).toBeUndefined()
  const centroids = x.slice(0, k * dim)
  const [aj, aw] = both((kern) => {
    const out = new Uint32Array(n)
    kern.assignNearest(x, n, dim, centroids, k, out)
    return out
  })
  expect(firstDifference(aw, aj)).toBeUndefined()
  const layout = pqLayout(dim, m, nbits)
  const codebooks = random(layout.ksub * dim, seed + 2)
  const [ej, ew] = both((kern) => {
    const out = new Uint8Array(n * m)
    kern.pqEncode(x, n, layout, codebooks, out)
    return out
  })
  expect(firstDifference(ew, ej)).toBeUndefined()
  const [sj, sw] = both((kern) => {
    const scanner = kern.adcScanner(layout, codebooks)
    const outs: Float32Array[] = []
    for (const kind of ['l2', 'ip'] as const) {
      scanner.table(q.subarray(0, dim), kind)
      const out = new Float32Array(n)
      scanner.scan(ej, n, 0.25, out)
      outs.push(out)
    }
    return outs
  })
  for (const [i, out] of sw.entries()) expect(firstDifference(out, sj[i] as Float32Array), `scan ${i}`).toBeUndefined()
  // seeding's byte rows: the same integer distances and sums, and each one the exact Σ (a − b)²
  const { rows, stride } = quantizeRows(
    x,
    dim,
    Array.from({ length: n }, (_, i) => i),
  )
  const [tj, tw] = both((kern) => {
    const seeder = kern.seeder(rows, n, stride)
    const totals = [0, n - 1, n >> 1].map((pick) => seeder.add(pick))
    return [totals, Array.from(seeder.minDist)]
  })
  expect(tw).toEqual(tj)
  const sq = (a: number, b: number) => {
    let s = 0
    for (let j = 0; j < stride; j++) s += ((rows[a * stride + j] as number) - (rows[b * stride + j] as number)) ** 2
    return s
  }
  const last = n - 1
  expect(tj[1]?.[last]).toBe(0) // a pick is at distance 0 from itself
  expect(tj[1]?.[1 % n]).toBe(Math.min(sq(0, 1 % n), sq(last, 1 % n), sq(n >> 1, 1 % n)))
  expect(tj[0]?.[2]).toBe((tj[1] as number[]).reduce((a, b) => a + b, 0))
}

describe('wasm kernels match the TypeScript reference bit for bit', () => {
  it.each([
    [1, 1, 1, 8],
    [7, 5, 3, 4],
    [16, 17, 4, 8],
    [33, 40, 5, 8],
    [100, 64, 25, 8],
    [128, 31, 16, 2],
  ])('dim %i, k %i, m %i, nbits %i on random data', (dim, k, m, nbits) => {
    const n = 301 // odd: exercises the paired-row tail of the nearest kernel
    checkAll(random(n * dim, dim * 31 + k), n, dim, k, m, nbits, dim)
  })

  it('on clustered data with exact ties (duplicate centroids go to the lower index)', () => {
    const dim = 24
    const x = clusteredVectors(500, dim, 5, 4)
    x.copyWithin(dim, 0, dim) // rows 0 and 1 equal: duplicate centroids
    checkAll(x, 500, dim, 32, 6, 8, 9)
    const out = new Uint32Array(500)
    wasm.assignNearest(x, 500, dim, x.slice(0, 32 * dim), 32, out)
    expect(out[1]).toBe(0)
  })

  it("coarseDistances: each query's own lists, what l2sq / dot give for each pair (the probe's cut and the GPU scan's biases)", () => {
    const dim = 37 // not a multiple of 4 or 16: the kernels' tails
    const nlist = 50
    const centroids = random(nlist * dim, 3)
    const queries = [random(dim, 4), random(dim, 5), random(dim, 6)]
    const lists = [Uint32Array.of(7, 0, 49, 7), Uint32Array.of(), [12, 3]] // repeats, none, a plain array
    for (const kind of ['l2', 'ip'] as const) {
      const [js, w] = both((k) => coarseDistances(k, queries, lists, centroids, kind))
      const want = lists.map((ls, qi) =>
        Float32Array.from(Array.from(ls), (l) => (kind === 'l2' ? l2sq : dot)(queries[qi] as Float32Array, 0, centroids, l * dim, dim)),
      )
      expect(js).toEqual(want)
      expect(w).toEqual(want)
    }
  })

  it("pruneProbes hands back the kept lists' coarseDistances, and extendDistances completes them for lists appended after", () => {
    const dim = 37
    const nlist = 60
    const centroids = random(nlist * dim, 8)
    const near = centroids.slice(3 * dim, 4 * dim).map((v, i) => v + (random(dim, 9)[i] as number) * 0.2) // near one centroid: its others cut
    const queries = [near, random(dim, 10), centroids.slice(5 * dim, 6 * dim)] // the last on a centroid: keeps all
    const probes = probe(jsKernels, queries, centroids, nlist, 'l2', 12)
    for (const k of [jsKernels, wasm]) {
      const { lists, distances } = pruneProbes(k, queries, probes, centroids, 'l2', 0.3)
      // the cut is exercised: some query loses lists, the one on a centroid keeps all 12
      expect(lists.some((ls, qi) => ls.length < (probes[qi] as Uint32Array).length)).toBe(true)
      expect(lists[2]?.length).toBe(12)
      // exactly the lists at most (1 + slack) times as far as the nearest (squared), in the
      // probe's order — at every slack where some query's lists change (each list's own gap)
      const all = coarseDistances(k, queries, probes, centroids, 'l2')
      const rule = (slack: number) =>
        probes.map((p, qi) => {
          const d = Array.from(all[qi] as Float32Array)
          const min = Math.min(...d)
          return Array.from(p).filter((_, i) => min === 0 || ((d[i] as number) - min) / min <= slack)
        })
      const steps = slackSteps(k, queries, probes, centroids, 'l2')
      expect(steps.length).toBeGreaterThan(10)
      for (const slack of [...steps, 0.3])
        expect(pruneProbes(k, queries, probes, centroids, 'l2', slack).lists.map((ls) => Array.from(ls))).toEqual(rule(slack))
      expect(distances).toEqual(coarseDistances(k, queries, lists, centroids, 'l2'))
      // lists appended (as withListsBetween does) to two of the queries
      const longer = lists.map((ls, qi) => (qi === 1 ? ls : Uint32Array.from([...ls, 59 - qi, 30 + qi])))
      const extended = extendDistances(k, queries, longer, distances as Float32Array[], centroids, 'l2')
      expect(extended).toEqual(coarseDistances(k, queries, longer, centroids, 'l2'))
      expect(extended[1]).toBe(distances?.[1]) // nothing appended: the same array
      // dot products are not cut, and no distances come back
      expect(pruneProbes(k, queries, probes, centroids, 'ip', 0.3)).toEqual({ lists: probes })
    }
  })

  it('k-means and PQ training give the same model through either backend', async () => {
    const dim = 20
    const x = clusteredVectors(3000, dim, 11, 12)
    const [cj, cw] = await Promise.all([jsKernels, wasm].map((kernels) => kmeans(x, 3000, dim, { k: 24, iterations: 5, seed: 4, kernels })))
    expect(cw).toEqual(cj)
    const layout = pqLayout(dim, 5, 8)
    const [pj, pw] = await Promise.all([jsKernels, wasm].map((kernels) => trainPq(x, 3000, layout, { iterations: 3, seed: 2, kernels })))
    expect(pw).toEqual(pj)
  })

  it('reports a clear error when a kernel would pass the memory limit', () => {
    setWasmMemoryLimit(8 << 20)
    try {
      const dim = 4096
      const k = 1024 // 16 MiB of transposed centroids
      expect(() => wasm.assignNearest(new Float32Array(dim), 1, dim, new Float32Array(k * dim), k, new Uint32Array(1))).toThrow(
        /WebAssembly memory limit: the assignNearest kernel needs \d+ MiB, the limit is 8 MiB/,
      )
    } finally {
      setWasmMemoryLimit(2 ** 31)
    }
  })
})

/**
 * Many centroids of many dimensions go through a bound (wasm.ts assignBounded: principal-axis
 * projections, most centroids never scored in full): the winners must still be the reference's,
 * ties and all. `through` runs wasm's assignNearest and says how many rows the bound assigned.
 */
function through(x: Float32Array, n: number, dim: number, centroids: Float32Array, k: number) {
  const before = boundStats.rows
  const out = new Uint32Array(n)
  wasm.assignNearest(x, n, dim, centroids, k, out)
  const want = new Uint32Array(n)
  jsKernels.assignNearest(x, n, dim, centroids, k, want)
  return { out, want, bounded: boundStats.rows - before }
}

describe('the bounded nearest-centroid search picks the reference winner', () => {
  const dim = 64
  const k = 300 // not a multiple of 16: padding centroids
  const n = 14_000 // n · k over the 4 M the bound needs to be tried (wasm.ts BOUND.minWork)

  it('on clustered rows, where the bound skips most centroids', () => {
    // 320 centroids, a count no other test uses: these centroids' own axes (wasm.ts keeps the last
    // axes for a new array of as many centroids)
    const c = 320
    const x = clusteredVectors(n + c, dim, 21, 40, 3)
    const scored = boundStats.scored
    const { out, want, bounded } = through(x, n, dim, x.slice(n * dim), c)
    expect(bounded).toBe(n)
    expect(out).toEqual(want)
    // far fewer than every centroid of every row were scored in full
    expect(boundStats.scored - scored).toBeLessThan((n * c) / 4)
  })

  it('with exact ties: duplicate centroids and rows equal to a centroid go to the lower index', () => {
    const x = clusteredVectors(n, dim, 22, 30, 2)
    const centroids = x.slice(0, k * dim) // row i < k is centroid i
    // centroid 249 = centroid 10, in a lower SIMD lane than 10's (249 % 4 < 10 % 4): the least
    // bound is met at 249 first, and 10 must still win on the tie
    centroids.copyWithin(249 * dim, 10 * dim, 11 * dim)
    centroids.copyWithin(299 * dim, 3 * dim, 4 * dim) // centroid 299 = centroid 3
    const { out, want, bounded } = through(x, n, dim, centroids, k)
    expect(bounded).toBe(n)
    expect(out).toEqual(want)
    expect(out[10]).toBe(10)
    expect(out[3]).toBe(3)
    expect(Array.from(out).includes(249)).toBe(false)
  })

  it('far from the origin (rounding margins scale with the norms)', () => {
    const x = clusteredVectors(n + k, dim, 23, 40, 3).map((v) => v + 1000)
    const { out, want, bounded } = through(x, n, dim, x.slice(n * dim), k)
    expect(bounded).toBeGreaterThan(0)
    expect(out).toEqual(want)
  })

  it('when the centroids change after their axes were computed (k-means: in place here, a new array in a worker)', () => {
    const x = clusteredVectors(n + k, dim, 24, 40, 3)
    const centroids = x.slice(n * dim)
    through(x, n, dim, centroids, k)
    // new values in the same array: the cached axes are stale but still orthonormal
    const rand = mulberry32(5)
    for (let i = 0; i < centroids.length; i++) centroids[i] = (centroids[i] as number) * 0.5 + (rand() - 0.5) * 4
    const { out, want, bounded } = through(x, n, dim, centroids, k)
    expect(bounded).toBeGreaterThan(0)
    expect(out).toEqual(want)
    const moved = through(
      x,
      n,
      dim,
      centroids.map((v) => v + 0.25),
      k,
    )
    expect(moved.bounded).toBeGreaterThan(0)
    expect(moved.out).toEqual(moved.want)
  })

  it('on uniform noise, where the bound does not pay: it gives up and the rest are scored plainly', () => {
    const rows = n
    const x = random(rows * dim, 25)
    const { out, want, bounded } = through(x, rows, dim, random(k * dim, 26), k)
    expect(bounded).toBeGreaterThan(0)
    expect(bounded).toBeLessThan(rows)
    expect(out).toEqual(want)
  })
})

describe.runIf(existsSync(SHARED))('wasm kernels on real embeddings (needs ../shared/data)', () => {
  it.each(['wordnet-fasttext-words-100d', 'sap-fiori-docs-minilm-384', 'mnist-784-t10k', 'glove-twitter-25d-12k', 'sift-128-ngt5k'])(
    '%s',
    async (name) => {
      const { base } = await loadDataset(name)
      const n = Math.min(base.rows, 2000)
      const dim = base.dim
      const x = base.data.slice(0, n * dim)
      checkAll(x, n, dim, 64, Math.ceil(dim / 4), 8, 3)
      // up to 10,000 rows against enough of them as centroids to pass the bound's 4 M rows ×
      // centroids (wasm.ts BOUND): the bounded search from 48 dimensions on
      const rows = Math.min(base.rows, 10_000)
      const k = Math.min(rows >> 1, Math.max(400, Math.ceil(4_000_000 / rows)))
      const all = base.data.subarray(0, rows * dim)
      const centroids = all.slice(0, k * dim)
      const before = boundStats.rows
      const out = new Uint32Array(rows)
      wasm.assignNearest(all, rows, dim, centroids, k, out)
      expect(boundStats.rows > before).toBe(dim >= 48 && rows * k >= 4_000_000)
      // the reference: wasm's plain kernel (bit-identical to the TypeScript one, checked above; the
      // TypeScript one takes 16 s on mnist here), given pieces too small for the bound
      const want = new Uint32Array(rows)
      const piece = Math.floor((4_000_000 - 1) / k)
      for (let at = 0; at < rows; at += piece) {
        const end = Math.min(rows, at + piece)
        wasm.assignNearest(all.subarray(at * dim, end * dim), end - at, dim, centroids, k, want.subarray(at, end))
      }
      expect(out).toEqual(want)
    },
  )
})
