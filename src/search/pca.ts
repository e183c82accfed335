import { principalAxes } from '../compute/pca.js'

/** Two principal axes of a point set, for a 2-D map of an index's centroids. */
export interface Pca2 {
  mean: Float32Array
  /** 2 × dim, unit length, orthogonal. */
  axes: Float32Array
}

/** Top two principal components of n rows (compute/pca.ts principalAxes); 60 iterations are plenty for a picture. */
export function pca2(x: Float32Array, n: number, dim: number, iterations = 60): Pca2 {
  const { mean, axes } = principalAxes(x, n, dim, 2, iterations)
  const both = new Float32Array(2 * dim) // one axis only when dim is 1: the second stays zero
  both.set(axes)
  return { mean: Float32Array.from(mean), axes: both }
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
