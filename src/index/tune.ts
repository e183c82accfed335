import * as Comlink from 'comlink'
import { jsKernels, type Kernels } from '../compute/backend.js'
import type { GpuBuild } from '../compute/gpu/build.js'
import type { GpuListScan } from '../compute/gpu/listScan.js'
import { kernelKind, prepareQuery } from '../compute/metric.js'
import { canShareMemory, inSharedMemory, type KernelPool, splitRange } from '../compute/pool.js'
import { probe, slackSteps } from '../compute/probe.js'
import { mulberry32, sampleIndices } from '../compute/random.js'
import { SCORE_CACHE_BYTES } from '../compute/scan.js'
import { pushDistances, pushNearest, TopK } from '../compute/topk.js'
import { checkpoint } from '../errors.js'
import { storageOrder } from './blob.js'
import { type InvertedLists, type IvfPqModel, ownEnd } from './model.js'
import { TRUTH_KEEP, truthOf } from './stream.js'
import { type TuneLayout, type TuneSetting, type TuneShare, TuneSlice } from './tuneSlice.js'

/**
 * The re-rank factors tried, smallest first: every candidate is one more page read, which on an
 * object store (no multi-range requests) is one more request unless its page lies near another
 * one read, so the build prefers few candidates and a few more lists (wordnet, S3-style host:
 * refine 10 → 4 halved the requests a query, 118 → 59, at the same recall; rows stored list by
 * list, refine 5 → 3 at nprobe 214 → 297 of 1,000: 14.1 → 10.2 requests, recall 0.981 → 0.985).
 */
const REFINE_LADDER = [3, 5, 10, 20, 40, 80] as const
/**
 * Adaptive probing may reach these many times the fixed nprobe (hard queries, whose nearest
 * centroids are all about as near, need more lists than the fixed count; easy ones far fewer).
 */
const SLACK_REACH = [1.5, 2] as const
/**
 * While doubling nprobe: from this many lists, a doubling that adds at most PLATEAU_GAIN recall
 * (no more true neighbours among the tune queries' candidates) ends the search for this refine.
 */
const PLATEAU_FROM = 16
const PLATEAU_GAIN = 0.0005
/**
 * The default target: recall@10 HIGH_TARGET on the tune queries; with held-out tune queries,
 * LOW_TARGET where HIGH_TARGET's reads price over KNEE times as much. Where recall flattens (1 M
 * rows: 0.98 on the tune words took nprobe 138 of 4,000 and 1.2 MiB a query, 0.96 took 114
 * lists cut by slack and 698 KiB, and other held-out words scored 0.969 and 0.968 by bench:scale's
 * truth then, which ran long: about 0.003 high at 1 M rows) the last
 * hundredths cost more than they bring; where they cost little they are kept. Rows of the data
 * as tune queries flatter recall (wordnet cosine tuned on rows to 0.96: 0.954 on its query
 * words; tuned on 400 query words: 0.975 on 600 others), so a tune on rows keeps HIGH_TARGET.
 */
/**
 * Cuts of the re-ranked candidates tried once the setting is chosen (search option refineSlack),
 * smallest first: the first whose recall still reaches the target is stored. On the 1 M-row file
 * (rows spilled at ratio 1.25; nprobe 64, slack 0.548, refine 5; 200 held-out words, s3) re-ranking all 50
 * candidates read 0.9595 in 516 KiB and 12.15 requests a query, a cut at 0.35 0.9595 in 494 KiB
 * and 11.6, at 0.2 0.9585 in 468 KiB and 11.2, at 0.1 0.953 in 420 KiB and 10.4.
 */
const REFINE_CUTS = [0.1, 0.2, 0.35, 0.5] as const
const HIGH_TARGET = 0.98
const LOW_TARGET = 0.96
const KNEE = 1.25
/** Fewer rows than this are scored on this thread alone. */
const SHARED_TRUTH_ROWS = 8192
/** A vector page's header and framing around its dim × 4 bytes. */
const PAGE_OVERHEAD = 40
/**
 * A list entry's bytes besides its m codes (format v3, blob.ts): rows stored list by list need
 * none (a list's rows and pages follow one another: ~8 bytes a list); in input order a row gap, a
 * page gap and a length (wordnet: 5.1 bytes).
 */
const ENTRY_OVERHEAD = { clustered: 0, inputOrder: 5 } as const
const LIST_OVERHEAD = 8
/**
 * Bytes the tune may copy for the pool's workers (each its share of the queries; shareQueries):
 * the lists, the pages' places and the vectors once in shared memory, or once a worker where
 * memory is not shared.
 */
const TUNE_COPY_BYTES = 256 << 20
/** Fewer tune queries than this a thread are not worth a worker's copies. */
const MIN_TUNE_SHARE = 16

export interface TuneResult {
  /** Smallest nprobe whose measured recall@10 reached the target (nlist when none did). */
  nprobe: number
  /** The re-rank factor (of REFINE_LADDER) that, with its smallest nprobe reaching the target, costs least. */
  refine: number
  /**
   * Adaptive probing (search option `slack`): of its nprobe nearest lists a query probes those at
   * most (1 + slack) times as far as its nearest; absent when probing nprobe lists every query
   * costs less (and always for dot indexes).
   */
  slack?: number
  /** Of the k × refine candidates, those re-ranked (search option refineSlack); absent: all. */
  refineSlack?: number
  /** Measured recall@10 at that nprobe (and slack, and refineSlack). */
  recall: number
  /** The recall@10 it was chosen to reach. */
  target: number
  queries: number
  /**
   * A tune query's reads at this setting as the tune step prices them: bytes, plus REQUEST_BYTES
   * a request (Infinity: no setting reached the target; every list probed).
   */
  price: number
}

/**
 * Rows of the data a build tunes on when it has no held-out queries. Rows flatter recall and a
 * few of them move the choice: wordnet l2 (62 k rows, rows stored list by list, held-out words,
 * s3): on 100 rows the build stored a cap of 222 lists (recall@10 0.991, 708 KiB a query, a cold
 * query of 2.06 MB), on 200 a cap of 164 (0.989, 629 KiB, 1.88 MB), on 400 a cap of 111 (0.982,
 * 532 KiB, 1.58 MB) — the tune took 6.4, 6.0 and 18.5 s.
 */
export const TUNE_ROWS = 200

/**
 * Picks the default nprobe and refine for this index by measurement: rows of the data serve as
 * queries (each excluded from its own ground truth, to behave like unseen queries), exact top-10
 * is computed in memory (rows tied with the 10th count as found too: `truthOf`). For each re-rank
 * factor on REFINE_LADDER whose candidates reach `target` with every list probed, nprobe doubles
 * from the floor and bisects until recall@10 reaches it (for the next factors, bisects below the
 * last answer: more candidates never need more lists);
 * the pair whose reads cost least on an object store wins: the tune queries' probed lists and
 * candidate pages placed where the file will hold them, merged as the read planner merges them
 * (io/ranges.ts coalesce), each stretch priced at its bytes plus REQUEST_BYTES; the ladder stops
 * after two factors in a row price above the best, and a factor whose recall stops rising as
 * the lists double is given up. Data sets
 * differ a lot here (wordnet needs ~15% of lists, SIFT ~40%), so one fixed fraction either wastes
 * bytes or misses recall. Then adaptive probing is tried with the winning refine (a slack cutting
 * each query's lists to those about as near as its nearest, up to 1.5 or 2 × nprobe) and kept
 * when it costs less in fewer or as many requests.
 */
export interface TuneOptions {
  /** Recall@10 to reach (default: HIGH_TARGET; with `heldOut`, LOW_TARGET where HIGH_TARGET costs over KNEE times as much). */
  target?: number
  queries?: number
  seed?: number
  /** Smallest nprobe the caller will use anyway: the search starts there. */
  minNprobe?: number
  /**
   * Held-out queries (n × dim, prepared for the metric: unit length for cosine) to measure on
   * instead of rows of the data: queries like the ones the index will meet, so no floor is needed.
   */
  heldOut?: Float32Array
  /**
   * Rows will be stored list by list (build option clusterRows), lists in `storage` order: the
   * candidates of one list lie together and near those of the lists stored beside it.
   */
  clustered?: boolean
  /** The order the blob stores the lists in (blob.ts storageOrder; computed here when not given). */
  storage?: Uint32Array
  kernels?: Kernels
  /** Workers sharing the exact ground truth's rows, then the tune queries' searches (shareQueries). */
  pool?: KernelPool
  /** The GPU: exact ground truth and the candidate scans of every query at once. */
  gpu?: GpuBuild
  signal?: AbortSignal
  onProgress?: (done: number, total: number) => void
}

/**
 * Query rows with their vectors (n × dim) and each one's exact 10 nearest other rows, and rows
 * tied with the 10th (`truthOf`).
 */
export interface TuneQueries {
  data: Float32Array
  rowIds: Uint32Array
  truth: Array<Set<number>>
}

export async function tuneNprobe(
  model: IvfPqModel,
  lists: InvertedLists,
  data: Float32Array,
  rowIds: Uint32Array,
  o: TuneOptions = {},
): Promise<TuneResult> {
  const { dim, metric } = model.params
  const n = rowIds.length
  const vectors = { data, rowIds }
  const kernels = o.kernels ?? jsKernels
  const kind = metric === 'dot' ? 'ip' : 'l2'
  if (o.heldOut) {
    const count = o.heldOut.length / dim
    const truth = await exactTruth(kernels, kind, data, rowIds, dim, o.heldOut, () => -1, o)
    return tuneWith(model, lists, { data: o.heldOut, rowIds: new Uint32Array(count).fill(NO_ROW), truth }, vectors, o)
  }
  const picks = sampleIndices(n, Math.min(n, o.queries ?? TUNE_ROWS), mulberry32((o.seed ?? 1) + 3))
  const queryData = new Float32Array(picks.length * dim)
  for (const [i, p] of picks.entries()) queryData.set(data.subarray(p * dim, (p + 1) * dim), i * dim)
  const truth = await exactTruth(kernels, kind, data, rowIds, dim, queryData, (qi) => picks[qi] as number, o)
  const queryRows = Uint32Array.from(picks, (p) => rowIds[p] as number)
  return tuneWith(model, lists, { data: queryData, rowIds: queryRows, truth }, vectors, o)
}

/** The row id of a held-out query: no row, so nothing is left out of its truth or results. */
export const NO_ROW = 0xffffffff

/**
 * The same measurement when the vectors are not in memory (a streaming build): truth comes
 * precomputed, and recall is the share of true neighbours among the k × refine candidates —
 * what exact re-ranking would return, since no other candidate is nearer than a true neighbour.
 */
export async function tuneFromTruth(
  model: IvfPqModel,
  lists: InvertedLists,
  queries: TuneQueries,
  o: TuneOptions = {},
): Promise<TuneResult> {
  return tuneWith(model, lists, queries, undefined, o)
}

async function tuneWith(
  model: IvfPqModel,
  lists: InvertedLists,
  queries: TuneQueries,
  vectors: { data: Float32Array; rowIds: Uint32Array } | undefined,
  o: TuneOptions,
): Promise<TuneResult> {
  const gpuScan = o.gpu?.listScan(model, o.kernels)
  try {
    return await measure(model, lists, queries, vectors, o, gpuScan)
  } finally {
    gpuScan?.release()
  }
}

async function measure(
  model: IvfPqModel,
  lists: InvertedLists,
  queries: TuneQueries,
  vectors: { data: Float32Array; rowIds: Uint32Array } | undefined,
  o: TuneOptions,
  gpuScan: GpuListScan | undefined,
): Promise<TuneResult> {
  const { dim, nlist, metric, m } = model.params
  /** The target being selected for (see `select`). */
  let target = o.target ?? HIGH_TARGET
  const kind = kernelKind(metric)
  const count = queries.rowIds.length
  const measured = new Map<string, number>()
  let refine = REFINE_LADDER[0] as number
  const prepared = Array.from({ length: count }, (_, qi) => prepareQuery(queries.data.subarray(qi * dim, (qi + 1) * dim), metric))
  // a search for 10 results: held-out queries get the 10 × refine candidates a user's query gets;
  // a row asks for 11, one for itself (left out of its results). Held-out queries used to get 11 ×
  // refine too: a tenth more candidates than any real search, so the recall measured was optimistic.
  const heldOut = queries.rowIds.every((r) => r === NO_ROW)
  const k = heldOut ? 10 : 11
  // Where the file will hold each list and each row's vector page: lists in storage order; pages
  // in row order — the input's, or list by list when rows are clustered
  const entryBytes = m + ENTRY_OVERHEAD[o.clustered ? 'clustered' : 'inputOrder']
  const pageBytes = dim * 4 + PAGE_OVERHEAD
  const storage = o.storage ?? storageOrder(model.centroids, nlist, dim, o.kernels)
  const listAt = new Float64Array(nlist)
  const rank = o.clustered ? new Uint32Array(model.params.rows) : undefined
  let next = 0
  if (rank)
    for (const l of storage) for (let e = lists.listStart[l] as number; e < ownEnd(lists, l); e++) rank[lists.rowIds[e] as number] = next++
  const placeOf = (row: number) => (rank ? (rank[row] as number) : row)
  const listBytes = Float64Array.from({ length: nlist }, (_, l) => {
    const own = (ownEnd(lists, l) - (lists.listStart[l] as number)) * entryBytes
    // rows spilled into a list lie all over the file: each stores its row and page gap (blob.ts),
    // varints as long as the gaps where the file will hold them
    const spilled = Array.from(lists.rowIds.subarray(ownEnd(lists, l), lists.listStart[l + 1]), placeOf).sort((a, b) => a - b)
    let gaps = spilled.length ? LIST_OVERHEAD : 0
    for (let i = 1; i < spilled.length; i++) {
      const gap = (spilled[i] as number) - (spilled[i - 1] as number) - 1
      gaps += varintBytes(gap) + varintBytes(gap * pageBytes)
    }
    return own + spilled.length * m + gaps + LIST_OVERHEAD
  })
  let at = 0
  for (const l of storage) {
    listAt[l] = at
    at += listBytes[l] as number
  }
  // each query is searched at every setting tried, on this thread and the pool's workers (a share
  // of the queries each): as any search runs when the vectors are in memory, in the file about to
  // be written — what comes with a query's reads is searched too
  const entryPages = new Float64Array(lists.rowIds.length)
  for (let e = 0; e < entryPages.length; e++) entryPages[e] = placeOf(lists.rowIds[e] as number) * pageBytes
  const layout = { listAt, listBytes, rank, entryPages, pageBytes }
  const searched = await shareQueries(model, lists, queries, vectors, k, layout, o, gpuScan)
  const recallAt = async (nprobe: number, slack?: number, cut = Number.POSITIVE_INFINITY) => {
    const key = `${nprobe}:${refine}:${slack}:${cut}`
    const cached = measured.get(key)
    if (cached !== undefined) return cached
    const { hits, wanted } = await searched.recall({ nprobe, refine, slack, cut })
    const r = wanted ? hits / wanted : 1
    measured.set(key, r)
    const expected = Math.ceil(Math.log2(nlist) + 2) * 3
    o.onProgress?.(Math.min(measured.size, expected), expected)
    return r
  }
  const floor = Math.max(1, Math.min(nlist, o.minNprobe ?? 1))
  /**
   * Smallest nprobe from the floor up reaching the target at the current refine; undefined when
   * none does: every list probed falls short, or doubling the lists found no more true neighbours
   * (the PQ candidates limit recall, not the lists: 1 M rows, refine 3, 1,024 and 2,048 of 4,000
   * lists both 0.9795 — probing all 4,000 as well took 15 of the tune's 103 s).
   */
  const smallestNprobe = async (reached?: number): Promise<number | undefined> => {
    let hi = floor
    let previous = await recallAt(hi)
    if (previous >= target) return hi
    let lo = floor
    // `reached`: an nprobe known to reach the target (a smaller refine's: re-ranking more
    // candidates exactly never lowers recall), so only the bisection below it runs
    if (reached !== undefined) hi = reached
    else {
      for (;;) {
        if (hi >= nlist) return undefined
        hi = Math.min(nlist, hi * 2)
        const r = await recallAt(hi)
        if (r >= target) break
        if (hi >= PLATEAU_FROM && r - previous <= PLATEAU_GAIN) return undefined
        previous = r
      }
      lo = Math.max(floor, hi >> 1)
    }
    while (hi - lo > Math.max(1, Math.floor(hi / 16))) {
      const mid = (lo + hi) >> 1
      if ((await recallAt(mid)) >= target) hi = mid
      else lo = mid
    }
    return hi
  }
  /**
   * What a query costs at (nprobe, refine, slack): `price`, its reads as the planner makes them in
   * bytes, a request priced at REQUEST_BYTES; `requests`, how many of them.
   */
  const cost = async (nprobe: number, r: number, slack?: number, cut = Number.POSITIVE_INFINITY) => {
    const { bytes, requests } = await searched.cost({ nprobe, refine: r, slack, cut })
    return { price: bytes / Math.max(1, count), requests: requests / Math.max(1, count) }
  }
  /**
   * The same refine with adaptive probing: for each reach on SLACK_REACH, up to reach × nprobe
   * lists, each query's cut at the smallest slack (bisected over the tune queries' own relative
   * gaps) whose recall reaches the target; the cheapest kept when its reads price lower than
   * probing nprobe lists every query, in as many requests or fewer.
   */
  const adaptive = async (fixed: Setting, fixedCost: { price: number; requests: number }): Promise<Priced | undefined> => {
    refine = fixed.refine
    let best: Setting | undefined
    let bestPrice = fixedCost.price
    let reached: number | undefined
    for (const reach of SLACK_REACH) {
      const cap = Math.min(nlist, Math.ceil(fixed.nprobe * reach))
      if (cap <= fixed.nprobe) continue
      const nearest = probe(o.kernels ?? jsKernels, prepared, model.centroids, nlist, kind, cap)
      // every relative gap (how much farther a list is than the query's nearest) is a slack that changes some query's lists
      const gaps = slackSteps(o.kernels ?? jsKernels, prepared, nearest, model.centroids, kind)
      let hi = gaps.length - 1
      // a slack that reached the target with fewer lists reaches it with more: bisect below it
      const below = reached === undefined ? -1 : gaps.findIndex((g) => g >= (reached as number))
      if (below >= 0) hi = below
      if (hi < 0) continue
      // bisected to an eighth of the steps (the tune's slowest part at 1 M rows); the top is
      // measured last, only when nothing below it reached the target
      let lo = -1
      while (hi - lo > Math.max(1, Math.floor(hi / 8))) {
        const mid = (lo + hi) >> 1
        if ((await recallAt(cap, gaps[mid])) >= target) hi = mid
        else lo = mid
      }
      const slack = gaps[hi] as number
      if ((await recallAt(cap, slack)) < target) continue
      reached = slack
      const c = await cost(cap, fixed.refine, slack)
      // fewer bytes in more requests is no gain where a request's wait is most of a query's time
      // (wordnet cosine, held-out tuning: 448 lists 9.3 requests 1,904 KiB p50 86 ms; an adaptive
      // cut found by an earlier version of this step: 11.5 requests, 1,568 KiB, p50 102 ms, s3)
      if (c.price < bestPrice && c.requests <= fixedCost.requests) {
        bestPrice = c.price
        best = { ...fixed, nprobe: cap, slack, recall: await recallAt(cap, slack), target }
      }
    }
    return best && { result: best, price: bestPrice }
  }
  /** The cheapest setting reaching `t`, and its price (Infinity: none reached it). */
  const select = async (t: number): Promise<Priced> => {
    target = t
    let best: Setting | undefined
    let bestCost = { price: Number.POSITIVE_INFINITY, requests: Number.POSITIVE_INFINITY }
    let reached: number | undefined
    /** Refines in a row that priced above the best so far. */
    let dearer = 0
    for (const r of REFINE_LADDER) {
      refine = r
      const nprobe = await smallestNprobe(reached)
      // PQ error: when near neighbours are nearly equidistant, few candidates cannot reach the
      // target even with every list probed
      if (nprobe === undefined) continue
      reached = nprobe
      const c = await cost(nprobe, r)
      if (c.price < bestCost.price) {
        bestCost = c
        best = { nprobe, refine: r, recall: await recallAt(nprobe), target, queries: count }
        dearer = 0
      } else dearer++
      // more candidates cannot lower nprobe below the floor, so they only cost more from here
      if (nprobe <= floor) break
      // each doubling of the candidates adds their pages and saves fewer lists than the last: two
      // dearer in a row and the rest of the ladder is dearer still (1 M rows: refine 5 → 80 priced
      // 3,920, 4,224, 4,829, 5,861, 7,643 KiB a query; measuring 40 and 80 took ~15 s of the tune)
      if (dearer >= 2) break
    }
    if (best) return (await adaptive(best, bestCost)) ?? { result: best, price: bestCost.price }
    // no refine on the ladder reaches the target: the most candidates, every list
    refine = REFINE_LADDER.at(-1) as number
    return { result: { nprobe: nlist, refine, recall: await recallAt(nlist), target, queries: count }, price: Number.POSITIVE_INFINITY }
  }
  /**
   * The chosen setting with the smallest cut of its candidates (REFINE_CUTS; squared L2 and
   * cosine only) whose recall still reaches the setting's target: fewer vector pages read.
   */
  const withCut = async (pick: Priced): Promise<Priced> => {
    const { nprobe, slack } = pick.result
    if (kind !== 'l2' || pick.price === Number.POSITIVE_INFINITY) return pick
    refine = pick.result.refine
    for (const cut of REFINE_CUTS) {
      const recall = await recallAt(nprobe, slack, cut)
      if (recall < pick.result.target) continue
      return { result: { ...pick.result, refineSlack: cut, recall }, price: (await cost(nprobe, refine, slack, cut)).price }
    }
    return pick
  }
  // the default: HIGH_TARGET, unless it costs over KNEE times what LOW_TARGET does (the recalls
  // measured are kept, so the second selection mostly re-reads them)
  try {
    const high = await select(o.target ?? HIGH_TARGET)
    const low = o.target === undefined && heldOut ? await select(LOW_TARGET) : high
    const pick = await withCut(kneeChoice(high, low))
    return { ...pick.result, price: pick.price }
  } finally {
    searched.close()
  }
}

/** What the tune's queries find and cost at a setting, summed over the threads sharing them. */
interface SharedSearch {
  recall(s: TuneSetting): Promise<{ hits: number; wanted: number }>
  cost(s: TuneSetting): Promise<{ bytes: number; requests: number }>
  close(): void
}

/**
 * The tune's queries split between this thread and the pool's workers, each searching its share
 * at every setting (tuneSlice.ts): the tune is most of a small build's time (wordnet: 4.8 of
 * 9.0 s on 2 threads), and it ran on one thread. What every share reads (the lists, where the
 * pages will lie, the vectors) goes to the workers once in shared memory where this thread can
 * share it, else as a copy for each; not beyond TUNE_COPY_BYTES (fewer workers, or none). On the
 * GPU the queries are searched together there.
 */
async function shareQueries(
  model: IvfPqModel,
  lists: InvertedLists,
  queries: TuneQueries,
  vectors: { data: Float32Array; rowIds: Uint32Array } | undefined,
  k: number,
  layout: TuneLayout,
  o: TuneOptions,
  gpuScan: GpuListScan | undefined,
): Promise<SharedSearch> {
  const { dim, rows } = model.params
  const count = queries.rowIds.length
  let slot: Int32Array | undefined
  if (vectors) {
    let last = rows - 1
    for (const row of vectors.rowIds) last = Math.max(last, row)
    slot = new Int32Array(last + 1).fill(-1)
    for (let i = 0; i < vectors.rowIds.length; i++) slot[vectors.rowIds[i] as number] = i
  }
  const common = { lists, layout, vectors: vectors && slot && { data: vectors.data, slot } }
  // every share's arrays: once in shared memory (those not there yet), or once a worker
  const arrays = [lists.listStart, lists.rowIds, lists.codes, lists.spillStart, layout.rank, layout.entryPages, slot, vectors?.data]
  const shareable = canShareMemory()
  const copied = arrays.reduce((n, a) => n + (!a || (shareable && a.buffer instanceof SharedArrayBuffer) ? 0 : a.byteLength), 0)
  const wanted = Math.min(gpuScan ? 0 : (o.pool?.workers.length ?? 0), Math.floor(count / MIN_TUNE_SHARE) - 1)
  const affordable = shareable ? (copied <= TUNE_COPY_BYTES ? wanted : 0) : Math.floor(TUNE_COPY_BYTES / Math.max(1, copied))
  const workers = (o.pool?.workers ?? []).slice(0, Math.max(0, Math.min(wanted, affordable)))
  const parts = splitRange(count, workers.length + 1)
  const shareOf = ([a, b]: [number, number], sent: typeof common): TuneShare => ({
    // the model's own fields only (a sidecar merge's model also carries its training's tune data)
    model: { params: model.params, centroids: model.centroids, codebooks: model.codebooks, layout: model.layout },
    ...sent,
    queries: queries.data.subarray(a * dim, b * dim),
    rowIds: queries.rowIds.subarray(a, b),
    truth: queries.truth.slice(a, b).map((t) => Uint32Array.from(t)),
    k,
    // the whole tune's budget of PQ scores kept, in proportion to the share's queries
    scoreBytes: (SCORE_CACHE_BYTES * (b - a)) / Math.max(1, count),
  })
  const local = new TuneSlice(shareOf(parts[0] as [number, number], common), o.kernels ?? jsKernels, gpuScan)
  if (workers.length) {
    const sent = shareable
      ? {
          lists: {
            listStart: inSharedMemory(lists.listStart),
            rowIds: inSharedMemory(lists.rowIds),
            codes: inSharedMemory(lists.codes),
            ...(lists.spillStart && { spillStart: inSharedMemory(lists.spillStart) }),
          },
          layout: {
            ...layout,
            entryPages: inSharedMemory(layout.entryPages),
            ...(layout.rank && { rank: inSharedMemory(layout.rank) }),
          },
          vectors: common.vectors && { data: inSharedMemory(common.vectors.data), slot: inSharedMemory(common.vectors.slot) },
        }
      : common
    // (a share's queries are sent as a copy of their own, not with the whole matrix they lie in)
    await Promise.all(
      workers.map((w, i) => {
        const share = shareOf(parts[i + 1] as [number, number], sent)
        return w.tuneStart({ ...share, queries: share.queries.slice(), rowIds: share.rowIds.slice() })
      }),
    )
  }
  /** The workers' figures and this thread's, summed (the workers' asked for first, so they run meanwhile). */
  const sum = async <T extends Record<string, number>>(remote: Array<Promise<T>>, here: () => Promise<T>): Promise<T> => {
    // an abort here leaves the workers' shares unread: never an unhandled rejection
    for (const r of remote) r.catch(() => {})
    const all = [await here(), ...(await Promise.all(remote))]
    const total = { ...all[0] } as Record<string, number>
    for (const figures of all.slice(1)) for (const [key, v] of Object.entries(figures)) total[key] = (total[key] as number) + v
    return total as T
  }
  return {
    recall: (s) =>
      sum(
        workers.map((w) => w.tuneRecall(s)),
        () => local.recall(s, o.signal),
      ),
    cost: (s) =>
      sum(
        workers.map((w) => w.tuneCost(s)),
        () => local.cost(s, o.signal),
      ),
    close: () => {
      for (const w of workers) w.tuneEnd().catch(() => {})
    },
  }
}

/** Bytes of an unsigned LEB128 varint. */
function varintBytes(v: number): number {
  return Math.max(1, Math.ceil(Math.log2(v + 1) / 7))
}

/** The default target's choice: the setting for HIGH_TARGET unless it prices over KNEE times LOW_TARGET's. */
export function kneeChoice<T extends { price: number }>(high: T, low: T): T {
  return high.price <= KNEE * low.price ? high : low
}

/** A setting chosen for a target, before it is priced. */
type Setting = Omit<TuneResult, 'price'>
type Priced = { result: Setting; price: number }

/**
 * The 10 nearest rows of each query (other than the position `self(qi)` in `data`, −1 for
 * none), by the kernel's ranking (squared L2, or −dot): all queries against a block of rows per
 * kernel call.
 */
async function exactTruth(
  kernels: Kernels,
  kind: 'l2' | 'ip',
  data: Float32Array,
  rowIds: Uint32Array,
  dim: number,
  queries: Float32Array,
  self: (qi: number) => number,
  o: Pick<TuneOptions, 'signal' | 'gpu' | 'pool'>,
): Promise<Array<Set<number>>> {
  const nq = queries.length / dim
  const n = rowIds.length
  const tops = Array.from({ length: nq }, () => new TopK(TRUTH_KEEP))
  if (o.gpu) {
    const block = 1 << 16
    for (let start = 0; start < n; start += block) {
      await checkpoint(o.signal)
      const count = Math.min(block, n - start)
      const x = data.subarray(start * dim, (start + count) * dim)
      pushDistances(tops, await o.gpu.exact.distances(kind, queries, nq, x, count, dim, o.signal), count, start, kind)
    }
  } else {
    // the rows split between this thread and the pool's workers (200 held-out queries over 1 M
    // rows of 100-d: 8 s on one thread); TopK keeps the same entries whatever the order
    const workers = o.pool?.workers ?? []
    const parts = workers.length && n >= SHARED_TRUTH_ROWS ? splitRange(n, workers.length + 1) : [[0, n] as [number, number]]
    const remote = parts.slice(1).map(([a, b], w) => {
      const part = data.slice(a * dim, b * dim)
      const worker = workers[w] as (typeof workers)[number]
      return worker.nearestRows(kind, queries, nq, Comlink.transfer(part, [part.buffer]), b - a, dim, TRUTH_KEEP, a)
    })
    // an abort here leaves the workers' shares unread: never an unhandled rejection
    for (const r of remote) r.catch(() => {})
    const local = (parts[0] as [number, number])[1]
    await pushNearest(kernels, kind, queries, tops, data.subarray(0, local * dim), local, dim, 0, o.signal)
    for (const hits of await Promise.all(remote))
      for (const [qi, top] of tops.entries()) for (const h of hits[qi] ?? []) top.push(h.distance, h.row)
  }
  // entries are positions in `data` (ties to the lower position = the lower row)
  return tops.map((t, qi) => {
    const positions = truthOf(t.sorted(), self(qi))
    return new Set(Array.from(positions, (p) => rowIds[p] as number))
  })
}
