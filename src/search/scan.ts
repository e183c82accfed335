import { dot, pqScan } from '../compute/js.js'
import type { IvfPqModel } from '../index/model.js'
import { adcTable } from '../index/pq.js'
import type { TopK } from './topk.js'

/**
 * Scans one inverted list with asymmetric distances: a lookup table per (query, list) for the
 * residual q − c_list (l2), or ⟨q, c_list⟩ + Σ table (ip), summed over each entry's codes.
 */
export class ListScanner {
  private readonly table: Float32Array
  private readonly residual: Float32Array
  private scores = new Float32Array(0)

  constructor(private readonly model: IvfPqModel) {
    this.table = new Float32Array(model.layout.m * model.layout.ksub)
    this.residual = new Float32Array(model.params.dim)
  }

  scan(q: Float32Array, kind: 'l2' | 'ip', list: number, codes: Uint8Array, rowIds: Uint32Array, into: TopK): void {
    const { dim, m } = this.model.params
    const c = this.model.centroids
    let bias = 0
    if (kind === 'l2') {
      for (let j = 0; j < dim; j++) this.residual[j] = (q[j] as number) - (c[list * dim + j] as number)
      adcTable(this.residual, this.model.layout, this.model.codebooks, 'l2', this.table)
    } else {
      bias = -dot(q, 0, c, list * dim, dim)
      adcTable(q, this.model.layout, this.model.codebooks, 'ip', this.table)
    }
    const n = rowIds.length
    if (this.scores.length < n) this.scores = new Float32Array(n)
    pqScan(this.table, this.model.layout.ksub, codes, n, m, bias, this.scores)
    for (let i = 0; i < n; i++) {
      const s = this.scores[i] as number
      if (s <= into.bound) into.push(s, rowIds[i] as number)
    }
  }
}
