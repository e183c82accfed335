import { mulberry32 } from '../compute/random.js'

/** Two principal axes of a point set, for a 2-D map of an index's centroids. */
export interface Pca2 {
  mean: Float32Array
  /** 2 × dim, unit length, orthogonal. */
  axes: Float32Array
}

/**
 * Top two principal components of n rows by power iteration on Xᵀ·X (centred), deflating the
 * first before the second. Deterministic; 60 iterations are plenty for a picture.
 */
export function pca2(x: Float32Array, n: number, dim: number, iterations = 60): Pca2 {
  const mean = new Float32Array(dim)
  for (let i = 0; i < n; i++) for (let j = 0; j < dim; j++) mean[j] = (mean[j] as number) + (x[i * dim + j] as number) / n
  const axes = new Float32Array(2 * dim)
  const rand = mulberry32(11)
  const proj = new Float64Array(n)
  for (let a = 0; a < 2; a++) {
    let v = Float64Array.from({ length: dim }, () => rand() - 0.5)
    for (let it = 0; it < iterations; it++) {
      for (let i = 0; i < n; i++) {
        let s = 0
        for (let j = 0; j < dim; j++) s += ((x[i * dim + j] as number) - (mean[j] as number)) * (v[j] as number)
        proj[i] = s
      }
      const next = new Float64Array(dim)
      for (let i = 0; i < n; i++) {
        const p = proj[i] as number
        for (let j = 0; j < dim; j++) next[j] = (next[j] as number) + p * ((x[i * dim + j] as number) - (mean[j] as number))
      }
      if (a === 1) {
        // remove the first axis
        let d = 0
        for (let j = 0; j < dim; j++) d += (next[j] as number) * (axes[j] as number)
        for (let j = 0; j < dim; j++) next[j] = (next[j] as number) - d * (axes[j] as number)
      }
      const norm = Math.hypot(...next)
      if (norm === 0) break
      v = next.map((t) => t / norm)
    }
    axes.set(v, a * dim)
  }
  return { mean, axes }
}

export function pcaPoint(p: Pca2, v: ArrayLike<number>): [number, number] {
  const dim = p.mean.length
  let a = 0
  let b = 0
  for (let j = 0; j < dim; j++) {
    const c = (v[j] as number) - (p.mean[j] as number)
    a += c * (p.axes[j] as number)
    b += c * (p.axes[dim + j] as number)
  }
  return [a, b]
}
