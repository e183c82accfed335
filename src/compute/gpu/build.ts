import { checkpoint, GpuError } from '../../errors.js'
import type { IvfPqModel } from '../../index/model.js'
import type { PqLayout } from '../../index/pq.js'
import type { Kernels } from '../backend.js'
import { rowNormsSq, updateMeans } from '../js.js'
import type { GpuContext } from './context.js'
import { GpuExact } from './exact.js'
import { GpuListScan } from './listScan.js'
import { WORKGROUP } from './pass.js'

const u32s = (values: number[]) => new Uint8Array(Uint32Array.from(values).buffer)

/**
 * The index build's heavy kernels on the GPU: nearest-centroid assignment (k-means, IVF),
 * the k-means update, and IVF-PQ encoding (assignNearest.wgsl, updateCentroids.wgsl,
 * pqEncode.wgsl). Seeding, empty-cluster splitting and the small bookkeeping stay on the CPU,
 * exactly as in the CPU build, so both builds follow the same steps; sums run in f32 on the GPU
 * (f64 on the CPU), so centroids differ in the last bits and index quality is what is compared.
 */
export class GpuBuild {
  /** Exact distances on the same device (the tune's ground truth). */
  readonly exact: GpuExact

  constructor(private readonly ctx: GpuContext) {
    this.exact = new GpuExact(ctx)
  }

  /** The GPU this build runs on and its tunables, in words. */
  get device(): string {
    return this.ctx.describe()
  }

  /** The search's list scan on the same device, for measuring a model's recall while building. */
  listScan(model: IvfPqModel, kernels?: Pick<Kernels, 'distances' | 'rowScanner'>): GpuListScan {
    return new GpuListScan(this.ctx, model, { kernels })
  }

  /** Rows of `dim` floats one buffer binding may hold. */
  private maxRows(dim: number): number {
    return Math.max(1, Math.floor(this.ctx.maxBinding / (4 * dim)))
  }

  /**
   * Lloyd iterations for `batches` problems at once from the given initial centroids (batches ×
   * k × dim, updated in place). `x` is batches × n × dim. `afterUpdate(counts)` runs on the CPU
   * after each iteration (empty clusters are split there); it may change centroids.
   *
   * `x` stays on the GPU for all iterations, in as few buffers as the device's binding limit
   * allows: whole batches per buffer when a batch fits one (the update then runs on the GPU, per
   * buffer), else — one large batch — row ranges, with the update on the CPU in f64 as the CPU
   * build does it (each centroid's rows then span buffers).
   */
  async lloyd(
    x: Float32Array,
    n: number,
    dim: number,
    k: number,
    batches: number,
    centroids: Float32Array,
    iterations: number,
    afterUpdate: (counts: Uint32Array) => void,
    o: { signal?: AbortSignal; onIteration?: (done: number, total: number) => void } = {},
  ): Promise<void> {
    const ctx = this.ctx
    const fit = this.maxRows(dim)
    // parts: batches [b0, b0 + nb), rows [r0, r0 + nr) of each
    const parts: Array<{ b0: number; nb: number; r0: number; nr: number }> = []
    if (n <= fit) {
      const per = Math.floor(fit / n)
      for (let b0 = 0; b0 < batches; b0 += per) parts.push({ b0, nb: Math.min(per, batches - b0), r0: 0, nr: n })
    } else if (batches === 1) {
      for (let r0 = 0; r0 < n; r0 += fit) parts.push({ b0: 0, nb: 1, r0, nr: Math.min(fit, n - r0) })
    } else throw new GpuError(`k-means batches of ${n} rows × ${dim} exceed this GPU's ${ctx.maxBinding}-byte buffers`)
    const gpuUpdate = parts[0]?.nr === n
    const held: GPUBuffer[] = []
    const hold = (b: GPUBuffer) => {
      held.push(b)
      return b
    }
    try {
      const onGpu = parts.map((p) => ({
        ...p,
        x: hold(ctx.upload(x.subarray((p.b0 * n + p.r0) * dim, (p.b0 * n + p.r0 + p.nb * p.nr) * dim), 'Kmeans.x')),
        centroids: hold(ctx.acquire(p.nb * k * dim * 4, 'Kmeans.centroids')),
        norms: hold(ctx.acquire(p.nb * k * 4, 'Kmeans.norms')),
        assign: hold(ctx.acquire(p.nb * p.nr * 4, 'Kmeans.assign')),
      }))
      const order = new Uint32Array(batches * n)
      const starts = new Uint32Array(batches * (k + 1))
      const counts = new Uint32Array(batches * k)
      const assign = new Uint32Array(batches * n)
      const sums = gpuUpdate ? undefined : new Float64Array(k * dim)
      for (let it = 0; it < iterations; it++) {
        await checkpoint(o.signal)
        const norms = normsOf(centroids, batches * k, dim)
        const encoder = ctx.device.createCommandEncoder({ label: 'Kmeans.assign' })
        for (const p of onGpu) {
          ctx.write(p.centroids, 0, centroids.subarray(p.b0 * k * dim, (p.b0 + p.nb) * k * dim))
          ctx.write(p.norms, 0, norms.subarray(p.b0 * k, (p.b0 + p.nb) * k))
          recordAssign(ctx, encoder, { n: p.nr, k, dim, batches: p.nb }, [p.x, p.centroids, p.norms, p.assign])
        }
        const raw = await ctx.submitAndRead(
          encoder,
          onGpu.map((p) => [p.assign, 0, p.nb * p.nr * 4] as [GPUBuffer, number, number]),
          'k-means assignment',
        )
        onGpu.forEach((p, i) => {
          assign.set(new Uint32Array(raw[i] as ArrayBuffer), p.b0 * n + p.r0)
        })
        // one batch over several buffers: the means here, in f64 and row order, as kmeans.ts does
        if (sums) updateMeans(x, n, dim, assign, centroids, k, counts, sums)
        else {
          // counting sort per batch: rows grouped by centroid, ascending inside each group
          counts.fill(0)
          for (let b = 0; b < batches; b++)
            for (let i = 0; i < n; i++) {
              const c = b * k + (assign[b * n + i] as number)
              counts[c] = (counts[c] as number) + 1
            }
          for (let b = 0; b < batches; b++) {
            const sb = b * (k + 1)
            starts[sb] = 0
            for (let c = 0; c < k; c++) starts[sb + c + 1] = (starts[sb + c] as number) + (counts[b * k + c] as number)
            const fill = starts.slice(sb, sb + k)
            for (let i = 0; i < n; i++) {
              const c = assign[b * n + i] as number
              order[b * n + (fill[c] as number)] = i
              fill[c] = (fill[c] as number) + 1
            }
          }
          const update = ctx.device.createCommandEncoder({ label: 'Kmeans.update' })
          const scratch: GPUBuffer[] = []
          for (const p of onGpu) {
            const oBuf = ctx.upload(order.subarray(p.b0 * n, (p.b0 + p.nb) * n), 'Kmeans.order')
            const sBuf = ctx.upload(starts.subarray(p.b0 * (k + 1), (p.b0 + p.nb) * (k + 1)), 'Kmeans.starts')
            scratch.push(oBuf, sBuf)
            ctx.pass('updateCentroids').run(update, p.nb * k * dim, (pg) => u32s([n, k, dim, p.nb, pg]), [p.x, oBuf, sBuf, p.centroids])
          }
          try {
            const next = await ctx.submitAndRead(
              update,
              onGpu.map((p) => [p.centroids, 0, p.nb * k * dim * 4] as [GPUBuffer, number, number]),
              'k-means update',
            )
            onGpu.forEach((p, i) => {
              centroids.set(new Float32Array(next[i] as ArrayBuffer), p.b0 * k * dim)
            })
          } finally {
            ctx.release(...scratch)
          }
        }
        afterUpdate(counts)
        o.onIteration?.(it + 1, iterations)
      }
    } finally {
      ctx.release(...held)
    }
  }

  /** Nearest of k centroids for each of n rows (one batch). */
  async assign(x: Float32Array, n: number, dim: number, centroids: Float32Array, k: number, signal?: AbortSignal): Promise<Uint32Array> {
    const ctx = this.ctx
    const out = new Uint32Array(n)
    const cBuf = ctx.upload(centroids, 'Assign.centroids')
    const nBuf = ctx.upload(normsOf(centroids, k, dim), 'Assign.norms')
    try {
      const chunk = Math.min(this.maxRows(dim), 1 << 16)
      for (let start = 0; start < n; start += chunk) {
        await checkpoint(signal)
        const count = Math.min(chunk, n - start)
        const xBuf = ctx.upload(x.subarray(start * dim, (start + count) * dim), 'Assign.x')
        const aBuf = ctx.acquire(count * 4, 'Assign.out')
        try {
          const encoder = ctx.device.createCommandEncoder({ label: 'Assign' })
          recordAssign(ctx, encoder, { n: count, k, dim, batches: 1 }, [xBuf, cBuf, nBuf, aBuf])
          const [raw] = await ctx.submitAndRead(encoder, [[aBuf, 0, count * 4]], 'assignment')
          out.set(new Uint32Array(raw as ArrayBuffer), start)
        } finally {
          ctx.release(xBuf, aBuf)
        }
      }
    } finally {
      ctx.release(cBuf, nBuf)
    }
    return out
  }

  /** List and PQ code (n × m bytes) of each row: IVF assignment then residual encoding, per chunk. */
  async encode(
    model: { centroids: Float32Array; nlist: number; layout: PqLayout; codebooks: Float32Array },
    x: Float32Array,
    n: number,
    signal?: AbortSignal,
  ): Promise<{ assign: Uint32Array; codes: Uint8Array }> {
    const ctx = this.ctx
    const { dim, m, ksub, starts } = model.layout
    const assign = new Uint32Array(n)
    const codes = new Uint8Array(n * m)
    const entryNorms = new Float32Array(m * ksub)
    for (let j = 0; j < m; j++) {
      const s = starts[j] as number
      const len = (starts[j + 1] as number) - s
      entryNorms.set(rowNormsSq(model.codebooks.subarray(ksub * s, ksub * (s + len)), ksub, len), j * ksub)
    }
    const held = [
      ctx.upload(model.centroids, 'Encode.centroids'),
      ctx.upload(normsOf(model.centroids, model.nlist, dim), 'Encode.centroidNorms'),
      ctx.upload(model.codebooks, 'Encode.codebooks'),
      ctx.upload(entryNorms, 'Encode.entryNorms'),
      ctx.upload(starts, 'Encode.starts'),
    ]
    const [cBuf, cnBuf, cbBuf, enBuf, stBuf] = held as [GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer, GPUBuffer]
    try {
      const chunk = Math.min(this.maxRows(dim), Math.floor(this.ctx.maxBinding / (4 * m)), 1 << 16)
      for (let start = 0; start < n; start += chunk) {
        await checkpoint(signal)
        const count = Math.min(chunk, n - start)
        const xBuf = ctx.upload(x.subarray(start * dim, (start + count) * dim), 'Encode.x')
        const aBuf = ctx.acquire(count * 4, 'Encode.assign')
        const oBuf = ctx.acquire(count * m * 4, 'Encode.codes')
        try {
          const encoder = ctx.device.createCommandEncoder({ label: 'Encode' })
          recordAssign(ctx, encoder, { n: count, k: model.nlist, dim, batches: 1 }, [xBuf, cBuf, cnBuf, aBuf])
          ctx
            .pass('pqEncode')
            .run(encoder, count * m, (pg) => u32s([count, m, ksub, dim, pg]), [xBuf, aBuf, cBuf, cbBuf, enBuf, stBuf, oBuf])
          const [a, c] = await ctx.submitAndRead(
            encoder,
            [
              [aBuf, 0, count * 4],
              [oBuf, 0, count * m * 4],
            ],
            'encoding',
          )
          assign.set(new Uint32Array(a as ArrayBuffer), start)
          codes.set(new Uint32Array(c as ArrayBuffer), start * m)
        } finally {
          ctx.release(xBuf, aBuf, oBuf)
        }
      }
    } finally {
      ctx.release(...held)
    }
    return { assign, codes }
  }
}

/** Dimensions up to which assignNearest.wgsl's `narrow` entry point runs on a software adapter (PQ subspaces). */
const NARROW_DIM = 32

/**
 * The assignNearest.wgsl entry point for `dim`: `narrow` (an invocation a row) for few dimensions
 * on a software adapter, `tiled` otherwise. bench:gpu, 96 batches × 65,536 rows × 8 dims against
 * 256 centroids: on an H200 tiled 2.06 ms, narrow 14.2; on SwiftShader tiled 383 ms, narrow 123.
 */
export function assignEntry(ctx: Pick<GpuContext, 'fallbackAdapter'>, dim: number): 'narrow' | 'tiled' {
  return dim <= NARROW_DIM && ctx.fallbackAdapter ? 'narrow' : 'tiled'
}

/**
 * Records assignNearest.wgsl into `buffers` = [x, centroids, norms, out]: `tiled` (batches ×
 * ⌈n / 64⌉ workgroups), or `narrow` (assignEntry; bench:gpu times both).
 */
export function recordAssign(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  o: { n: number; k: number; dim: number; batches: number },
  buffers: GPUBuffer[],
  entry: 'narrow' | 'tiled' = assignEntry(ctx, o.dim),
) {
  const narrow = entry === 'narrow'
  const tilesPerBatch = Math.ceil(o.n / 64)
  ctx
    .pass('assignNearest', narrow ? 'narrow' : 'tiled')
    .run(
      encoder,
      narrow ? o.n * o.batches : o.batches * tilesPerBatch * WORKGROUP,
      (perGridRow) => u32s([o.n, o.k, o.dim, o.batches, perGridRow / WORKGROUP, tilesPerBatch]),
      buffers,
    )
}

function normsOf(centroids: Float32Array, k: number, dim: number): Float32Array {
  return rowNormsSq(centroids, k, dim)
}
