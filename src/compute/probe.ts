import { dot, l2sq } from './js.js'

/** The nprobe lists whose centroids are nearest to q (ties to the lower list), nearest first. */
export function probe(q: Float32Array, centroids: Float32Array, nlist: number, kind: 'l2' | 'ip', nprobe: number): Uint32Array {
  const dim = q.length
  const d = new Float64Array(nlist)
  for (let l = 0; l < nlist; l++) d[l] = kind === 'l2' ? l2sq(q, 0, centroids, l * dim, dim) : -dot(q, 0, centroids, l * dim, dim)
  const order = Uint32Array.from({ length: nlist }, (_, i) => i)
  order.sort((a, b) => (d[a] as number) - (d[b] as number) || a - b)
  return order.slice(0, Math.min(nprobe, nlist))
}
