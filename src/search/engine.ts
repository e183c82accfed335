import { readOffsetIndex } from 'hyparquet'
import { type BackendName, type Kernels, loadKernels } from '../compute/backend.js'
import type { GpuListScan } from '../compute/gpu/listScan.js'
import { AbortError, decoding, ParquetSeekError, throwIfAborted } from '../errors.js'
import type { ListView } from '../index/blob.js'
import { parseList } from '../index/blob.js'
import { footerValue, KV } from '../index/keys.js'
import type { Metric } from '../index/model.js'
import { DEFAULT_CONCURRENCY, DEFAULT_GAP, readRanges, waves } from '../io/ranges.js'
import type { ByteSource } from '../io/source.js'
import { copyVector, readColumnRange } from '../parquet/embedding.js'
import { decodeVectorPage } from '../parquet/vectorPage.js'
import { type FilterResult, filterRows, parseWhere } from './filter.js'
import { exactDistance, kernelKind, prepareQuery } from './metric.js'
import { DEFAULT_MAX_BYTES, type OpenedIndex, type OpenOptions, openSource } from './open.js'
import { probe } from './probe.js'
import { projectRows } from './project.js'
import { ListScanner } from './scan.js'
import { TopK } from './topk.js'

export interface SearchOptions {
  k?: number
  /** Lists probed per query (default: the value tuned at build time for recall@10 ≥ 0.96). */
  nprobe?: number
  /** Candidates re-ranked exactly: k × refine (default: tuned at build time, else 10). */
  refine?: number
  /** Columns to return for each result row. */
  columns?: string[]
  /** Only rows passing this filter (filter.ts: =, !=, <, <=, >, >=, IN, IS NULL, AND, OR, NOT). */
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
  /** Dependent network round trips (parallel requests in one wave count once). */
  roundTrips: number
  pagesDecoded: number
  listsProbed: number
  listsFetched: number
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

interface Located {
  list: ListView
  at: number
}

/** More allowed rows than this always go through the lists. */
const DIRECT_MAX_ROWS = 65_536

/** Largest k and refine a search takes (k × refine candidates are held per query). */
export const MAX_K = 10_000
export const MAX_REFINE = 1_000
/** More lists than any index has (nlist is a u32, in practice ≤ 2^16): a bound for option checks. */
export const MAX_NPROBE = 1 << 24

export function defaultNprobe(nlist: number): number {
  return Math.min(nlist, Math.max(8, Math.ceil(nlist / 4)))
}

/**
 * An opened indexed Parquet file. Holds the footer, the index head and an LRU of fetched
 * inverted lists; every search reads only probed lists, candidate pages and result rows.
 */
export class SeekIndex {
  private lists = new Map<number, ListView>()
  private listBytesCached = 0

  private readonly scanner: ListScanner
  private readonly filters = new Map<string, FilterResult>()

  /** Parsed offset indexes of the vector column, by row group (direct ranking of filtered rows). */
  private readonly offsetIndexes = new Map<number, Array<{ offset: bigint; compressed_page_size: number; first_row_index: bigint }>>()
  /** Why the GPU stopped being used, once it failed. */
  private gpuFallback: string | undefined

  private constructor(
    readonly opened: OpenedIndex,
    private readonly cacheBytes: number,
    readonly kernels: Kernels,
    private gpu: GpuListScan | undefined,
    private readonly maxBytesPerQuery: number,
    /** Requests in flight at once (a browser opens about 6 per host over HTTP/1.1). */
    private readonly connections: number,
  ) {
    this.scanner = new ListScanner(opened.model, kernels)
  }

  static async open(input: ByteSource | string, o: OpenOptions = {}): Promise<SeekIndex> {
    const kernels = await loadKernels(o.backend)
    const opened = await openSource(input, o)
    // loaded on demand: pages that never ask for the GPU do not load its code and shaders
    const gpu = o.backend === 'gpu' ? await (await import('../compute/gpu/open.js')).openGpuScan(opened.model, o.gpu) : undefined
    return new SeekIndex(
      opened,
      o.cacheBytes ?? 64 << 20,
      kernels,
      gpu,
      o.maxBytesPerQuery ?? DEFAULT_MAX_BYTES,
      o.connections ?? DEFAULT_CONCURRENCY,
    )
  }

  /** The compute backend scoring this index's queries. */
  get backend(): BackendName | 'gpu' {
    return this.gpu ? 'gpu' : this.kernels.name
  }

  /** Gives GPU buffers back (the index still searches, on the CPU). */
  close(): void {
    this.gpu?.release()
    this.gpu = undefined
  }

  get params() {
    return this.opened.model.params
  }
  get metric(): Metric {
    return this.params.metric
  }
  /** The embedding model the file names (footer key parquetseek.model), for text queries. */
  get model(): string | undefined {
    return footerValue(this.opened.metadata, KV.model)
  }
  get rows() {
    return Number(this.opened.metadata.num_rows)
  }

  async search(query: ArrayLike<number>, o: SearchOptions = {}): Promise<SearchResult> {
    const [result] = await this.searchBatch([query], o)
    return result as SearchResult
  }

  /** Many queries at once: one fetch of the union of probed lists, one of candidate pages. */
  async searchBatch(queries: ArrayLike<number>[], o: SearchOptions = {}): Promise<SearchResult[]> {
    const { counting } = this.opened
    const maxBytes = o.maxBytesPerQuery ?? this.maxBytesPerQuery
    counting.budget = { until: counting.counts.bytes + maxBytes, what: `maxBytesPerQuery (${maxBytes} bytes)` }
    try {
      return await this.searchWithin(queries, o)
    } finally {
      counting.budget = undefined
    }
  }

  private async searchWithin(queries: ArrayLike<number>[], o: SearchOptions): Promise<SearchResult[]> {
    const t0 = performance.now()
    const { model, counting, directory } = this.opened
    const { dim, nlist, m } = model.params
    const k = o.k ?? 10
    const nprobe = Math.min(nlist, o.nprobe ?? model.params.nprobe ?? defaultNprobe(nlist))
    const refine = Math.max(1, o.refine ?? model.params.refine ?? 10)
    if (!Number.isInteger(k) || k < 1 || k > MAX_K) throw new ParquetSeekError(`k must be an integer from 1 to ${MAX_K}, got ${k}`)
    if (!Number.isInteger(refine) || refine > MAX_REFINE)
      throw new ParquetSeekError(`refine must be an integer from 1 to ${MAX_REFINE}, got ${refine}`)
    if (!Number.isInteger(nprobe) || nprobe < 1) throw new ParquetSeekError(`nprobe must be a positive integer, got ${nprobe}`)
    const before = { ...counting.counts }
    const ms = Object.fromEntries(STAGES.map((s) => [s, 0])) as Record<Stage, number>
    let roundTrips = 0
    let mark = performance.now()
    const lap = (stage: Stage) => {
      const now = performance.now()
      ms[stage] += now - mark
      mark = now
    }

    const kind = kernelKind(this.metric)
    const prepared = queries.map((q, i) => {
      if (q.length !== dim) throw new ParquetSeekError(`query ${i} has ${q.length} values; the index is ${dim}-d`)
      for (let j = 0; j < dim; j++) if (!Number.isFinite(q[j])) throw new ParquetSeekError(`query ${i}: value ${j} is not finite`)
      return prepareQuery(Float32Array.from(q), this.metric)
    })
    // rows that may be returned: the filter's bitmap (read once per filter), minus deleted rows
    let filter: FilterResult | undefined
    if (o.where !== undefined) {
      filter = this.filters.get(o.where)
      if (!filter) {
        filter = await filterRows(this.opened.cached, this.opened.metadata, parseWhere(o.where), o.signal)
        this.filters.set(o.where, filter)
        roundTrips += filter.rowGroupsRead
      }
    }
    let allowed = filter?.bitmap
    if (o.deleted) {
      allowed = allowed ? allowed.slice() : new Uint8Array(this.rows).fill(1)
      for (const row of o.deleted) if (row >= 0 && row < allowed.length) allowed[row] = 0
    }
    // a filter passing a fraction f of the rows probes nprobe / f lists, so as many passing
    // entries are scanned as without it (recall holds; bytes grow as the filter narrows)
    const fraction = filter ? filter.passing / Math.max(1, this.rows) : 1
    const probed = filter ? Math.min(nlist, Math.ceil(nprobe / Math.max(fraction, 1 / nlist))) : nprobe
    // few rows allowed: rank them all exactly from their own pages, when that reads fewer bytes
    // than the lists a filter this narrow would probe
    const direct = allowed ? this.directPlan(allowed, probed, k * refine) : undefined
    let probes: Uint32Array[] = prepared.map(() => new Uint32Array(0))
    let fetchedCount = 0
    let scoredOn: BackendName | 'gpu' = this.kernels.name
    let candidates: number[][]
    const pages = new Map<number, { offset: number; length: number }>()
    if (direct) {
      lap('probe')
      const r0 = counting.counts.requests
      const located = await this.pagesOfRows(direct, o.signal)
      roundTrips += waves(counting.counts.requests - r0, this.connections)
      for (const [row, page] of located) pages.set(row, page)
      const all = [...located.keys()]
      candidates = prepared.map(() => all)
      lap('lists')
    } else {
      // a large L2 batch probes on the GPU (queries × centroids in one pass)
      let gpuProbes: Uint32Array[] | undefined
      if (this.gpu && kind === 'l2' && prepared.length * probed > nlist) {
        try {
          gpuProbes = await this.gpu.probe(prepared, probed, o.signal)
        } catch (e) {
          this.dropGpu(e)
        }
      }
      probes = gpuProbes ?? prepared.map((q) => probe(q, model.centroids, nlist, kind, probed))
      lap('probe')

      const wanted = [...new Set(probes.flatMap((p) => Array.from(p)))].filter((l) => !this.lists.has(l)).sort((a, b) => a - b)
      const fetched = wanted.filter((l) => (directory[l]?.count ?? 0) > 0)
      const pageIndex = o.columns?.length ? this.opened.pageIndex : undefined
      // this batch's lists, held here too: the cache may evict some of them while it fills
      const batchLists = new Map<number, ListView>()
      for (const p of probes) for (const l of p) if (this.lists.has(l)) batchLists.set(l, this.lists.get(l) as ListView)
      if (fetched.length || pageIndex) {
        const ranges = fetched.map((l) => {
          const d = directory[l] as (typeof directory)[number]
          const start = this.opened.listsOffset + d.offset
          return { start, end: start + d.length }
        })
        if (pageIndex) ranges.push(pageIndex)
        const r0 = counting.counts.requests
        const bodies = await readRanges(counting, ranges, { gap: DEFAULT_GAP, concurrency: this.connections, signal: o.signal })
        roundTrips += waves(counting.counts.requests - r0, this.connections)
        const ctx = { file: this.opened.raw.name, blobOffset: this.opened.location.offset }
        for (const [i, l] of fetched.entries()) {
          const view = parseList(bodies[i] as Uint8Array, directory[l] as never, m, l, ctx, {
            rows: this.rows,
            fileBytes: this.opened.raw.byteLength,
          })
          batchLists.set(l, view)
          this.cacheList(l, view)
        }
        if (pageIndex) {
          this.opened.cached.pin(pageIndex.start, (bodies.at(-1) as Uint8Array).slice())
          this.opened.pageIndex = undefined
        }
      }
      lap('lists')

      let scored: Array<Array<{ row: number; distance: number }>> | undefined
      if (this.gpu) {
        try {
          scored = await this.gpu.candidates(prepared, probes, (l) => batchLists.get(l), kind, k * refine, allowed, o.signal)
          scoredOn = 'gpu'
        } catch (e) {
          this.dropGpu(e)
        }
      }
      const scanner = this.scanner
      scored ??= prepared.map((q, qi) => {
        throwIfAborted(o.signal)
        const top = new TopK(k * refine)
        for (const l of probes[qi] as Uint32Array) {
          const list = batchLists.get(l)
          if (list) scanner.scan(q, kind, l, list.codes, list.rowIds, top, allowed)
        }
        return top.sorted()
      })
      fetchedCount = fetched.length
      candidates = scored.map((list) => list.map((c) => c.row))
      for (const [qi, list] of scored.entries()) {
        const seen = new Set<number>()
        for (const c of list) {
          // each row belongs to one list; a damaged index listing it in two must not return it twice
          if (seen.has(c.row))
            throw new ParquetSeekError(`row ${c.row} is in more than one list (each row belongs to one)`, {
              file: this.opened.raw.name,
              section: 'lists',
            })
          seen.add(c.row)
          pages.set(c.row, pageOf(locate(c.row, probes[qi] as Uint32Array, batchLists)))
        }
      }
    }
    lap('scan')

    // one read for every candidate page of every query, each page decoded once (a page is one
    // row's vector: rows sharing a page mean a damaged index, refused before any decoding)
    const rows = [...pages.keys()].sort((a, b) => a - b)
    const owner = new Map<number, number>()
    for (const row of rows) {
      const at = (pages.get(row) as { offset: number }).offset
      const other = owner.get(at)
      if (other !== undefined)
        throw new ParquetSeekError(`rows ${other} and ${row} point at the same vector page`, {
          file: this.opened.raw.name,
          section: 'lists',
          offset: at,
        })
      owner.set(at, row)
    }
    const vectors = new Float32Array(rows.length * dim)
    const slot = new Map(rows.map((r, i) => [r, i]))
    if (rows.length) {
      const r0 = counting.counts.requests
      const bodies = await readRanges(
        counting,
        rows.map((r) => {
          const p = pages.get(r) as { offset: number; length: number }
          return { start: p.offset, end: p.offset + p.length }
        }),
        { gap: DEFAULT_GAP, concurrency: this.connections, signal: o.signal },
      )
      roundTrips += waves(counting.counts.requests - r0, this.connections)
      const chunk = this.opened.metadata.row_groups[0]?.columns[this.opened.column.leafIndex]?.meta_data
      rows.forEach((row, i) => {
        decodeVectorPage(bodies[i] as Uint8Array, this.opened.column, chunk?.codec ?? 'LZ4_RAW', dim, vectors, i * dim, {
          file: this.opened.raw.name,
          column: this.opened.column.name,
          offset: pages.get(row)?.offset ?? 0,
          row,
        })
      })
    }
    const best = prepared.map((q, qi) => {
      const top = new TopK(k)
      for (const row of candidates[qi] ?? []) top.push(exactDistance(this.metric, q, vectors, (slot.get(row) as number) * dim), row)
      return top.sorted()
    })
    lap('refine')

    const columns = o.columns ?? []
    const projected = await projectRows(
      this.opened,
      best.flatMap((b) => b.map((h) => h.row)),
      columns,
      o.signal,
    )
    roundTrips += projected.roundTrips
    lap('project')
    if (o.signal?.aborted) throw new AbortError()

    const stats: SearchStats = {
      bytes: counting.counts.bytes - before.bytes,
      requests: counting.counts.requests - before.requests,
      roundTrips,
      pagesDecoded: rows.length,
      listsProbed: new Set(probes.flatMap((p) => Array.from(p))).size,
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
      probed: Array.from(probes[qi] as Uint32Array),
      results: hits.map((h) => ({ row: h.row, distance: h.distance, values: projected.values.get(h.row) ?? {} })),
      stats,
    }))
  }

  /**
   * The allowed rows, when ranking them directly from their pages reads fewer bytes than the
   * lists a filter this narrow makes the search probe (estimated from the footer: each row
   * group's offset index plus its average page size per row, against the probed share of the
   * lists plus `keep` candidate pages). Undefined: go through the lists.
   */
  private directPlan(allowed: Uint8Array, probed: number, keep: number): number[] | undefined {
    const { metadata, column, directory, model } = this.opened
    // rows left out of the index (null or invalid vectors) have no vector page to rank
    if (model.params.indexedRows !== this.rows) return undefined
    const rows: number[] = []
    for (let r = 0; r < allowed.length; r++) if (allowed[r]) rows.push(r)
    if (rows.length > DIRECT_MAX_ROWS) return undefined
    let directBytes = 0
    let pageBytes = 0
    let rowStart = 0
    let at = 0
    for (const group of metadata.row_groups) {
      const meta = group.columns[column.leafIndex]
      const rowEnd = rowStart + Number(group.num_rows)
      const perRow = Number(meta?.meta_data?.total_compressed_size ?? 0) / Math.max(1, Number(group.num_rows))
      pageBytes = Math.max(pageBytes, perRow)
      let inGroup = 0
      while (at < rows.length && (rows[at] as number) < rowEnd) {
        at++
        inGroup++
      }
      if (inGroup) {
        if (meta?.offset_index_offset === undefined) return undefined
        directBytes += Number(meta.offset_index_length ?? 0) + inGroup * perRow
      }
      rowStart = rowEnd
    }
    const listBytes = directory.reduce((sum, d) => sum + d.length, 0)
    const throughLists = (listBytes * probed) / Math.max(1, directory.length) + keep * pageBytes
    return directBytes < throughLists ? rows : undefined
  }

  /** Each row's vector page, from its row group's offset index (read once per row group, then kept). */
  private async pagesOfRows(rows: number[], signal?: AbortSignal): Promise<Map<number, { offset: number; length: number }>> {
    const { metadata, column, cached } = this.opened
    const starts: number[] = []
    let total = 0
    for (const g of metadata.row_groups) {
      starts.push(total)
      total += Number(g.num_rows)
    }
    const groupOf = (row: number) => {
      let lo = 0
      let hi = starts.length - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if ((starts[mid] as number) <= row) lo = mid
        else hi = mid - 1
      }
      return lo
    }
    const needed = [...new Set(rows.map(groupOf))].filter((g) => !this.offsetIndexes.has(g))
    const ranges = needed.map((g) => {
      const meta = metadata.row_groups[g]?.columns[column.leafIndex]
      const start = Number(meta?.offset_index_offset)
      return { start, end: start + Number(meta?.offset_index_length) }
    })
    const bodies = await readRanges(cached, ranges, { gap: DEFAULT_GAP, concurrency: this.connections, signal })
    for (const [i, g] of needed.entries()) {
      const bytes = bodies[i] as Uint8Array
      const index = await decoding(
        'reading the offset index',
        { file: this.opened.raw.name, column: column.name, offset: ranges[i]?.start },
        () => readOffsetIndex({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }),
      )
      this.offsetIndexes.set(g, index.page_locations)
    }
    const out = new Map<number, { offset: number; length: number }>()
    for (const row of rows) {
      const g = groupOf(row)
      const locations = this.offsetIndexes.get(g) ?? []
      const local = row - (starts[g] as number)
      // the page whose first row is the last one ≤ local (one vector a page in indexed files)
      let lo = 0
      let hi = locations.length - 1
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1
        if (Number(locations[mid]?.first_row_index) <= local) lo = mid
        else hi = mid - 1
      }
      const page = locations[lo]
      if (!page || Number(page.first_row_index) !== local)
        throw new ParquetSeekError(`no page of its own for row ${row} in the offset index`, {
          file: this.opened.raw.name,
          column: column.name,
          row,
        })
      out.set(row, { offset: Number(page.offset), length: page.compressed_page_size })
    }
    return out
  }

  /** After a GPU failure (device lost, out of memory, a driver error): the CPU from now on. */
  private dropGpu(e: unknown): void {
    if (e instanceof AbortError) throw e
    this.gpuFallback = `${(e as Error).message}; searching on the CPU (${this.kernels.name}) from now on`
    this.gpu?.release()
    this.gpu = undefined
  }

  /** Forgets fetched lists (the footer and index head stay): every list is read again. */
  clearCache(): void {
    this.lists.clear()
    this.listBytesCached = 0
  }

  /** The stored vector of one row (e.g. "more like row N"), read through the offset index. */
  async vectorOf(row: number, signal?: AbortSignal): Promise<Float32Array> {
    const { metadata, column, raw } = this.opened
    if (!Number.isInteger(row) || row < 0 || row >= this.rows)
      throw new ParquetSeekError(`row ${row} is outside the file's ${this.rows} rows`, { file: raw.name })
    const [value] = await readColumnRange(this.opened.cached, metadata, column.name, row, row + 1, raw.name, signal)
    const out = new Float32Array(this.params.dim)
    if (value === null || value === undefined)
      throw new ParquetSeekError('this row has no vector', { file: raw.name, column: column.name, row })
    copyVector(out, 0, value as ArrayLike<number> | Uint8Array, column.kind)
    return out
  }

  private cacheList(l: number, view: ListView) {
    const bytes = view.codes.length + 16 * view.rowIds.length
    this.lists.set(l, view)
    this.listBytesCached += bytes
    for (const [key, v] of this.lists) {
      if (this.listBytesCached <= this.cacheBytes) break
      this.lists.delete(key)
      this.listBytesCached -= v.codes.length + 16 * v.rowIds.length
    }
  }
}

function locate(row: number, probed: Uint32Array, lists: Map<number, ListView>): Located {
  for (const l of probed) {
    const list = lists.get(l)
    if (!list) continue
    const ids = list.rowIds
    let lo = 0
    let hi = ids.length - 1
    while (lo <= hi) {
      const mid = (lo + hi) >> 1
      const v = ids[mid] as number
      if (v === row) return { list, at: mid }
      if (v < row) lo = mid + 1
      else hi = mid - 1
    }
  }
  throw new Error(`candidate row ${row} is in no probed list`)
}

function pageOf({ list, at }: Located) {
  return { offset: list.pageOffsets[at] as number, length: list.pageLengths[at] as number }
}

export async function openIndex(input: ByteSource | string, o: OpenOptions = {}): Promise<SeekIndex> {
  return SeekIndex.open(input, o)
}
