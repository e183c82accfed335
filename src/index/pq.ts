import { assignNearest } from '../compute/js.js'
import { checkpoint } from '../errors.js'
import { kmeans } from './kmeans.js'

/**
 * Product quantizer layout. The vector is cut into m contiguous subvectors; subvector j covers
 * dims [starts[j], starts[j+1]) with starts[j] = floor(j·dim/m), so m need not divide dim
 * (lengths differ by at most one).
 *
 * Codebooks: f32[ksub × dim] — subvector j's ksub centroids are stored contiguously at float
 * offset ksub·starts[j], each centroid `len_j` floats. Codes: one byte per subvector.
 */
export interface PqLayout {
  dim: number
  m: number
  ksub: number
  starts: Uint32Array
}

export function pqLayout(dim: number, m: number, nbits: number): PqLayout {
  const starts = new Uint32Array(m + 1)
  for (let j = 0; j <= m; j++) starts[j] = Math.floor((j * dim) / m)
  return { dim, m, ksub: 1 << nbits, starts }
}

export interface TrainPqOptions {
  iterations: number
  seed: number
  signal?: AbortSignal
  onSubspace?: (done: number, total: number) => void
}

export async function trainPq(x: Float32Array, n: number, layout: PqLayout, options: TrainPqOptions): Promise<Float32Array> {
  const { dim, m, ksub, starts } = layout
  const codebooks = new Float32Array(ksub * dim)
  for (let j = 0; j < m; j++) {
    await checkpoint(options.signal)
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    const sub = new Float32Array(n * len)
    for (let i = 0; i < n; i++) sub.set(x.subarray(i * dim + s, i * dim + s + len), i * len)
    const centroids = await kmeans(sub, n, len, {
      k: ksub,
      iterations: options.iterations,
      seed: options.seed + 7919 * (j + 1),
      signal: options.signal,
    })
    codebooks.set(centroids, ksub * s)
    options.onSubspace?.(j + 1, m)
  }
  return codebooks
}

/**
 * Code of each of n residual rows into out (n × m bytes). Ties go to the lower code.
 * Works subspace by subspace so each is one nearest-centroid pass of the shared kernel.
 */
export function pqEncode(x: Float32Array, n: number, layout: PqLayout, codebooks: Float32Array, out: Uint8Array): void {
  const { dim, m, ksub, starts } = layout
  const index = new Uint32Array(n)
  const dist = new Float32Array(n)
  for (let j = 0; j < m; j++) {
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    const sub = new Float32Array(n * len)
    for (let i = 0; i < n; i++) sub.set(x.subarray(i * dim + s, i * dim + s + len), i * len)
    const book = codebooks.subarray(ksub * s, ksub * (s + len))
    assignNearest(sub, n, len, book, ksub, index, dist)
    for (let i = 0; i < n; i++) out[i * m + j] = index[i] as number
  }
}

/**
 * ADC lookup table, f32[m × ksub]: entry (j, c) is the distance term of subvector j taking
 * code c. `l2`: ‖r_j − cb_j[c]‖² for the query residual r; `ip`: −⟨q_j, cb_j[c]⟩.
 */
export function adcTable(q: Float32Array, layout: PqLayout, codebooks: Float32Array, kind: 'l2' | 'ip', out: Float32Array) {
  const { m, ksub, starts } = layout
  for (let j = 0; j < m; j++) {
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    const cb = ksub * s
    for (let c = 0; c < ksub; c++) {
      const co = cb + c * len
      let d = 0
      if (kind === 'l2') {
        for (let t = 0; t < len; t++) {
          const diff = (q[s + t] as number) - (codebooks[co + t] as number)
          d += diff * diff
        }
      } else {
        for (let t = 0; t < len; t++) d -= (q[s + t] as number) * (codebooks[co + t] as number)
      }
      out[j * ksub + c] = d
    }
  }
}

/** Reconstruction of one code row (for tests and diagnostics). */
export function pqDecode(codes: Uint8Array, at: number, layout: PqLayout, codebooks: Float32Array, out: Float32Array) {
  const { m, ksub, starts } = layout
  for (let j = 0; j < m; j++) {
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    const co = ksub * s + (codes[at + j] as number) * len
    for (let t = 0; t < len; t++) out[s + t] = codebooks[co + t] as number
  }
}
