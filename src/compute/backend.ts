import { ParquetSeekError } from '../errors.js'
import type { PqLayout } from '../index/pq.js'
import { adcTable, assignNearest, distances, dot, l2sq, pqEncode, pqScan, rowNormsSq, seedScan } from './js.js'

/**
 * The compute interface every backend implements (DESIGN §4). All results are bit-identical
 * between `js` and `wasm` (float32 in the order js.ts defines), so a search returns the same
 * rows and a build writes the same bytes whichever CPU backend ran it.
 */
export type BackendName = 'js' | 'wasm'
/** `auto`: wasm when the runtime has WebAssembly SIMD, else js. */
export type BackendChoice = BackendName | 'auto'
export const BACKEND_CHOICES: readonly BackendChoice[] = ['auto', 'wasm', 'js']
/**
 * Searching can also score on the GPU (WebGPU): `gpu` runs the list scan, top-k selection and
 * the refine stage's exact distances there (src/compute/gpu/listScan.ts, exact.ts) and the rest
 * with the `auto` CPU kernels: the same rows, distances to float rounding.
 */
export type SearchBackend = BackendChoice | 'gpu'
export const SEARCH_BACKENDS: readonly SearchBackend[] = [...BACKEND_CHOICES, 'gpu']

/** ADC over one model's codebooks: build a lookup table for a query, then score codes with it. */
export interface AdcScanner {
  /** The table for q: `l2` takes the residual q − centroid, `ip` the query. */
  table(q: Float32Array, kind: 'l2' | 'ip'): void
  /** out[i] = bias + Σ_j table[j][codes[i·m + j]] with the last table built. */
  scan(codes: Uint8Array, count: number, bias: number, out: Float32Array): void
}

/** Squared L2 from one query at a time to n rows handed over once (the lists' storage walk over the centroids). */
export interface RowScanner {
  /** out[i] = squared L2 of q and row i, as `distances('l2', q, 1, rows, …)` gives it. */
  l2(q: Float32Array, out: Float32Array): void
  /** out[i] = squared L2 (`l2`) or dot (`ip`) of q and row rows[i], as `distances` gives it. */
  at(kind: 'l2' | 'ip', q: Float32Array, rows: ArrayLike<number>, out: Float32Array): void
}

/**
 * k-means++ seeding over rows handed over once, quantized to one byte a value (stride bytes a
 * row, a multiple of 16, zero padded): distances are exact integers, so every backend picks the
 * same rows.
 */
export interface Seeder {
  /** minDist[i] = min(minDist[i], ‖row pick − row i‖²) for every row; returns Σ minDist. */
  add(pick: number): number
  /** Each row's squared distance to its nearest pick so far (0xffffffff before the first add). */
  readonly minDist: Uint32Array
}

export interface Kernels {
  readonly name: BackendName
  /** out[qi·n + i] = squared L2 (`l2`) or dot (`ip`) of query qi and row i. */
  distances(kind: 'l2' | 'ip', queries: Float32Array, nq: number, x: Float32Array, n: number, dim: number, out: Float32Array): void
  rowNormsSq(x: Float32Array, n: number, dim: number): Float32Array
  /** Nearest centroid of each row (k-means assignment, IVF assignment). */
  assignNearest(x: Float32Array, n: number, dim: number, centroids: Float32Array, k: number, out: Uint32Array, norms?: Float32Array): void
  /** PQ codes of n residual rows into out (n × m bytes). */
  pqEncode(x: Float32Array, n: number, layout: PqLayout, codebooks: Float32Array, out: Uint8Array): void
  adcScanner(layout: PqLayout, codebooks: Float32Array): AdcScanner
  rowScanner(rows: Float32Array, n: number, dim: number): RowScanner
  seeder(rows: Uint8Array, n: number, stride: number): Seeder
}

export const jsKernels: Kernels = {
  name: 'js',
  distances,
  rowNormsSq,
  assignNearest,
  pqEncode,
  adcScanner(layout, codebooks) {
    const table = new Float32Array(layout.m * layout.ksub)
    return {
      table: (q, kind) => adcTable(q, layout, codebooks, kind, table),
      scan: (codes, count, bias, out) => pqScan(table, layout.ksub, codes, count, layout.m, bias, out),
    }
  },
  rowScanner(rows, n, dim) {
    return {
      l2: (q, out) => distances('l2', q, 1, rows, n, dim, out),
      at(kind, q, which, out) {
        for (let i = 0; i < which.length; i++) {
          const at = (which[i] as number) * dim
          out[i] = kind === 'l2' ? l2sq(q, 0, rows, at, dim) : dot(q, 0, rows, at, dim)
        }
      },
    }
  },
  seeder(rows, n, stride) {
    const minDist = new Uint32Array(n).fill(0xffffffff)
    return { minDist, add: (pick) => seedScan(rows, n, stride, pick, minDist) }
  },
}

/**
 * The kernels for a choice: `auto` takes wasm and falls back to js where WebAssembly SIMD is
 * missing; `wasm` fails with a clear message there.
 */
export async function loadKernels(choice: SearchBackend = 'auto'): Promise<Kernels> {
  if (choice === 'js') return jsKernels
  if (choice === 'gpu') return loadKernels('auto')
  if (choice !== 'wasm' && choice !== 'auto') throw new ParquetSeekError(`unknown backend "${choice}" (use ${BACKEND_CHOICES.join(', ')})`)
  try {
    const { loadWasmKernels } = await import('./wasm.js')
    return await loadWasmKernels()
  } catch (e) {
    if (choice === 'wasm') throw new ParquetSeekError(`the wasm backend is unavailable: ${e instanceof Error ? e.message : String(e)}`)
    return jsKernels
  }
}
