import { checkpoint, throwIfAborted } from '../errors.js'
import type { IvfPqModel } from '../index/model.js'
import { type AdcScanner, jsKernels, type Kernels } from './backend.js'
import { dot } from './js.js'
import { TopK } from './topk.js'

/**
 * Scans one inverted list with asymmetric distances: a lookup table per (query, list) for the
 * residual q − c_list (l2), or ⟨q, c_list⟩ + Σ table (ip), summed over each entry's codes.
 */
export class ListScanner {
  private readonly adc: AdcScanner
  private readonly residual: Float32Array
  private scores = new Float32Array(0)

  constructor(
    private readonly model: IvfPqModel,
    kernels: Kernels = jsKernels,
  ) {
    this.adc = kernels.adcScanner(model.layout, model.codebooks)
    this.residual = new Float32Array(model.params.dim)
  }

  /** `allowed`: when given, only rows marked 1 there become candidates (filters, deleted rows). */
  scan(q: Float32Array, kind: 'l2' | 'ip', list: number, codes: Uint8Array, rowIds: Uint32Array, into: TopK, allowed?: Uint8Array): void {
    const { dim } = this.model.params
    const c = this.model.centroids
    let bias = 0
    if (kind === 'l2') {
      for (let j = 0; j < dim; j++) this.residual[j] = (q[j] as number) - (c[list * dim + j] as number)
      this.adc.table(this.residual, 'l2')
    } else {
      bias = -dot(q, 0, c, list * dim, dim)
      this.adc.table(q, 'ip')
    }
    const n = rowIds.length
    if (this.scores.length < n) this.scores = new Float32Array(n)
    this.adc.scan(codes, n, bias, this.scores)
    for (let i = 0; i < n; i++) {
      const s = this.scores[i] as number
      if (s > into.bound) continue
      const row = rowIds[i] as number
      if (!allowed || allowed[row]) into.push(s, row)
    }
  }
}

/**
 * Each query's `keep` best rows by PQ distance over its probed lists (ADC on the CPU kernels),
 * ascending; `allowed`: only rows marked 1 there.
 */
export async function scanLists(
  scanner: ListScanner,
  prepared: Float32Array[],
  probes: Uint32Array[],
  listOf: (l: number) => { codes: Uint8Array; rowIds: Uint32Array } | undefined,
  kind: 'l2' | 'ip',
  keep: number,
  allowed: Uint8Array | undefined,
  signal: AbortSignal | undefined,
): Promise<Array<Array<{ row: number; distance: number }>>> {
  const out: Array<Array<{ row: number; distance: number }>> = []
  for (const [qi, q] of prepared.entries()) {
    if (qi % 128 === 127) await checkpoint(signal)
    else throwIfAborted(signal)
    const top = new TopK(keep)
    for (const l of probes[qi] as Uint32Array) {
      const list = listOf(l)
      if (list) scanner.scan(q, kind, l, list.codes, list.rowIds, top, allowed)
    }
    out.push(top.sorted())
  }
  return out
}
