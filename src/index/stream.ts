import type { AsyncBuffer, FileMetaData } from 'hyparquet'
import { jsKernels } from '../compute/backend.js'
import { tieLimit } from '../compute/metric.js'
import { TopK } from '../compute/topk.js'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import { type EmbeddingColumn, forEachVectorBlock, type InvalidRow, type VectorBlock } from '../parquet/embedding.js'
import type { IvfPqModel } from './model.js'
import { encodeRows, normalizeRows, type TrainOptions } from './train.js'

/**
 * A seeded uniform sample of rows seen one block at a time (Algorithm R), across any number of
 * sources: row `seen` replaces a random slot with probability capacity / (seen + 1). Keeps each
 * kept row's origin (source number, row) beside its vector.
 */
export class Reservoir {
  readonly data: Float32Array
  /** Per slot: source number, row. */
  readonly origins: Uint32Array
  seen = 0

  constructor(
    readonly capacity: number,
    readonly dim: number,
    private readonly rand: () => number,
  ) {
    this.data = new Float32Array(capacity * dim)
    this.origins = new Uint32Array(capacity * 2)
  }

  offer(block: Pick<VectorBlock, 'data' | 'rowIds'>, source = 0): void {
    const d = this.dim
    for (let i = 0; i < block.rowIds.length; i++, this.seen++) {
      const slot = this.seen < this.capacity ? this.seen : Math.floor(this.rand() * (this.seen + 1))
      if (slot >= this.capacity) continue
      this.data.set(block.data.subarray(i * d, (i + 1) * d), slot * d)
      this.origins[2 * slot] = source
      this.origins[2 * slot + 1] = block.rowIds[i] as number
    }
  }

  get size(): number {
    return Math.min(this.seen, this.capacity)
  }
}

export interface EncodedSource {
  /** Per valid row, ascending: its list, its PQ code (m bytes), its row. */
  assign: Uint32Array
  codes: Uint8Array
  /** With TrainOptions.spill: each row's second list and code there. */
  spill?: { assign: Uint32Array; codes: Uint8Array }
  rowIds: Uint32Array
  /** Per tune query, the TRUTH_KEEP nearest rows of this source by the kernel's ranking (squared L2, or −dot). */
  nearest: Array<Array<{ row: number; distance: number }>>
  invalid: InvalidRow[]
}

export interface EncodeSourceOptions {
  file?: string
  skipInvalid?: boolean
  train: TrainOptions
  /** Rows encoded so far, across sources (progress). */
  counter: { done: number; total: number }
  onRead?: (done: number, total: number) => void
  /**
   * The source's valid vectors, already read by the training pass (as stored: for cosine, each
   * block is normalized into a copy here), with its invalid rows: encoded from memory instead of
   * read again (HeldVectors).
   */
  held?: HeldVectors
}

/**
 * A source's vector blocks as forEachVectorBlock gave them to the training pass, kept for encoding
 * (and for a sidecar's copy of the vectors: their values as stored, never normalized in place).
 */
export interface HeldVectors {
  blocks: VectorBlock[]
  invalid: InvalidRow[]
}

/**
 * One pass over a source's embedding column, a row group at a time: every valid row is assigned
 * to its list and PQ-encoded with `model`, and the tune queries' exact nearest rows in this
 * source are gathered on the way (for measuring recall without holding the vectors).
 */
export async function encodeSource(
  source: AsyncBuffer,
  metadata: FileMetaData,
  column: EmbeddingColumn,
  model: IvfPqModel,
  queries: Float32Array,
  o: EncodeSourceOptions,
): Promise<EncodedSource> {
  const { dim, m, metric } = model.params
  const kernels = o.train.kernels ?? jsKernels
  const rows = Number(metadata.num_rows)
  const nq = queries.length / dim
  const kind = metric === 'dot' ? 'ip' : 'l2'
  const tops = Array.from({ length: nq }, () => new TopK(TRUTH_KEEP))
  const assign = new Uint32Array(rows)
  const codes = new Uint8Array(rows * m)
  const rowIds = new Uint32Array(rows)
  const spill = o.train.spill ? { assign: new Uint32Array(rows), codes: new Uint8Array(rows * m) } : undefined
  const invalid: InvalidRow[] = []
  let at = 0
  const visit = async (block: VectorBlock) => {
    const count = block.rowIds.length
    if (block.dim !== dim)
      throw new ParquetSeekError(`vectors are ${block.dim}-d; the model is ${dim}-d`, {
        file: o.file,
        column: column.name,
        row: block.rowStart,
      })
    // (held vectors stay as stored: normalized into a copy)
    let data = block.data
    if (metric === 'cosine') {
      if (o.held) data = data.slice()
      normalizeRows(data, count, dim, block.rowIds, column.name)
    }
    if (nq) {
      let out = new Float32Array(nq * count)
      if (o.train.gpu) out = await o.train.gpu.exact.distances(kind, queries, nq, data, count, dim, o.train.signal)
      else kernels.distances(kind, queries, nq, data, count, dim, out)
      for (const [qi, top] of tops.entries())
        for (let i = 0; i < count; i++) {
          const v = out[qi * count + i] as number
          top.push(kind === 'l2' ? v : -v, block.rowIds[i] as number)
        }
    }
    const encoded = await encodeRows(model, data, count, o.train, o.counter)
    assign.set(encoded.assign, at)
    codes.set(encoded.codes, at * m)
    if (spill && encoded.spill) {
      spill.assign.set(encoded.spill.assign, at)
      spill.codes.set(encoded.spill.codes, at * m)
    }
    rowIds.set(block.rowIds, at)
    at += count
  }
  if (o.held) {
    for (const block of o.held.blocks) {
      throwIfAborted(o.train.signal)
      await visit(block)
      o.onRead?.(block.rowEnd, rows)
    }
    invalid.push(...o.held.invalid)
  } else
    await forEachVectorBlock(
      source,
      metadata,
      column,
      { file: o.file, skipInvalid: o.skipInvalid, signal: o.train.signal, onProgress: o.onRead },
      visit,
      (bad) => invalid.push(bad),
    )
  return {
    assign: assign.slice(0, at),
    codes: codes.slice(0, at * m),
    ...(spill ? { spill: { assign: spill.assign.slice(0, at), codes: spill.codes.slice(0, at * m) } } : {}),
    rowIds: rowIds.slice(0, at),
    nearest: tops.map((t) => t.sorted()),
    invalid,
  }
}

/**
 * Nearest rows gathered per tune query: the 10 a search returns, its own row, and room for rows
 * tied with the 10th (see `truthOf`).
 */
export const TRUTH_KEEP = 32

/**
 * A tune query's true neighbours, from the best of every source's candidates (kernel distances:
 * squared L2 or −dot), itself left out: its 10 nearest rows and every other candidate as near as
 * the 10th (to rounding, as `bench --truth-dist` counts). Rows at one distance are equally right
 * answers; counting only the lower-numbered ones as hits scored a search that orders the tie by
 * its own rounding as missing them, and the tune read more to make up: 500 rows of templated text
 * tuned every list and refine 80.
 */
export function truthOf(candidates: Array<{ row: number; distance: number }>, self: number): Set<number> {
  const sorted = candidates.filter((h) => h.row !== self).sort((a, b) => a.distance - b.distance || a.row - b.row)
  const tenth = sorted[9]?.distance
  if (tenth === undefined) return new Set(sorted.map((h) => h.row))
  const limit = tieLimit(tenth)
  const tied = sorted.findIndex((h, i) => i >= 10 && h.distance > limit)
  return new Set(sorted.slice(0, tied < 0 ? sorted.length : tied).map((h) => h.row))
}
