import { mulberry32 } from './random.js'

/** Principal axes of a point set: its mean and `count` orthonormal directions of most variance. */
export interface PrincipalAxes {
  mean: Float64Array
  /** count × dim, row-major: unit length, mutually orthogonal, the most variance first. */
  axes: Float64Array
  count: number
}

/**
 * The top `count` principal axes of n rows (row-major, dim each) by block power iteration on the
 * centred rows' Xᵀ·X: the block multiplied through and re-orthonormalised (modified Gram–Schmidt)
 * `iterations` times, then its axes sorted by the variance along them. Deterministic (seeded start);
 * float64 throughout, so the axes are orthonormal to ~1e-15 whatever their quality. Work: about
 * 2 · n · dim · count per iteration.
 */
export function principalAxes(x: Float32Array, n: number, dim: number, count: number, iterations = 12): PrincipalAxes {
  const t = Math.min(count, dim)
  const mean = new Float64Array(dim)
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) + (x[i * dim + j] as number)
  for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) / Math.max(1, n)
  const rand = mulberry32(7)
  let axes = Float64Array.from({ length: t * dim }, () => rand() - 0.5)
  orthonormalise(axes, t, dim)
  const row = new Float64Array(dim)
  const proj = new Float64Array(t)
  for (let it = 0; it < iterations; it++) {
    const next = new Float64Array(t * dim)
    for (let i = 0; i < n; i++) {
      for (let j = 0; j < dim; j++) row[j] = (x[i * dim + j] as number) - (mean[j] as number)
      for (let a = 0; a < t; a++) {
        let s = 0
        for (let j = 0; j < dim; j++) s += (row[j] as number) * (axes[a * dim + j] as number)
        proj[a] = s
      }
      for (let a = 0; a < t; a++) {
        const p = proj[a] as number
        for (let j = 0; j < dim; j++) next[a * dim + j] = (next[a * dim + j] as number) + p * (row[j] as number)
      }
    }
    orthonormalise(next, t, dim)
    axes = next
  }
  // most variance first: the variance along each axis, measured
  const variance = new Float64Array(t)
  for (let i = 0; i < n; i++)
    for (let a = 0; a < t; a++) {
      let s = 0
      for (let j = 0; j < dim; j++) s += ((x[i * dim + j] as number) - (mean[j] as number)) * (axes[a * dim + j] as number)
      variance[a] = (variance[a] as number) + s * s
    }
  const order = Array.from({ length: t }, (_, a) => a).sort((a, b) => (variance[b] as number) - (variance[a] as number) || a - b)
  const sorted = new Float64Array(t * dim)
  for (const [to, from] of order.entries()) sorted.set(axes.subarray(from * dim, (from + 1) * dim), to * dim)
  return { mean, axes: sorted, count: t }
}

/**
 * Rows of `v` (count × dim) made orthonormal in place, in order (modified Gram–Schmidt, twice for
 * accuracy); a row that vanishes becomes the first unit vector orthogonal to those before it.
 */
function orthonormalise(v: Float64Array, count: number, dim: number): void {
  for (let a = 0; a < count; a++) {
    const at = a * dim
    for (let pass = 0; pass < 2; pass++)
      for (let b = 0; b < a; b++) {
        let d = 0
        for (let j = 0; j < dim; j++) d += (v[at + j] as number) * (v[b * dim + j] as number)
        for (let j = 0; j < dim; j++) v[at + j] = (v[at + j] as number) - d * (v[b * dim + j] as number)
      }
    let norm = 0
    for (let j = 0; j < dim; j++) norm += (v[at + j] as number) ** 2
    norm = Math.sqrt(norm)
    if (norm > 1e-12) {
      for (let j = 0; j < dim; j++) v[at + j] = (v[at + j] as number) / norm
      continue
    }
    // degenerate (fewer independent directions than axes): the unit vector least spanned so far
    let best = -1
    let bestLeft = -1
    for (let e = 0; e < dim; e++) {
      let spanned = 0
      for (let b = 0; b < a; b++) spanned += (v[b * dim + e] as number) ** 2
      if (1 - spanned > bestLeft) {
        bestLeft = 1 - spanned
        best = e
      }
    }
    v.fill(0, at, at + dim)
    v[at + best] = 1
    for (let b = 0; b < a; b++) {
      const d = v[b * dim + best] as number
      for (let j = 0; j < dim; j++) v[at + j] = (v[at + j] as number) - d * (v[b * dim + j] as number)
    }
    const left = Math.sqrt(Math.max(bestLeft, 1e-30))
    for (let j = 0; j < dim; j++) v[at + j] = (v[at + j] as number) / left
  }
}
