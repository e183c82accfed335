import { GpuError } from '../../errors.js'
import { mulberry32 } from '../random.js'
import type { GpuContext } from './context.js'
import { recordExact, recordRefine } from './exact.js'
import { blockOf, GROUP, recordScan, recordTopK, scanPlan, topKSlots, wordsPerEntry } from './listScan.js'
import type { TuningStore } from './tuningStore.js'

/**
 * Tunables chosen for the adapter at hand: what reads fastest differs between GPUs (32-wide
 * warps, 64-wide wavefronts, a laptop's 8-wide subgroups, how much a workgroup-memory copy costs),
 * so these are measured once per adapter rather than fixed:
 *   LANES  (invocations sharing a vector) and STAGED (its entry point) on exactL2 (probing,
 *          flat search), and REFINE_LANES (sharing a pair) on refinePairs — each from its own
 *          kernel's timings, over rows larger than a GPU's caches (an H200 timed on 25 MB it
 *          holds in L2 picked 16 for both; at size exactL2 is fastest at 8 there and refinePairs
 *          at 32, 1.6× faster than at 16)
 *   DIRECT (the block length from which the list scan copies tables to workgroup memory) on
 *          scanLists' two entry points, over blocks of each length up to a block (blockOf)
 *   BINS   (selectTopK's histogram: finer bins, a longer serial walk over them) on a batch's
 *          top-k; the answers are the same at any BINS (the host keeps k of what comes back)
 * Each choice's cost is its time over the best time of each workload, summed over the workloads;
 * the default stays unless another choice costs SWITCH_MARGIN of it or less where they differ, so
 * timing noise does not change answers' rounding from one run to the next. Ties go to the choice
 * listed first.
 */

/** The LANES values timed: powers of two dividing the workgroup (256). */
export const LANES_CHOICES = [4, 8, 16, 32] as const
/** The BINS values timed (selectTopK's histogram; at most 3,000 fit its workgroup memory). */
export const BINS_CHOICES = [256, 1024, 2048] as const
/** The block lengths the scan is timed at (scanLists: a block is at most blockOf entries). */
export const SCAN_LENGTHS = [32, 64, 128, 256, 512, 1024] as const
/** A value replaces the default only when its cost is at most this share of the default's (cheapest). */
export const SWITCH_MARGIN = 0.9
/** A measurement repeats its pass until the batch takes this long (ms): longer than a submit's cost. */
const MIN_BATCH_MS = 4
/** At most this many passes in one batch (encoding them costs host time, not counted). */
const MAX_REPS = 512

export interface LanesTiming {
  LANES: number
  /** exactL2, 8 queries × the workload's rows (ms a pass). */
  exactMs: number
  /** The same through exactL2's `staged` entry point (the queries in workgroup memory). */
  stagedMs: number
  /** refinePairs, PAIRS_PER_ROW pairs a row in scattered order (ms a pass). */
  refineMs: number
}

export interface ScanTiming {
  /** Entries per block (every block of the workload this long). */
  length: number
  /** scanLists through `tiled` and through `direct` (ms a pass). */
  tiledMs: number
  directMs: number
}

export interface BinsTiming {
  BINS: number
  /** selectTopK, 64 queries × the workload's entries each, k 100 (ms a pass). */
  ms: number
}

export interface Timings {
  lanes: LanesTiming[]
  scan: ScanTiming[]
  bins: BinsTiming[]
}

/** How a context's tunables were chosen (GpuContext.tuning). */
export type Tuning =
  | { source: 'defaults'; why: string }
  | { source: 'self-test'; ms: number; timings: Timings }
  | { source: 'cached'; timings: Timings }

/**
 * The choice whose summed normalized cost is least, among those that beat the default by
 * SWITCH_MARGIN on the workloads where the two differ (two DIRECT thresholds differ only on the
 * block lengths between them); the default when none does.
 */
function cheapest<T>(choices: T[], fallback: T, workloads: Array<(choice: T) => number>): T {
  if (!choices.includes(fallback)) return fallback
  const best = workloads.map((ms) => Math.min(...choices.map(ms)))
  const cost = (c: T, where = (_w: number) => true) =>
    workloads.reduce((sum, ms, w) => sum + (where(w) ? ms(c) / (best[w] as number) : 0), 0)
  const beats = (c: T) => {
    const differ = (w: number) => workloads[w]?.(c) !== workloads[w]?.(fallback)
    return c !== fallback && cost(c, differ) <= SWITCH_MARGIN * cost(fallback, differ)
  }
  let pick = fallback
  for (const c of choices) if (beats(c) && (pick === fallback || cost(c) < cost(pick))) pick = c
  return pick
}

/**
 * The lanes to use for one kernel (`exactMs`: exactL2's LANES, `refineMs`: refinePairs'
 * REFINE_LANES) given each value's timings; `fallback` when it was not timed.
 */
export function pickLanes(timings: LanesTiming[], fallback: number, kernel: 'exactMs' | 'refineMs'): number {
  const valid = timings.filter((t) => t[kernel] > 0)
  const of = (l: number) => valid.find((t) => t.LANES === l) as LanesTiming
  return cheapest(
    valid.map((t) => t.LANES),
    fallback,
    [(l) => of(l)[kernel]],
  )
}

/**
 * exactL2's LANES and entry point (STAGED) given their timings: of every timed pair, the
 * cheapest, when it beats `fallback` by SWITCH_MARGIN.
 */
export function pickExact(timings: LanesTiming[], fallback: { LANES: number; STAGED: number }): { LANES: number; STAGED: number } {
  const timed = timings.flatMap((t) => [
    { LANES: t.LANES, STAGED: 0, ms: t.exactMs },
    { LANES: t.LANES, STAGED: 1, ms: t.stagedMs },
  ])
  const valid = timed.filter((t) => t.ms > 0)
  const key = (c: { LANES: number; STAGED: number }) => `${c.LANES} ${c.STAGED}`
  const pick = cheapest(valid.map(key), key(fallback), [(k) => valid.find((t) => key(t) === k)?.ms ?? Number.POSITIVE_INFINITY])
  const [LANES, STAGED] = pick.split(' ').map(Number) as [number, number]
  return { LANES, STAGED }
}

/**
 * The DIRECT to use given the scan's timings: of the timed lengths, the default, and `block` + 1
 * (never tiled), the threshold whose blocks — `direct` below it, `tiled` from it — cost least.
 */
export function pickDirect(timings: ScanTiming[], fallback: number, block: number): number {
  const valid = timings.filter((t) => t.tiledMs > 0 && t.directMs > 0)
  if (!valid.length) return fallback
  const choices = [...new Set([...valid.map((t) => t.length), fallback, block + 1])].sort((a, b) => a - b)
  return cheapest(
    choices,
    fallback,
    valid.map((t) => (threshold: number) => (t.length >= threshold ? t.tiledMs : t.directMs)),
  )
}

/** The BINS to use given each value's timings; `fallback` when it was not timed. */
export function pickBins(timings: BinsTiming[], fallback: number): number {
  const valid = timings.filter((t) => t.ms > 0)
  const of = (b: number) => valid.find((t) => t.BINS === b) as BinsTiming
  return cheapest(
    valid.map((t) => t.BINS),
    fallback,
    [(b) => of(b).ms],
  )
}

/** Options of the self-test: workload sizes (smaller in tests) and its time budget. */
export interface SelfTestOptions {
  /** exactL2 / refinePairs: rows of `dim` floats (65,536 × 768: 201 MB, past an H200's 60 MB of L2). */
  rows?: number
  dim?: number
  /** The scan: entries per block length (65,536) of m code bytes (96). */
  entries?: number
  m?: number
  lanes?: readonly number[]
  lengths?: readonly number[]
  /** Top-k: entries per query (8,192: a batch query's 32 lists of ~256 rows), and the BINS timed. */
  topKEntries?: number
  bins?: readonly number[]
  /**
   * Stop timing new choices this long (ms, 1,500) after the pipelines are built: the lanes by half
   * of it, the scan by four fifths (so every sweep gets some); each sweep's first choice is always
   * timed.
   */
  budgetMs?: number
}

/**
 * Times exactL2 and refinePairs at each lanes value (the current LANES first), then scanLists'
 * entry points at each block length, then selectTopK at each BINS (the current one first), each
 * sweep stopping once its share of `budgetMs` has passed (what was not reached is not timed; each
 * sweep's first always is).
 * Sets ctx.tunables while it runs and restores them; throws GpuError on a GPU error. Nothing else
 * may use `ctx` meanwhile.
 */
export async function timeTunables(ctx: GpuContext, o: SelfTestOptions = {}): Promise<Timings> {
  const budget = o.budgetMs ?? 1500
  let t0 = performance.now()
  // on an H200 the lanes alone (8 pipelines built one after another as each was first timed)
  // took the whole budget: the scan was timed at one block length and top-k at one BINS. Now the
  // pipelines are built first and the budget counts the timing only, each sweep its share.
  const over = (share: number) => () => performance.now() - t0 > share * budget
  const saved = { ...ctx.tunables }
  try {
    // every pipeline timed below, built at once (the driver compiles them in parallel where it can)
    const lanesValues = [...new Set([ctx.tunables.LANES, ...(o.lanes ?? LANES_CHOICES)])]
    await ctx.prepare([
      ...lanesValues.flatMap((l) => [
        { name: 'exactL2' as const, tunables: { LANES: l } },
        { name: 'exactL2' as const, entryPoint: 'staged', tunables: { LANES: l } },
        { name: 'refinePairs' as const, tunables: { REFINE_LANES: l } },
      ]),
      { name: 'scanLists', entryPoint: 'tiled' },
      { name: 'scanLists', entryPoint: 'direct' },
      ...[...new Set([ctx.tunables.BINS, ...(o.bins ?? BINS_CHOICES)])].map((b) => ({
        name: 'selectTopK' as const,
        tunables: { BINS: b },
      })),
    ])
    t0 = performance.now()
    const lanes = await timeLanes(ctx, o, over(0.5))
    const scan = await timeScan(ctx, o, over(0.8))
    const bins = await timeBins(ctx, o, over(1))
    return { lanes, scan, bins }
  } finally {
    Object.assign(ctx.tunables, saved)
  }
}

/** Candidates a query refines in the self-test's refinePairs workload (k × refine of a batch). */
const PAIRS_PER_QUERY = 100
/** Pairs a row in that workload (a 10,000-query batch: 1 M pairs over ~174,000 rows). */
const PAIRS_PER_ROW = 4
/** Bytes of random values the rows repeat (cheap to make; no GPU cache holds the rows). */
const FILL_BYTES = 1 << 20

/**
 * exactL2 (8 queries against every row) and refinePairs (PAIRS_PER_ROW pairs a row: queries of
 * PAIRS_PER_QUERY candidates at random rows, as a batch's refine stage gathers them) at each
 * lanes value. The rows are a buffer of their own, destroyed after (not kept in the pool), filled
 * with random values: left zero, an H200 read them 1.2–4× faster than real data and the test
 * picked the wrong lanes for both kernels (compressible memory, most likely).
 */
async function timeLanes(ctx: GpuContext, o: SelfTestOptions, over: () => boolean): Promise<LanesTiming[]> {
  const dim4 = Math.ceil((o.dim ?? 768) / 4)
  const dim = dim4 * 4
  // as many as one binding holds, at most the workload's
  const rows = Math.max(1, Math.min(o.rows ?? 65_536, Math.floor(ctx.maxBinding / (dim * 4))))
  const nq = 8
  const npairs = rows * PAIRS_PER_ROW
  const refineQueries = Math.ceil(npairs / PAIRS_PER_QUERY)
  const rand = mulberry32(1)
  const pairs = new Uint32Array(2 * npairs)
  for (let p = 0; p < npairs; p++) {
    pairs[2 * p] = Math.floor(p / PAIRS_PER_QUERY)
    pairs[2 * p + 1] = Math.floor(rand() * rows)
  }
  const rowBytes = rows * dim * 4
  const xBuf = ctx.device.createBuffer({
    size: rowBytes,
    usage: GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_DST,
    label: 'SelfTest.rows',
  })
  const fill = ctx.upload(randomFloats(Math.min(rowBytes, FILL_BYTES) / 4, 3), 'SelfTest.fill')
  const encoder = ctx.device.createCommandEncoder({ label: 'SelfTest.fill' })
  for (let at = 0; at < rowBytes; at += FILL_BYTES) encoder.copyBufferToBuffer(fill, 0, xBuf, at, Math.min(FILL_BYTES, rowBytes - at))
  ctx.device.queue.submit([encoder.finish()])
  ctx.release(fill)
  const held = [
    ctx.upload(randomFloats(Math.max(nq, refineQueries) * dim, 1), 'SelfTest.queries'),
    ctx.upload(pairs, 'SelfTest.pairs'),
    ctx.acquire(nq * rows * 4, 'SelfTest.exactOut'),
    ctx.acquire(npairs * 8, 'SelfTest.refineOut'),
  ] as const
  const [qBuf, pBuf, eBuf, rBuf] = held
  const start = ctx.tunables.LANES
  const timings: LanesTiming[] = []
  try {
    for (const lanes of [start, ...(o.lanes ?? LANES_CHOICES).filter((l) => l !== start)]) {
      if (timings.length && over()) break
      ctx.tunables.LANES = lanes
      ctx.tunables.REFINE_LANES = lanes
      const exact = () => timePass(ctx, (enc) => recordExact(ctx, enc, { n: rows, q: nq, dim, ip: false }, [qBuf, xBuf, eBuf]))
      ctx.tunables.STAGED = 0
      const exactMs = await exact()
      ctx.tunables.STAGED = 1
      const stagedMs = await exact()
      const refineMs = await timePass(ctx, (enc) => recordRefine(ctx, enc, { pairs: npairs, dim, ip: false }, [qBuf, xBuf, pBuf, rBuf]))
      timings.push({ LANES: lanes, exactMs, stagedMs, refineMs })
    }
  } finally {
    ctx.release(...held)
    xBuf.destroy()
  }
  return timings
}

/**
 * scanLists over `entries` resident entries cut into segments of one length, each segment its
 * own entries and one of 64 tables (as a batch's (query, list) pairs), every block through
 * `tiled` (DIRECT 0) and through `direct` (DIRECT past the block).
 */
async function timeScan(ctx: GpuContext, o: SelfTestOptions, over: () => boolean): Promise<ScanTiming[]> {
  const entries = o.entries ?? 65_536
  const m = o.m ?? 96
  const ksub = 256
  const ntables = 64
  const tables = randomFloats(ntables * m * ksub, 2)
  const lengths = o.lengths ?? SCAN_LENGTHS
  // segments start on a GROUP boundary: room for the most padded length's
  const resident = Math.max(...lengths.map((l) => Math.ceil(entries / l) * Math.ceil(l / GROUP) * GROUP))
  const rand = mulberry32(3)
  const codes = new Uint32Array(resident * wordsPerEntry(m))
  for (let i = 0; i < codes.length; i++) codes[i] = Math.floor(rand() * 2 ** 32) // uniform code bytes, as trained codes are about
  const held = [
    ctx.upload(tables, 'SelfTest.tables'),
    ctx.upload(new Uint32Array(4), 'SelfTest.noTerms'),
    ctx.upload(codes, 'SelfTest.codes'),
    ctx.acquire(resident * 4, 'SelfTest.rows'),
    ctx.upload(new Uint32Array(4), 'SelfTest.noFilter'),
    ctx.acquire(entries * 4, 'SelfTest.dist'),
    ctx.acquire(entries * 4, 'SelfTest.outRows'),
  ] as const
  const [tBuf, noTerms, cBuf, rowBuf, noFilter, dBuf, oBuf] = held
  const timings: ScanTiming[] = []
  try {
    for (const length of lengths) {
      if (timings.length && over()) break
      const segments: number[] = []
      for (let s = 0, at = 0; s * length < entries; s++, at += Math.ceil(length / GROUP) * GROUP)
        segments.push(s % ntables, 0, at, Math.min(length, entries - s * length), s * length)
      const ms: number[] = []
      for (const directBelow of [0, blockOf(ctx.tunables) + 1]) {
        const plan = scanPlan(segments, directBelow, blockOf(ctx.tunables))
        const work = ctx.upload(plan.work, 'SelfTest.work')
        try {
          ms.push(
            await timePass(ctx, (enc) =>
              recordScan(ctx, enc, plan, { m, ksub, filtered: false, precomputed: false }, [
                tBuf,
                noTerms,
                cBuf,
                rowBuf,
                work,
                noFilter,
                dBuf,
                oBuf,
              ]),
            ),
          )
        } finally {
          ctx.release(work)
        }
      }
      timings.push({ length, tiledMs: ms[0] as number, directMs: ms[1] as number })
    }
  } finally {
    ctx.release(...held)
  }
  return timings
}

/**
 * A top-k workload on the GPU, as the self-test and the benchmark time it: `nq` queries of `per`
 * entries each (query-major), distances about normal (a sum of uniforms, as PQ distances are
 * sums of table values), `keep` kept a query. `dist` stays for a CPU reference; `counts` is
 * where selectTopK says how many candidates each query got.
 */
export function topKWorkload(ctx: GpuContext, nq: number, per: number, keep: number, seed: number) {
  const rand = mulberry32(seed)
  const dist = Float32Array.from({ length: nq * per }, () => rand() + rand() + rand() + rand())
  const cap = topKSlots(keep)
  const buffers = [
    ctx.upload(
      Uint32Array.from({ length: 2 * nq }, (_, i) => ((i + 1) >> 1) * per),
      'TopK.ranges',
    ),
    ctx.upload(dist, 'TopK.dist'),
    ctx.upload(
      Uint32Array.from({ length: nq * per }, (_, i) => i % per),
      'TopK.rows',
    ),
    ctx.acquire(nq * 4, 'TopK.counts'),
    ctx.acquire(nq * cap * 4, 'TopK.candidateDistances'),
    ctx.acquire(nq * cap * 4, 'TopK.candidateRows'),
  ]
  return {
    dist,
    counts: buffers[3] as GPUBuffer,
    record: (encoder: GPUCommandEncoder) => recordTopK(ctx, encoder, { nq, keep, cap }, buffers),
    release: () => ctx.release(...buffers),
  }
}

/** selectTopK for 64 queries of `topKEntries` entries each, k × refine = 100 kept, at each BINS. */
async function timeBins(ctx: GpuContext, o: SelfTestOptions, over: () => boolean): Promise<BinsTiming[]> {
  const work = topKWorkload(ctx, 64, o.topKEntries ?? 8192, 100, 4)
  const start = ctx.tunables.BINS
  const timings: BinsTiming[] = []
  try {
    for (const BINS of [start, ...(o.bins ?? BINS_CHOICES).filter((b) => b !== start)]) {
      if (timings.length && over()) break
      ctx.tunables.BINS = BINS
      timings.push({ BINS, ms: await timePass(ctx, work.record) })
    }
  } finally {
    work.release()
  }
  return timings
}

/** n floats in [-1, 1) (seeded: the same workload every time). */
function randomFloats(n: number, seed: number): Float32Array {
  const rand = mulberry32(seed)
  const out = new Float32Array(n)
  for (let i = 0; i < n; i++) out[i] = rand() * 2 - 1
  return out
}

/**
 * Milliseconds a pass takes: a warm-up (which builds the pipeline), then batches of passes in
 * one submit, growing until a batch takes MIN_BATCH_MS; the best of three such batches.
 */
async function timePass(ctx: GpuContext, record: (encoder: GPUCommandEncoder) => void): Promise<number> {
  const device = ctx.device
  const batch = async (reps: number) => {
    const encoder = device.createCommandEncoder({ label: 'SelfTest' })
    for (let r = 0; r < reps; r++) record(encoder)
    const t0 = performance.now()
    device.queue.submit([encoder.finish()])
    await device.queue.onSubmittedWorkDone()
    return performance.now() - t0
  }
  device.pushErrorScope('validation')
  await batch(1)
  const error = await device.popErrorScope()
  if (error) throw new GpuError(`GPU self-test failed: ${error.message.split('\n')[0]}`)
  if (ctx.lost) throw new GpuError(`GPU self-test failed: device lost (${ctx.lost})`)
  let reps = 1
  let ms = await batch(reps)
  while (ms < MIN_BATCH_MS && reps < MAX_REPS) {
    // straight to about MIN_BATCH_MS (a submit's own cost makes the first batches look slow)
    reps = Math.min(MAX_REPS, Math.max(2 * reps, Math.ceil((reps * MIN_BATCH_MS) / Math.max(ms, 0.01))))
    ms = await batch(reps)
  }
  ms = Math.min(ms, await batch(reps), await batch(reps))
  return ms / reps
}

/**
 * Bump when the kernels or workloads change enough that kept timings no longer say anything (3:
 * the lanes timed on rows past the caches, REFINE_LANES picked apart; 4: exactL2's `staged`).
 */
const STORE_VERSION = 4

/** Sets ctx's tunables from `timings` (the picks above). */
function apply(ctx: GpuContext, timings: Timings): void {
  Object.assign(ctx.tunables, pickExact(timings.lanes, ctx.tunables))
  ctx.tunables.REFINE_LANES = pickLanes(timings.lanes, ctx.tunables.REFINE_LANES, 'refineMs')
  ctx.tunables.DIRECT = pickDirect(timings.scan, ctx.tunables.DIRECT, blockOf(ctx.tunables))
  ctx.tunables.BINS = pickBins(timings.bins, ctx.tunables.BINS)
}

/**
 * Sets ctx's LANES, STAGED, REFINE_LANES, DIRECT and BINS for its adapter: from timings kept in `store` by an earlier visit,
 * else timed (timeTunables) and kept. A software adapter (SwiftShader: a CPU, whose timings say
 * nothing of a GPU and which compiles pipelines slowly) and a self-test that fails keep the
 * defaults; ctx.tuning says which happened.
 */
export async function tuneContext(
  ctx: GpuContext,
  store: TuningStore,
  /** `software`: time a software adapter too (tests). */
  o: SelfTestOptions & { software?: boolean } = {},
): Promise<void> {
  if (ctx.fallbackAdapter && !o.software) {
    // a user who asked for the GPU on a machine without one is told what they got (a 4,000 × 16
    // build: 23.3 s on SwiftShader, 1.6 s with wasm, on 2 cores)
    ctx.tuning = { source: 'defaults', why: SOFTWARE_ADAPTER }
    return
  }
  const key = `v${STORE_VERSION} ${ctx.adapter}`
  const kept = parseKept(await store.get(key))
  if (kept) {
    apply(ctx, kept)
    ctx.tuning = { source: 'cached', timings: kept }
    return
  }
  const t0 = performance.now()
  let timings: Timings
  try {
    timings = await timeTunables(ctx, o)
  } catch (e) {
    ctx.tuning = { source: 'defaults', why: (e as Error).message }
    return
  }
  apply(ctx, timings)
  ctx.tuning = { source: 'self-test', ms: performance.now() - t0, timings }
  await store.set(key, JSON.stringify(timings))
}

/** Why a software adapter keeps the defaults, and what it is good for, in the adapter's description. */
export const SOFTWARE_ADAPTER =
  'a software adapter: the GPU emulated on the CPU, many times slower than the wasm backend, for checking results; its timings say nothing of a GPU'

/**
 * The adapter and the tunables it searches with, in words — what the app's Compute setting and
 * the CLI show beside `gpu`, e.g. "nvidia hopper NVIDIA H200: LANES 8, list scan tiled from
 * blocks of 64, top-k in 1024 bins (timed on this GPU in 412 ms)".
 */
export function describeGpu(ctx: Pick<GpuContext, 'adapter' | 'tunables' | 'tuning'>): string {
  const { LANES, REFINE_LANES, BINS, DIRECT, STAGED } = ctx.tunables
  const scan = DIRECT > blockOf(ctx.tunables) ? 'list scan never tiled' : `list scan tiled from blocks of ${DIRECT}`
  const lanes = `${REFINE_LANES === LANES ? `LANES ${LANES}` : `LANES ${LANES} (refinement ${REFINE_LANES})`}${STAGED ? ', queries staged' : ''}`
  const t = ctx.tuning
  const how =
    t.source === 'self-test'
      ? `timed on this GPU in ${Math.round(t.ms)} ms`
      : t.source === 'cached'
        ? 'timed on this GPU before'
        : `defaults: ${t.why}`
  return `${ctx.adapter}: ${lanes}, ${scan}, top-k in ${BINS} bins (${how})`
}

const positive = (v: unknown) => typeof v === 'number' && Number.isFinite(v) && v > 0

/** Timings kept by tuneContext, or undefined when `text` is not such a record (absent, from another version, damaged). */
function parseKept(text: string | undefined): Timings | undefined {
  if (!text) return undefined
  try {
    const value = JSON.parse(text) as Partial<Timings> | null
    const lanes = value?.lanes
    const scan = value?.scan
    const bins = value?.bins
    if (
      Array.isArray(lanes) &&
      Array.isArray(scan) &&
      Array.isArray(bins) &&
      lanes.length &&
      bins.length &&
      bins.every((t) => (BINS_CHOICES as readonly number[]).includes(t?.BINS) && positive(t.ms)) &&
      lanes.every(
        (t) =>
          (LANES_CHOICES as readonly number[]).includes(t?.LANES) && positive(t.exactMs) && positive(t.stagedMs) && positive(t.refineMs),
      ) &&
      scan.every((t) => (SCAN_LENGTHS as readonly number[]).includes(t?.length) && positive(t.tiledMs) && positive(t.directMs))
    )
      return { lanes, scan, bins }
  } catch {
    // not JSON: timed again
  }
  return undefined
}
