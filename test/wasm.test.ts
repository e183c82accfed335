import { existsSync } from 'node:fs'
import { beforeAll, describe, expect, it } from 'vitest'
import { jsKernels, type Kernels, loadKernels } from '../src/compute/backend.js'
import { kmeans, quantizeRows } from '../src/compute/kmeans.js'
import { mulberry32 } from '../src/compute/random.js'
import { setWasmMemoryLimit } from '../src/compute/wasm.js'
import { pqLayout, trainPq } from '../src/index/pq.js'
import { loadDataset } from './helpers/data.js'
import { clusteredVectors, SHARED } from './helpers/fixtures.js'

/**
 * The wasm kernels compute float32 in the same order as the TypeScript reference, so every
 * comparison here is exact (toEqual on the typed arrays): tolerance 0.
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
  expect(dj[3]).toEqual((dj[0] as Float32Array).subarray(n, 2 * n))
  expect(dw).toEqual(dj)
  const centroids = x.slice(0, k * dim)
  const [aj, aw] = both((kern) => {
    const out = new Uint32Array(n)
    kern.assignNearest(x, n, dim, centroids, k, out)
    return out
  })
  expect(aw).toEqual(aj)
  const layout = pqLayout(dim, m, nbits)
  const codebooks = random(layout.ksub * dim, seed + 2)
  const [ej, ew] = both((kern) => {
    const out = new Uint8Array(n * m)
    kern.pqEncode(x, n, layout, codebooks, out)
    return out
  })
  expect(ew).toEqual(ej)
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
  expect(sw).toEqual(sj)
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

describe.runIf(existsSync(SHARED))('wasm kernels on real embeddings (needs ../shared/data)', () => {
  it.each(['wordnet-fasttext-words-100d', 'sap-fiori-docs-minilm-384', 'mnist-784-t10k', 'glove-twitter-25d-12k', 'sift-128-ngt5k'])(
    '%s',
    async (name) => {
      const { base } = await loadDataset(name)
      const n = Math.min(base.rows, 2000)
      const dim = base.dim
      const x = base.data.slice(0, n * dim)
      checkAll(x, n, dim, 64, Math.ceil(dim / 4), 8, 3)
    },
  )
})
