import { pqScanSetup } from '../src/bench/gpuBench.js'
import { type GpuContext, sharedGpuContext } from '../src/compute/gpu/context.js'
import { GpuExact } from '../src/compute/gpu/exact.js'
import { nodeGpu } from '../src/compute/gpu/node.js'

/**
 * GPU versions of compute/js.ts kernels behind plain arrays (upload, run, read back), on a
 * GpuContext: what the kernel tests and `bench:gpu` compare with the TypeScript reference (test and
 * benchmark code: not in the package).
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

  /**
   * ADC scan of n code rows (m bytes each, row-major) against one lookup table (js.ts pqScan),
   * through the search's scan shader: the rows as one resident list, one segment.
   */
  async pqScan(table: Float32Array, ksub: number, codes: Uint8Array, n: number, m: number, bias: number): Promise<Float32Array> {
    const ctx = this.ctx
    const scan = pqScanSetup(ctx, table, ksub, codes, n, m, bias)
    try {
      const encoder = ctx.device.createCommandEncoder({ label: 'PqScan.encoder' })
      scan.record(encoder)
      const [raw] = await ctx.submitAndRead(encoder, [[scan.out, 0, n * 4]], 'PQ scan')
      return new Float32Array(raw as ArrayBuffer)
    } finally {
      scan.release()
    }
  }
}

/**
 * A WebGPU device in Node through the `webgpu` package (Dawn, on Vulkan: needs libvulkan1).
 * Without a GPU, Chromium's SwiftShader Vulkan driver gives a slow but correct adapter (Mesa's
 * lavapipe in Debian is too old for Dawn). Resolves with the reason when there is no adapter.
 */
export async function nodeGpuKernels(): Promise<{ kernels?: GpuKernels; reason?: string; adapter?: string }> {
  try {
    const ctx = await sharedGpuContext(await nodeGpu())
    return { kernels: new GpuKernels(ctx), adapter: ctx.adapter }
  } catch (e) {
    return { reason: `${(e as Error).message} (in Node: libvulkan1 and a Vulkan driver — a GPU, or Chromium's SwiftShader)` }
  }
}
