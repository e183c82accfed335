import { throwIfAborted } from '../errors.js'
import { partitionPoint } from '../sorted.js'
import type { ByteSource } from './source.js'

export interface Range {
  start: number
  end: number
}

export interface ReadRangesOptions {
  /** Ranges closer than this many bytes are fetched as one request (the gap is read too). */
  gap?: number
  /** Requests in flight at once. */
  concurrency?: number
  /**
   * Where each range costs a request of its own, ranges closer than this many bytes are read as
   * one: a gap is worth reading when it costs less time than a request (REQUEST_BYTES). Unset,
   * or a `local` source: `gap` everywhere.
   */
  requestGap?: number
  signal?: AbortSignal
}

/**
 * What a request costs, as bytes of transfer: a 20 ms round trip at ~20 Mbit/s. Reading through
 * a gap smaller than this is cheaper than asking for the range after it separately. 48 KiB, not
 * 64: on the 1 M-row file (spilled rows, tuned defaults) 64 KiB read 0.965 in 591 KiB and 11.6
 * requests a query, 48 KiB 0.9625 in 535 KiB and 12.5, 40 KiB 499 and 13.2 (docs/BENCHMARKS.md).
 */
export const REQUEST_BYTES = 48 << 10

// Small: with multi-range requests merging saves no request, only the bytes in between cost.
export const DEFAULT_GAP = 512
export const DEFAULT_CONCURRENCY = 16
/** Ranges per multi-range request: keeps the Range header under ~2 KB. */
export const MAX_RANGES_PER_REQUEST = 80

/** Merges ranges (sorted by start) whose distance is at most `gap`. */
export function coalesce(ranges: Range[], gap: number): Range[] {
  const sorted = [...ranges].filter((r) => r.end > r.start).sort((a, b) => a.start - b.start || a.end - b.end)
  const out: Range[] = []
  for (const r of sorted) {
    const last = out.at(-1)
    if (last && r.start - last.end <= gap) last.end = Math.max(last.end, r.end)
    else out.push({ ...r })
  }
  return out
}

/**
 * Where each range is a request of its own and there are more than `concurrency` of them, the
 * last round of requests waits for the first: a round trip of its own. Merging the smallest
 * gaps until one round fewer is needed saves that round trip and the requests merged; it is done
 * when the gaps read cost at most what those save, a request and the round trip each priced at
 * `requestGap` bytes (ranges already closer than `requestGap` are merged). Ties: the earlier gap.
 * (wordnet, first query: 7 page reads on 6 connections, the closest two 66 KB apart → 6 in one
 * round, 4 round trips instead of 5.)
 */
export function fitRounds(merged: Range[], concurrency: number, requestGap: number): Range[] {
  let out = merged
  while (requestGap > 0 && out.length > concurrency) {
    const rounds = Math.ceil(out.length / concurrency)
    const extra = out.length - (rounds - 1) * concurrency
    const gaps = out
      .slice(1)
      .map((r, i) => ({ i, gap: r.start - (out[i] as Range).end }))
      .sort((a, b) => a.gap - b.gap || a.i - b.i)
      .slice(0, extra)
    if (gaps.reduce((n, g) => n + g.gap, 0) > (extra + 1) * requestGap) break
    const join = new Set(gaps.map((g) => g.i))
    const next: Range[] = []
    for (const [i, r] of out.entries()) {
      if (i > 0 && join.has(i - 1)) (next.at(-1) as Range).end = r.end
      else next.push({ ...r })
    }
    out = next
  }
  return out
}

/**
 * Reads many ranges with as few requests as the gap allows, at most `concurrency` in flight.
 * Returns one view per input range, in input order.
 */
export async function readRanges(source: ByteSource, ranges: Range[], o: ReadRangesOptions = {}): Promise<Uint8Array[]> {
  const gap = o.gap ?? DEFAULT_GAP
  // with multi-range requests merging saves no request; where each range is a request, gaps
  // cheaper than one are read (a local file's requests cost next to nothing: never)
  const requestGap = source.local ? 0 : (o.requestGap ?? 0)
  const concurrency = Math.max(1, o.concurrency ?? DEFAULT_CONCURRENCY)
  const merged = source.sliceMany ? coalesce(ranges, gap) : fitRounds(coalesce(ranges, Math.max(gap, requestGap)), concurrency, requestGap)
  const bodies = new Array<Uint8Array>(merged.length)
  const perRequest = merged.length > 1 && source.sliceMany ? MAX_RANGES_PER_REQUEST : 1
  /** A group of merged ranges for one multi-range request, or a run of them read as one span. */
  type Job = { group: number[] } | { span: number[] }
  const queue: Job[] = []
  for (let i = 0; i < merged.length; i += perRequest)
    queue.push({ group: Array.from({ length: Math.min(perRequest, merged.length - i) }, (_, j) => i + j) })
  let multi = perRequest > 1
  /** One request: a group of ranges in one multi-range request, or one range or span. */
  const take = async (job: Job) => {
    throwIfAborted(o.signal)
    if ('span' in job) {
      const first = merged[job.span[0] as number] as Range
      const last = merged[job.span.at(-1) as number] as Range
      const body = new Uint8Array(await source.slice(first.start, last.end, o.signal))
      for (const i of job.span) {
        const r = merged[i] as Range
        bodies[i] = body.subarray(r.start - first.start, r.end - first.start)
      }
      return
    }
    const { group } = job
    if (group.length > 1 && multi) {
      const parts = await source.sliceMany?.(
        group.map((i) => merged[i] as Range),
        o.signal,
      )
      if (parts) {
        for (const [j, i] of group.entries()) bodies[i] = parts[j] as Uint8Array
        return
      }
      multi = false // the server answered without multipart: one request per range from now on
    }
    // one request a range from here: runs of ranges closer than the fallback gap read as one span
    const gap = requestGap
    const spans: number[][] = []
    for (const i of group) {
      const run = spans.at(-1)
      const prev = run?.at(-1)
      if (run && prev !== undefined && (merged[i] as Range).start - (merged[prev] as Range).end <= gap) run.push(i)
      else spans.push([i])
    }
    queue.unshift(...spans.map((span) => ({ span })))
  }
  // never more than `concurrency` requests in flight; the first failure stops new ones
  let failure: { error: unknown } | undefined
  const running = new Set<Promise<void>>()
  const fill = () => {
    while (running.size < concurrency && queue.length && !failure) {
      const p: Promise<void> = take(queue.shift() as Job)
        .catch((error) => {
          failure ??= { error }
        })
        .finally(() => running.delete(p))
      running.add(p)
    }
  }
  fill()
  while (running.size) {
    await Promise.race(running)
    fill()
  }
  if (failure) throw failure.error
  return ranges.map((r) => {
    // the merged range containing r: last one starting at or before r.start
    const at = Math.max(0, partitionPoint(0, merged.length, (i) => (merged[i] as Range).start > r.start) - 1)
    const m = merged[at] as Range
    return (bodies[at] as Uint8Array).subarray(r.start - m.start, r.end - m.start)
  })
}
