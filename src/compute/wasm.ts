import { ParquetSeekError } from '../errors.js'
import type { PqLayout } from '../index/pq.js'
import type { AdcScanner, Kernels, RowScanner, Seeder } from './backend.js'
import { type PrincipalAxes, principalAxes } from './pca.js'
import { kernelsWasmBase64 } from './wasm/kernels.generated.js'

/**
 * The WebAssembly SIMD backend: assembly/kernels.ts, compiled once per process, with one
 * instance (own linear memory) per arena. The JS side lays out each call's inputs in that
 * memory, calls the kernel and copies results out; work is cut into chunks of ≤ CHUNK_BYTES
 * of rows so memory stays small however large the input.
 */

/** The slice of the WebAssembly JS API used here (the core's TypeScript lib has no DOM types). */
interface WasmMemory {
  readonly buffer: ArrayBuffer
  grow(pages: number): number
}
type WasmModule = object
interface WasmApi {
  compile(bytes: Uint8Array<ArrayBuffer>): Promise<WasmModule>
  Instance: new (module: WasmModule, imports: object) => { exports: object }
}
const wasmApi = (globalThis as { WebAssembly?: WasmApi }).WebAssembly

interface Exports {
  memory: WasmMemory
  heapBase(): number
  distances(kind: number, queries: number, nq: number, x: number, n: number, dim: number, out: number): void
  rowNormsSq(x: number, n: number, dim: number, out: number): void
  nearest(x: number, n: number, stride: number, len: number, ct: number, norms: number, kpad: number, outIdx: number): void
  centroidBounds(
    xp: number,
    n: number,
    t: number,
    pt: number,
    pnorm: number,
    kpad: number,
    xpn: number,
    xr: number,
    cr: number,
    out: number,
    first: number,
  ): void
  boundedNearest(
    x: number,
    n: number,
    dim: number,
    c: number,
    norms: number,
    k: number,
    kpad: number,
    bounds: number,
    firsts: number,
    xn: number,
    margin: number,
    cmax: number,
    list: number,
    outIdx: number,
  ): number
  pqEncode(
    x: number,
    n: number,
    dim: number,
    m: number,
    starts: number,
    cbt: number,
    norms: number,
    kpad: number,
    out: number,
    idx: number,
  ): void
  adcTable(kind: number, q: number, m: number, starts: number, cbt: number, kpad: number, out: number): void
  pqScan(table: number, kpad: number, codes: number, count: number, m: number, bias: number, out: number): void
  seedScan(rows: number, n: number, stride: number, pick: number, minDist: number): number
}

const PAGE = 65536
const CHUNK_BYTES = 4 << 20
let memoryLimit = 2 ** 31

/** Largest linear memory one kernel instance may grow to (default 2 GiB; wasm32's ceiling is 4). */
export function setWasmMemoryLimit(bytes: number): void {
  memoryLimit = bytes
}

/** One instance and its memory; `layout` hands out 64-byte-aligned regions after `fixed`. */
class Arena {
  readonly x: Exports
  private fixed: number

  constructor(module: WasmModule) {
    this.x = new (wasmApi as WasmApi).Instance(module, {}).exports as Exports
    this.fixed = this.x.heapBase()
  }

  /** Offsets of consecutive regions of the given byte sizes, memory grown to hold them. */
  layout<const S extends readonly number[]>(kernel: string, sizes: S, keep = false): { [K in keyof S]: number } {
    let at = this.fixed
    const offsets = sizes.map((size) => {
      const o = at
      at = align(at + size)
      return o
    })
    const have = this.x.memory.buffer.byteLength
    if (at > have) {
      if (at > memoryLimit)
        throw new ParquetSeekError(
          `WebAssembly memory limit: the ${kernel} kernel needs ${mib(at)} MiB, the limit is ${mib(memoryLimit)} MiB`,
        )
      try {
        this.x.memory.grow(Math.ceil((at - have) / PAGE))
      } catch {
        throw new ParquetSeekError(`WebAssembly memory: could not grow to ${mib(at)} MiB for the ${kernel} kernel (out of memory)`)
      }
    }
    if (keep) this.fixed = at
    return offsets as { [K in keyof S]: number }
  }

  f32(offset: number, length: number): Float32Array {
    return new Float32Array(this.x.memory.buffer, offset, length)
  }
  u32(offset: number, length: number): Uint32Array {
    return new Uint32Array(this.x.memory.buffer, offset, length)
  }
  u8(offset: number, length: number): Uint8Array {
    return new Uint8Array(this.x.memory.buffer, offset, length)
  }
}

/** The most row bytes a rowScanner keeps in its own memory (centroids: 65,536 lists of 1,024-d). */
const RESIDENT_ROW_BYTES = 256 << 20
const align = (n: number) => Math.ceil(n / 64) * 64
const mib = (n: number) => Math.ceil(n / 2 ** 20)
const KIND = { l2: 0, ip: 1 } as const
/** Rows per chunk so a chunk's rows take about CHUNK_BYTES (at least 2). */
const rowsPerChunk = (rowBytes: number) => Math.max(2, Math.floor(CHUNK_BYTES / Math.max(1, rowBytes)))
/**
 * assignNearest through a bound (WasmKernels.assignBounded), from minCentroids centroids of minDim
 * dimensions and minWork rows × centroids (below that the axes cost more than the bound can save
 * when it fails). `axes` principal axes of at most `sample` centroids (`iterations` of
 * principalAxes): at 4,000 centroids of 100-d (the 1 M-row build's), 24 axes left 310 centroids a
 * row to score in full, 32 left 128, 40 left 51, 48 left 20; 40 took the least time (0.69 × the
 * plain kernel's). A chunk of rows' bounds take about scoreBytes. margin × (‖x‖² + the largest
 * ‖c‖²) is added to the best distance for rounding (float32 errors are ~1e-6 of it). A centroid
 * scored in full (its dot in order, outside SIMD lanes) costs about five projected ones: the
 * bound is given up once those cost over worthIt of what the projections save, judged from
 * judgeAfter rows on (uniform noise, where it saves nothing, then costs 128-odd rows' worth).
 */
const BOUND = {
  minCentroids: 256,
  minDim: 48,
  minWork: 4_000_000,
  axes: 40,
  sample: 256,
  iterations: 5,
  scoreBytes: 512 << 10,
  margin: 1e-4,
  worthIt: 0.2,
  judgeAfter: 128,
}
/** Rows assigned through the bound, and centroids scored in full for them (what tests and benchmarks observe). */
export const boundStats = { rows: 0, scored: 0 }
/** Principal axes per centroid array (assignBounded). */
const axesCache = new WeakMap<Float32Array, PrincipalAxes>()
let lastAxes: { k: number; axes: PrincipalAxes } | undefined
/** Centroid count padded to the kernels' 16 lanes. */
const pad16 = (k: number) => Math.ceil(k / 16) * 16

/** A strided view: element (i, a) of `values` at i · this.i + a · this.a. */
interface Strided {
  values: Float32Array
  i: number
  a: number
}

/**
 * For count vectors (row-major, dim values each) whose projections on the principal axes are in
 * `projected`: each projection less P·μ (`pm`) to `centred`, its square norm to inside[i], and to
 * rest[i] the norm of what it leaves of vector − mean (‖v⊥‖, from ‖v − μ‖² − ‖P(v − μ)‖²).
 */
function centre(
  vectors: Float32Array,
  count: number,
  dim: number,
  mean: Float64Array,
  pm: Float64Array,
  projected: Strided,
  centred: Strided,
  inside: Float32Array,
  rest: Float32Array,
): void {
  const t = pm.length
  for (let i = 0; i < count; i++) {
    let sum = 0
    for (let a = 0; a < t; a++) {
      const v = (projected.values[i * projected.i + a * projected.a] as number) - (pm[a] as number)
      centred.values[i * centred.i + a * centred.a] = v
      sum += v * v
    }
    inside[i] = sum
    let whole = 0
    for (let j = 0; j < dim; j++) whole += ((vectors[i * dim + j] as number) - (mean[j] as number)) ** 2
    rest[i] = Math.sqrt(Math.max(0, whole - sum))
  }
}

/** centroids (k × len, row-major, row stride `stride` floats from `at`) → out[t·kpad + c]. */
function transpose(src: Float32Array, at: number, k: number, len: number, kpad: number, out: Float32Array) {
  for (let c = 0; c < k; c++) for (let t = 0; t < len; t++) out[t * kpad + c] = src[at + c * len + t] as number
}

/** Norms padded with +∞ (padding centroids never win). */
function paddedNorms(norms: Float32Array, out: Float32Array) {
  out.fill(Number.POSITIVE_INFINITY)
  out.set(norms)
}

/**
 * Codebooks transposed per subspace, their norms (`normsOf`: a subspace's codewords, ksub rows of
 * len values) and the subspace starts, written at `o`.
 */
function writeCodebooks(
  a: Arena,
  o: { cbt: number; norms: number; starts: number },
  layout: PqLayout,
  codebooks: Float32Array,
  normsOf: readonly Float32Array[],
) {
  const { dim, m, ksub, starts } = layout
  const kpad = pad16(ksub)
  const cbt = a.f32(o.cbt, kpad * dim)
  cbt.fill(0)
  const norms = a.f32(o.norms, m * kpad)
  for (let j = 0; j < m; j++) {
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    const book = codebooks.subarray(ksub * s, ksub * (s + len))
    transpose(book, 0, ksub, len, kpad, cbt.subarray(kpad * s, kpad * (s + len)))
    paddedNorms(normsOf[j] as Float32Array, norms.subarray(j * kpad, (j + 1) * kpad))
  }
  a.u32(o.starts, m + 1).set(starts)
}

class WasmKernels implements Kernels {
  readonly name = 'wasm' as const
  private readonly scratch: Arena

  constructor(private readonly module: WasmModule) {
    this.scratch = new Arena(module)
  }

  distances(kind: 'l2' | 'ip', queries: Float32Array, nq: number, x: Float32Array, n: number, dim: number, out: Float32Array): void {
    const a = this.scratch
    const chunk = Math.max(1, Math.floor(rowsPerChunk(dim * 4 * (1 + nq / dim))))
    const rows = Math.min(n, chunk)
    const [qo, xo, oo] = a.layout('distances', [nq * dim * 4, rows * dim * 4, nq * rows * 4])
    a.f32(qo, nq * dim).set(queries.subarray(0, nq * dim))
    for (let start = 0; start < n; start += rows) {
      const count = Math.min(rows, n - start)
      a.f32(xo, count * dim).set(x.subarray(start * dim, (start + count) * dim))
      a.x.distances(KIND[kind], qo, nq, xo, count, dim, oo)
      const res = a.f32(oo, nq * count)
      for (let qi = 0; qi < nq; qi++) out.set(res.subarray(qi * count, (qi + 1) * count), qi * n + start)
    }
  }

  /**
   * Each subspace's codeword norms, by this backend's rowNormsSq: the TypeScript one's bits
   * (tested), in compiled code — a search's first scan ran the TypeScript loop cold, ~25 ms of a
   * one-off CLI query's 46 (48 subspaces of 256 codewords). Before the caller lays out the scratch
   * arena: these calls use it.
   */
  private codebookNorms({ m, ksub, starts }: PqLayout, codebooks: Float32Array): Float32Array[] {
    return Array.from({ length: m }, (_, j) => {
      const s = starts[j] as number
      const len = (starts[j + 1] as number) - s
      return this.rowNormsSq(codebooks.subarray(ksub * s, ksub * (s + len)), ksub, len)
    })
  }

  rowNormsSq(x: Float32Array, n: number, dim: number): Float32Array {
    const a = this.scratch
    const out = new Float32Array(n)
    const rows = Math.min(n, rowsPerChunk(dim * 4))
    const [xo, oo] = a.layout('rowNormsSq', [rows * dim * 4, rows * 4])
    for (let start = 0; start < n; start += rows) {
      const count = Math.min(rows, n - start)
      a.f32(xo, count * dim).set(x.subarray(start * dim, (start + count) * dim))
      a.x.rowNormsSq(xo, count, dim, oo)
      out.set(a.f32(oo, count), start)
    }
    return out
  }

  assignNearest(x: Float32Array, n: number, dim: number, centroids: Float32Array, k: number, out: Uint32Array, norms?: Float32Array): void {
    const cn = norms ?? this.rowNormsSq(centroids, k, dim)
    const done =
      k >= BOUND.minCentroids && dim >= BOUND.minDim && n * k >= BOUND.minWork ? this.assignBounded(x, n, dim, centroids, k, out, cn) : 0
    if (done < n) this.assignPlain(x.subarray(done * dim), n - done, dim, centroids, k, out.subarray(done), cn)
  }

  /** assignNearest scoring every centroid (the `nearest` kernel). */
  private assignPlain(x: Float32Array, n: number, dim: number, centroids: Float32Array, k: number, out: Uint32Array, norms: Float32Array) {
    const a = this.scratch
    const kpad = pad16(k)
    const rows = Math.min(n, rowsPerChunk(dim * 4))
    const [ct, no, xo, io] = a.layout('assignNearest', [dim * kpad * 4, kpad * 4, rows * dim * 4, rows * 4])
    const cts = a.f32(ct, dim * kpad)
    cts.fill(0)
    transpose(centroids, 0, k, dim, kpad, cts)
    paddedNorms(norms, a.f32(no, kpad))
    for (let start = 0; start < n; start += rows) {
      const count = Math.min(rows, n - start)
      a.f32(xo, count * dim).set(x.subarray(start * dim, (start + count) * dim))
      a.x.nearest(xo, count, dim, dim, ct, no, kpad, io)
      out.set(a.u32(io, count), start)
    }
  }

  /**
   * assignNearest through a bound (assembly/kernels.ts boundedNearest): the same winners, most
   * centroids never scored in full. Rows and centroids are projected on BOUND.axes principal axes
   * of the centroids (computed once per centroid array, or kept from the last array of as many
   * centroids: axes of other centroids are still orthonormal, so still give a true bound, only a
   * looser one). Returns how many rows it assigned: all of them, unless the bound stops paying
   * (too many centroids scored in full), when the caller scores the rest plainly.
   */
  private assignBounded(
    x: Float32Array,
    n: number,
    dim: number,
    centroids: Float32Array,
    k: number,
    out: Uint32Array,
    norms: Float32Array,
  ): number {
    // a new array of as many centroids of this size (a worker's k-means iteration: the centroids
    // arrive as a copy each time) keeps the last axes: still a true bound, and 1 s of a 300 k-row
    // build went to computing them again each iteration
    let pca = axesCache.get(centroids) ?? (lastAxes?.k === k && lastAxes.axes.mean.length === dim ? lastAxes.axes : undefined)
    if (!pca) {
      const step = Math.max(1, Math.floor(k / BOUND.sample))
      const picked = new Float32Array(Math.ceil(k / step) * dim)
      let m = 0
      for (let c = 0; c < k; c += step) picked.set(centroids.subarray(c * dim, (c + 1) * dim), m++ * dim)
      pca = principalAxes(picked, m, dim, BOUND.axes, BOUND.iterations)
    }
    axesCache.set(centroids, pca)
    lastAxes = { k, axes: pca }
    const { mean, axes, count: t } = pca
    const a = this.scratch
    const kpad = pad16(k)
    const rows = Math.max(2, Math.min(n, Math.floor(BOUND.scoreBytes / (kpad * 4))))
    const [co, no, po, pto, pno, cro, tmp, xo, xpo, xpno, xro, xno, so, fo, lo, io] = a.layout('boundedNearest', [
      k * dim * 4,
      kpad * 4,
      t * dim * 4,
      t * kpad * 4,
      kpad * 4,
      kpad * 4,
      t * k * 4,
      rows * dim * 4,
      rows * t * 4,
      rows * 4,
      rows * 4,
      rows * 4,
      rows * kpad * 4,
      rows * 4,
      kpad * 4,
      rows * 4,
    ])
    a.f32(co, k * dim).set(centroids.subarray(0, k * dim))
    a.f32(no, k).set(norms.subarray(0, k))
    a.f32(po, t * dim).set(axes)
    // P·μ, then each centroid's projection P·(c − μ) (transposed), its square norm and ‖c⊥‖
    const pm = new Float64Array(t)
    for (let i = 0; i < t; i++) {
      let s = 0
      for (let j = 0; j < dim; j++) s += (axes[i * dim + j] as number) * (mean[j] as number)
      pm[i] = s
    }
    a.x.distances(KIND.ip, po, t, co, k, dim, tmp)
    const proj = a.f32(tmp, t * k)
    const pt = a.f32(pto, t * kpad).fill(0)
    const pn = a.f32(pno, kpad).fill(Number.POSITIVE_INFINITY)
    const cr = a.f32(cro, kpad).fill(0)
    centre(centroids, k, dim, mean, pm, { values: proj, i: 1, a: k }, { values: pt, i: 1, a: kpad }, pn, cr)
    let cmax = 0
    for (let c = 0; c < k; c++) cmax = Math.max(cmax, norms[c] as number)
    let scoredAll = 0
    for (let start = 0; start < n; start += rows) {
      const count = Math.min(rows, n - start)
      const xs = x.subarray(start * dim, (start + count) * dim)
      a.f32(xo, count * dim).set(xs)
      a.x.distances(KIND.ip, xo, count, po, t, dim, xpo)
      const xp = a.f32(xpo, count * t)
      const xpn = a.f32(xpno, count)
      const xr = a.f32(xro, count)
      const xn = a.f32(xno, count)
      centre(xs, count, dim, mean, pm, { values: xp, i: t, a: 1 }, { values: xp, i: t, a: 1 }, xpn, xr)
      for (let r = 0; r < count; r++) {
        let sq = 0
        for (let j = 0; j < dim; j++) sq += (xs[r * dim + j] as number) ** 2
        xn[r] = sq
      }
      a.x.centroidBounds(xpo, count, t, pto, pno, kpad, xpno, xro, cro, so, fo)
      const scored = a.x.boundedNearest(xo, count, dim, co, no, k, kpad, so, fo, xno, BOUND.margin, cmax, lo, io)
      out.set(a.u32(io, count), start)
      // the bound pays while the centroids scored in full cost less than the projections save
      scoredAll += scored
      const rowsDone = start + count
      boundStats.rows += count
      boundStats.scored += scored
      if (rowsDone >= BOUND.judgeAfter && scoredAll * dim > BOUND.worthIt * rowsDone * k * (dim - t)) return rowsDone
    }
    return n
  }

  pqEncode(x: Float32Array, n: number, layout: PqLayout, codebooks: Float32Array, out: Uint8Array): void {
    const a = this.scratch
    const codeNorms = this.codebookNorms(layout, codebooks)
    const { dim, m, ksub } = layout
    const kpad = pad16(ksub)
    const rows = Math.min(n, rowsPerChunk(dim * 4))
    const [cbt, norms, starts, xo, co, io] = a.layout('pqEncode', [
      kpad * dim * 4,
      m * kpad * 4,
      (m + 1) * 4,
      rows * dim * 4,
      rows * m,
      rows * 4,
    ])
    writeCodebooks(a, { cbt, norms, starts }, layout, codebooks, codeNorms)
    for (let start = 0; start < n; start += rows) {
      const count = Math.min(rows, n - start)
      a.f32(xo, count * dim).set(x.subarray(start * dim, (start + count) * dim))
      a.x.pqEncode(xo, count, dim, m, starts, cbt, norms, kpad, co, io)
      out.set(a.u8(co, count * m), start * m)
    }
  }

  /** An instance holding the rows, copied into its memory once rather than once a query. */
  rowScanner(rows: Float32Array, n: number, dim: number): RowScanner {
    // beyond RESIDENT_ROW_BYTES (a user's --nlist far above the default), copied chunk by chunk
    if (n * dim * 4 > RESIDENT_ROW_BYTES) {
      let gathered = new Float32Array(0)
      return {
        l2: (q, out) => this.distances('l2', q, 1, rows, n, dim, out),
        at: (kind, q, which, out) => {
          if (gathered.length < which.length * dim) gathered = new Float32Array(which.length * dim)
          for (let i = 0; i < which.length; i++) {
            const r = which[i] as number
            gathered.set(rows.subarray(r * dim, (r + 1) * dim), i * dim)
          }
          this.distances(kind, q, 1, gathered, which.length, dim, out)
        },
      }
    }
    const a = new Arena(this.module)
    const [xo, qo, oo] = a.layout('rowScanner', [n * dim * 4, dim * 4, n * 4], true)
    a.f32(xo, n * dim).set(rows.subarray(0, n * dim))
    return {
      l2(q, out) {
        a.f32(qo, dim).set(q.subarray(0, dim))
        a.x.distances(KIND.l2, qo, 1, xo, n, dim, oo)
        out.set(a.f32(oo, n))
      },
      // each row where it lies: no copy of the rows a call (the cut's 10,000 queries × 32 lists)
      at(kind, q, which, out) {
        a.f32(qo, dim).set(q.subarray(0, dim))
        const rowBytes = dim * 4
        for (let at = 0; at < which.length; at += n) {
          const count = Math.min(n, which.length - at)
          for (let i = 0; i < count; i++) a.x.distances(KIND[kind], qo, 1, xo + (which[at + i] as number) * rowBytes, 1, dim, oo + i * 4)
          out.set(a.f32(oo, count), at)
        }
      },
    }
  }

  /** An instance holding the byte rows and their running minimum (the view stays valid: it never grows). */
  seeder(rows: Uint8Array, n: number, stride: number): Seeder {
    const a = new Arena(this.module)
    const [ro, mo] = a.layout('seedScan', [n * stride, n * 4], true)
    a.u8(ro, n * stride).set(rows.subarray(0, n * stride))
    const minDist = a.u32(mo, n).fill(0xffffffff)
    return { minDist, add: (pick) => a.x.seedScan(ro, n, stride, pick, mo) }
  }

  /** A scanner owns an instance: its codebooks and table stay in that memory between calls. */
  adcScanner(layout: PqLayout, codebooks: Float32Array): AdcScanner {
    const a = new Arena(this.module)
    const { dim, m, ksub } = layout
    const kpad = pad16(ksub)
    const [cbt, norms, starts, table, q] = a.layout('adcTable', [kpad * dim * 4, m * kpad * 4, (m + 1) * 4, m * kpad * 4, dim * 4], true)
    writeCodebooks(a, { cbt, norms, starts }, layout, codebooks, this.codebookNorms(layout, codebooks))
    return {
      table(query, kind) {
        a.f32(q, dim).set(query.subarray(0, dim))
        a.x.adcTable(KIND[kind], q, m, starts, cbt, kpad, table)
      },
      scan(codes, count, bias, out) {
        const rows = Math.min(count, rowsPerChunk(m))
        const [co, oo] = a.layout('pqScan', [rows * m, rows * 4])
        for (let start = 0; start < count; start += rows) {
          const n = Math.min(rows, count - start)
          a.u8(co, n * m).set(codes.subarray(start * m, (start + n) * m))
          a.x.pqScan(table, kpad, co, n, m, bias, oo)
          out.set(a.f32(oo, n), start)
        }
      },
    }
  }
}

let compiled: Promise<WasmModule> | undefined

function decodeBase64(text: string): Uint8Array<ArrayBuffer> {
  const binary = atob(text)
  const bytes = new Uint8Array(binary.length)
  for (let i = 0; i < binary.length; i++) bytes[i] = binary.charCodeAt(i)
  return bytes
}

/** The wasm backend; rejects when this runtime lacks WebAssembly or its SIMD extension. */
export async function loadWasmKernels(): Promise<Kernels> {
  if (!wasmApi) throw new Error('this runtime has no WebAssembly')
  compiled ??= wasmApi.compile(decodeBase64(kernelsWasmBase64)).catch((e: unknown) => {
    compiled = undefined
    throw new Error(`WebAssembly SIMD is not supported here (${e instanceof Error ? e.message : String(e)})`)
  })
  return new WasmKernels(await compiled)
}
