/**
 * Plain TypeScript kernels: the readable reference that WASM (assembly/kernels.ts) and WebGPU
 * are tested against. All matrices are row-major float32 (`n × dim`, row i at i·dim). Ties go
 * to the lower index.
 *
 * Arithmetic is float32 (`Math.fround` after every operation — exact, since a double holds
 * any f32 sum or product before the one rounding) in a fixed order, so the WASM kernels give
 * bit-identical results and every backend returns the same rows:
 * - dot / l2sq: 16 partial sums, term t into sum t mod 16, combined as in {@link combine16};
 * - assignNearest, adcTable, pqScan: one sum per output, in index order (SIMD runs across outputs).
 */

import type { PqLayout } from '../index/pq.js'

const f = Math.fround

/** (s_l + s_l+4) + (s_l+8 + s_l+12) for l = 0…3, then (L0 + L1) + (L2 + L3): a 4-lane vector reduction. */
function combine16(s: Float32Array): number {
  const l0 = f(f((s[0] as number) + (s[4] as number)) + f((s[8] as number) + (s[12] as number)))
  const l1 = f(f((s[1] as number) + (s[5] as number)) + f((s[9] as number) + (s[13] as number)))
  const l2 = f(f((s[2] as number) + (s[6] as number)) + f((s[10] as number) + (s[14] as number)))
  const l3 = f(f((s[3] as number) + (s[7] as number)) + f((s[11] as number) + (s[15] as number)))
  return f(f(l0 + l1) + f(l2 + l3))
}

/**
 * The 16 partial sums between the unrolled loop and the tail, with no allocation per call: named
 * parameters, not a rest array (`...v` built an array a call — the main thread of a 300 k-row
 * build spent 7.5 s here).
 */
const lanes = new Float32Array(16)
function spill(
  s0: number,
  s1: number,
  s2: number,
  s3: number,
  s4: number,
  s5: number,
  s6: number,
  s7: number,
  s8: number,
  s9: number,
  s10: number,
  s11: number,
  s12: number,
  s13: number,
  s14: number,
  s15: number,
): Float32Array {
  lanes[0] = s0
  lanes[1] = s1
  lanes[2] = s2
  lanes[3] = s3
  lanes[4] = s4
  lanes[5] = s5
  lanes[6] = s6
  lanes[7] = s7
  lanes[8] = s8
  lanes[9] = s9
  lanes[10] = s10
  lanes[11] = s11
  lanes[12] = s12
  lanes[13] = s13
  lanes[14] = s14
  lanes[15] = s15
  return lanes
}

export function dot(a: Float32Array, ai: number, b: Float32Array, bi: number, n: number): number {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0,
    s4 = 0,
    s5 = 0,
    s6 = 0,
    s7 = 0,
    s8 = 0,
    s9 = 0,
    s10 = 0,
    s11 = 0,
    s12 = 0,
    s13 = 0,
    s14 = 0,
    s15 = 0
  let j = 0
  for (; j + 16 <= n; j += 16) {
    const p = ai + j
    const q = bi + j
    s0 = f(s0 + f((a[p] as number) * (b[q] as number)))
    s1 = f(s1 + f((a[p + 1] as number) * (b[q + 1] as number)))
    s2 = f(s2 + f((a[p + 2] as number) * (b[q + 2] as number)))
    s3 = f(s3 + f((a[p + 3] as number) * (b[q + 3] as number)))
    s4 = f(s4 + f((a[p + 4] as number) * (b[q + 4] as number)))
    s5 = f(s5 + f((a[p + 5] as number) * (b[q + 5] as number)))
    s6 = f(s6 + f((a[p + 6] as number) * (b[q + 6] as number)))
    s7 = f(s7 + f((a[p + 7] as number) * (b[q + 7] as number)))
    s8 = f(s8 + f((a[p + 8] as number) * (b[q + 8] as number)))
    s9 = f(s9 + f((a[p + 9] as number) * (b[q + 9] as number)))
    s10 = f(s10 + f((a[p + 10] as number) * (b[q + 10] as number)))
    s11 = f(s11 + f((a[p + 11] as number) * (b[q + 11] as number)))
    s12 = f(s12 + f((a[p + 12] as number) * (b[q + 12] as number)))
    s13 = f(s13 + f((a[p + 13] as number) * (b[q + 13] as number)))
    s14 = f(s14 + f((a[p + 14] as number) * (b[q + 14] as number)))
    s15 = f(s15 + f((a[p + 15] as number) * (b[q + 15] as number)))
  }
  const s = spill(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15)
  for (; j < n; j++) s[j & 15] = f((s[j & 15] as number) + f((a[ai + j] as number) * (b[bi + j] as number)))
  return combine16(s)
}

export function l2sq(a: Float32Array, ai: number, b: Float32Array, bi: number, n: number): number {
  let s0 = 0,
    s1 = 0,
    s2 = 0,
    s3 = 0,
    s4 = 0,
    s5 = 0,
    s6 = 0,
    s7 = 0,
    s8 = 0,
    s9 = 0,
    s10 = 0,
    s11 = 0,
    s12 = 0,
    s13 = 0,
    s14 = 0,
    s15 = 0
  let j = 0
  for (; j + 16 <= n; j += 16) {
    const p = ai + j
    const q = bi + j
    const d0 = f((a[p] as number) - (b[q] as number))
    const d1 = f((a[p + 1] as number) - (b[q + 1] as number))
    const d2 = f((a[p + 2] as number) - (b[q + 2] as number))
    const d3 = f((a[p + 3] as number) - (b[q + 3] as number))
    const d4 = f((a[p + 4] as number) - (b[q + 4] as number))
    const d5 = f((a[p + 5] as number) - (b[q + 5] as number))
    const d6 = f((a[p + 6] as number) - (b[q + 6] as number))
    const d7 = f((a[p + 7] as number) - (b[q + 7] as number))
    const d8 = f((a[p + 8] as number) - (b[q + 8] as number))
    const d9 = f((a[p + 9] as number) - (b[q + 9] as number))
    const d10 = f((a[p + 10] as number) - (b[q + 10] as number))
    const d11 = f((a[p + 11] as number) - (b[q + 11] as number))
    const d12 = f((a[p + 12] as number) - (b[q + 12] as number))
    const d13 = f((a[p + 13] as number) - (b[q + 13] as number))
    const d14 = f((a[p + 14] as number) - (b[q + 14] as number))
    const d15 = f((a[p + 15] as number) - (b[q + 15] as number))
    s0 = f(s0 + f(d0 * d0))
    s1 = f(s1 + f(d1 * d1))
    s2 = f(s2 + f(d2 * d2))
    s3 = f(s3 + f(d3 * d3))
    s4 = f(s4 + f(d4 * d4))
    s5 = f(s5 + f(d5 * d5))
    s6 = f(s6 + f(d6 * d6))
    s7 = f(s7 + f(d7 * d7))
    s8 = f(s8 + f(d8 * d8))
    s9 = f(s9 + f(d9 * d9))
    s10 = f(s10 + f(d10 * d10))
    s11 = f(s11 + f(d11 * d11))
    s12 = f(s12 + f(d12 * d12))
    s13 = f(s13 + f(d13 * d13))
    s14 = f(s14 + f(d14 * d14))
    s15 = f(s15 + f(d15 * d15))
  }
  const s = spill(s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11, s12, s13, s14, s15)
  for (; j < n; j++) {
    const d = f((a[ai + j] as number) - (b[bi + j] as number))
    s[j & 15] = f((s[j & 15] as number) + f(d * d))
  }
  return combine16(s)
}

/** Squared norm of each row (16-lane dot of the row with itself). */
export function rowNormsSq(x: Float32Array, n: number, dim: number): Float32Array {
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = dot(x, i * dim, x, i * dim, dim)
  return out
}

/**
 * One k-means++ seeding step over n rows of one byte a value (`stride` bytes each, zero padded):
 * minDist[i] = min(minDist[i], Σ_j (row pick[j] − row i[j])²), an exact integer; returns
 * Σ minDist (exact below 2^53: the same bits whatever the order).
 */
export function seedScan(rows: Uint8Array, n: number, stride: number, pick: number, minDist: Uint32Array): number {
  const p = pick * stride
  let total = 0
  for (let i = 0; i < n; i++) {
    const r = i * stride
    let s = 0
    for (let j = 0; j < stride; j++) {
      const d = (rows[p + j] as number) - (rows[r + j] as number)
      s += d * d
    }
    const v = Math.min(s, minDist[i] as number)
    minDist[i] = v
    total += v
  }
  return total
}

/** out[qi·n + i] = l2sq (`l2`) or dot (`ip`) of query qi and row i. */
export function distances(
  kind: 'l2' | 'ip',
  queries: Float32Array,
  nq: number,
  x: Float32Array,
  n: number,
  dim: number,
  out: Float32Array,
) {
  for (let qi = 0; qi < nq; qi++) {
    for (let i = 0; i < n; i++)
      out[qi * n + i] = kind === 'l2' ? l2sq(queries, qi * dim, x, i * dim, dim) : dot(queries, qi * dim, x, i * dim, dim)
  }
}

/**
 * For each of n rows of x, the nearest of k centroids by squared L2: the lowest
 * ‖c‖² − 2·(x·c), the dot summed in index order (so SIMD can run across centroids).
 */
export function assignNearest(
  x: Float32Array,
  n: number,
  dim: number,
  centroids: Float32Array,
  k: number,
  outIndex: Uint32Array,
  centroidNormsSq: Float32Array = rowNormsSq(centroids, k, dim),
): void {
  const c = centroids
  for (let i = 0; i < n; i++) {
    const xi = i * dim
    let best = 0
    let bestScore = Number.POSITIVE_INFINITY
    let q = 0
    // Four centroids per pass share each load of x.
    for (; q + 3 < k; q += 4) {
      const a = q * dim
      const b = a + dim
      const e = b + dim
      const g = e + dim
      let s0 = 0
      let s1 = 0
      let s2 = 0
      let s3 = 0
      for (let j = 0; j < dim; j++) {
        const v = x[xi + j] as number
        s0 = f(s0 + f(v * (c[a + j] as number)))
        s1 = f(s1 + f(v * (c[b + j] as number)))
        s2 = f(s2 + f(v * (c[e + j] as number)))
        s3 = f(s3 + f(v * (c[g + j] as number)))
      }
      const d0 = f((centroidNormsSq[q] as number) - 2 * s0)
      const d1 = f((centroidNormsSq[q + 1] as number) - 2 * s1)
      const d2 = f((centroidNormsSq[q + 2] as number) - 2 * s2)
      const d3 = f((centroidNormsSq[q + 3] as number) - 2 * s3)
      if (d0 < bestScore) {
        bestScore = d0
        best = q
      }
      if (d1 < bestScore) {
        bestScore = d1
        best = q + 1
      }
      if (d2 < bestScore) {
        bestScore = d2
        best = q + 2
      }
      if (d3 < bestScore) {
        bestScore = d3
        best = q + 3
      }
    }
    for (; q < k; q++) {
      let s = 0
      for (let j = 0; j < dim; j++) s = f(s + f((x[xi + j] as number) * (c[q * dim + j] as number)))
      const score = f((centroidNormsSq[q] as number) - 2 * s)
      if (score < bestScore) {
        bestScore = score
        best = q
      }
    }
    outIndex[i] = best
  }
}

/**
 * The k-means update: each centroid that has rows becomes their mean, summed in f64 in row order;
 * a centroid without rows keeps its value. Fills `counts` (k) with the rows per centroid.
 */
export function updateMeans(
  x: Float32Array,
  n: number,
  dim: number,
  assign: Uint32Array,
  centroids: Float32Array,
  k: number,
  counts: Uint32Array,
  sums: Float64Array = new Float64Array(k * dim),
): void {
  sums.fill(0)
  counts.fill(0)
  for (let i = 0; i < n; i++) {
    const c = assign[i] as number
    counts[c] = (counts[c] as number) + 1
    const so = c * dim
    const xo = i * dim
    for (let j = 0; j < dim; j++) sums[so + j] = (sums[so + j] as number) + (x[xo + j] as number)
  }
  for (let c = 0; c < k; c++) {
    const count = counts[c] as number
    if (count === 0) continue
    for (let j = 0; j < dim; j++) centroids[c * dim + j] = (sums[c * dim + j] as number) / count
  }
}

/**
 * ADC scan: out[i] = bias + Σ_j table[j·ksub + codes[i·m + j]], summed in order j.
 * `codes` is count × m bytes, one row per entry (the layout stored in the index's lists).
 */
export function pqScan(
  table: Float32Array,
  ksub: number,
  codes: Uint8Array,
  count: number,
  m: number,
  bias: number,
  out: Float32Array,
): void {
  const b = f(bias)
  for (let i = 0; i < count; i++) {
    const base = i * m
    let s = b
    for (let j = 0; j < m; j++) s = f(s + (table[j * ksub + (codes[base + j] as number)] as number))
    out[i] = s
  }
}

/**
 * Code of each of n residual rows into out (n × m bytes). Ties go to the lower code.
 * Works subspace by subspace so each is one nearest-centroid pass of the shared kernel.
 */
export function pqEncode(x: Float32Array, n: number, layout: PqLayout, codebooks: Float32Array, out: Uint8Array): void {
  const { dim, m, ksub, starts } = layout
  const index = new Uint32Array(n)
  for (let j = 0; j < m; j++) {
    const s = starts[j] as number
    const len = (starts[j + 1] as number) - s
    const sub = new Float32Array(n * len)
    for (let i = 0; i < n; i++) sub.set(x.subarray(i * dim + s, i * dim + s + len), i * len)
    const book = codebooks.subarray(ksub * s, ksub * (s + len))
    assignNearest(sub, n, len, book, ksub, index)
    for (let i = 0; i < n; i++) out[i * m + j] = index[i] as number
  }
}

/**
 * ADC lookup table, f32[m × ksub]: entry (j, c) is the distance term of subvector j taking
 * code c. `l2`: ‖r_j − cb_j[c]‖² for the query residual r; `ip`: −⟨q_j, cb_j[c]⟩. Float32,
 * summed in dimension order (the WASM kernel matches it bit for bit).
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
          const diff = Math.fround((q[s + t] as number) - (codebooks[co + t] as number))
          d = Math.fround(d + Math.fround(diff * diff))
        }
      } else {
        for (let t = 0; t < len; t++) d = Math.fround(d - Math.fround((q[s + t] as number) * (codebooks[co + t] as number)))
      }
      out[j * ksub + c] = d
    }
  }
}
