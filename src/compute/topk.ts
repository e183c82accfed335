import { checkpoint } from '../errors.js'
import type { Kernels } from './backend.js'

/**
 * Entries best first (ascending distance, ties to the lower row) as two arrays: no object an
 * entry — a 10,000-query batch's scan keeps a million candidates, and making them objects cost
 * the H200's host 370–520 ms of a 3.3 s batch.
 */
export interface Ranked {
  rows: Uint32Array
  /** Float32 where the GPU computed them (views of what it handed back), else float64. */
  distances: Float32Array | Float64Array
}

/** A ranking's entries as objects (few of them: results, the tune's bookkeeping). */
export function entriesOf(ranked: Ranked): Array<{ row: number; distance: number }> {
  return Array.from(ranked.rows, (row, i) => ({ row, distance: ranked.distances[i] as number }))
}

/**
 * Keeps the k best (smallest distance) entries seen; ties go to the lower row, so the result
 * does not depend on the order entries arrive in. A max-heap on (distance, row).
 */
export class TopK {
  readonly k: number
  private dist: Float64Array
  private row: Float64Array
  size = 0
  /**
   * Distance an entry must beat to get in (Infinity until full); kept by push, so a scan reads a
   * field per entry (a getter here cost the tune's scans 2 s of 24 at 300 k rows). Read only.
   */
  bound = Number.POSITIVE_INFINITY

  constructor(k: number) {
    this.k = k
    this.dist = new Float64Array(k)
    this.row = new Float64Array(k)
  }

  push(distance: number, row: number): void {
    if (this.k === 0) return
    if (this.size < this.k) {
      let i = this.size++
      while (i > 0) {
        const parent = (i - 1) >> 1
        if (!this.worse(distance, row, this.dist[parent] as number, this.row[parent] as number)) break
        this.dist[i] = this.dist[parent] as number
        this.row[i] = this.row[parent] as number
        i = parent
      }
      this.dist[i] = distance
      this.row[i] = row
      if (this.size === this.k) this.bound = this.dist[0] as number
      return
    }
    if (!this.worse(this.dist[0] as number, this.row[0] as number, distance, row)) return
    let i = 0
    const n = this.size
    for (;;) {
      const l = 2 * i + 1
      if (l >= n) break
      const r = l + 1
      const c = r < n && this.worse(this.dist[r] as number, this.row[r] as number, this.dist[l] as number, this.row[l] as number) ? r : l
      if (!this.worse(this.dist[c] as number, this.row[c] as number, distance, row)) break
      this.dist[i] = this.dist[c] as number
      this.row[i] = this.row[c] as number
      i = c
    }
    this.dist[i] = distance
    this.row[i] = row
    this.bound = this.dist[0] as number
  }

  /** Entries best first, as objects. */
  sorted(): Array<{ row: number; distance: number }> {
    return entriesOf(this.ranked())
  }

  /**
   * Entries best first, as arrays: the heap sorted in a copy (the largest moved to the end, the
   * heap restored below it, and so on). Rows are non-negative integers below 2^32.
   */
  ranked(): Ranked {
    const n = this.size
    const dist = this.dist.slice(0, n)
    const row = this.row.slice(0, n)
    for (let end = n - 1; end > 0; end--) {
      const d = dist[end] as number
      const r = row[end] as number
      dist[end] = dist[0] as number
      row[end] = row[0] as number
      // sift (d, r) down from the root of the heap 0 … end − 1
      let i = 0
      for (;;) {
        const l = 2 * i + 1
        if (l >= end) break
        const c = l + 1 < end && this.worse(dist[l + 1] as number, row[l + 1] as number, dist[l] as number, row[l] as number) ? l + 1 : l
        if (!this.worse(dist[c] as number, row[c] as number, d, r)) break
        dist[i] = dist[c] as number
        row[i] = row[c] as number
        i = c
      }
      dist[i] = d
      row[i] = r
    }
    return { rows: Uint32Array.from(row), distances: dist }
  }

  private worse(d1: number, r1: number, d2: number, r2: number): boolean {
    return d1 > d2 || (d1 === d2 && r1 > r2)
  }
}

/**
 * Pushes a block of distances (out[qi·count + i], from `distances`) into each query's TopK as
 * rows base + i: squared L2 as is, dot negated (the largest dot is the best).
 */
export function pushDistances(tops: TopK[], out: Float32Array, count: number, base: number, kind: 'l2' | 'ip'): void {
  for (const [qi, top] of tops.entries()) {
    for (let i = 0; i < count; i++) {
      const d = kind === 'l2' ? (out[qi * count + i] as number) : -(out[qi * count + i] as number)
      if (d <= top.bound) top.push(d, base + i)
    }
  }
}

/** Rows scored per `distances` call in {@link pushNearest} (an event-loop turn between calls). */
const NEAREST_BLOCK = 4096

/** Exact nearest rows: every one of n rows of x scored against each query, into `tops` as rows base + i. */
export async function pushNearest(
  kernels: Kernels,
  kind: 'l2' | 'ip',
  queries: Float32Array,
  tops: TopK[],
  x: Float32Array,
  n: number,
  dim: number,
  base: number,
  signal?: AbortSignal,
): Promise<void> {
  const out = new Float32Array(tops.length * NEAREST_BLOCK)
  for (let start = 0; start < n; start += NEAREST_BLOCK) {
    await checkpoint(signal)
    const count = Math.min(NEAREST_BLOCK, n - start)
    kernels.distances(kind, queries, tops.length, x.subarray(start * dim, (start + count) * dim), count, dim, out)
    pushDistances(tops, out, count, base + start, kind)
  }
}
