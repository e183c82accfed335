/**
 * One WebGPU compute pass over a shader with the layout all our kernels share: binding 0 a
 * uniform block, bindings 1… storage buffers, one invocation per output element, workgroups of
 * WORKGROUP (= the shader's constant). The pipeline is built once; `run` only records commands.
 */
export const WORKGROUP = 256
const MAX_GROUPS = 65535

/** Folds a 1-D invocation count into an (x ≤ 65535, y) workgroup grid; `perGridRow` goes to the shader. */
export function grid(invocations: number): { x: number; y: number; perGridRow: number } {
  const groups = Math.max(1, Math.ceil(invocations / WORKGROUP))
  const x = Math.min(groups, MAX_GROUPS)
  return { x, y: Math.ceil(groups / x), perGridRow: x * WORKGROUP }
}

export class ComputePass {
  private readonly pipeline: GPUComputePipeline

  constructor(
    private readonly device: GPUDevice,
    code: string,
    readonly name: string,
    /** Values for the shader's `override` constants (its tunables). */
    constants: Record<string, number> = {},
    entryPoint = 'main',
    /** The pipeline, built already (ComputePass.build); else built here, synchronously. */
    pipeline?: GPUComputePipeline,
  ) {
    this.pipeline = pipeline ?? device.createComputePipeline(ComputePass.descriptor(device, code, name, constants, entryPoint))
  }

  /**
   * A pass whose pipeline the driver builds off this thread (createComputePipelineAsync): many
   * built at once compile in parallel where the driver can, where one after another each waits
   * for the last.
   */
  static async build(
    device: GPUDevice,
    code: string,
    name: string,
    constants: Record<string, number> = {},
    entryPoint = 'main',
  ): Promise<ComputePass> {
    const pipeline = await device.createComputePipelineAsync(ComputePass.descriptor(device, code, name, constants, entryPoint))
    return new ComputePass(device, code, name, constants, entryPoint, pipeline)
  }

  private static descriptor(
    device: GPUDevice,
    code: string,
    name: string,
    constants: Record<string, number>,
    entryPoint: string,
  ): GPUComputePipelineDescriptor {
    const module = device.createShaderModule({ code, label: `${name}.shader` })
    return { layout: 'auto', compute: { module, entryPoint, constants }, label: `${name}.pipeline` }
  }

  /** Records the pass; `uniforms(perGridRow)` returns the uniform block's bytes. */
  run(encoder: GPUCommandEncoder, invocations: number, uniforms: (perGridRow: number) => Uint8Array, buffers: GPUBuffer[]): void {
    const { x, y, perGridRow } = grid(invocations)
    const bytes = uniforms(perGridRow)
    const params = this.device.createBuffer({
      size: Math.ceil(bytes.length / 16) * 16,
      usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST,
      label: `${this.name}.params`,
    })
    this.device.queue.writeBuffer(params, 0, bytes)
    const bind = this.device.createBindGroup({
      layout: this.pipeline.getBindGroupLayout(0),
      label: `${this.name}.bindGroup`,
      entries: [params, ...buffers].map((buffer, binding) => ({ binding, resource: { buffer } })),
    })
    const pass = encoder.beginComputePass({ label: `${this.name}.pass` })
    pass.setPipeline(this.pipeline)
    pass.setBindGroup(0, bind)
    pass.dispatchWorkgroups(x, y)
    pass.end()
  }
}
