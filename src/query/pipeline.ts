import type { BackendName, Kernels } from '../compute/backend.js'
import type { GpuListScan } from '../compute/gpu/listScan.js'
import { exactDistance, float32Query, kernelKind, packRows, prepareQuery } from '../compute/metric.js'
import { extendDistances, probe, pruneProbes } from '../compute/probe.js'
import { ListScanner, type ScoreCache, scanLists } from '../compute/scan.js'
import { type Ranked, TopK } from '../compute/topk.js'
import { AbortError, ParquetSeekError } from '../errors.js'
import type { ListView } from '../index/blob.js'
import type { IvfPqModel } from '../index/model.js'
import { REQUEST_BYTES } from '../io/ranges.js'
import type { CountingSource, RoundTripClock } from '../io/source.js'
import { type ListExtents, rowsAround, withListsBetween } from './adjacent.js'
import type { Expr } from './filter.js'
import { allowedRows, type FilterResult, parseWhere } from './filter.js'

/**
 * The one query pipeline: probe → lists → scan → refine → project, for every kind of index.
 * A kind (an indexed Parquet file, a sidecar over untouched files, a pq-vector file, lists in
 * memory) says only where its lists, vectors and columns are; batching, filters, deleted rows,
 * the GPU and CPU backends, the list cache, cancellation, the byte budget and the stats
 * (round trips counted where requests go out) are done here, once, the same for all.
 */

export interface SearchOptions {
  k?: number
  /**
   * Lists probed per query (default: the value tuned at build time). Given without `slack`, a
   * query probes exactly this many; left out, the index's tuned slack applies to its nprobe.
   */
  nprobe?: number
  /**
   * Adaptive probing: of its nprobe nearest lists a query probes those whose centroid is at most
   * (1 + `slack`) times as far as its nearest one, in squared L2 (compute/probe.ts pruneProbes;
   * dot indexes: no cut), so easy queries read few lists. Default: the index's tuned slack when `nprobe` is left out, else
   * none; `Infinity` turns it off. Filtered searches probe without it.
   */
  slack?: number
  /** Candidates re-ranked exactly: k × refine at most (default: tuned at build time, else 10). */
  refine?: number
  /**
   * Of the k × refine candidates, only those whose PQ distance is at most (1 + `refineSlack`)
   * times the k-th best one's are re-ranked (squared L2 and cosine; dot indexes: no cut), so a
   * query whose PQ estimates already stand apart reads fewer vector pages. Default: the index's
   * tuned one when `nprobe` and `refine` are left out (tune.ts), else none; `Infinity` re-ranks
   * all k × refine.
   */
  refineSlack?: number
  /**
   * Also scan the lists stored between two probed lists, and re-rank the rows whose vector pages
   * lie between two candidates' pages, less than REQUEST_BYTES (48 KiB) apart (query/adjacent.ts).
   * Default: where the reads bring those bytes anyway — a host without multi-range requests (S3,
   * R2, GCS, static servers) or a local file; not on a host answering multi-range requests, where
   * they would cost bytes. Only indexes inside the file they cover have such a layout.
   */
  adjacent?: boolean
  /** Columns to return for each result row. */
  columns?: string[]
  /**
   * At most one result per value of this column (passages: `parquetseek_doc`, one a document):
   * the nearest DISTINCT_POOL × k rows are found and the nearest of each value kept, k of them;
   * when those hold fewer values, DISTINCT_POOL times more rows, until k are found, the probed
   * lists run out or MAX_K rows were found. NULL is one value, as in SQL's DISTINCT.
   */
  distinct?: string
  /** Only rows passing this filter (filter.ts: =, !=, <, <=, >, >=, IN, BETWEEN, LIKE, ILIKE, IS NULL, AND, OR, NOT). */
  where?: string
  /** Rows never to return (e.g. deleted since the file was written). */
  deleted?: Iterable<number>
  /** Most bytes this search may read (default: the index's, 256 MiB unless opened with another). */
  maxBytesPerQuery?: number
  signal?: AbortSignal
}

export const STAGES = ['probe', 'lists', 'scan', 'refine', 'project'] as const
export type Stage = (typeof STAGES)[number]

export interface SearchStats {
  bytes: number
  requests: number
  /** Dependent network round trips, counted where the requests went out (requests in flight together count once). */
  roundTrips: number
  pagesDecoded: number
  /** Lists the queries chose by their centroids' distance (nprobe, slack). */
  listsProbed: number
  /** Lists scanned besides, stored between two probed ones (SearchOptions.adjacent). */
  listsAdjacent: number
  listsFetched: number
  /** Rows ranked exactly: the PQ candidates, and with `adjacent` the rows stored among their pages. */
  candidates: number
  msByStage: Record<Stage, number>
  ms: number
  /** What scored the lists: `gpu`, or the CPU kernels. */
  backend: BackendName | 'gpu'
  /** Set when the GPU was asked for but failed (device lost, out of memory): the CPU scored instead. */
  gpuFallback?: string
  /**
   * With `where`: rows passing it, row groups skipped by their statistics (computed once per
   * filter), lists probed; `direct`: the passing rows were few enough to rank them all exactly.
   */
  filter?: { rowsPassing: number; rowGroupsSkipped: number; nprobe: number; direct: boolean }
}

export interface SearchHit {
  row: number
  distance: number
  values: Record<string, unknown>
}

export interface SearchResult {
  results: SearchHit[]
  stats: SearchStats
  /** Lists probed for this query, nearest centroid first. */
  probed: number[]
}

/** Largest k and refine a search takes (k × refine candidates are held per query). */
export const MAX_K = 10_000
export const MAX_REFINE = 1_000
/** `distinct`: rows found for each result wanted, of which the nearest of each value is kept. */
export const DISTINCT_POOL = 5
/** Bytes of decoded vectors a search holds at once: more candidate rows are refined a block at a time. */
export const REFINE_BLOCK_BYTES = 128 << 20
/** More lists than any index has (nlist is a u32, in practice ≤ 2^16): a bound for option checks. */
export const MAX_NPROBE = 1 << 24

const utf8 = new TextDecoder()

/**
 * What `distinct` compares a row by: its value of the column (equal values one key: dates by
 * their time, bytes as text, big integers exactly), and with `file`, the file holding it — where
 * the values are each file's own (IndexKind.distinctFile).
 */
export function distinctKey(value: unknown, file?: number): unknown {
  const key =
    value instanceof Date
      ? value.getTime()
      : value instanceof Uint8Array
        ? utf8.decode(value)
        : typeof value === 'bigint'
          ? String(value)
          : (value ?? null)
  return file === undefined ? key : `${file}:${typeof key}:${String(key)}`
}

/** A search's `columns` and `distinct` column, each refused unless `known` has it (IndexKind.columnNames). */
export function checkColumnNames(known: ReadonlySet<string>, o: Pick<SearchOptions, 'columns' | 'distinct'>, file: string): void {
  const check = (column: string, role: string) => {
    if (!known.has(column))
      throw new ParquetSeekError(`no such column ${role}; the columns are: ${[...known].join(', ')}`, { file, column })
  }
  for (const column of o.columns ?? []) check(column, 'to return')
  if (o.distinct !== undefined) check(o.distinct, 'to keep one row of each value of (distinct)')
}

/** The first `k` of `hits` (in their order) whose keys (`keyOf`) differ: what `distinct` keeps. */
export function firstOfEach<T>(hits: readonly T[], keyOf: (hit: T) => unknown, k: number): T[] {
  const seen = new Set<unknown>()
  const out: T[] = []
  for (const hit of hits) {
    if (out.length === k) break
    const key = keyOf(hit)
    if (seen.has(key)) continue
    seen.add(key)
    out.push(hit)
  }
  return out
}

/** Lists probed when neither the caller nor the index says. */
export function defaultNprobe(nlist: number): number {
  return Math.min(nlist, Math.max(8, Math.ceil(nlist / 4)))
}

/** A row's entry in a list: where an embedded index keeps its vector page. */
export interface ListPlace {
  list: ListView
  at: number
}

/** What a kind of index supplies; everything else is the pipeline's. */
export interface IndexKind {
  /** For messages. */
  readonly file: string
  readonly model: IvfPqModel
  /** Rows the index covers: every row id is below this. */
  readonly rows: number
  /**
   * `pq`: lists hold PQ codes, scanned to keep k × refine candidates a query; `flat` (an
   * IVF-flat index such as pq-vector's): every row of a probed list is ranked exactly.
   */
  readonly scoring: 'pq' | 'flat'
  /**
   * The sources a search reads (bytes, requests, the byte budget), all on `clock`; added to, never
   * reordered, as a sidecar opens its files (one opened during a search counts in its stats).
   */
  readonly counters: readonly CountingSource[]
  readonly clock: RoundTripClock
  /** Entries in list `l` (a list without any is not read). */
  listSize(l: number): number
  /** Reads and checks lists, together; `columns`: the search will then read other columns. */
  readLists(lists: number[], o: ReadOptions & { columns: boolean }): Promise<ListView[]>
  /**
   * Exact vectors of rows (ascending) into `out` (the i-th at i·dim); `place` gives a row's
   * list entry when it came through the lists. Returns 1 for each row that has a vector.
   */
  readVectors(rows: number[], place: (row: number) => ListPlace | undefined, out: Float32Array, o: ReadOptions): Promise<Uint8Array>
  /** Room for `n` floats that readVectors fills best (shared memory its workers write into); absent: a plain array. */
  vectorBuffer?(n: number): Float32Array
  /** Values of `columns` for rows (ascending). */
  readColumns(rows: number[], columns: string[], o: ReadOptions): Promise<Map<number, Record<string, unknown>>>
  /**
   * The columns a search may return or keep distinct values of (of any of its files), known
   * from the footers read at open: a name not among them is refused before anything is read.
   */
  readonly columnNames: ReadonlySet<string>
  /**
   * For an index over several files (a sidecar's sources) whose `column` numbers each file's own
   * things (distinctPerFile: a passage's text): which file holds `row`, so `distinct` keeps text
   * 3 of two files apart; undefined where a value is one value in every file. Absent: one file.
   */
  distinctFile?(row: number, column: string): number | undefined
  /** Rows passing a filter; absent: the kind cannot filter. */
  filter?(expr: Expr, o: ReadOptions): Promise<FilterResult>
  /** With few rows allowed: those to rank straight from their pages, when that reads less than the lists would. */
  directRows?(allowed: Uint8Array, probed: number, keep: number): number[] | undefined
  /**
   * For a kind reading lists and vector pages as byte ranges of one file (its list views' page
   * offsets are where the rows' pages lie): where each list's entries lie, and whether its reads
   * bring the bytes between two ranges closer than REQUEST_BYTES anyway (no multi-range
   * requests) — what comes with a query's reads (SearchOptions.adjacent). Absent: nothing is added.
   */
  readonly layout?: { lists: ListExtents; free: boolean }
}

export interface ReadOptions {
  /** Requests in flight at once. */
  connections: number
  signal?: AbortSignal
  /** The search's maxBytesPerQuery, for a file first opened during it (budgetSearch). */
  maxBytes?: number
}

/** A search's byte budget on one file's counter (maxBytesPerQuery): set at its start, and on a file opened during it. */
export function budgetSearch(counter: CountingSource, maxBytes: number): void {
  counter.budget = { until: counter.counts.bytes + maxBytes, what: `maxBytesPerQuery (${maxBytes} bytes)` }
}

export interface PipelineOptions {
  kernels: Kernels
  gpu?: GpuListScan
  /** Large L2 batches probe on the GPU too (default true). */
  gpuProbe?: boolean
  /** Bytes of decoded vectors refined at once (REFINE_BLOCK_BYTES; smaller in tests). */
  refineBlockBytes?: number
  /**
   * Bytes of fetched lists kept between searches (least recently used go first), and a quarter
   * as many of candidates' decoded vectors (VECTOR_CACHE_SHARE).
   */
  cacheBytes: number
  maxBytesPerQuery: number
  connections: number
  /**
   * PQ scores and exact distances kept between searches: only for a pipeline searched again and
   * again with the same queries in the same order (the build's tune step, src/index/tune.ts).
   */
  scoreCache?: ScoreCache
}

/** Bytes a cached list holds (codes, row ids, page offsets and lengths). */
const listBytes = (v: ListView) => v.codes.length + 16 * v.rowIds.length

/**
 * The share of `cacheBytes` kept as candidates' decoded vectors, so a search that re-ranks rows
 * an earlier one read (the same query for more results, a query like the last, Back and search
 * again) neither fetches nor decodes their pages again. A block of vectors over half of it (a
 * large batch) is read as it is, neither looked up nor kept: it would only churn the cache.
 */
const VECTOR_CACHE_SHARE = 0.25

/**
 * Several indexes searched as one (search/dataset.ts: a manifest's shards; query/joint.ts). Each
 * search sends its queries' PQ shortlists, once; once every index has sent its own, each gets back
 * the rows of its shortlist that the shortlist of all of them together keeps (k × refine, cut
 * against the k-th of all), so the indexes together re-rank about the candidates one index would.
 * An index without PQ estimates (ranking filtered rows directly, an IVF-flat index) sends none and
 * keeps its own. A search joined this way reads no result columns: only the merged top k need them.
 */
export interface JointSearch {
  shortlist(lists: Ranked[] | undefined, k: number, keep: number, cut: number): Promise<Array<ArrayLike<number>> | undefined>
}

/** Executes searches for one index of any kind. */
export class QueryPipeline {
  private readonly lists = new Map<number, ListView>()
  private listBytesCached = 0
  /** Rows' decoded vectors, least recently used first (VECTOR_CACHE_SHARE). */
  private readonly vectors = new Map<number, Float32Array>()
  private vectorBytesCached = 0
  private readonly filters = new Map<string, FilterResult>()
  private scanner: ListScanner | undefined
  private gpu: GpuListScan | undefined
  /** Why the GPU stopped being used, once it failed. */
  gpuFallback: string | undefined

  constructor(
    readonly kind: IndexKind,
    private readonly o: PipelineOptions,
  ) {
    this.gpu = o.gpu
  }

  get kernels(): Kernels {
    return this.o.kernels
  }

  /** The compute backend scoring this index's queries. */
  get backend(): BackendName | 'gpu' {
    return this.gpu ? 'gpu' : this.o.kernels.name
  }

  /** With `gpu`: the adapter and its tunables, in words. */
  get device(): string | undefined {
    return this.gpu?.device
  }

  /** Gives GPU buffers back (searches go on, on the CPU). */
  close(): void {
    this.gpu?.release()
    this.gpu = undefined
  }

  /** Forgets fetched lists and decoded vectors: every list and page is read again. */
  clearCache(): void {
    this.lists.clear()
    this.listBytesCached = 0
    this.vectors.clear()
    this.vectorBytesCached = 0
  }

  /**
   * Many queries at once: one read of the union of probed lists, one of candidate vectors (one a
   * REFINE_BLOCK_BYTES block of them, for the largest batches), one of result columns.
   */
  async search(queries: ArrayLike<number>[], o: SearchOptions = {}, joint?: JointSearch): Promise<SearchResult[]> {
    const maxBytes = o.maxBytesPerQuery ?? this.o.maxBytesPerQuery
    if (joint && o.distinct !== undefined) throw new ParquetSeekError('a joint search takes no distinct column')
    // (a name no file has would otherwise be found out after the lists and candidates were read;
    // a joint search's dataset checks its shards' names together)
    if (!joint) checkColumnNames(this.kind.columnNames, o, this.kind.file)
    for (const c of this.kind.counters) budgetSearch(c, maxBytes)
    try {
      return o.distinct === undefined ? await this.run(queries, o, joint) : await this.runDistinct(queries, o, o.distinct)
    } finally {
      for (const c of this.kind.counters) c.budget = undefined
    }
  }

  /**
   * The k nearest rows with distinct values of `column`: DISTINCT_POOL × k found, the first of
   * each value kept; a query left with fewer than k values while its pool was full is searched
   * again with a pool DISTINCT_POOL times larger (its lists and pages mostly cached by then),
   * until it has k, its probed lists run out, or the pool reaches MAX_K.
   */
  private async runDistinct(queries: ArrayLike<number>[], o: SearchOptions, column: string): Promise<SearchResult[]> {
    const k = o.k ?? 10
    const asked = o.columns ?? []
    const columns = asked.includes(column) ? asked : [...asked, column]
    const fileOf = (row: number) => this.kind.distinctFile?.(row, column)
    const keep = (r: SearchResult): SearchResult => {
      const kept = firstOfEach(r.results, (hit) => distinctKey(hit.values[column], fileOf(hit.row)), k)
      if (asked.includes(column)) return { ...r, results: kept }
      return {
        ...r,
        results: kept.map((hit) => {
          const { [column]: _, ...values } = hit.values
          return { ...hit, values }
        }),
      }
    }
    let pool = Math.min(MAX_K, k * DISTINCT_POOL)
    let found = await this.run(queries, { ...o, k: pool, columns })
    const out = found.map(keep)
    // the queries that may hold more values further out: fewer than k kept from a full pool
    let short = found.flatMap((r, i) => ((out[i] as SearchResult).results.length < k && r.results.length === pool ? [i] : []))
    while (short.length && pool < MAX_K) {
      pool = Math.min(MAX_K, pool * DISTINCT_POOL)
      found = await this.run(
        short.map((i) => queries[i] as ArrayLike<number>),
        { ...o, k: pool, columns },
      )
      for (const [j, i] of short.entries())
        out[i] = { ...keep(found[j] as SearchResult), stats: addStats((out[i] as SearchResult).stats, (found[j] as SearchResult).stats) }
      short = short.filter((i, j) => (out[i] as SearchResult).results.length < k && (found[j] as SearchResult).results.length === pool)
    }
    return out
  }

  /** Values of `columns` for rows (ascending): what a search's hits carry. */
  readColumns(rows: number[], columns: string[], signal?: AbortSignal): Promise<Map<number, Record<string, unknown>>> {
    return this.kind.readColumns(rows, columns, { connections: this.o.connections, signal })
  }

  private async run(queries: ArrayLike<number>[], o: SearchOptions, joint?: JointSearch): Promise<SearchResult[]> {
    const t0 = performance.now()
    const { kind: index } = this
    const { model } = index
    const { dim, nlist, metric } = model.params
    const read = { connections: this.o.connections, signal: o.signal, maxBytes: o.maxBytesPerQuery ?? this.o.maxBytesPerQuery }
    if (!Array.isArray(queries))
      throw new ParquetSeekError(
        `searchBatch takes an array of query vectors, got ${ArrayBuffer.isView(queries) ? 'one vector (search takes one)' : queries === null ? 'null' : typeof queries}`,
      )
    const k = o.k ?? 10
    // the options as given are checked, before the defaults and clamps below could hide them
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new ParquetSeekError(`k must be an integer from 1 to ${MAX_K}, got ${k}`)
    if (o.refine !== undefined && (!Number.isInteger(o.refine) || o.refine < 1 || o.refine > MAX_REFINE))
      throw new ParquetSeekError(`refine must be an integer from 1 to ${MAX_REFINE}, got ${o.refine}`)
    if (o.nprobe !== undefined && (!Number.isInteger(o.nprobe) || o.nprobe < 1))
      throw new ParquetSeekError(`nprobe must be a positive integer, got ${o.nprobe}`)
    const nprobe = Math.min(nlist, o.nprobe ?? model.params.nprobe ?? defaultNprobe(nlist))
    const refine = Math.max(1, o.refine ?? model.params.refine ?? 10)
    // and the file's own tuned values
    if (!Number.isInteger(refine) || refine > MAX_REFINE)
      throw new ParquetSeekError(`refine must be an integer from 1 to ${MAX_REFINE}, got ${refine}`)
    if (!Number.isInteger(nprobe) || nprobe < 1) throw new ParquetSeekError(`nprobe must be a positive integer, got ${nprobe}`)
    const slack = o.slack ?? (o.nprobe === undefined ? model.params.slack : undefined)
    if (slack !== undefined && !(slack >= 0)) throw new ParquetSeekError(`slack must be a number ≥ 0 (or Infinity), got ${slack}`)
    // the tuned cut belongs with the tuned nprobe and refine it was measured at
    const tuned = o.nprobe === undefined && o.refine === undefined
    const refineSlack = o.refineSlack ?? (tuned ? model.params.refineSlack : undefined) ?? Number.POSITIVE_INFINITY
    if (!(refineSlack >= 0)) throw new ParquetSeekError(`refineSlack must be a number ≥ 0 (or Infinity), got ${refineSlack}`)
    const before = index.counters.map((c) => ({ ...c.counts }))
    const tripsBefore = index.clock.deepest
    const ms = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>
    let mark = performance.now()
    const lap = (stage: Stage) => {
      const now = performance.now()
      ms[stage] += now - mark
      mark = now
    }
    /** A joint search's shortlist: the wait for the other indexes counts in no stage. */
    const shortlistJointly = async (lists: Ranked[] | undefined, keep: number, cut: number) => {
      if (!joint) return undefined
      const paused = performance.now()
      const kept = await joint.shortlist(lists, k, keep, cut)
      mark += performance.now() - paused
      return kept
    }

    const kind = kernelKind(metric)
    const prepared = queries.map((q, i) => {
      const f = float32Query(q, i)
      if (f.length !== dim) throw new ParquetSeekError(`query ${i} has ${f.length} values; the index is ${dim}-d`)
      return prepareQuery(f, metric)
    })
    // rows that may be returned: the filter's bitmap (read once per filter), minus deleted rows
    let filter: FilterResult | undefined
    if (o.where !== undefined) {
      filter = this.filters.get(o.where)
      if (!filter) {
        if (!index.filter) throw new ParquetSeekError('this index has no columns to filter on', { file: index.file })
        filter = await index.filter(parseWhere(o.where), read)
        this.filters.set(o.where, filter)
      }
    }
    const allowed = allowedRows(index.rows, filter?.bitmap, o.deleted)
    // a filter passing a fraction f of the rows probes nprobe / f lists, so as many passing
    // entries are scanned as without it (recall holds; bytes grow as the filter narrows)
    const fraction = filter ? filter.passing / Math.max(1, index.rows) : 1
    const probed = filter ? Math.min(nlist, Math.ceil(nprobe / Math.max(fraction, 1 / nlist))) : nprobe
    // few rows allowed: rank them all exactly from their own pages, when that reads fewer bytes
    // than the lists a filter this narrow would probe
    const direct = allowed && index.directRows ? index.directRows(allowed, probed, k * refine) : undefined
    let probes: Uint32Array[] = prepared.map(() => new Uint32Array(0))
    /** Each query's lists chosen by distance (`probes` adds the lists stored between them). */
    let chosen = probes
    /** The lists of `probes`, each once (none on the direct path). */
    let batchWanted: Uint32Array = new Uint32Array(0)
    let fetchedCount = 0
    let scoredOn: BackendName | 'gpu' = this.o.kernels.name
    let candidates: number[][]
    /** Each candidate's list entry (rows come through the lists). */
    let places: Map<number, ListPlace> | undefined
    const batchLists = new Map<number, ListView>()
    if (direct) {
      lap('probe')
      candidates = prepared.map(() => direct)
      await shortlistJointly(undefined, 0, 0)
      lap('lists')
    } else {
      // a large L2 batch probes on the GPU (queries × centroids in one pass)
      let gpuProbes: Uint32Array[] | undefined
      if (this.gpu && this.o.gpuProbe !== false && index.scoring === 'pq' && kind === 'l2' && prepared.length * probed > nlist) {
        try {
          gpuProbes = await this.gpu.probe(prepared, probed, o.signal)
        } catch (e) {
          this.dropGpu(e)
        }
      }
      // the same queries searched again (the tune step): their lists ordered once
      const known = gpuProbes ? undefined : this.o.scoreCache?.nearest(this.o.kernels, prepared, model.centroids, kind, probed)
      probes = gpuProbes ?? known?.lists ?? probe(this.o.kernels, prepared, model.centroids, nlist, kind, probed)
      /** Each query's distances to its lists' centroids, where the cut computed them: the GPU scan's biases too. */
      let coarse: Float32Array[] | undefined
      // a filter already widens the probe to find enough passing rows: no cut by distance then
      if (slack !== undefined && slack !== Number.POSITIVE_INFINITY && !filter) {
        // never fewer entries than the k results asked for
        const pruned = pruneProbes(
          this.o.kernels,
          prepared,
          probes,
          model.centroids,
          kind,
          slack,
          { rows: k, sizeOf: (l) => index.listSize(l) },
          known?.distances,
        )
        probes = pruned.lists
        coarse = this.gpu ? pruned.distances : undefined
      }
      chosen = probes
      const layout = (o.adjacent ?? index.layout?.free) ? index.layout : undefined
      if (layout) {
        probes = probes.map((p) => withListsBetween(p, layout.lists, REQUEST_BYTES))
        if (coarse) coarse = extendDistances(this.o.kernels, prepared, probes, coarse, model.centroids, kind)
      }
      lap('probe')

      // this batch's lists, held here too: the cache may evict some of them while it fills
      batchWanted = listsOf(probes, nlist)
      for (const l of batchWanted) {
        const hit = this.lists.get(l)
        if (!hit) continue
        batchLists.set(l, hit)
        this.lists.delete(l) // most recently used goes last
        this.lists.set(l, hit)
      }
      const wanted = Array.from(batchWanted).filter((l) => !batchLists.has(l))
      const fetched = wanted.filter((l) => index.listSize(l) > 0)
      const columns = !!o.columns?.length
      if (fetched.length || columns) {
        const views = await index.readLists(fetched, { ...read, columns })
        for (const [i, l] of fetched.entries()) {
          const view = views[i] as ListView
          batchLists.set(l, view)
          this.cacheList(l, view)
        }
      }
      fetchedCount = fetched.length
      lap('lists')

      // a spilled row may come from two of a query's lists: twice the candidates are kept, and
      // each row once at its better estimate leaves at least k × refine distinct rows
      const spilled = !!model.params.spilled
      const keep = k * refine * (spilled ? 2 : 1)
      const seen = new RowSet()
      /** Without spilled rows each row belongs to one list: a damaged index listing it in two is refused. */
      const refuseRepeats = (lists: ArrayLike<number>[]) => {
        if (spilled) return
        for (const rows of lists) {
          for (let i = 0; i < rows.length; i++) {
            const row = rows[i] as number
            if (seen.has(row))
              throw new ParquetSeekError(`row ${row} is in more than one list (each row belongs to one)`, {
                file: index.file,
                section: 'lists',
              })
            seen.add(row)
          }
          seen.clear()
        }
      }
      if (index.scoring === 'flat') {
        candidates = prepared.map((_, qi) => rowsOf(probes[qi] as Uint32Array, batchLists, allowed))
        refuseRepeats(candidates)
        await shortlistJointly(undefined, 0, 0)
      } else {
        let scored: Ranked[] | undefined
        if (this.gpu) {
          try {
            scored = await this.gpu.candidates(prepared, probes, (l) => batchLists.get(l), kind, keep, allowed, o.signal, coarse)
            scoredOn = 'gpu'
          } catch (e) {
            this.dropGpu(e)
          }
        }
        this.scanner ??= new ListScanner(model, this.o.kernels)
        scored ??= await scanLists(
          this.scanner,
          prepared,
          probes,
          (l) => batchLists.get(l),
          kind,
          keep,
          allowed,
          o.signal,
          this.o.scoreCache,
        )
        refuseRepeats(scored.map((r) => r.rows))
        // squared L2 estimates only: a ratio of inner products means nothing
        const cut = kind === 'l2' ? refineSlack : Number.POSITIVE_INFINITY
        const mine = scored.map((list) => shortlist(list, k, k * refine, cut, seen))
        const kept = await shortlistJointly(mine, k * refine, cut)
        candidates = (kept ?? mine.map((r) => r.rows)).map((rows) => Array.from(rows))
      }
      if (layout && index.scoring === 'pq') {
        // each query's own: a batch gets the answers its queries get alone
        places = placesOf(new DistinctRows(candidates).rows, batchLists)
        const known = places
        candidates = candidates.map((list, qi) => {
          const views = Array.from(probes[qi] as Uint32Array, (l) => batchLists.get(l)).filter((v) => v !== undefined)
          return rowsAround(list, known, views, allowed, REQUEST_BYTES)
        })
      }
    }
    lap('scan')

    // one read for every candidate of every query (a block at a time, below), each vector
    // decoded once; the tune step searches the same queries again and again, so there a (query,
    // row) pair ranked before is neither read nor computed again
    const ranked = this.o.scoreCache
    const tops = prepared.map(() => new TopK(k))
    const unranked: number[][] = candidates.map((list, qi) => {
      if (!ranked) return list
      const before = ranked.exactOf(qi)
      const top = tops[qi] as TopK
      return list.filter((row) => {
        const d = before.get(row)
        if (Number.isNaN(d)) return true
        top.push(d, row)
        return false
      })
    })
    const distinct = new DistinctRows(unranked)
    const rows = distinct.rows
    places ??= direct ? new Map<number, ListPlace>() : placesOf(rows, batchLists)
    const known = places
    const place = (row: number) => known.get(row)
    // the rows read, decoded and refined a block at a time: a batch holds one block of vectors,
    // not all of them (10,000 queries: 174,000 rows, 534 MB, freshly written — 1.6 s of page
    // faults alone on this project's 2-core VM); a batch under a block is one read, as before
    const perBlock = Math.max(1, Math.floor((this.o.refineBlockBytes ?? REFINE_BLOCK_BYTES) / (4 * dim)))
    const blocks = Math.ceil(rows.length / perBlock)
    // each (query, candidate) as pairs of (query, the candidate's position in `rows`), grouped by
    // the block its row is in (counted, then placed: `starts[b]` is block b's first pair); each
    // candidate's position found once
    const slots = new Uint32Array(unranked.reduce((n, list) => n + list.length, 0))
    const starts = new Uint32Array(blocks + 1)
    let c = 0
    for (const list of unranked)
      for (let i = 0; i < list.length; i++) {
        const slot = distinct.indexOf(list[i] as number)
        slots[c++] = slot
        const b = Math.floor(slot / perBlock) + 1
        starts[b] = (starts[b] as number) + 1
      }
    for (let b = 0; b < blocks; b++) starts[b + 1] = (starts[b + 1] as number) + (starts[b] as number)
    const pairs = new Uint32Array(2 * (starts[blocks] as number))
    const next = starts.slice(0, blocks)
    c = 0
    for (let qi = 0; qi < unranked.length; qi++)
      for (let i = (unranked[qi] as number[]).length; i > 0; i--) {
        const slot = slots[c++] as number
        const b = Math.floor(slot / perBlock)
        const p = next[b] as number
        next[b] = p + 1
        pairs[2 * p] = qi
        pairs[2 * p + 1] = slot
      }
    const size = Math.min(rows.length, perBlock) * dim
    const vectors = index.vectorBuffer?.(size) ?? new Float32Array(size)
    const packed = this.gpu ? packRows(prepared, dim) : undefined
    let most = 0
    for (let b = 0; b < blocks; b++) most = Math.max(most, (starts[b + 1] as number) - (starts[b] as number))
    const blockPairs = new Uint32Array(2 * most)
    let pagesDecoded = 0
    for (let b = 0; b < blocks; b++) {
      const [from, to] = [b * perBlock, Math.min(rows.length, (b + 1) * perBlock)]
      const block = rows.slice(from, to)
      const { present, read: decoded } = await this.readVectors(block, place, vectors.subarray(0, (to - from) * dim), read)
      pagesDecoded += decoded
      // (query, decoded vector) pairs: each query against its own candidates in this block whose page was read
      let paired = 0
      for (let p = starts[b] as number; p < (starts[b + 1] as number); p++) {
        const i = (pairs[2 * p + 1] as number) - from
        if (present[i]) {
          blockPairs[paired++] = pairs[2 * p] as number
          blockPairs[paired++] = i
        }
      }
      const exact = await this.refineDistances(prepared, packed, vectors, to - from, blockPairs.subarray(0, paired), o.signal)
      for (let p = 0; p < paired / 2; p++) {
        const qi = blockPairs[2 * p] as number
        const row = rows[from + (blockPairs[2 * p + 1] as number)] as number
        ;(tops[qi] as TopK).push(exact[p] as number, row)
        ranked?.exactOf(qi).set(row, exact[p] as number)
      }
    }
    const best = tops.map((top) => top.sorted())
    lap('refine')

    // (a joint search's columns are read once its results are merged)
    const columns = joint ? [] : (o.columns ?? [])
    // the result rows' values, when asked for (the rows gathered only then: a batch has a million)
    const resultRows = columns.length ? new DistinctRows(best.map((b) => b.map((h) => h.row))).rows : []
    const values = resultRows.length ? await index.readColumns(resultRows, columns, read) : new Map()
    lap('project')
    if (o.signal?.aborted) throw new AbortError()

    const listsProbed = listsOf(chosen, nlist).length
    const stats: SearchStats = {
      bytes: index.counters.reduce((n, c, i) => n + c.counts.bytes - (before[i]?.bytes ?? 0), 0),
      requests: index.counters.reduce((n, c, i) => n + c.counts.requests - (before[i]?.requests ?? 0), 0),
      roundTrips: index.clock.deepest - tripsBefore,
      pagesDecoded,
      listsProbed,
      listsAdjacent: probes === chosen ? 0 : batchWanted.length - listsProbed,
      listsFetched: fetchedCount,
      candidates: rows.length,
      msByStage: ms,
      ms: performance.now() - t0,
      backend: scoredOn,
      ...(this.gpuFallback ? { gpuFallback: this.gpuFallback } : {}),
      ...(filter
        ? {
            filter: {
              rowsPassing: filter.passing,
              rowGroupsSkipped: filter.rowGroupsSkipped,
              nprobe: direct ? 0 : probed,
              direct: !!direct,
            },
          }
        : {}),
    }
    return best.map((hits, qi) => ({
      probed: Array.from(chosen[qi] as Uint32Array),
      results: hits.map((h) => ({ row: h.row, distance: h.distance, values: values.get(h.row) ?? {} })),
      stats,
    }))
  }

  /**
   * Exact distances of each (query, vector) pair: on the GPU with backend `gpu` (distances to
   * float rounding of the CPU's), else on the CPU (metric.ts exactDistance).
   */
  private async refineDistances(
    queries: Float32Array[],
    /** `queries` in one array (packRows), for the GPU. */
    packed: Float32Array | undefined,
    vectors: Float32Array,
    n: number,
    pairs: Uint32Array,
    signal: AbortSignal | undefined,
  ): Promise<ArrayLike<number>> {
    const { dim, metric } = this.kind.model.params
    if (this.gpu && packed && pairs.length) {
      try {
        return await this.gpu.refine(metric, packed, queries.length, vectors, n, dim, pairs, signal)
      } catch (e) {
        this.dropGpu(e)
      }
    }
    const distances = new Float64Array(pairs.length / 2)
    for (let p = 0; p < distances.length; p++)
      distances[p] = exactDistance(metric, queries[pairs[2 * p] as number] as Float32Array, vectors, (pairs[2 * p + 1] as number) * dim)
    return distances
  }

  /** After a GPU failure (device lost, out of memory, a driver error): the CPU from now on. */
  private dropGpu(e: unknown): void {
    if (e instanceof AbortError) throw e
    this.gpuFallback = `${(e as Error).message}; searching on the CPU (${this.o.kernels.name}) from now on`
    this.gpu?.release()
    this.gpu = undefined
  }

  /**
   * Rows' exact vectors into `out`, as `kind.readVectors` gives them: those kept from earlier
   * searches copied, the rest read (how many: `read`) and kept. Which rows are ranked never
   * depends on it, only which bytes are fetched.
   */
  private async readVectors(
    rows: number[],
    place: (row: number) => ListPlace | undefined,
    out: Float32Array,
    o: ReadOptions,
  ): Promise<{ present: Uint8Array; read: number }> {
    const { dim } = this.kind.model.params
    const budget = this.o.cacheBytes * VECTOR_CACHE_SHARE
    if (rows.length * dim * 4 > budget / 2) return { present: await this.kind.readVectors(rows, place, out, o), read: rows.length }
    const present = new Uint8Array(rows.length)
    const missing: number[] = []
    for (const [i, row] of rows.entries()) {
      const kept = this.vectors.get(row)
      if (!kept) {
        missing.push(i)
        continue
      }
      this.vectors.delete(row)
      this.vectors.set(row, kept) // most recently used goes last
      out.set(kept, i * dim)
      present[i] = 1
    }
    if (!missing.length) return { present, read: 0 }
    const fetched = this.kind.vectorBuffer?.(missing.length * dim) ?? new Float32Array(missing.length * dim)
    const found = await this.kind.readVectors(
      missing.map((i) => rows[i] as number),
      place,
      fetched,
      o,
    )
    for (const [j, i] of missing.entries()) {
      if (!found[j]) continue
      const vector = fetched.slice(j * dim, (j + 1) * dim)
      out.set(vector, i * dim)
      present[i] = 1
      // (a search running beside this one may have kept it meanwhile)
      if (this.vectors.has(rows[i] as number)) continue
      this.vectors.set(rows[i] as number, vector)
      this.vectorBytesCached += vector.byteLength
    }
    for (const [row, v] of this.vectors) {
      if (this.vectorBytesCached <= budget) break
      this.vectors.delete(row)
      this.vectorBytesCached -= v.byteLength
    }
    return { present, read: missing.length }
  }

  private cacheList(l: number, view: ListView) {
    // (a search running beside this one may have kept it meanwhile)
    if (this.lists.has(l)) return
    this.lists.set(l, view)
    this.listBytesCached += listBytes(view)
    // least recently used first (a hit moves a list to the end)
    for (const [key, v] of this.lists) {
      if (this.listBytesCached <= this.o.cacheBytes) break
      this.lists.delete(key)
      this.listBytesCached -= listBytes(v)
    }
  }
}

/** Every allowed row of the probed lists, ascending (an IVF-flat index ranks them all exactly). */
function rowsOf(probed: Uint32Array, lists: Map<number, ListView>, allowed: Uint8Array | undefined): number[] {
  const rows: number[] = []
  for (const l of probed) for (const row of lists.get(l)?.rowIds ?? []) if (!allowed || allowed[row]) rows.push(row)
  return rows.sort((a, b) => a - b)
}

/**
 * The entries to re-rank from a PQ ranking (a spilled row may come twice, kept at its first,
 * better, place): the first `keep` distinct rows, down to those at most (1 + `cut`) times the
 * k-th distinct row's distance (none cut when that distance is not above 0, or `cut` is
 * Infinity: then only the first `keep` distinct rows). `seen`: a scratch set, left empty.
 */
export function shortlist(ranked: Ranked, k: number, keep: number, cut: number, seen = new RowSet()): Ranked {
  const n = Math.min(ranked.rows.length, Math.max(0, keep))
  const rows = new Uint32Array(n)
  const distances = new Float64Array(n)
  let count = 0
  let bound = Number.POSITIVE_INFINITY
  for (let i = 0; i < ranked.rows.length; i++) {
    const row = ranked.rows[i] as number
    const distance = ranked.distances[i] as number
    if (count === n || distance > bound) break
    if (seen.has(row)) continue
    seen.add(row)
    rows[count] = row
    distances[count++] = distance
    if (count === k && distance > 0) bound = distance * (1 + cut)
  }
  seen.clear()
  return { rows: rows.subarray(0, count), distances: distances.subarray(0, count) }
}

/**
 * A set of row ids for many small sets one after another (each query's candidates): a bitset
 * grown to the largest row added, `clear` unmarking only what was added (a batch of 10,000
 * queries made 20,000 `Set`s of 100 rows).
 */
export class RowSet {
  private bits = new Uint32Array(0)
  private readonly added: number[] = []

  has(row: number): boolean {
    return row >>> 5 < this.bits.length && ((this.bits[row >>> 5] as number) & (1 << (row & 31))) !== 0
  }

  add(row: number): void {
    const word = row >>> 5
    if (word >= this.bits.length) {
      const grown = new Uint32Array(Math.max(word + 1, 2 * this.bits.length))
      grown.set(this.bits)
      this.bits = grown
    }
    this.bits[word] = (this.bits[word] as number) | (1 << (row & 31))
    this.added.push(row)
  }

  clear(): void {
    for (const row of this.added) this.bits[row >>> 5] = (this.bits[row >>> 5] as number) & ~(1 << (row & 31))
    this.added.length = 0
  }
}

/** The lists in any of the queries' sets, each once, ascending (a batch of 10,000 queries names 320,000). */
function listsOf(sets: readonly Uint32Array[], nlist: number): Uint32Array {
  const seen = new Uint8Array(nlist)
  let count = 0
  for (const p of sets)
    for (const l of p)
      if (!seen[l]) {
        seen[l] = 1
        count++
      }
  const out = new Uint32Array(count)
  for (let l = 0, i = 0; l < nlist; l++) if (seen[l]) out[i++] = l
  return out
}

/**
 * Every row of the lists, once, ascending — and each row's position among them — through a
 * bitset over the rows (1 M candidates of 174,000 rows: sorting them took ~60 ms, bisecting for
 * each one's position ~35).
 */
export class DistinctRows {
  /** The rows, ascending. */
  readonly rows: number[] = []
  private readonly bits: Uint32Array
  /** Rows in the words before each word. */
  private readonly before: Uint32Array

  constructor(lists: readonly ArrayLike<number>[]) {
    let last = -1
    for (const list of lists) for (let i = 0; i < list.length; i++) last = Math.max(last, list[i] as number)
    const bits = new Uint32Array(last < 0 ? 0 : (last >>> 5) + 1)
    for (const list of lists)
      for (let i = 0; i < list.length; i++) {
        const row = list[i] as number
        bits[row >>> 5] = (bits[row >>> 5] as number) | (1 << (row & 31))
      }
    const before = new Uint32Array(bits.length)
    for (let w = 0; w < bits.length; w++) {
      before[w] = this.rows.length
      // each set bit, lowest first
      for (let word = bits[w] as number; word !== 0; word &= word - 1) this.rows.push(32 * w + 31 - Math.clz32(word & -word))
    }
    this.bits = bits
    this.before = before
  }

  /** The position of `row` (one of the rows) among the rows. */
  indexOf(row: number): number {
    const w = row >>> 5
    return (this.before[w] as number) + popcount((this.bits[w] as number) & ((1 << (row & 31)) - 1))
  }
}

/** Set bits of a 32-bit word. */
function popcount(x: number): number {
  let v = x - ((x >>> 1) & 0x55555555)
  v = (v & 0x33333333) + ((v >>> 2) & 0x33333333)
  return (Math.imul((v + (v >>> 4)) & 0x0f0f0f0f, 0x01010101) >>> 24) & 0xff
}

/**
 * The list entry of each wanted row (`rows` ascending), from the lists it came through (one pass
 * over their row ids, each looked up in a bitset of the wanted rows: 632,000 of 1 M rows placed in
 * 400–490 ms, with a Set 730–950); a row in two lists (spilled) gets the last.
 */
function placesOf(rows: readonly number[], lists: Map<number, ListView>): Map<number, ListPlace> {
  const out = new Map<number, ListPlace>()
  if (!rows.length) return out
  const last = rows[rows.length - 1] as number
  const wanted = new Uint32Array((last >>> 5) + 1)
  for (const row of rows) wanted[row >>> 5] = (wanted[row >>> 5] as number) | (1 << (row & 31))
  for (const list of lists.values()) {
    const ids = list.rowIds
    for (let at = 0; at < ids.length; at++) {
      const row = ids[at] as number
      if (row <= last && (wanted[row >>> 5] as number) & (1 << (row & 31))) out.set(row, { list, at })
    }
  }
  return out
}

/** Two searches' stats as one (a distinct search widened): counts and times summed, the second's settings. */
function addStats(a: SearchStats, b: SearchStats): SearchStats {
  const msByStage = Object.fromEntries(STAGES.map((st) => [st, a.msByStage[st] + b.msByStage[st]])) as Record<Stage, number>
  return {
    ...b,
    bytes: a.bytes + b.bytes,
    requests: a.requests + b.requests,
    roundTrips: a.roundTrips + b.roundTrips,
    pagesDecoded: a.pagesDecoded + b.pagesDecoded,
    listsFetched: a.listsFetched + b.listsFetched,
    candidates: a.candidates + b.candidates,
    msByStage,
    ms: a.ms + b.ms,
  }
}
