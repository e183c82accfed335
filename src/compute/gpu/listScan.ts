import { checkpoint, GpuError } from '../../errors.js'
import type { IvfPqModel } from '../../index/model.js'
import { jsKernels, type Kernels } from '../backend.js'
import { packRows } from '../metric.js'
import { coarseDistances, probe as probeOnCpu } from '../probe.js'
import { type Ranked, TopK } from '../topk.js'
import type { GpuContext, Tunables } from './context.js'
import { GpuExact, padRows, recordExact } from './exact.js'
import { WORKGROUP } from './pass.js'

/** What the scan needs of an inverted list: codes (entries × m) and row ids. */
export interface ListCodes {
  codes: Uint8Array
  rowIds: Uint32Array
}

/** Bytes of GPU memory lists may occupy (and the most one buffer binding may hold). */
const DEFAULT_RESIDENT_BYTES = 1 << 30
/** Most bytes of ADC tables or of scanned distances in flight per submit. */
const CHUNK_BYTES = 128 << 20
const SEGMENT_WORDS = 5
/** Words of a scan item (scanLists.wgsl ITEM): segment, first entry, entries. */
const ITEM_WORDS = 3
/** Entries one workgroup of scanLists.wgsl's `tiled` scores: WORKGROUP × its PER. */
export const blockOf = (tunables: Pick<Tunables, 'PER'>) => WORKGROUP * tunables.PER
/**
 * Resident codes are interleaved in groups of GROUP entries (scanLists.wgsl): quad t of entry e
 * — its code bytes 16t … 16t + 15 as four little-endian u32 — sits at ((e / GROUP) · Q + t) ·
 * GROUP + e % GROUP in units of 16 bytes, Q = ⌈m / 16⌉ — so neighbouring invocations, scoring
 * neighbouring entries, read neighbouring quads. Lists start on a GROUP boundary.
 */
export const GROUP = 32
/** u32 words of one resident entry's codes (its ⌈m / 16⌉ quads). */
export const wordsPerEntry = (m: number) => 4 * Math.ceil(m / 16)

/** A list's row-major codes (count × m bytes) in the interleaved layout, padded to whole groups. */
export function interleave(codes: Uint8Array, count: number, m: number): Uint32Array {
  const quads = Math.ceil(m / 16)
  const groups = Math.ceil(count / GROUP)
  const out = new Uint32Array(groups * quads * GROUP * 4)
  for (let e = 0; e < count; e++) {
    const base = Math.floor(e / GROUP) * quads * GROUP + (e % GROUP)
    for (let j = 0; j < m; j++) {
      const at = (base + (j >> 4) * GROUP) * 4 + ((j >> 2) & 3)
      out[at] = ((out[at] as number) | ((codes[e * m + j] as number) << ((j & 3) * 8))) >>> 0
    }
  }
  return out
}

/**
 * scanLists.wgsl's work buffer for `segments` (SEGMENT_WORDS each; table at word 0, entries at
 * word 3): the segments, then the items of its `tiled` entry point — blocks of up to `block`
 * entries (blockOf) — then those of `direct` — up to WORKGROUP entries of one segment — taking
 * every block shorter than `directBelow`; an item is 3 words: segment, first entry of it,
 * entries. Consecutive segments scored with one table (a query's lists in a precomputed-L2 or
 * inner-product batch) form a run whose blocks go on from one segment into the next, so a tiled
 * block copies its table once for up to `block` entries however short the lists.
 */
export function scanPlan(segments: ArrayLike<number>, directBelow: number, block: number) {
  const nseg = segments.length / SEGMENT_WORDS
  const tableOf = (seg: number) => segments[seg * SEGMENT_WORDS] as number
  const countOf = (seg: number) => segments[seg * SEGMENT_WORDS + 3] as number
  // two passes over the same walk: the items counted, then written (one typed array written in
  // place: a batch of 10,000 queries has 320,000 segments)
  let work: Uint32Array | undefined
  let tiled = 0
  let direct = 0
  let t = 0
  let d = 0
  const item = (seg: number, first: number, entries: number, isTiled: boolean) => {
    if (!work) {
      if (isTiled) tiled++
      else direct++
      return
    }
    const at = isTiled ? t : d
    work[at] = seg
    work[at + 1] = first
    work[at + 2] = entries
    if (isTiled) t += ITEM_WORDS
    else d += ITEM_WORDS
  }
  const walk = () => {
    for (let r0 = 0; r0 < nseg; ) {
      // the run: segments r0 … r1 − 1 sharing r0's table
      let r1 = r0 + 1
      let total = countOf(r0)
      while (r1 < nseg && tableOf(r1) === tableOf(r0)) total += countOf(r1++)
      if (directBelow > Math.min(block, total)) {
        // no block of the run tiled: each segment WORKGROUP entries at a time
        for (let seg = r0; seg < r1; seg++)
          for (let e = 0, count = countOf(seg); e < count; e += WORKGROUP) item(seg, e, Math.min(WORKGROUP, count - e), false)
        r0 = r1
        continue
      }
      // where the block starting at run position `pos` begins: segment `seg`, `before` run entries ahead of it
      let seg = r0
      let before = 0
      for (let pos = 0; pos < total; pos += block) {
        while (pos - before >= countOf(seg)) before += countOf(seg++)
        const n = Math.min(block, total - pos)
        if (n >= directBelow) {
          item(seg, pos - before, n, true)
          continue
        }
        // direct (the run's last block): its entries a segment's at a time, WORKGROUP at a time
        let s = seg
        let b = before
        for (let at = pos; at < pos + n; ) {
          while (at - b >= countOf(s)) b += countOf(s++)
          const end = Math.min(pos + n, b + countOf(s))
          for (let e = at; e < end; e += WORKGROUP) item(s, e - b, Math.min(WORKGROUP, end - e), false)
          at = end
        }
      }
      r0 = r1
    }
  }
  walk()
  work = new Uint32Array(segments.length + ITEM_WORDS * (tiled + direct))
  work.set(segments)
  const tiledAt = segments.length
  const directAt = tiledAt + ITEM_WORDS * tiled
  t = tiledAt
  d = directAt
  walk()
  return { work, tiled, direct, tiledAt, directAt }
}

/** Records scanLists.wgsl's passes for a plan; `buffers` as the shader's bindings 1… (work among them). */
export function recordScan(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  plan: ReturnType<typeof scanPlan>,
  o: { m: number; ksub: number; filtered: boolean; precomputed: boolean },
  buffers: GPUBuffer[],
): void {
  for (const [entry, items, itemsAt] of [
    ['tiled', plan.tiled, plan.tiledAt],
    ['direct', plan.direct, plan.directAt],
  ] as const)
    if (items)
      ctx
        .pass('scanLists', entry)
        .run(
          encoder,
          items * WORKGROUP,
          (perGridRow) => u32s([items, o.m, o.ksub, o.filtered ? 1 : 0, perGridRow / WORKGROUP, itemsAt, o.precomputed ? 1 : 0]),
          buffers,
        )
}

/** Candidate slots a query gets from selectTopK: room for k × refine and a bin's worth more. */
export const topKSlots = (keep: number) => keep * 2 + 256

/**
 * Records selectTopK.wgsl (BINS from ctx.tunables) for `nq` queries, `buffers` as its bindings
 * 1… — ranges, dist, rows, counts, candidate distances, candidate rows — `cap` slots a query.
 */
export function recordTopK(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  o: { nq: number; keep: number; cap: number },
  buffers: GPUBuffer[],
): void {
  ctx.pass('selectTopK').run(encoder, o.nq * WORKGROUP, (perGridRow) => u32s([o.nq, o.keep, o.cap, perGridRow / WORKGROUP]), buffers)
}

/** Row id the scan gives entries a filter left out (scanLists.wgsl). */
const NO_ROW = 0xffffffff

/** Most candidate slots sortSlots.wgsl sorts (16 KiB of workgroup memory); more are sorted on the CPU. */
export const SORT_MAX = 2048

/**
 * Records sortSlots.wgsl after recordTopK: each query's slots sorted by (distance, row), the
 * first `keep` in place — when `cap` slots fit SORT_MAX (k × refine up to 896). Whether it did.
 */
export function recordSortSlots(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  o: { nq: number; keep: number; cap: number },
  buffers: [counts: GPUBuffer, candidateDistances: GPUBuffer, candidateRows: GPUBuffer],
): boolean {
  if (o.cap > SORT_MAX) return false
  const size = 2 ** Math.ceil(Math.log2(o.cap))
  ctx.pass('sortSlots').run(encoder, o.nq * WORKGROUP, (perGridRow) => u32s([o.nq, o.keep, o.cap, perGridRow / WORKGROUP, size]), buffers)
  return true
}

/**
 * Each of `ranges`' queries' `keep` best entries of `dist` / `rows` (ascending distance, ties to
 * the lower row; entries of row NO_ROW or a distance that is not finite left out): selectTopK
 * recorded into `encoder`, which is submitted, its candidate slots read back — or, for a query
 * whose slots overflowed, its whole range — sorted (sortSlots.wgsl; here when the slots are too
 * many or overflowed): what a CPU TopK over the range keeps.
 * `read` runs once the slots are back (a profile's mark).
 */
async function selectOnGpu(
  ctx: GpuContext,
  encoder: GPUCommandEncoder,
  ranges: Uint32Array,
  distBuf: GPUBuffer,
  rowBuf: GPUBuffer,
  keep: number,
  what: string,
  read?: () => void,
): Promise<Ranked[]> {
  const nq = ranges.length / 2
  const cap = topKSlots(keep)
  const held = [
    ctx.upload(ranges, `${what}.ranges`),
    ctx.acquire(nq * 4, `${what}.counts`),
    ctx.acquire(nq * cap * 4, `${what}.candidateDistances`),
    ctx.acquire(nq * cap * 4, `${what}.candidateRows`),
  ] as const
  const [rangeBuf, countBuf, candDist, candRows] = held
  try {
    recordTopK(ctx, encoder, { nq, keep, cap }, [rangeBuf, distBuf, rowBuf, countBuf, candDist, candRows])
    // sorted on the GPU: a 10,000-query batch's million candidates took the H200's host 290–520 ms to sort
    const sorted = recordSortSlots(ctx, encoder, { nq, keep, cap }, [countBuf, candDist, candRows])
    const [countsRaw, distRaw, rowsRaw] = await ctx.submitAndRead(
      encoder,
      [
        [countBuf, 0, nq * 4],
        [candDist, 0, nq * cap * 4],
        [candRows, 0, nq * cap * 4],
      ],
      what,
    )
    read?.()
    const counts = new Uint32Array(countsRaw as ArrayBuffer)
    const dists = new Float32Array(distRaw as ArrayBuffer)
    const rows = new Uint32Array(rowsRaw as ArrayBuffer)
    // queries whose slots overflowed: their whole range, read back
    const overflow = Array.from({ length: nq }, (_, qi) => qi).filter((qi) => (counts[qi] as number) > cap)
    const whole = new Map<number, [Float32Array, Uint32Array]>()
    if (overflow.length) {
      const encoder2 = ctx.device.createCommandEncoder({ label: `${what}.overflow` })
      const reads: Array<[GPUBuffer, number, number]> = []
      for (const qi of overflow) {
        const start = ranges[2 * qi] as number
        const bytes = ((ranges[2 * qi + 1] as number) - start) * 4
        reads.push([distBuf, start * 4, bytes], [rowBuf, start * 4, bytes])
      }
      const got = await ctx.submitAndRead(encoder2, reads, `${what} (overflow)`)
      overflow.forEach((qi, i) => {
        whole.set(qi, [new Float32Array(got[2 * i] as ArrayBuffer), new Uint32Array(got[2 * i + 1] as ArrayBuffer)])
      })
    }
    return Array.from({ length: nq }, (_, qi): Ranked => {
      const got = whole.get(qi)
      const n = counts[qi] as number
      if (!got && sorted) {
        // the first of the sorted slots, as they came back (views, not copies: 20,000 a batch)
        const at = qi * cap
        const take = Math.min(n, keep)
        return { rows: rows.subarray(at, at + take), distances: dists.subarray(at, at + take) }
      }
      const [d, r, count] = got
        ? [got[0], got[1], got[0].length]
        : [dists.subarray(qi * cap, (qi + 1) * cap), rows.subarray(qi * cap, (qi + 1) * cap), n]
      const top = new TopK(keep)
      for (let i = 0; i < count; i++) {
        const distance = d[i] as number
        const row = r[i] as number
        if (row !== NO_ROW && Number.isFinite(distance) && distance <= top.bound) top.push(distance, row)
      }
      return top.ranked()
    })
  } finally {
    ctx.release(...held)
  }
}

/**
 * The scan stage of IVF-PQ search on the GPU, for many queries at once: ADC tables for every
 * (query, probed list) pair (adcTables.wgsl), every entry of every probed list scored
 * (scanLists.wgsl), and per query only the entries that can be among its `keep` best read back
 * (selectTopK.wgsl) — then sorted by (distance, row) on the CPU, like a CPU scan's TopK.
 *
 * Lists stay resident on the GPU once uploaded (an arena of codes and row ids, reset when full),
 * so repeated and batched queries pay the upload once. Queries are cut into chunks whose tables
 * and distances fit CHUNK_BYTES (and the device's binding limit) and whose lists fit the arena.
 */
export class GpuListScan {
  private readonly centroids: GPUBuffer
  private readonly codebooks: GPUBuffer
  private readonly starts: GPUBuffer
  private readonly none: GPUBuffer
  /** Resident lists: list → first entry in the arena (a multiple of GROUP). */
  private resident = new Map<number, number>()
  private entries = 0
  private codes: GPUBuffer | undefined
  private rows: GPUBuffer | undefined
  private capacity = 0
  private readonly maxEntries: number
  private allowedKey: Uint8Array | undefined
  private allowedBuffer: GPUBuffer | undefined
  /** listTerms.wgsl's output, built on first use (L2 batches, see `precomputed`). */
  private terms: GPUBuffer | undefined
  /**
   * Each resident entry's share of `terms` (scanLists.wgsl `entryTerms`), beside the arena, for
   * the lists in `termsFor` (summed on a precomputed scan's first visit, entryTermsFor).
   */
  private entryTerms: GPUBuffer | undefined
  private readonly termsFor = new Set<number>()
  /** The centroids padded for exactL2.wgsl when dim is not a multiple of 4. */
  private centroids4: GPUBuffer | undefined
  /** `probe`'s list ids (listIds), for up to listIdQueries queries. */
  private listIdBuffer: GPUBuffer | undefined
  private listIdQueries = 0

  /** The CPU kernels of the queries' distances to their lists' centroids (the scan's biases). */
  private readonly kernels: Pick<Kernels, 'distances' | 'rowScanner'>
  /** Refinement (holds a batch's queries between its blocks of rows). */
  private readonly exact: GpuExact
  /**
   * Where `probe` and `candidates` spend their time, while set (bench:gpu's batch section).
   * Profiling submits the list stage's tables and scan on their own and waits for each, so the
   * stage runs a little slower than unprofiled.
   */
  profile: ListScanProfile | undefined

  constructor(
    private readonly ctx: GpuContext,
    private readonly model: IvfPqModel,
    o: { kernels?: Pick<Kernels, 'distances' | 'rowScanner'>; residentBytes?: number } = {},
  ) {
    const { m } = model.params
    this.kernels = o.kernels ?? jsKernels
    this.exact = new GpuExact(ctx)
    const residentBytes = o.residentBytes ?? DEFAULT_RESIDENT_BYTES
    this.centroids = ctx.upload(model.centroids, 'ListScan.centroids')
    this.codebooks = ctx.upload(model.codebooks, 'ListScan.codebooks')
    this.starts = ctx.upload(model.layout.starts, 'ListScan.starts')
    this.none = ctx.upload(new Uint32Array(4), 'ListScan.noFilter')
    const bytes = Math.min(residentBytes, ctx.maxBinding)
    this.maxEntries = Math.floor(Math.min(bytes / (4 * wordsPerEntry(m)), bytes / 4) / GROUP) * GROUP
  }

  /**
   * The `keep` best candidates of each query (ascending distance, ties to the lower row) over
   * its probed lists; `allowed` (a row bitmap) leaves other rows out. `coarse`: each query's
   * coarseDistances to its probed lists' centroids (the order of `probes`) when the caller has
   * them already (the slack cut computes them) — else computed here where the scan needs them.
   */
  async candidates(
    queries: Float32Array[],
    probes: ArrayLike<number>[],
    lists: (list: number) => ListCodes | undefined,
    kind: 'l2' | 'ip',
    keep: number,
    allowed?: Uint8Array,
    signal?: AbortSignal,
    coarse?: readonly Float32Array[],
  ): Promise<Ranked[]> {
    const { m, ksub } = this.model.layout
    const sizeOf = (l: number) => lists(l)?.rowIds.length ?? 0
    const residentSize = (l: number) => Math.ceil(sizeOf(l) / GROUP) * GROUP
    const tableBytes = m * ksub * 4
    const precomputed = kind === 'l2' && this.precomputedPays(probes.reduce((s, p) => s + p.length, 0))
    // ‖q − c‖² (precomputed L2) or ⟨q, c⟩ (ip) of each (query, list): a segment's bias
    const biases =
      precomputed || kind === 'ip' ? (coarse ?? coarseDistances(this.kernels, queries, probes, this.model.centroids, kind)) : undefined
    // each buffer of a chunk within CHUNK_BYTES and one binding
    const chunkBytes = Math.min(CHUNK_BYTES, this.ctx.maxBinding)
    const slotBytes = (keep * 2 + 256) * 4
    const tablesOf = (lists: number) => (kind === 'l2' && !precomputed ? lists : 1) * tableBytes
    // pieces: a query's probed lists, cut where one chunk could not hold them all (their best
    // candidates are merged below)
    const pieces: Array<{ query: number; probe: number[]; bias: number[] }> = []
    for (let qi = 0; qi < queries.length; qi++) {
      let probe: number[] = []
      let bias: number[] = []
      let [scanned, entries] = [0, 0]
      const all = probes[qi] as ArrayLike<number>
      for (let pi = 0; pi < all.length; pi++) {
        const l = all[pi] as number
        if (!sizeOf(l)) continue
        if (residentSize(l) > this.maxEntries || sizeOf(l) * 4 > chunkBytes)
          throw new GpuError(`list ${l} (${sizeOf(l)} entries) does not fit this GPU's buffers; use the CPU`)
        if (
          probe.length &&
          (tablesOf(probe.length + 1) > chunkBytes || scanned + sizeOf(l) * 4 > chunkBytes || entries + residentSize(l) > this.maxEntries)
        ) {
          pieces.push({ query: qi, probe, bias })
          ;[probe, bias, scanned, entries] = [[], [], 0, 0]
        }
        probe.push(l)
        if (biases) bias.push((biases[qi] as Float32Array)[pi] as number)
        scanned += sizeOf(l) * 4
        entries += residentSize(l)
      }
      pieces.push({ query: qi, probe, bias })
    }
    const found: Array<Ranked | undefined> = Array.from({ length: queries.length }, () => undefined)
    let p0 = 0
    while (p0 < pieces.length) {
      await checkpoint(signal)
      // grow the chunk while its tables, distances, candidate slots and lists fit
      let p1 = p0
      let tables = 0
      let scanned = 0
      const needed = new Set<number>()
      let neededEntries = 0
      while (p1 < pieces.length) {
        const { probe } = pieces[p1] as { probe: number[] }
        const moreTables = tablesOf(probe.length)
        const moreScanned = probe.reduce((s, l) => s + sizeOf(l), 0) * 4
        const fresh = probe.filter((l) => !needed.has(l))
        const moreEntries = fresh.reduce((s, l) => s + residentSize(l), 0)
        const fits =
          tables + moreTables <= chunkBytes &&
          scanned + moreScanned <= chunkBytes &&
          (p1 - p0 + 1) * slotBytes <= chunkBytes &&
          neededEntries + moreEntries <= this.maxEntries
        if (!fits && p1 > p0) break
        for (const l of fresh) needed.add(l)
        neededEntries += moreEntries
        tables += moreTables
        scanned += moreScanned
        p1++
      }
      const r0 = performance.now()
      this.makeResident(
        [...needed].sort((a, b) => a - b),
        lists,
      )
      if (this.profile) this.profile.residentMs += performance.now() - r0
      const chunk = pieces.slice(p0, p1)
      const got = await this.scanChunk(
        chunk.map((p) => queries[p.query] as Float32Array),
        chunk.map((p) => p.probe),
        biases && chunk.map((p) => p.bias),
        sizeOf,
        kind,
        keep,
        allowed,
        precomputed,
      )
      chunk.forEach((p, i) => {
        const into = found[p.query]
        const add = got[i] as Ranked
        if (!into) found[p.query] = add
        else {
          // a query whose lists took more than one chunk: the best of both
          const top = new TopK(keep)
          for (const r of [into, add]) for (let e = 0; e < r.rows.length; e++) top.push(r.distances[e] as number, r.rows[e] as number)
          found[p.query] = top.ranked()
        }
      })
      p0 = p1
    }
    return found as Ranked[]
  }

  /** The refine stage on this device: exact distances of each query to its candidates (GpuExact.refine; a batch's queries stay on the GPU from one block of rows to the next). */
  refine(...args: Parameters<GpuExact['refine']>): Promise<Float64Array> {
    return this.exact.refine(...args)
  }

  /**
   * The nprobe nearest lists of each query by squared L2 to the centroids (exactL2.wgsl over
   * queries × centroids, selectTopK; ties to the lower list), nearest first — what
   * compute/probe.ts computes, for batches large enough to be worth a GPU pass.
   */
  async probe(queries: Float32Array[], nprobe: number, signal?: AbortSignal): Promise<Uint32Array[]> {
    const { dim, nlist } = this.model.params
    const keep = Math.min(nprobe, nlist)
    const out: Uint32Array[] = []
    // queries per pass: the distance matrix (and its list ids) and the queries within CHUNK_BYTES and one binding
    const per = Math.max(1, Math.floor(Math.min(CHUNK_BYTES, this.ctx.maxBinding) / (4 * Math.max(nlist, dim + 3))))
    for (let q0 = 0; q0 < queries.length; q0 += per) {
      await checkpoint(signal)
      const chunk = queries.slice(q0, q0 + per)
      const nq = chunk.length
      const qBuf = this.ctx.upload(padRows(packRows(chunk, dim), nq, dim), 'Probe.queries')
      const dBuf = this.ctx.acquire(nq * nlist * 4, 'Probe.distances')
      const ranges = new Uint32Array(2 * nq)
      for (let qi = 0; qi < nq; qi++) [ranges[2 * qi], ranges[2 * qi + 1]] = [qi * nlist, (qi + 1) * nlist]
      try {
        const encoder = this.ctx.device.createCommandEncoder({ label: 'Probe' })
        recordExact(this.ctx, encoder, { n: nlist, q: nq, dim, ip: false }, [qBuf, this.paddedCentroids(), dBuf])
        // each query's nearest lists picked on the GPU: about nprobe of its nlist distances come
        // back (10,000 queries × 1,024 lists on an H200: 366 ms picking them here from all)
        const t0 = performance.now()
        let t1 = t0
        const picked = await selectOnGpu(this.ctx, encoder, ranges, dBuf, this.listIds(nq), keep, 'probing', () => {
          t1 = performance.now()
        })
        for (const [qi, lists] of picked.entries()) {
          // a query with distances that are not finite (vectors past f32's range): the CPU's probe
          out.push(
            lists.rows.length === keep
              ? lists.rows
              : (probeOnCpu(this.kernels, [chunk[qi] as Float32Array], this.model.centroids, nlist, 'l2', keep)[0] as Uint32Array),
          )
        }
        if (this.profile) {
          this.profile.probeGpuMs += t1 - t0
          this.profile.probeSortMs += performance.now() - t1
        }
      } finally {
        this.ctx.release(qBuf, dBuf)
      }
    }
    return out
  }

  /** 0 … nlist − 1 once for each of `nq` queries: the row ids selectTopK gives the probe's lists. */
  private listIds(nq: number): GPUBuffer {
    const { nlist } = this.model.params
    if (!this.listIdBuffer || this.listIdQueries < nq) {
      this.ctx.release(this.listIdBuffer)
      const ids = new Uint32Array(nq * nlist)
      for (let qi = 0; qi < nq; qi++) for (let l = 0; l < nlist; l++) ids[qi * nlist + l] = l
      this.listIdBuffer = this.ctx.upload(ids, 'Probe.listIds')
      this.listIdQueries = nq
    }
    return this.listIdBuffer
  }

  /** The centroids as exactL2.wgsl reads them (rows padded to a multiple of 4 floats). */
  private paddedCentroids(): GPUBuffer {
    const { dim, nlist } = this.model.params
    if (dim % 4 === 0) return this.centroids
    this.centroids4 ??= this.ctx.upload(padRows(this.model.centroids, nlist, dim), 'ListScan.paddedCentroids')
    return this.centroids4
  }

  /** Uploads the lists not yet on the GPU; when they do not all fit beside the others, starts over. */
  private makeResident(needed: number[], lists: (list: number) => ListCodes | undefined) {
    const { m } = this.model.params
    const missing = needed.filter((l) => !this.resident.has(l))
    const size = (l: number) => Math.ceil((lists(l)?.rowIds.length ?? 0) / GROUP) * GROUP
    const words = wordsPerEntry(m)
    let more = missing.reduce((s, l) => s + size(l), 0)
    if (this.entries + more > this.maxEntries) {
      this.resident.clear()
      this.termsFor.clear()
      this.entries = 0
      more = needed.reduce((s, l) => s + size(l), 0)
      missing.splice(0, missing.length, ...needed)
    }
    if (!missing.length) return
    const want = this.entries + more
    if (want > this.capacity) {
      // a larger arena, the resident entries copied over on the GPU
      const capacity = Math.min(this.maxEntries, Math.max(want, 2 * this.capacity))
      const codes = this.ctx.acquire(capacity * words * 4, 'ListScan.codes')
      const rows = this.ctx.acquire(capacity * 4, 'ListScan.rows')
      const terms = this.entryTerms && this.ctx.acquire(capacity * 4, 'ListScan.entryTerms')
      if (this.entries && this.codes && this.rows) {
        const encoder = this.ctx.device.createCommandEncoder({ label: 'ListScan.grow' })
        encoder.copyBufferToBuffer(this.codes, 0, codes, 0, this.entries * words * 4)
        encoder.copyBufferToBuffer(this.rows, 0, rows, 0, this.entries * 4)
        if (this.entryTerms && terms) encoder.copyBufferToBuffer(this.entryTerms, 0, terms, 0, this.entries * 4)
        this.ctx.device.queue.submit([encoder.finish()])
      }
      this.ctx.release(this.codes, this.rows, this.entryTerms)
      this.codes = codes
      this.rows = rows
      this.entryTerms = terms
      this.capacity = capacity
    }
    for (const l of missing) {
      const list = lists(l) as ListCodes
      this.ctx.write(this.codes as GPUBuffer, this.entries * words * 4, interleave(list.codes, list.rowIds.length, m))
      this.ctx.write(this.rows as GPUBuffer, this.entries * 4, list.rowIds)
      this.resident.set(l, this.entries)
      this.entries += size(l)
    }
  }

  /**
   * L2 tables per (query, list) pair cost pairs × m × ksub × dsub operations and as many floats
   * of memory; the precomputed decomposition costs one query table per query plus terms built
   * once per index (nlist × m × ksub). Used once a batch has more pairs than the index has lists
   * (or the terms exist already) and the terms fit one buffer. Its sums are ordered differently
   * from the CPU's, so distances agree to float rounding rather than bit for bit.
   */
  private precomputedPays(pairs: number): boolean {
    const { nlist } = this.model.params
    const { m, ksub, dim } = this.model.layout
    if (this.terms) return true
    const bytes = nlist * m * ksub * 4
    if (pairs <= nlist || bytes > this.ctx.maxBinding) return false
    this.terms = this.ctx.acquire(bytes, 'ListScan.terms')
    const encoder = this.ctx.device.createCommandEncoder({ label: 'ListScan.terms' })
    this.ctx
      .pass('listTerms')
      .run(encoder, nlist * m * ksub, (perGridRow) => u32s([nlist, m, ksub, dim, perGridRow]), [
        this.centroids,
        this.codebooks,
        this.starts,
        this.terms,
      ])
    this.ctx.device.queue.submit([encoder.finish()])
    return true
  }

  /**
   * Records the sums of `terms` over the entries of the resident lists among `lists` whose
   * entries lack them (scanLists.wgsl's per-pair mode: a list's terms as the table, the sums
   * written beside the arena); they hold until the arena starts over. Returns the buffers the
   * recorded pass uses, to give back once it ran.
   */
  private entryTermsFor(encoder: GPUCommandEncoder, lists: Iterable<number>, sizeOf: (l: number) => number): GPUBuffer[] {
    const { m, ksub } = this.model.layout
    const missing = [...new Set(lists)].filter((l) => !this.termsFor.has(l) && sizeOf(l) > 0)
    if (!missing.length) return []
    this.entryTerms ??= this.ctx.acquire(this.capacity * 4, 'ListScan.entryTerms')
    const segments = new Uint32Array(SEGMENT_WORDS * missing.length)
    missing.forEach((l, i) => {
      const first = this.resident.get(l) as number
      // table l (its terms), bias 0, its entries, written at their own places
      segments.set([l, 0, first, sizeOf(l), first], SEGMENT_WORDS * i)
      this.termsFor.add(l)
    })
    const plan = scanPlan(segments, Number.POSITIVE_INFINITY, blockOf(this.ctx.tunables))
    const work = this.ctx.upload(plan.work, 'ListScan.termsWork')
    const rowsOut = this.ctx.acquire(this.capacity * 4, 'ListScan.termsRows')
    recordScan(this.ctx, encoder, plan, { m, ksub, filtered: false, precomputed: false }, [
      this.terms as GPUBuffer,
      this.none,
      this.codes as GPUBuffer,
      this.rows as GPUBuffer,
      work,
      this.none,
      this.entryTerms,
      rowsOut,
    ])
    return [work, rowsOut]
  }

  private allowedOn(allowed: Uint8Array | undefined): GPUBuffer {
    if (!allowed) return this.none
    if (this.allowedKey !== allowed) {
      const words = new Uint32Array(Math.ceil(allowed.length / 32) + 1)
      for (let r = 0; r < allowed.length; r++) if (allowed[r]) words[r >>> 5] = (words[r >>> 5] as number) | (1 << (r & 31))
      this.ctx.release(this.allowedBuffer)
      this.allowedBuffer = this.ctx.upload(words, 'ListScan.allowed')
      this.allowedKey = allowed
    }
    return this.allowedBuffer as GPUBuffer
  }

  /** `coarse`: each (query, probed list)'s bias (candidates' `biases`) — for precomputed L2 and ip. */
  private async scanChunk(
    queries: Float32Array[],
    probes: number[][],
    coarse: number[][] | undefined,
    sizeOf: (l: number) => number,
    kind: 'l2' | 'ip',
    keep: number,
    allowed: Uint8Array | undefined,
    precomputed: boolean,
  ): Promise<Ranked[]> {
    const { dim, m, ksub } = this.model.layout
    const nq = queries.length
    const profile = this.profile
    let t0 = performance.now()
    if (profile) profile.chunks++
    // segments: one per (query, non-empty probed list), SEGMENT_WORDS each; written into typed
    // arrays sized for every probed list (a 1,000-query chunk of a batch has 32,000 segments)
    const probed = probes.reduce((s, p) => s + p.length, 0)
    const segments = new Uint32Array(probed * SEGMENT_WORDS)
    const tablePairs = new Uint32Array(2 * (nq + probed))
    let nseg = 0
    let ntables = 0
    const ranges = new Uint32Array(nq * 2)
    const bits = new Float32Array(1)
    const bitsU = new Uint32Array(bits.buffer)
    let total = 0
    for (let qi = 0; qi < nq; qi++) {
      ranges[2 * qi] = total
      if (kind === 'ip' || precomputed) {
        tablePairs[2 * ntables] = qi
        tablePairs[2 * ntables++ + 1] = 0
      }
      const probe = probes[qi] as ArrayLike<number>
      const biases = coarse?.[qi]
      for (let pi = 0; pi < probe.length; pi++) {
        const l = probe[pi] as number
        const count = sizeOf(l)
        if (!count) continue
        let table = qi
        bits[0] = 0
        if (precomputed) bits[0] = biases?.[pi] as number
        else if (kind === 'l2') {
          table = ntables
          tablePairs[2 * ntables] = qi
          tablePairs[2 * ntables++ + 1] = l
        } else bits[0] = -(biases?.[pi] as number)
        const at = SEGMENT_WORDS * nseg++
        segments[at] = table
        segments[at + 1] = bitsU[0] as number
        segments[at + 2] = this.resident.get(l) as number
        segments[at + 3] = count
        segments[at + 4] = total
        total += count
      }
      ranges[2 * qi + 1] = total
    }
    const plan = scanPlan(segments.subarray(0, SEGMENT_WORDS * nseg), this.ctx.tunables.DIRECT, blockOf(this.ctx.tunables))
    const queryData = packRows(queries, dim)

    const ctx = this.ctx
    const held = [
      ctx.upload(queryData, 'ListScan.queries'),
      ctx.upload(tablePairs.subarray(0, 2 * ntables), 'ListScan.tablePairs'),
      ctx.acquire(ntables * m * ksub * 4, 'ListScan.tables'),
      ctx.upload(plan.work, 'ListScan.work'),
      ctx.acquire(total * 4, 'ListScan.distances'),
      ctx.acquire(total * 4, 'ListScan.rowsOut'),
    ] as const
    const [queryBuf, pairBuf, tableBuf, workBuf, distBuf, rowBuf] = held
    const alsoHeld: GPUBuffer[] = []
    try {
      let encoder = ctx.device.createCommandEncoder({ label: 'ListScan.encoder' })
      /** Profiling: what was recorded so far runs on its own, its time added to `stage`. */
      const split = async (stage: 'prepareMs' | 'tablesMs' | 'scanMs') => {
        if (!profile) return
        if (stage !== 'prepareMs') {
          ctx.device.queue.submit([encoder.finish()])
          await ctx.device.queue.onSubmittedWorkDone()
          encoder = ctx.device.createCommandEncoder({ label: 'ListScan.encoder' })
        }
        profile[stage] += performance.now() - t0
        t0 = performance.now()
      }
      await split('prepareMs')
      ctx
        .pass('adcTables')
        .run(encoder, ntables * m * ksub, (perGridRow) => u32s([ntables, m, ksub, dim, kind === 'ip' || precomputed ? 1 : 0, perGridRow]), [
          queryBuf,
          this.centroids,
          this.codebooks,
          this.starts,
          pairBuf,
          tableBuf,
        ])
      if (precomputed) alsoHeld.push(...this.entryTermsFor(encoder, probes.flat(), sizeOf))
      await split('tablesMs')
      recordScan(ctx, encoder, plan, { m, ksub, filtered: !!allowed, precomputed }, [
        tableBuf,
        precomputed ? (this.entryTerms as GPUBuffer) : this.none,
        this.codes as GPUBuffer,
        this.rows as GPUBuffer,
        workBuf,
        this.allowedOn(allowed),
        distBuf,
        rowBuf,
      ])
      await split('scanMs')
      const merged = await selectOnGpu(ctx, encoder, ranges, distBuf, rowBuf, keep, 'list scan', () => {
        if (!profile) return
        profile.topKAndReadMs += performance.now() - t0
        t0 = performance.now()
      })
      if (profile) profile.mergeMs += performance.now() - t0
      return merged
    } finally {
      ctx.release(...held, ...alsoHeld)
    }
  }

  /** The GPU this scan runs on and its tunables, in words. */
  get device(): string {
    return this.ctx.describe()
  }

  /** Gives the arena and model buffers back to the context. */
  release(): void {
    this.exact.release()
    this.ctx.release(
      this.codes,
      this.rows,
      this.centroids,
      this.codebooks,
      this.starts,
      this.none,
      this.allowedBuffer,
      this.terms,
      this.entryTerms,
      this.centroids4,
      this.listIdBuffer,
    )
    this.terms = undefined
    this.entryTerms = undefined
    this.termsFor.clear()
    this.centroids4 = undefined
    this.listIdBuffer = undefined
    this.listIdQueries = 0
    this.codes = undefined
    this.rows = undefined
    this.resident.clear()
    this.entries = 0
    this.capacity = 0
  }
}

/** GpuListScan.profile: milliseconds summed over the `probe` and `candidates` calls made while it is set. */
export interface ListScanProfile {
  /** `probe` on the GPU: the distances to every centroid, each query's nearest picked, read back. */
  probeGpuMs: number
  /** `probe` on the CPU: each query's picks sorted into its nprobe nearest lists. */
  probeSortMs: number
  /** `candidates`: the chunks it scanned in, then where their time went (below). */
  chunks: number
  /** Lists uploaded to the arena. */
  residentMs: number
  /** The chunk's segments, plan and uploads (CPU). */
  prepareMs: number
  /** ADC tables (GPU, submitted alone). */
  tablesMs: number
  /** The scan of every segment (GPU, submitted alone). */
  scanMs: number
  /** Top-k selection and reading the candidates back. */
  topKAndReadMs: number
  /** Whole ranges read back for queries whose candidate slots overflowed, and each query's candidates cut to its k best (CPU). */
  mergeMs: number
}

export const emptyListScanProfile = (): ListScanProfile => ({
  probeGpuMs: 0,
  probeSortMs: 0,
  chunks: 0,
  residentMs: 0,
  prepareMs: 0,
  tablesMs: 0,
  scanMs: 0,
  topKAndReadMs: 0,
  mergeMs: 0,
})

function u32s(values: number[]): Uint8Array {
  return new Uint8Array(Uint32Array.from(values).buffer)
}
