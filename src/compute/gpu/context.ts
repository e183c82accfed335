import { GpuError, untilAborted } from '../../errors.js'
import { ComputePass } from './pass.js'
import { describeGpu, type Tuning, tuneContext } from './selfTest.js'
import { shaders } from './shaders.generated.js'
import { tuningStore } from './tuningStore.js'

export type ShaderName = keyof typeof shaders

/** Bytes from which uploadStaged goes through its staging buffer. */
const STAGED_MIN = 1 << 20

/**
 * The shaders' `override` constants, set when a pipeline is created (the workgroup size stays a
 * constant: Dawn on SwiftShader aborted on override-sized workgroups).
 *   LANES  exactL2: invocations sharing one vector, each reading 16 bytes at a time (a power of
 *          two ≤ 256; 8: a vector's 128-byte lines read by 8 neighbouring invocations)
 *   REFINE_LANES  refinePairs: the same for a (query, candidate) pair, chosen apart (an H200
 *          refining 10,000 queries' 100 candidates: 3,919 GB/s at 32, 2,421 at 16, 1,901 at 8;
 *          exactL2 over 500,000 × 768 fastest at 8)
 *   BINS   selectTopK: histogram bins per query (finer: fewer extra candidates read back; with
 *          the reduction arrays they must fit 16 KiB of workgroup memory: at most 3,000)
 *   DIRECT scanLists: blocks of a list shorter than this go to its `direct` entry point (values
 *          read from storage), longer ones to `tiled` (tables copied to workgroup memory)
 *   PER    scanLists `tiled`: entries per invocation, a block being 256 × PER entries (1 to 32;
 *          not chosen by the self-test yet: bench:gpu times 4, 16 and 32)
 *   STAGED exactL2's entry point: 1 `staged` (queries copied to workgroup memory first), 0 `main`
 */
export const DEFAULT_TUNABLES = { LANES: 8, REFINE_LANES: 8, BINS: 1024, DIRECT: 64, PER: 4, STAGED: 0 }
export type Tunables = typeof DEFAULT_TUNABLES

/**
 * One WebGPU device and what is built on it once: compute pipelines (one per shader, created on
 * first use), a pool of reusable storage buffers, and the device's limits. Every object is
 * labelled. A lost device is remembered (`lost`): callers fall back to the CPU and say so.
 */
export class GpuContext {
  /** Why the device was lost, once it was. */
  lost: string | undefined
  private readonly passes = new Map<string, ComputePass>()
  /** uploadStaged's buffer, kept (host memory the size of the largest staged upload). */
  private staging: GPUBuffer | undefined
  private stagingTurn: Promise<void> = Promise.resolve()
  /** The values the next passes use (a pipeline is built once per shader and values). */
  readonly tunables: Tunables = { ...DEFAULT_TUNABLES }
  /** How `tunables` were chosen (selfTest.ts tuneContext; sharedGpuContext runs it). */
  tuning: Tuning = { source: 'defaults', why: 'not tuned' }
  private free: GPUBuffer[] = []
  private readonly owned = new Set<GPUBuffer>()

  private constructor(
    readonly device: GPUDevice,
    /** The adapter in words (vendor, architecture, description). */
    readonly adapter: string,
    /** A software adapter (SwiftShader: runs on the CPU). */
    readonly fallbackAdapter: boolean,
    /** A lower binding limit than the device's (tests of the chunked paths). */
    private readonly bindingCap = Number.POSITIVE_INFINITY,
  ) {
    device.lost.then((info) => {
      this.lost = info.message || String(info.reason)
    })
  }

  /**
   * A device from `gpu` (navigator.gpu in browsers, the `webgpu` package's in Node) with the
   * adapter's own buffer limits — the defaults (128/256 MiB) are far below what a GPU holds.
   */
  static async create(gpu: GPU | undefined, o: { maxBinding?: number } = {}): Promise<GpuContext> {
    if (!gpu) throw new GpuError('WebGPU is not available here (no navigator.gpu)')
    const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' })
    if (!adapter) throw new GpuError('WebGPU is available but gave no adapter (no usable GPU)')
    const device = await adapter.requestDevice({
      label: 'parquetseek',
      requiredLimits: {
        maxBufferSize: adapter.limits.maxBufferSize,
        maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
        maxStorageBuffersPerShaderStage: Math.min(10, adapter.limits.maxStorageBuffersPerShaderStage),
      },
    })
    const info = adapter.info
    const name = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'unknown adapter'
    return new GpuContext(
      device,
      name,
      // a CPU rasterizer, also where a browser does not report isFallbackAdapter
      info?.isFallbackAdapter === true || /swiftshader|llvmpipe|lavapipe/i.test(name),
      o.maxBinding,
    )
  }

  /** Largest storage buffer one binding may see. */
  get maxBinding(): number {
    return Math.min(this.device.limits.maxStorageBufferBindingSize, this.device.limits.maxBufferSize, this.bindingCap)
  }

  /** The pipeline of a shader's entry point at the current tunables (created on first use). */
  pass(name: ShaderName, entryPoint = 'main'): ComputePass {
    const { code, label, constants, key } = this.variant(name, entryPoint, this.tunables)
    let pass = this.passes.get(key)
    if (!pass) {
      pass = new ComputePass(this.device, code, label, constants, entryPoint)
      this.passes.set(key, pass)
    }
    return pass
  }

  /**
   * Builds the pipelines of these entry points at these tunables (each over the current ones)
   * all at once, off this thread, for `pass` to find later: the self-test times 13 of them, and
   * on an H200, built one after another as each was first timed, they took most of its budget
   * (whether its driver builds them in parallel is not measured yet). Rejects on a GPU error.
   */
  async prepare(variants: Array<{ name: ShaderName; entryPoint?: string; tunables?: Partial<Tunables> }>): Promise<void> {
    await Promise.all(
      variants.map(async ({ name, entryPoint = 'main', tunables }) => {
        const { code, label, constants, key } = this.variant(name, entryPoint, { ...this.tunables, ...tunables })
        if (this.passes.has(key)) return
        const pass = await ComputePass.build(this.device, code, label, constants, entryPoint)
        this.passes.set(key, pass)
      }),
    )
  }

  /** A shader entry point's code, label, override constants at `tunables`, and its key among the built passes. */
  private variant(name: ShaderName, entryPoint: string, tunables: Tunables) {
    const code = shaders[name]
    const constants: Record<string, number> = {}
    for (const [, constant] of code.matchAll(/^override (\w+)/gm))
      if (constant && constant in tunables) constants[constant] = tunables[constant as keyof Tunables]
    const label = entryPoint === 'main' ? name : `${name}.${entryPoint}`
    return { code, label, constants, key: `${label} ${JSON.stringify(constants)}` }
  }

  /**
   * A storage buffer of at least `size` bytes: a released one when one is large enough, else
   * a new one rounded up to a power of two (so later, slightly larger requests reuse it). A
   * request that fits one binding gets a buffer that does too: passes bind buffers whole, and
   * the binding limit need not be a power of two (NVIDIA through Dawn: 2^31 − 4 bytes, where a
   * 1.5 GB request rounded to 2 GiB failed validation).
   */
  acquire(size: number, label: string, copySrc = true): GPUBuffer {
    const want = Math.max(256, Math.ceil(size / 4) * 4)
    const bindable = want <= this.maxBinding
    const fit = this.free.filter((b) => b.size >= want && (!bindable || b.size <= this.maxBinding)).sort((a, b) => a.size - b.size)[0]
    if (fit) {
      this.free = this.free.filter((b) => b !== fit)
      fit.label = label
      return fit
    }
    if (want > this.device.limits.maxBufferSize)
      throw new GpuError(`a ${label} buffer of ${want} bytes exceeds this GPU's limit of ${this.device.limits.maxBufferSize}`)
    const largest = bindable ? Math.floor(this.maxBinding / 4) * 4 : this.device.limits.maxBufferSize
    const rounded = Math.min(largest, 2 ** Math.ceil(Math.log2(want)))
    const buffer = this.device.createBuffer({
      size: rounded,
      usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST | (copySrc ? GPUBufferUsage.COPY_SRC : 0),
      label,
    })
    this.owned.add(buffer)
    return buffer
  }

  release(...buffers: Array<GPUBuffer | undefined>): void {
    for (const b of buffers) if (b && this.owned.has(b)) this.free.push(b)
    // keep the pool bounded: the largest few are the likely reusable ones
    if (this.free.length > 32) {
      this.free.sort((a, b) => b.size - a.size)
      for (const b of this.free.splice(32)) {
        this.owned.delete(b)
        b.destroy()
      }
    }
  }

  /**
   * A buffer holding `data` (whole 4-byte words), sent through a mapped staging buffer kept for
   * the next call — for large uploads: on an H200 host 128 MiB took 57 ms through writeBuffer and
   * 19 through a reused staging buffer (and `data` may lie in shared memory, which writeBuffer
   * cannot take). Below STAGED_MIN bytes, `upload`.
   */
  async uploadStaged(data: Float32Array | Uint32Array, label: string): Promise<GPUBuffer> {
    const bytes = data.byteLength
    if (bytes < STAGED_MIN) return this.upload(data, label)
    // one upload at a time through the one staging buffer (searches may share this context)
    const turn = this.stagingTurn.then(() => this.stage(data, label))
    this.stagingTurn = turn.then(
      () => undefined,
      () => undefined,
    )
    return turn
  }

  private async stage(data: Float32Array | Uint32Array, label: string): Promise<GPUBuffer> {
    const bytes = data.byteLength
    const buffer = this.acquire(bytes, label)
    if (!this.staging || this.staging.size < bytes) {
      this.staging?.destroy()
      this.staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_WRITE | GPUBufferUsage.COPY_SRC, label: 'staging' })
    }
    const staging = this.staging
    // mapped once the GPU has copied out what the last call put there
    await staging.mapAsync(GPUMapMode.WRITE, 0, bytes)
    new Uint8Array(staging.getMappedRange(0, bytes)).set(new Uint8Array(data.buffer, data.byteOffset, bytes))
    staging.unmap()
    const encoder = this.device.createCommandEncoder({ label: `${label}.upload` })
    encoder.copyBufferToBuffer(staging, 0, buffer, 0, bytes)
    this.device.queue.submit([encoder.finish()])
    return buffer
  }

  /** A buffer holding `data` (padded to 4 bytes). */
  upload(data: ArrayBufferView, label: string): GPUBuffer {
    const buffer = this.acquire(data.byteLength, label)
    this.write(buffer, 0, data)
    return buffer
  }

  write(buffer: GPUBuffer, offset: number, data: ArrayBufferView): void {
    const view = new Uint8Array(data.buffer, data.byteOffset, data.byteLength)
    // Dawn in Node crashed (a segmentation fault) writing from shared memory: a copy goes instead
    const bytes = typeof SharedArrayBuffer === 'function' && view.buffer instanceof SharedArrayBuffer ? view.slice() : view
    if (bytes.length % 4 === 0) this.device.queue.writeBuffer(buffer, offset, bytes)
    else {
      const padded = new Uint8Array(Math.ceil(bytes.length / 4) * 4)
      padded.set(bytes)
      this.device.queue.writeBuffer(buffer, offset, padded)
    }
  }

  /**
   * Submits `encoder` after recording copies of each [buffer, offset, bytes] into one staging
   * buffer, and resolves with their contents. Validation and out-of-memory errors become a
   * ParquetSeekError naming `what`.
   */
  async submitAndRead(encoder: GPUCommandEncoder, reads: Array<[GPUBuffer, number, number]>, what: string): Promise<ArrayBuffer[]> {
    const total = reads.reduce((s, [, , bytes]) => s + Math.ceil(bytes / 4) * 4, 0)
    const staging = this.device.createBuffer({
      size: Math.max(16, total),
      usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST,
      label: `${what}.readback`,
    })
    let at = 0
    for (const [buffer, offset, bytes] of reads) {
      const size = Math.ceil(bytes / 4) * 4
      if (size) encoder.copyBufferToBuffer(buffer, offset, staging, at, size)
      at += size
    }
    this.device.pushErrorScope('out-of-memory')
    this.device.pushErrorScope('validation')
    this.device.queue.submit([encoder.finish()])
    const validation = await this.device.popErrorScope()
    const memory = await this.device.popErrorScope()
    const error = validation ?? memory
    if (error) {
      staging.destroy()
      throw new GpuError(`GPU ${what} failed: ${error.message.split('\n')[0]}`)
    }
    try {
      await staging.mapAsync(GPUMapMode.READ)
    } catch (e) {
      staging.destroy()
      throw new GpuError(`GPU ${what} failed: ${this.lost ? `device lost (${this.lost})` : (e as Error).message}`)
    }
    const mapped = staging.getMappedRange()
    const out: ArrayBuffer[] = []
    at = 0
    for (const [, , bytes] of reads) {
      out.push(mapped.slice(at, at + bytes))
      at += Math.ceil(bytes / 4) * 4
    }
    staging.unmap()
    staging.destroy()
    return out
  }

  /** The adapter and its tunables in words (selfTest.ts describeGpu). */
  describe(): string {
    return describeGpu(this)
  }

  /** Frees every buffer; the context is unusable after. */
  destroy(): void {
    this.staging?.destroy()
    this.staging = undefined
    for (const b of this.owned) b.destroy()
    this.owned.clear()
    this.free = []
    this.device.destroy()
  }
}

const contexts = new WeakMap<GPU, Promise<GpuContext>>()

/**
 * One context per WebGPU entry point (every index opened on it shares the device), its tunables
 * chosen for the adapter (tuneContext: measured on first use, kept in the tuningStore — IndexedDB
 * in browsers, a file under the user's cache directory in Node). `signal` cancels this wait
 * only: the device and its self-test, shared, go on for the next caller.
 */
export function sharedGpuContext(gpu: GPU | undefined = globalThis.navigator?.gpu, signal?: AbortSignal): Promise<GpuContext> {
  if (!gpu) return untilAborted(GpuContext.create(undefined), signal)
  let context = contexts.get(gpu)
  if (!context) {
    const kept = tuningStore()
    context = GpuContext.create(gpu).then(async (c) => {
      await tuneContext(c, kept)
      return c
    })
    contexts.set(gpu, context)
    context.catch(() => contexts.delete(gpu))
  }
  const current = context.then((c) => {
    if (!c.lost) return c
    // a lost device is not coming back: a new one
    contexts.delete(gpu)
    return sharedGpuContext(gpu)
  })
  return untilAborted(current, signal)
}
