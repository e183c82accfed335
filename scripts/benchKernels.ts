/**
 * CPU kernel benchmark: each kernel through the TypeScript reference and the WebAssembly SIMD
 * backend on the same data, side by side (one thread; results are bit-identical, checked here).
 *   npm run bench:kernels [-- --scale 0.25]
 */
import { parseArgs } from 'node:util'
import { jsKernels, type Kernels, loadKernels } from '../src/compute/backend.js'
import { coarseDistances } from '../src/compute/probe.js'
import { mulberry32 } from '../src/compute/random.js'
import { pqLayout } from '../src/index/pq.js'

const { values } = parseArgs({ options: { scale: { type: 'string', default: '1' } } })
const scale = Number(values.scale)
const wasm = await loadKernels('wasm')
const rand = mulberry32(7)
const fill = (a: Float32Array) => {
  for (let i = 0; i < a.length; i++) a[i] = rand() * 2 - 1
  return a
}

/** Best of three runs, ms. */
function time(run: () => void): number {
  let best = Number.POSITIVE_INFINITY
  for (let r = 0; r < 3; r++) {
    const t0 = performance.now()
    run()
    best = Math.min(best, performance.now() - t0)
  }
  return best
}

interface Case {
  name: string
  /** What one run processes, for the rate column. */
  amount: number
  unit: 'GB/s' | 'Mvec/s' | 'tables/s'
  run: (k: Kernels) => unknown
}

const dim = 768
const n = Math.round(100_000 * scale)
const x = fill(new Float32Array(n * dim))
const queries = fill(new Float32Array(8 * dim))
const nc = Math.round(20_000 * scale)
const centroids = fill(new Float32Array(341 * dim))
const layout = pqLayout(dim, 96, 8)
const codebooks = fill(new Float32Array(256 * dim))
const entries = Math.round(2_000_000 * scale)
// rows of 100-d around 400 centres, each dimension's spread falling as 1/√(j+1) (as real embeddings'
// principal axes do): the data the nearest-centroid bound is for (wasm.ts assignBounded)
const gauss = () => {
  let u = 0
  for (let i = 0; i < 12; i++) u += rand()
  return u - 6
}
const spread = Float32Array.from({ length: 100 }, (_, j) => 1 / Math.sqrt(j + 1))
const centres = Float32Array.from({ length: 400 * 100 }, (_, i) => (spread[i % 100] as number) * gauss())
const around = (count: number) => {
  const out = new Float32Array(count * 100)
  for (let i = 0; i < count; i++) {
    const g = Math.floor(rand() * 400)
    for (let j = 0; j < 100; j++) out[i * 100 + j] = (centres[g * 100 + j] as number) + 0.5 * (spread[j] as number) * gauss()
  }
  return out
}
const nb = Math.round(5_000 * scale)
const boundRows = around(nb)
const boundCentroids = around(4000)
const m = 96
// a batch's (query, probed list) pairs: the slack cut's and the GPU scan's distances to centroids
const batch = Math.round(10_000 * scale)
const probeCentroids = fill(new Float32Array(1024 * dim))
const batchQueries = Array.from({ length: batch }, (_, i) => x.subarray((i % n) * dim, ((i % n) + 1) * dim))
const batchLists = Array.from({ length: batch }, () => Uint32Array.from({ length: 32 }, () => Math.floor(rand() * 1024)))
const codes = Uint8Array.from({ length: entries * m }, () => Math.floor(rand() * 256))
const LIST = 2048

const cases: Case[] = [
  {
    name: `exact L2, ${n}×${dim} vs 1 query`,
    amount: n * dim * 4,
    unit: 'GB/s',
    run: (k) => {
      const out = new Float32Array(n)
      k.distances('l2', queries, 1, x, n, dim, out)
      return out
    },
  },
  {
    name: `exact L2, ${n}×${dim} vs 8 queries`,
    amount: n * dim * 4,
    unit: 'GB/s',
    run: (k) => {
      const out = new Float32Array(8 * n)
      k.distances('l2', queries, 8, x, n, dim, out)
      return out
    },
  },
  {
    name: `PQ scan, ${entries} codes × ${m} B, lists of ${LIST}`,
    amount: entries * m,
    unit: 'GB/s',
    run: (k) => {
      const s = k.adcScanner(layout, codebooks)
      s.table(queries.subarray(0, dim), 'l2')
      const out = new Float32Array(entries)
      for (let at = 0; at < entries; at += LIST) {
        const count = Math.min(LIST, entries - at)
        s.scan(codes.subarray(at * m, (at + count) * m), count, 0, out.subarray(at, at + count))
      }
      return out
    },
  },
  {
    name: `ADC table, ${dim}-d, m ${m}, 256 codes`,
    amount: 200,
    unit: 'tables/s',
    run: (k) => {
      const s = k.adcScanner(layout, codebooks)
      for (let r = 0; r < 200; r++) s.table(x.subarray(r * dim, (r + 1) * dim), 'l2')
      return s
    },
  },
  {
    name: `k-means assignment, ${nc}×${dim} vs 341 centroids`,
    amount: nc,
    unit: 'Mvec/s',
    run: (k) => {
      const out = new Uint32Array(nc)
      k.assignNearest(x, nc, dim, centroids, 341, out)
      return out
    },
  },
  {
    name: `k-means assignment, ${nb}×100 vs 4000 centroids, spread falling by axis (the bound)`,
    amount: nb,
    unit: 'Mvec/s',
    run: (k) => {
      const out = new Uint32Array(nb)
      k.assignNearest(boundRows, nb, 100, boundCentroids, 4000, out)
      return out
    },
  },
  {
    name: `query–centroid distances of a batch's probed lists (coarseDistances), ${batch} queries × 32 of 1024 lists × ${dim}`,
    amount: batch * 32,
    unit: 'Mvec/s',
    run: (k) => {
      const out = new Float32Array(batch * 32)
      for (const [qi, d] of coarseDistances(k, batchQueries, batchLists, probeCentroids, 'l2').entries()) out.set(d, qi * 32)
      return out
    },
  },
  {
    name: `PQ encode, ${nc}×${dim}, m ${m}`,
    amount: nc,
    unit: 'Mvec/s',
    run: (k) => {
      const out = new Uint8Array(nc * m)
      k.pqEncode(x, nc, layout, codebooks, out)
      return out
    },
  },
]

const rate = (c: Case, ms: number) => {
  const perSec = c.amount / (ms / 1000)
  if (c.unit === 'GB/s') return `${(perSec / 1e9).toFixed(2)} GB/s`
  if (c.unit === 'Mvec/s') return `${(perSec / 1e6).toFixed(3)} Mvec/s`
  return `${perSec.toFixed(0)} tables/s`
}

console.log('| kernel | js | wasm | wasm / js |')
console.log('|---|---|---|---|')
for (const c of cases) {
  const outJs = c.run(jsKernels)
  const outWasm = c.run(wasm)
  if (ArrayBuffer.isView(outJs) && Buffer.compare(Buffer.from(outJs.buffer), Buffer.from((outWasm as typeof outJs).buffer)) !== 0)
    throw new Error(`${c.name}: backends disagree`)
  const tj = time(() => c.run(jsKernels))
  const tw = time(() => c.run(wasm))
  console.log(`| ${c.name} | ${rate(c, tj)} | ${rate(c, tw)} | ${(tj / tw).toFixed(1)}× |`)
}
