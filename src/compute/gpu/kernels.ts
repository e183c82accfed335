import type { GpuContext } from './context.js'
import { GpuExact } from './exact.js'

/**
 * GPU versions of compute/js.ts kernels behind plain arrays (upload, run, read back), on a
 * GpuContext: what the kernel tests and `bench:gpu` compare with the TypeScript reference.
 */
export class GpuKernels {
  readonly backend = 'gpu' as const
  private readonly exact: GpuExact

  constructor(readonly ctx: GpuContext) {
    this.exact = new GpuExact(ctx)
  }

  /** Squared L2 of each query against each vector, query-major [q × n] (js.ts l2sq). */
  l2Distances(queries: Float32Array, vectors: Float32Array, dim: number): Promise<Float32Array> {
    return this.exact.distances('l2', queries, queries.length / dim, vectors, vectors.length / dim, dim)
  }

  /** ADC scan of n code rows (m bytes each, row-major) against one lookup table (js.ts pqScan). */
  async pqScan(table: Float32Array, ksub: number, codes: Uint8Array, n: number, m: number, bias: number): Promise<Float32Array> {
    const ctx = this.ctx
    const buffers = [
      ctx.upload(table, 'PqScan.table'),
      ctx.upload(codes.subarray(0, n * m), 'PqScan.codes'),
      ctx.acquire(n * 4, 'PqScan.out'),
    ]
    try {
      const encoder = ctx.device.createCommandEncoder({ label: 'PqScan.encoder' })
      ctx.pass('pqScan').run(encoder, n, (perGridRow) => pqUniforms(n, m, ksub, bias, perGridRow), buffers)
      const [raw] = await ctx.submitAndRead(encoder, [[buffers[2] as GPUBuffer, 0, n * 4]], 'PQ scan')
      return new Float32Array(raw as ArrayBuffer)
    } finally {
      ctx.release(...buffers)
    }
  }
}

/** pqScan.wgsl's uniform block. */
export function pqUniforms(n: number, m: number, ksub: number, bias: number, perGridRow: number): Uint8Array {
  const raw = new ArrayBuffer(32)
  const view = new DataView(raw)
  view.setUint32(0, n, true)
  view.setUint32(4, m, true)
  view.setUint32(8, ksub, true)
  view.setFloat32(12, bias, true)
  view.setUint32(16, perGridRow, true)
  return new Uint8Array(raw)
}
