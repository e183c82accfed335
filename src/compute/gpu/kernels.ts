import { ComputePass } from './pass.js'

/** Invocations sharing one vector in exactL2.wgsl (its LANES). */
export const L2_LANES = 32

/**
 * GPU versions of compute/js.ts kernels behind plain arrays: upload, run, read back. Shader
 * sources are passed in (the browser build imports them with ?raw; Node reads shaders/*.wgsl).
 */
export class GpuKernels {
  readonly backend = 'gpu' as const
  private readonly l2: ComputePass
  private readonly scan: ComputePass

  constructor(
    readonly device: GPUDevice,
    shaders: { exactL2: string; pqScan: string },
  ) {
    this.l2 = new ComputePass(device, shaders.exactL2, 'ExactL2')
    this.scan = new ComputePass(device, shaders.pqScan, 'PqScan')
  }

  /** Squared L2 of each query against each vector, query-major [q × n] (js.ts l2sq). */
  async l2Distances(queries: Float32Array, vectors: Float32Array, dim: number): Promise<Float32Array> {
    const q = queries.length / dim
    const n = vectors.length / dim
    const buffers = [
      this.upload(queries, 'ExactL2.queries'),
      this.upload(vectors, 'ExactL2.vectors'),
      this.output(q * n * 4, 'ExactL2.out'),
    ]
    const encoder = this.device.createCommandEncoder({ label: 'ExactL2.encoder' })
    this.l2.run(encoder, n * L2_LANES, (perGridRow) => new Uint8Array(new Uint32Array([n, q, dim, perGridRow, 0]).buffer), buffers)
    return new Float32Array(await this.finish(encoder, buffers, q * n * 4))
  }

  /** ADC scan of n code rows (m bytes each, row-major) against one lookup table (js.ts pqScan). */
  async pqScan(table: Float32Array, ksub: number, codes: Uint8Array, n: number, m: number, bias: number): Promise<Float32Array> {
    const buffers = [
      this.upload(table, 'PqScan.table'),
      this.upload(codes.subarray(0, n * m), 'PqScan.codes'),
      this.output(n * 4, 'PqScan.out'),
    ]
    const encoder = this.device.createCommandEncoder({ label: 'PqScan.encoder' })
    this.scan.run(encoder, n, (perGridRow) => pqUniforms(n, m, ksub, bias, perGridRow), buffers)
    return new Float32Array(await this.finish(encoder, buffers, n * 4))
  }

  /** Storage buffer holding `data`, zero-padded to a multiple of 4 bytes. */
  upload(data: Float32Array | Uint8Array, label: string): GPUBuffer {
    const size = Math.max(16, Math.ceil(data.byteLength / 4) * 4)
    const buffer = this.device.createBuffer({
      size,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
      label,
      mappedAtCreation: true,
    })
    new Uint8Array(buffer.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength))
    buffer.unmap()
    return buffer
  }

  output(bytes: number, label: string): GPUBuffer {
    return this.device.createBuffer({
      size: Math.max(16, Math.ceil(bytes / 4) * 4),
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC,
      label,
    })
  }

  /** Submits, copies the last buffer's first `bytes` back, frees every buffer. */
  private async finish(encoder: GPUCommandEncoder, buffers: GPUBuffer[], bytes: number): Promise<ArrayBuffer> {
    const out = buffers.at(-1) as GPUBuffer
    const staging = this.device.createBuffer({
      size: out.size,
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: 'readback',
    })
    encoder.copyBufferToBuffer(out, 0, staging, 0, out.size)
    this.device.queue.submit([encoder.finish()])
    await staging.mapAsync(GPUMapMode.READ)
    const copy = staging.getMappedRange().slice(0, bytes)
    staging.unmap()
    for (const b of [...buffers, staging]) b.destroy()
    return copy
  }
}

function pqUniforms(n: number, m: number, ksub: number, bias: number, perGridRow: number): Uint8Array {
  const raw = new ArrayBuffer(32)
  const view = new DataView(raw)
  view.setUint32(0, n, true)
  view.setUint32(4, m, true)
  view.setUint32(8, ksub, true)
  view.setFloat32(12, bias, true)
  view.setUint32(16, perGridRow, true)
  return new Uint8Array(raw)
}
