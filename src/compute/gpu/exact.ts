import { checkpoint } from '../../errors.js'
import type { GpuContext } from './context.js'

/**
 * Exact distances of many queries against many rows on the GPU (exactL2.wgsl, squared L2 or
 * inner product) — what Kernels.distances computes on the CPU, for flat search. Rows go in
 * chunks that fit one buffer binding; the output is query-major (out[qi · n + i]).
 */
export class GpuExact {
  constructor(private readonly ctx: GpuContext) {}

  async distances(kind: 'l2' | 'ip', queries: Float32Array, nq: number, x: Float32Array, n: number, dim: number, signal?: AbortSignal) {
    const ctx = this.ctx
    const out = new Float32Array(nq * n)
    const rowsPer = Math.max(1, Math.min(Math.floor(ctx.maxBinding / (4 * dim)), Math.floor(ctx.maxBinding / (4 * Math.max(1, nq)))))
    const qBuf = ctx.upload(queries, 'Exact.queries')
    try {
      for (let start = 0; start < n; start += rowsPer) {
        await checkpoint(signal)
        const count = Math.min(rowsPer, n - start)
        const xBuf = ctx.upload(x.subarray(start * dim, (start + count) * dim), 'Exact.rows')
        const dBuf = ctx.acquire(nq * count * 4, 'Exact.out')
        try {
          const encoder = ctx.device.createCommandEncoder({ label: 'Exact' })
          ctx
            .pass('exactL2')
            .run(
              encoder,
              count * this.ctx.tunables.LANES,
              (pg) => new Uint8Array(Uint32Array.from([count, nq, dim, pg, kind === 'ip' ? 1 : 0]).buffer),
              [qBuf, xBuf, dBuf],
            )
          const [raw] = await ctx.submitAndRead(encoder, [[dBuf, 0, nq * count * 4]], 'exact distances')
          const d = new Float32Array(raw as ArrayBuffer)
          for (let qi = 0; qi < nq; qi++) out.set(d.subarray(qi * count, (qi + 1) * count), qi * n + start)
        } finally {
          ctx.release(xBuf, dBuf)
        }
      }
    } finally {
      ctx.release(qBuf)
    }
    return out
  }
}
