import { checkpoint } from '../../errors.js'
import type { Metric } from '../../index/model.js'
import { fromKernel } from '../metric.js'
import type { GpuContext } from './context.js'
import { WORKGROUP } from './pass.js'

/** Workgroups a dispatch should at least have to keep a large GPU busy (exactL2's query chunks). */
const FILL_GROUPS = 2048
/** exactL2.wgsl's QB: queries per register block. */
const QB = 8

/**
 * Rows of `dim` floats as exactL2.wgsl reads them: vec4s, each row zero-padded to ⌈dim / 4⌉ · 4
 * floats (zeros change neither squared L2 nor inner product). The input itself when dim is a
 * multiple of 4.
 */
export function padRows(data: Float32Array, rows: number, dim: number): Float32Array {
  if (dim % 4 === 0) return data.subarray(0, rows * dim)
  const dim4 = Math.ceil(dim / 4) * 4
  const out = new Float32Array(rows * dim4)
  for (let r = 0; r < rows; r++) out.set(data.subarray(r * dim, (r + 1) * dim), r * dim4)
  return out
}

/**
 * Records exactL2.wgsl for q queries × n vectors (both padded, see padRows) into
 * `buffers` = [queries, vectors, out]: workgroups over the vectors and, when that alone would
 * leave the GPU idle, over chunks of the queries.
 */
export function recordExact(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  o: { n: number; q: number; dim: number; ip: boolean },
  buffers: GPUBuffer[],
): void {
  const groupsPerChunk = Math.ceil(o.n / (WORKGROUP / ctx.tunables.LANES))
  const blocks = Math.ceil(o.q / QB)
  const chunks = Math.max(1, Math.min(blocks, Math.ceil(FILL_GROUPS / groupsPerChunk)))
  const qPer = Math.ceil(blocks / chunks) * QB
  const groups = groupsPerChunk * Math.ceil(o.q / qPer)
  ctx
    .pass('exactL2', ctx.tunables.STAGED ? 'staged' : 'main')
    .run(
      encoder,
      groups * WORKGROUP,
      (perGridRow) =>
        new Uint8Array(
          Uint32Array.from([o.n, o.q, Math.ceil(o.dim / 4), perGridRow / WORKGROUP, o.ip ? 1 : 0, groupsPerChunk, qPer]).buffer,
        ),
      buffers,
    )
}

/**
 * Records refinePairs.wgsl for `pairs` (query, row) pairs into `buffers` = [queries, rows (both
 * padded, see padRows), pairs, out]: out gets 2 floats a pair (squared L2, or dot and the row's
 * squared norm when `ip`).
 */
export function recordRefine(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  o: { pairs: number; dim: number; ip: boolean },
  buffers: GPUBuffer[],
): void {
  ctx
    .pass('refinePairs')
    .run(
      encoder,
      o.pairs * ctx.tunables.REFINE_LANES,
      (perGridRow) => new Uint8Array(Uint32Array.from([o.pairs, Math.ceil(o.dim / 4), perGridRow / WORKGROUP, o.ip ? 1 : 0]).buffer),
      buffers,
    )
}

/**
 * Exact distances of many queries against many rows on the GPU (exactL2.wgsl, squared L2 or
 * inner product) — what Kernels.distances computes on the CPU, for flat search. Rows go in
 * chunks that fit one buffer binding; the output is query-major (out[qi · n + i]).
 */
export class GpuExact {
  /**
   * The queries `refine` uploaded last, kept while the same array comes again: a batch's refine
   * stage scores its queries against one block of rows after another (10,000 queries: 31 MB a
   * block). The array must not change between those calls.
   */
  private kept: { queries: Float32Array; nq: number; buffer: GPUBuffer } | undefined

  constructor(private readonly ctx: GpuContext) {}

  /** `queries` (nq rows of dim) on the GPU: the buffer kept from the last call when they are the same array. */
  private queriesOnGpu(queries: Float32Array, nq: number, dim: number): GPUBuffer {
    if (this.kept?.queries === queries && this.kept.nq === nq) return this.kept.buffer
    this.release()
    const buffer = this.ctx.upload(padRows(queries, nq, dim), 'Refine.queries')
    this.kept = { queries, nq, buffer }
    return buffer
  }

  /** Gives back the queries kept between refine calls. */
  release(): void {
    this.ctx.release(this.kept?.buffer)
    this.kept = undefined
  }

  async distances(kind: 'l2' | 'ip', queries: Float32Array, nq: number, x: Float32Array, n: number, dim: number, signal?: AbortSignal) {
    const ctx = this.ctx
    const out = new Float32Array(nq * n)
    const dim4 = Math.ceil(dim / 4) * 4
    const rowsPer = Math.max(1, Math.min(Math.floor(ctx.maxBinding / (4 * dim4)), Math.floor(ctx.maxBinding / (4 * Math.max(1, nq)))))
    const qBuf = ctx.upload(padRows(queries, nq, dim), 'Exact.queries')
    try {
      for (let start = 0; start < n; start += rowsPer) {
        await checkpoint(signal)
        const count = Math.min(rowsPer, n - start)
        const xBuf = ctx.upload(padRows(x.subarray(start * dim, (start + count) * dim), count, dim), 'Exact.rows')
        const dBuf = ctx.acquire(nq * count * 4, 'Exact.out')
        try {
          const encoder = ctx.device.createCommandEncoder({ label: 'Exact' })
          recordExact(ctx, encoder, { n: count, q: nq, dim, ip: kind === 'ip' }, [qBuf, xBuf, dBuf])
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

  /**
   * The refine stage's exact distances (refinePairs.wgsl): for each pair (query qi, row r) in
   * `pairs` (2 numbers a pair), the reported distance (metric.ts exactDistance) of queries[qi]
   * and x's row r — each query scored against its own candidates only, not every row. What the
   * CPU computes to float rounding (the GPU sums in float32, in another order). Rows and queries
   * go in chunks that fit one buffer binding.
   */
  async refine(
    metric: Metric,
    queries: Float32Array,
    nq: number,
    x: Float32Array,
    n: number,
    dim: number,
    pairs: Uint32Array,
    signal?: AbortSignal,
  ): Promise<Float64Array> {
    const ctx = this.ctx
    const ip = metric !== 'l2'
    const count = pairs.length / 2
    const out = new Float64Array(count)
    const dim4 = Math.ceil(dim / 4) * 4
    const rowsPer = Math.max(1, Math.floor(ctx.maxBinding / (4 * dim4)))
    const pairsPer = Math.max(1, Math.floor(ctx.maxBinding / 8))
    /** Scores `local` pairs (indices into qBuf's and xBuf's rows); distances of pair i to out[at(i)]. */
    const score = async (qBuf: GPUBuffer, xBuf: GPUBuffer, local: Uint32Array, at: (i: number) => number) => {
      const pBuf = ctx.upload(local, 'Refine.pairs')
      const dBuf = ctx.acquire(local.byteLength, 'Refine.out')
      try {
        const encoder = ctx.device.createCommandEncoder({ label: 'Refine' })
        recordRefine(ctx, encoder, { pairs: local.length / 2, dim, ip }, [qBuf, xBuf, pBuf, dBuf])
        const [raw] = await ctx.submitAndRead(encoder, [[dBuf, 0, local.byteLength]], 'refinement')
        const d = new Float32Array(raw as ArrayBuffer)
        for (let i = 0; i < local.length / 2; i++) out[at(i)] = fromKernel(metric, d[2 * i] as number, d[2 * i + 1])
      } finally {
        ctx.release(pBuf, dBuf)
      }
    }
    if (nq <= rowsPer && n <= rowsPer && count <= pairsPer) {
      // one block (a batch's refine stage): the pairs as they are, the queries kept for the next call
      await checkpoint(signal)
      const qBuf = this.queriesOnGpu(queries, nq, dim)
      const xBuf = await ctx.uploadStaged(padRows(x, n, dim), 'Refine.rows')
      try {
        if (count) await score(qBuf, xBuf, pairs, (i) => i)
      } finally {
        ctx.release(xBuf)
      }
      return out
    }
    for (let q0 = 0; q0 < nq; q0 += rowsPer)
      for (let r0 = 0; r0 < n; r0 += rowsPer) {
        const q1 = Math.min(nq, q0 + rowsPer)
        const r1 = Math.min(n, r0 + rowsPer)
        // the pairs of this block of queries and rows, as indices into the block
        const picked: number[] = []
        for (let p = 0; p < count; p++) {
          const qi = pairs[2 * p] as number
          const r = pairs[2 * p + 1] as number
          if (qi >= q0 && qi < q1 && r >= r0 && r < r1) picked.push(p)
        }
        if (!picked.length) continue
        await checkpoint(signal)
        const qBuf = ctx.upload(padRows(queries.subarray(q0 * dim, q1 * dim), q1 - q0, dim), 'Refine.queries')
        const xBuf = ctx.upload(padRows(x.subarray(r0 * dim, r1 * dim), r1 - r0, dim), 'Refine.rows')
        try {
          for (let at = 0; at < picked.length; at += pairsPer) {
            const part = picked.slice(at, at + pairsPer)
            const local = new Uint32Array(2 * part.length)
            for (const [i, p] of part.entries()) {
              local[2 * i] = (pairs[2 * p] as number) - q0
              local[2 * i + 1] = (pairs[2 * p + 1] as number) - r0
            }
            await score(qBuf, xBuf, local, (i) => part[i] as number)
          }
        } finally {
          ctx.release(qBuf, xBuf)
        }
      }
    return out
  }
}
