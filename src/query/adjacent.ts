import type { ListView } from '../index/blob.js'
import { coalesce, type Range } from '../io/ranges.js'
import { partitionPoint } from '../sorted.js'
import type { ListPlace } from './pipeline.js'

/**
 * What a search gets for free on a host without multi-range requests. The read planner fetches
 * two ranges less than REQUEST_BYTES apart as one (io/ranges.ts), gap included, so the lists
 * stored between two probed lists, and the vector pages stored between two candidates' pages,
 * arrive with the read. Scanning those lists and re-ranking those rows exactly costs no request
 * there, only a little compute, and finds true neighbours the PQ estimates or the probe missed;
 * the tune step counts on it, so the defaults probe fewer lists for the same recall (1 M rows:
 * 684 → 596 KiB and 15.3 → 13.5 requests a query; docs/BENCHMARKS.md).
 *
 * Both are defined on the file's layout and the fixed gap alone (not on what the cache holds or
 * how the planner splits rounds), so a query gets the same answers alone or in a batch, from S3
 * or a local file. A host answering multi-range requests would have to read those bytes on
 * purpose: there it is off unless asked for (SearchOptions.adjacent).
 */

/** Where each list's entries lie in the file, and the lists in the order they are stored. */
export interface ListExtents {
  start: Float64Array
  end: Float64Array
  /** Non-empty lists by ascending start. */
  byStart: Uint32Array
}

export function listExtents(start: Float64Array, end: Float64Array): ListExtents {
  const ids: number[] = []
  for (let l = 0; l < start.length; l++) if ((end[l] as number) > (start[l] as number)) ids.push(l)
  ids.sort((a, b) => (start[a] as number) - (start[b] as number) || a - b)
  return { start, end, byStart: Uint32Array.from(ids) }
}

/**
 * A query's probed lists, then (ascending) every other non-empty list whose entries lie wholly
 * inside one stretch of the probed lists merged `gap` bytes apart.
 */
export function withListsBetween(probed: Uint32Array, extents: ListExtents, gap: number): Uint32Array {
  if (probed.length < 2) return probed
  const { start, end, byStart } = extents
  const spans = coalesce(
    Array.from(probed, (l) => ({ start: start[l] as number, end: end[l] as number })),
    gap,
  )
  const have = new Set(probed)
  const extra: number[] = []
  for (const span of spans) {
    // first list starting at or after the span's start
    const first = partitionPoint(0, byStart.length, (i) => (start[byStart[i] as number] as number) >= span.start)
    for (let i = first; i < byStart.length; i++) {
      const l = byStart[i] as number
      if ((start[l] as number) >= span.end) break
      if ((end[l] as number) <= span.end && !have.has(l)) extra.push(l)
    }
  }
  if (!extra.length) return probed
  extra.sort((a, b) => a - b)
  const out = new Uint32Array(probed.length + extra.length)
  out.set(probed)
  out.set(extra, probed.length)
  return out
}

/**
 * Each list view's first and last byte of vector pages, and whether its pages lie in list order
 * (ascending offsets: a file stored list by list, and one in input order whose lists hold rows in
 * row order, as the builder writes them) — found once.
 */
const pageSpans = new WeakMap<ListView, Range & { ascending: boolean }>()
function pageSpanOf(list: ListView): Range & { ascending: boolean } {
  let span = pageSpans.get(list)
  if (!span) {
    span = { start: Number.POSITIVE_INFINITY, end: 0, ascending: true }
    let previous = Number.NEGATIVE_INFINITY
    for (let at = 0; at < list.rowIds.length; at++) {
      const start = list.pageOffsets[at] as number
      if (start < previous) span.ascending = false
      previous = start
      if (start < span.start) span.start = start
      span.end = Math.max(span.end, start + (list.pageLengths[at] as number))
    }
    pageSpans.set(list, span)
  }
  return span
}

/** The first entry of `list` whose page starts at or after `at` (its pages ascending). */
function firstPageFrom(list: ListView, at: number): number {
  return partitionPoint(0, list.rowIds.length, (i) => (list.pageOffsets[i] as number) >= at)
}

/** Buckets a stretch gets in rowsAround's map of them (at most MAX_BUCKETS in all). */
const BUCKETS_PER_STRETCH = 256
const MAX_BUCKETS = 1 << 18

/** Index of the last stretch starting at or before `at` (−1: none); `starts` ascending. */
function spanBefore(starts: Float64Array, at: number): number {
  return partitionPoint(0, starts.length, (i) => (starts[i] as number) > at) - 1
}

/**
 * The rows of `lists` (a query's probed lists) whose vector page lies wholly inside one stretch
 * of the candidates' pages merged `gap` bytes apart, except rows `allowed` leaves out: the
 * placed candidates and the rows stored between them, in list order; each one's place is put in
 * `places` (unless it is there already).
 */
export function rowsAround(
  candidates: readonly number[],
  places: Map<number, ListPlace>,
  lists: readonly ListView[],
  allowed: Uint8Array | undefined,
  gap: number,
): number[] {
  const pages: Range[] = []
  for (const row of candidates) {
    const p = places.get(row)
    if (!p) continue
    const start = p.list.pageOffsets[p.at] as number
    pages.push({ start, end: start + (p.list.pageLengths[p.at] as number) })
  }
  // the stretches as two typed arrays, and a coarse map of them: buckets over their extent, marked
  // where a stretch lies, so most pages of a probed list — in none — cost one test each
  const spans = coalesce(pages, gap)
  const out: number[] = []
  const n = spans.length
  if (!n) return out
  const starts = new Float64Array(n)
  const ends = new Float64Array(n)
  for (let i = 0; i < n; i++) {
    starts[i] = (spans[i] as Range).start
    ends[i] = (spans[i] as Range).end
  }
  const lo = starts[0] as number
  const hi = ends[n - 1] as number
  const size = Math.max(1, Math.ceil((hi - lo + 1) / Math.min(MAX_BUCKETS, BUCKETS_PER_STRETCH * n)))
  const marks = new Uint8Array(Math.floor((hi - lo) / size) + 1)
  for (let i = 0; i < n; i++)
    marks.fill(1, Math.floor(((starts[i] as number) - lo) / size), Math.floor(((ends[i] as number) - lo) / size) + 1)
  // rows taken, one bit each (a spilled row is in two lists; a list's spilled rows follow its
  // own, so the bits grow past the lists' last rows when they must). At small dims a stretch
  // holds hundreds of pages and many rows come along, and the build's tune step searches 200
  // queries at every setting it tries: a Set of the rows was a hot spot of its profile (80,000
  // rows of 16 dims, one thread, runs taking turns: tune 17.1, 20.4, 19.5 s with the Set, 16.1,
  // 14.9, 18.3 s with these bits, the same file written)
  let last = 0
  for (const list of lists) if (list.rowIds.length) last = Math.max(last, list.rowIds[list.rowIds.length - 1] as number)
  let taken = new Uint32Array((last >>> 5) + 1)
  const take = (list: ListView, at: number) => {
    const row = list.rowIds[at] as number
    const word = row >>> 5
    const bit = 1 << (row & 31)
    if (word >= taken.length) {
      const grown = new Uint32Array(Math.max(word + 1, 2 * taken.length))
      grown.set(taken)
      taken = grown
    }
    if ((allowed && !allowed[row]) || (taken[word] as number) & bit) return
    taken[word] = (taken[word] as number) | bit
    // a row placed already (a candidate, or taken for another query of the batch) keeps its place:
    // its page is the same from any list. A new place each time was garbage, and Map writes, in
    // the tune step (80,000 rows of 16 dims, one thread: tune 13.5 and 14.1 s → 10.9 and 10.9 s;
    // wordnet 4.8–5.0 → 4.6–4.8 s; the same files written)
    if (!places.has(row)) places.set(row, { list, at })
    out.push(row)
  }
  for (const list of lists) {
    // a list whose pages all lie outside every stretch is passed over whole
    const whole = pageSpanOf(list)
    const last = spanBefore(starts, whole.end - 1)
    if (last < 0 || (ends[last] as number) <= whole.start) continue
    const rows = list.rowIds.length
    const offsets = list.pageOffsets
    const lengths = list.pageLengths
    const first = Math.max(0, spanBefore(starts, whole.start))
    if (whole.ascending && (last - first + 1) * Math.log2(rows + 1) < rows) {
      // pages in list order over a few stretches (stored list by list): each stretch gives a run
      // of entries found by bisection, so the work follows the rows taken, not the list's length
      for (let i = first; i <= last; i++) {
        const end = ends[i] as number
        for (let at = firstPageFrom(list, starts[i] as number); at < rows; at++) {
          const start = offsets[at] as number
          if (start >= end) break
          if (start + (lengths[at] as number) <= end) take(list, at)
        }
      }
    } else
      for (let at = 0; at < rows; at++) {
        // a page in a marked bucket is looked up among the stretches (input order, 100 lists of
        // ~977 pages and 800 candidates: 2.3–3.6 ms a query walking pages and stretches together,
        // each step a branch the CPU mispredicts)
        const start = offsets[at] as number
        if (start < lo || start > hi || !marks[Math.floor((start - lo) / size)]) continue
        const i = spanBefore(starts, start)
        if (start + (lengths[at] as number) <= (ends[i] as number)) take(list, at)
      }
  }
  return out
}
