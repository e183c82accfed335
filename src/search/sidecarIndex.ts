import type { FileMetaData } from 'hyparquet'
import { readOffsetIndex } from 'hyparquet'
import { type BackendChoice, loadKernels, type SearchBackend } from '../compute/backend.js'
import { type Query, queryVectors } from '../encode/encoders.js'
import { decoding, ParquetSeekError, throwIfAborted, untilAborted } from '../errors.js'
import { type DirectoryEntry, type ListView, parseList } from '../index/blob.js'
import { footerValue, KV } from '../index/keys.js'
import { loadIndexHead } from '../index/locate.js'
import type { IvfPqModel, Metric } from '../index/model.js'
import { pqLayout } from '../index/pq.js'
import { footerHash, SIDECAR_MAGIC, type SidecarHeader, type SidecarSource } from '../index/sidecarFile.js'
import { BatchingSource } from '../io/batching.js'
import { type FileInput, readable, TAKES_BYTES } from '../io/blobSource.js'
import { CachedSource } from '../io/cache.js'
import { resolvedAddress, resolveSourceName } from '../io/confine.js'
import { addressEndsWith, againstPage, fileUrl, schemeOf } from '../io/fileUrl.js'
import { openHttp } from '../io/httpSource.js'
import { localFile, withLocalFile } from '../io/local.js'
import { DEFAULT_CONCURRENCY, REQUEST_BYTES, readRanges } from '../io/ranges.js'
import { type ByteSource, ConnectionLimiter, CountingSource, RoundTripClock } from '../io/source.js'
import { copyVector, describeEmbeddingColumn, type EmbeddingColumn, readVectorRange, summarizeColumns } from '../parquet/embedding.js'
import { MAX_FOOTER_BYTES, MAX_PAGE_INDEX_BYTES, offsetIndexSpan, parquetNote, readMetadata } from '../parquet/footer.js'
import { knowPageTable, type PageTable, pageTableOptions } from '../parquet/pageLocations.js'
import type { Expr, FilterResult } from '../query/filter.js'
import {
  budgetSearch,
  type IndexKind,
  type ListPlace,
  QueryPipeline,
  type ReadOptions,
  type SearchOptions,
  type SearchStats,
} from '../query/pipeline.js'
import { rowVector } from './columns.js'
import { mapLimit } from './dataset.js'
import { cacheShare, DEFAULT_CACHE_BYTES, DEFAULT_MAX_BYTES } from './open.js'
import { distinctPerFile, filterAcross, oneModel, partAt, readRowSpanAcross, readRowsAcross, searchExactAcross } from './parts.js'

/** A sidecar's first read: its magic and JSON header (a longer header is read again, whole). */
const SIDECAR_HEAD_READ = 1 << 16

/** A source's first read at open when the sidecar does not say how much its footer and offset indexes take. */
const SOURCE_TAIL_GUESS = 64 << 10

/** Vector pages over this many bytes (on average) make a sidecar's refinement read far more than its candidates: warned at open. */
const LARGE_PAGE = 256 << 10

/** The first row group's vector chunk over its pages (from the page table or offset index; one page without either). */
async function meanVectorPage(source: OpenedSource): Promise<number> {
  const chunk = source.metadata.row_groups[0]?.columns[source.column.leafIndex]?.meta_data
  return chunk ? Number(chunk.total_compressed_size) / (await pageStarts(source, 0)).length : 0
}

/**
 * A sidecar's stored page table (build: walkFilePages), checked against the source's footer: a
 * row group each, only chunks without an offset index, pages in order inside their chunk, first
 * rows ascending from 0 within the row group.
 */
function pageTableOf(stored: unknown, metadata: FileMetaData, file: string, source: string): PageTable {
  const bad = (why: string) => new ParquetSeekError(`${source}: malformed page table: ${why}`, { file })
  if (!Array.isArray(stored) || stored.length !== metadata.row_groups.length)
    throw bad(`not one entry a row group (${metadata.row_groups.length})`)
  return stored.map((entry: unknown, g) => {
    const group = metadata.row_groups[g] as FileMetaData['row_groups'][number]
    if (typeof entry !== 'object' || entry === null || Array.isArray(entry)) throw bad(`row group ${g} is not an object`)
    const out: PageTable[number] = {}
    for (const [path, flat] of Object.entries(entry)) {
      const chunk = group.columns.find((c) => c.meta_data?.path_in_schema.join('.') === path)
      const m = chunk?.meta_data
      if (!chunk || !m || chunk.offset_index_offset !== undefined)
        throw bad(`row group ${g} has no chunk "${path}" without an offset index`)
      const start = Number(m.dictionary_page_offset ?? m.data_page_offset)
      const end = start + Number(m.total_compressed_size)
      if (!Array.isArray(flat) || !flat.length || flat.length % 3 || !flat.every((v) => Number.isSafeInteger(v) && v >= 0))
        throw bad(`row group ${g}, "${path}": not [first row, offset, bytes] a page`)
      const pages: PageTable[number][string] = []
      for (let p = 0; p < flat.length; p += 3) {
        const [row, offset, size] = flat.slice(p, p + 3) as [number, number, number]
        const previous = pages.at(-1)
        const inOrder = previous
          ? row > Number(previous.first_row_index) && offset >= Number(previous.offset) + previous.compressed_page_size
          : row === 0
        if (!inOrder || row >= Number(group.num_rows) || offset < start || offset + size > end || size === 0)
          throw bad(
            `row group ${g}, "${path}": page ${p / 3} (row ${row}, bytes [${offset}, ${offset + size})) is out of order or outside its chunk [${start}, ${end})`,
          )
        pages.push({ first_row_index: BigInt(row), offset: BigInt(offset), compressed_page_size: size })
      }
      out[path] = pages
    }
    return out
  })
}

/** A sidecar's JSON header names its sources: 16 MiB holds ~100,000 of them (page tables take ~25 bytes a page). */
const MAX_HEADER_BYTES = 16 << 20

/** One file of a sidecar index, opened and checked against what the index recorded (SidecarFile.opened). */
export interface OpenedSource {
  name: string
  source: CountingSource
  /** Recent pages: candidates sharing a page (pages often hold many vectors) read it once. */
  cached: CachedSource
  metadata: FileMetaData
  column: EmbeddingColumn
  rowBase: number
  rows: number
  /** First row of each vector page, by row group (parsed offset indexes). */
  pageStarts: Map<number, number[]>
}

/**
 * One file a sidecar names, as its header records it, opened (its footer and offset indexes read
 * and checked against the header: "stale index" when it changed) the first time open, a search or
 * a read needs it: a sidecar over hundreds of files opens in the round trips of a few, and a query
 * reads the ends of only the files its candidates and results are in.
 */
export class SidecarFile {
  /** Once opened: its footer, embedding column and reads. */
  opened: OpenedSource | undefined
  #opening: Promise<OpenedSource> | undefined
  constructor(
    readonly name: string,
    readonly rowBase: number,
    readonly rows: number,
    /** Its size in bytes, as the header records it (checked when it is opened). */
    readonly size: number,
    private readonly load: () => Promise<OpenedSource>,
  ) {}

  /**
   * The file opened (once, whoever asks first; a failed open is tried again by the next). `signal`
   * cancels this wait only: the read goes on for the others waiting on it.
   */
  async open(signal?: AbortSignal): Promise<OpenedSource> {
    if (this.opened) return this.opened
    this.#opening ??= this.load().then(
      (s) => {
        this.opened = s
        return s
      },
      (e: unknown) => {
        this.#opening = undefined
        throw e
      },
    )
    return untilAborted(this.#opening, signal)
  }
}

export interface SidecarHit {
  file: string
  row: number
  distance: number
  values: Record<string, unknown>
}

export interface SidecarResult {
  results: SidecarHit[]
  stats: SearchStats
  /** Lists probed for this query, nearest centroid first. */
  probed: number[]
}

export interface SidecarOpenOptions {
  /** Kernels for scoring, or `gpu` (as for an indexed file). */
  backend?: SearchBackend | BackendChoice
  /** The WebGPU entry point for `gpu` (default: navigator.gpu; in Node, nodeGpu()). */
  gpu?: GPU
  /** Bytes of fetched lists kept between searches. */
  cacheBytes?: number
  /** Most bytes one search may read from any one file (default 256 MiB). */
  maxBytesPerQuery?: number
  /** Requests in flight at once, per file. */
  connections?: number
  signal?: AbortSignal
  /** The sidecar's first bytes, when already read (openUrl asks for them beside its size). */
  head?: Uint8Array
  /** Round trips counted here (a fresh clock when absent): openUrl's, so its first request counts in `opening`. */
  clock?: RoundTripClock
  /** Connections shared with other readers of the same host (a new limiter of `connections` when absent). */
  limiter?: ConnectionLimiter
  /**
   * Files opened and checked so far, of those open reads (the first `connections`: the others are
   * opened when first needed): (0, n) once its header is read, then after each file.
   */
  onProgress?: (opened: number, files: number) => void
}

/** What opening a sidecar read: the sidecar's head and index head, and each file's footer and offset indexes. */
export interface SidecarOpening {
  bytes: number
  requests: number
  /** Dependent round trips, counted as a query's are (reads in flight together count once). */
  roundTrips: number
  ms: number
}

/** A sidecar's address or file name: a `.pqseek` file (a URL's path, whatever its query string says). */
export function isSidecarAddress(address: string): boolean {
  return addressEndsWith(address, '.pqseek')
}

/** A whole number of bytes or rows, as a header records one. */
const whole = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0

/**
 * A sidecar's header (its magic, then the JSON that names its files and locates its index),
 * checked: each source's name, size, rows and footer hash present and of their types. `head`:
 * the sidecar's first bytes when already read.
 */
export async function readSidecarHeader(sidecar: ByteSource, o: { head?: Uint8Array; signal?: AbortSignal } = {}): Promise<SidecarHeader> {
  const file = sidecar.name
  const want = Math.min(sidecar.byteLength, SIDECAR_HEAD_READ)
  const first = o.head && o.head.length >= want ? o.head : new Uint8Array(await sidecar.slice(0, want, o.signal))
  if (String.fromCharCode(...first.subarray(0, SIDECAR_MAGIC.length)) !== SIDECAR_MAGIC)
    throw new ParquetSeekError(`not a ParquetSeek sidecar index (no ${SIDECAR_MAGIC} magic)${parquetNote(first)}`, { file })
  const jsonLength = new DataView(first.buffer, first.byteOffset, first.byteLength).getUint32(SIDECAR_MAGIC.length, true)
  const start = SIDECAR_MAGIC.length + 4
  if (jsonLength > MAX_HEADER_BYTES)
    throw new ParquetSeekError(`header of ${jsonLength} bytes is over the ${MAX_HEADER_BYTES}-byte limit`, {
      file,
      offset: SIDECAR_MAGIC.length,
    })
  if (start + jsonLength > sidecar.byteLength)
    throw new ParquetSeekError(`header of ${jsonLength} bytes runs past the file`, { file, offset: SIDECAR_MAGIC.length })
  const jsonBytes =
    start + jsonLength <= first.length
      ? first.subarray(start, start + jsonLength)
      : new Uint8Array(await sidecar.slice(start, start + jsonLength, o.signal))
  let header: SidecarHeader
  try {
    header = JSON.parse(new TextDecoder().decode(jsonBytes)) as SidecarHeader
  } catch {
    throw new ParquetSeekError('the sidecar header is not JSON', { file, offset: start })
  }
  if (
    typeof header !== 'object' ||
    header === null ||
    header.format !== 'parquetseek-sidecar' ||
    header.version !== 1 ||
    typeof header.params !== 'object' ||
    header.params === null ||
    !Array.isArray(header.sources) ||
    !header.sources.length
  )
    throw new ParquetSeekError('unsupported or malformed sidecar header', { file, offset: start })
  for (const [i, s] of header.sources.entries())
    if (
      typeof s !== 'object' ||
      s === null ||
      typeof s.name !== 'string' ||
      typeof s.footerSha256 !== 'string' ||
      !whole(s.size) ||
      !whole(s.rows) ||
      !whole(s.rowBase) ||
      (s.tailBytes !== undefined && !whole(s.tailBytes))
    )
      throw new ParquetSeekError(`source ${i} of the header is malformed`, { file, offset: start })
  return header
}

/**
 * Search through a sidecar index (src/index/sidecarFile.ts) over unmodified Parquet files: lists
 * come from the sidecar, candidate vectors from its copy of them where it has one, else (and result
 * columns) from the sources — through their offset indexes or the pages the build found (only the
 * pages holding them), or whole column chunks where a source has neither.
 * The query pipeline is the one every index uses: batches, filters, deleted rows, the GPU.
 */
export class SidecarIndex {
  private constructor(
    readonly header: SidecarHeader,
    readonly model: IvfPqModel,
    /** The files it names, in row order: each opened when first needed (SidecarFile). */
    readonly sources: readonly SidecarFile[],
    /** Files opened at open whose vector pages are large (refinement reads whole pages). */
    readonly warnings: string[],
    private readonly pipeline: QueryPipeline,
    opening: SidecarOpening,
  ) {
    this.#opening = opening
  }

  #opening: SidecarOpening
  /** What the open read, and how long it took (openUrl's: its first request included). */
  get opening(): SidecarOpening {
    return this.#opening
  }

  /** Local files the open took hold of (io/local.ts), let go by close(). */
  #held: Array<{ close(): Promise<void> }> = []

  /**
   * `resolve` turns a source name as recorded into something to read: a ByteSource, or a URL (in
   * Node a local path too, whose file close() lets go).
   */
  static async open(
    sidecarFile: FileInput,
    resolve: (name: string) => Promise<FileInput | string>,
    o: SidecarOpenOptions = {},
  ): Promise<SidecarIndex> {
    const sidecarSource = readable(
      sidecarFile,
      'SidecarIndex.open',
      `${TAKES_BYTES} (a sidecar's URL, or in Node its path: SidecarIndex.openUrl)`,
    )
    const held: Array<{ close(): Promise<void> }> = []
    const resolveLocal = async (name: string) => {
      const input = await resolve(name)
      if (typeof input !== 'string')
        return readable(input, `SidecarIndex.open's resolve("${name}")`, `a URL (in Node a path) or ${TAKES_BYTES}`)
      const local = localFile(input)
      if (!local) return input
      const file = await local.files.open(local.path)
      held.push(file)
      return file
    }
    try {
      const index = await SidecarIndex.#open(sidecarSource, resolveLocal, o)
      // (the files opened later are added to the same list)
      index.#held = held
      return index
    } catch (e) {
      await letGo(held)
      throw e
    }
  }

  /**
   * A sidecar picked from disk with the files it names (a page's file input or drop gives no
   * folders): each name found among them by its file name. No sidecar among them, two, a name
   * missing, a URL, or two names of one file name: an error saying so.
   */
  static async openFiles(files: readonly File[], o: SidecarOpenOptions = {}): Promise<SidecarIndex> {
    const sidecars = files.filter((f) => isSidecarAddress(f.name))
    if (sidecars.length !== 1)
      throw new ParquetSeekError(
        sidecars.length
          ? `pick one sidecar index at a time (${sidecars.map((f) => f.name).join(', ')})`
          : 'these are several files and none is a sidecar index (.pqseek): open one file, or a sidecar with the files it names',
      )
    const sidecar = sidecars[0] as File
    const byName = new Map(files.filter((f) => f !== sidecar).map((f) => [f.name, f]))
    const taken = new Map<string, string>()
    return SidecarIndex.open(
      sidecar,
      async (name) => {
        if (schemeOf(name)) throw new ParquetSeekError(`names ${name}, a URL: open the sidecar by its URL instead`, { file: sidecar.name })
        const base = name.split(/[\\/]/).pop() as string
        const before = taken.get(base)
        if (before !== undefined && before !== name)
          throw new ParquetSeekError(`names two files called ${base} (${before}, ${name}): open it by its URL instead`, {
            file: sidecar.name,
          })
        taken.set(base, name)
        const file = byName.get(base)
        if (!file)
          throw new ParquetSeekError(`names ${name}: pick it together with the sidecar (every file it names)`, { file: sidecar.name })
        return file
      },
      o,
    )
  }

  static async #open(
    sidecarSource: ByteSource,
    resolve: (name: string) => Promise<ByteSource | string>,
    o: SidecarOpenOptions,
  ): Promise<SidecarIndex> {
    const t0 = performance.now()
    const file = sidecarSource.name
    // one clock for the sidecar and its sources: a search's round trips counted across them all
    const clock = o.clock ?? new RoundTripClock()
    const trips0 = clock.deepest
    // the sidecar and its files share a host (unless allowed elsewhere): its connections are shared
    const limiter = o.limiter ?? new ConnectionLimiter(o.connections ?? DEFAULT_CONCURRENCY)
    const sidecar = new CountingSource(sidecarSource, clock, limiter)
    const header = await readSidecarHeader(sidecar, o)
    const location = {
      column: header.column,
      offset: header.blobOffset,
      length: header.blobLength,
      params: header.params as unknown as Record<string, unknown>,
    }
    if (location.offset + location.length > sidecar.byteLength)
      throw new ParquetSeekError('the index runs past the sidecar file', { file, offset: location.offset })
    // whether the sidecar's host answers multi-range requests, asked when it was opened: its files
    // there are not asked again (each asking costs a request, on S3 a whole-object answer cancelled)
    const sidecarUrl = /^https?:\/\//i.test(sidecarSource.name) ? new URL(sidecarSource.name) : undefined
    const knownRanges = (url: string) =>
      sidecarUrl && new URL(url).origin === sidecarUrl.origin
        ? { multiRange: sidecarSource.sliceMany !== undefined, probeMultiRange: false }
        : {}
    // the files' reads on the sidecar's clock and connections; their counters join the query
    // pipeline's as they are opened
    const counters = [sidecar]
    // every name resolved now (a name out of bounds, a file not picked or not there is refused at
    // open; a local file's handle opened, nothing read): only reading their ends waits
    const inputs = await mapLimit(header.sources, o.connections ?? DEFAULT_CONCURRENCY, (s) => {
      throwIfAborted(o.signal)
      return resolve(s.name)
    })
    /** Source i opened: its footer and offset indexes in one suffix read (the tail the build recorded), checked against the header. */
    const load = async (s: SidecarSource, i: number): Promise<OpenedSource> => {
      const input = inputs[i] as ByteSource | string
      const opened =
        typeof input === 'string'
          ? await openHttp(input, {
              // (no more than a footer and offset indexes can take, whatever the header says)
              tailBytes: Math.min(s.tailBytes ?? SOURCE_TAIL_GUESS, 8 + MAX_FOOTER_BYTES + MAX_PAGE_INDEX_BYTES),
              ...knownRanges(input),
              clock,
              limiter,
            })
          : undefined
      const source = new CountingSource(opened?.source ?? (input as ByteSource), clock, limiter)
      // (its first request counted with its other reads: in the open's figures, or the search's that opened it)
      if (opened) {
        source.counts.bytes += opened.tail.length
        source.counts.requests += opened.requests
      }
      // (the sources share one budget: a sidecar over many files keeps no more than over four)
      const cached = new CachedSource(source, cacheShare(header.sources.length, o.cacheBytes))
      // the first request's tail (footer, page indexes) serves the checks and reads below
      if (opened) cached.pin(opened.tailStart, opened.tail)
      if (source.byteLength !== s.size || (await footerHash(cached)) !== s.footerSha256)
        throw new ParquetSeekError(
          `stale index: the file changed since the sidecar was built (${source.byteLength === s.size ? 'footer differs' : `size ${source.byteLength}, was ${s.size}`}); rebuild the sidecar`,
          { file: s.name },
        )
      const metadata = await readMetadata(cached, source.name, opened?.tail)
      const column = describeEmbeddingColumn(metadata, header.column, s.name)
      // pages the build found by their headers, for chunks without an offset index
      if (s.pages !== undefined) knowPageTable(metadata, pageTableOf(s.pages, metadata, file, `source ${i} (${s.name})`))
      // every offset index, read once here and kept: a query then reads only pages
      const span = offsetIndexSpan(metadata)
      if (span && !cached.peek(span.start, span.end) && span.end - span.start <= MAX_PAGE_INDEX_BYTES)
        cached.pin(span.start, new Uint8Array(await source.slice(span.start, span.end)))
      counters.push(source)
      return { name: s.name, source, cached, metadata, column, rowBase: s.rowBase, rows: s.rows, pageStarts: new Map() }
    }
    const files = header.sources.map((s, i) => new SidecarFile(s.name, s.rowBase, s.rows, s.size, () => load(s, i)))
    // the first files opened now, as many as the host's connections take in one round trip (all
    // of a sidecar over a few), beside the index head (neither needs the other): their columns and
    // model are the index's; the rest are opened when a search or a read first needs them
    const first = files.slice(0, o.connections ?? DEFAULT_CONCURRENCY)
    let checked = 0
    o.onProgress?.(0, first.length)
    const [head] = await Promise.all([
      loadIndexHead(sidecar, location, file, whole(header.headBytes) ? header.headBytes : undefined),
      Promise.all(
        first.map(async (f) => {
          await f.open(o.signal)
          o.onProgress?.(++checked, first.length)
        }),
      ),
    ])
    const params = {
      ...header.params,
      ...head.trailer.params,
      metric: head.trailer.params.metric as Metric,
      spilled: head.spilled || undefined,
    }
    const model: IvfPqModel = {
      params,
      centroids: head.centroids,
      codebooks: head.codebooks,
      layout: pqLayout(params.dim, params.m, params.nbits),
    }
    const vectors = vectorsSection(header, params.dim, head.directory, sidecar.byteLength, file)
    const warnings: string[] = []
    for (const entry of first.map((f) => f.opened as OpenedSource)) {
      // (with the vectors in the sidecar, refinement reads no page)
      const mean = vectors === undefined ? await meanVectorPage(entry) : 0
      if (mean > LARGE_PAGE)
        warnings.push(
          `${entry.name} stores "${entry.column.name}" in pages of ${(mean / 2 ** 20).toFixed(1)} MiB${(await pageStarts(entry, 0)).length === 1 ? ' (a row group each)' : ''}: refining a candidate reads its whole page (index --sidecar … --sidecar-vectors copies the vectors into the sidecar, and an indexed file, written by index, reads one vector a candidate)`,
        )
    }
    const kernels = await loadKernels(o.backend === 'gpu' ? 'auto' : o.backend)
    const gpu =
      o.backend === 'gpu' ? await (await import('../compute/gpu/open.js')).openGpuScan(model, o.gpu, kernels, o.signal) : undefined
    const kind = new SidecarKind(
      sidecar,
      model,
      head.directory,
      location.offset + head.trailer.sections.lists.offset,
      header.blobOffset,
      files,
      counters,
      clock,
      vectors,
    )
    const pipeline = new QueryPipeline(kind, {
      kernels,
      gpu,
      cacheBytes: o.cacheBytes ?? DEFAULT_CACHE_BYTES,
      maxBytesPerQuery: o.maxBytesPerQuery ?? DEFAULT_MAX_BYTES,
      connections: o.connections ?? DEFAULT_CONCURRENCY,
    })
    return new SidecarIndex(header, model, files, warnings, pipeline, {
      bytes: counters.reduce((n, c) => n + c.counts.bytes, 0),
      requests: counters.reduce((n, c) => n + c.counts.requests, 0),
      roundTrips: clock.deepest - trips0,
      ms: performance.now() - t0,
    })
  }

  /**
   * A sidecar at a URL (or an address fileUrl knows: hf://…): its sources resolve on the
   * sidecar's own origin, or under a prefix in `allow` (resolveSourceName). In Node a local path
   * too (io/local.ts): its sources beside it, or in a folder in `allow`, let go by close().
   */
  static async openUrl(address: string, o: SidecarOpenOptions & { allow?: readonly string[] } = {}): Promise<SidecarIndex> {
    // a local path (Node): its files resolve beside it, or in an `allow`ed folder
    const local = await withLocalFile(address, async (sidecar, { path, files }) => {
      const base = { kind: 'path' as const, dir: files.paths.dirname(files.paths.resolve(path)) }
      const index = await SidecarIndex.open(
        sidecar,
        async (name) => resolvedAddress(resolveSourceName(name, base, o.allow, files.paths)),
        o,
      )
      index.#held.push(sidecar)
      return index
    })
    if (local) return local
    const t0 = performance.now()
    // (the names are the files' paths, as the writer recorded them: resolveSourceName)
    const base = { kind: 'url' as const, url: fileUrl(againstPage(address)), names: 'paths' as const }
    const clock = o.clock ?? new RoundTripClock()
    const trips0 = clock.deepest
    const limiter = o.limiter ?? new ConnectionLimiter(o.connections ?? DEFAULT_CONCURRENCY)
    // (its header is at its start: read beside the first request, a suffix read that learns the
    // size and asks for as little as it can)
    const first = await openHttp(address, { signal: o.signal, tailBytes: 1024, headBytes: SIDECAR_HEAD_READ, clock, limiter })
    const index = await SidecarIndex.open(first.source, async (name) => (resolveSourceName(name, base, o.allow) as { url: string }).url, {
      ...o,
      head: first.head,
      clock,
      limiter,
    })
    const rest = index.#opening
    index.#opening = {
      bytes: rest.bytes + first.tail.length + (first.head?.length ?? 0),
      requests: rest.requests + first.requests,
      roundTrips: clock.deepest - trips0,
      ms: performance.now() - t0,
    }
    return index
  }

  get rows(): number {
    return this.pipeline.kind.rows
  }

  /** The files opened so far (at open the first few, then those searches and reads needed), in row order. */
  opened(): OpenedSource[] {
    return this.sources.flatMap((f) => (f.opened ? [f.opened] : []))
  }

  /** The files holding `rows` (numbered across the files, any order), opened, in row order. */
  openHolding(rows: Iterable<number>, signal?: AbortSignal): Promise<OpenedSource[]> {
    return Promise.all(holding(this.sources, rows).map((f) => f.open(signal)))
  }

  /**
   * Every file opened (each checked against the header: `info`, and what a scan of them all
   * needs), a few at a time; `onProgress(opened, files)` counts those opened so far.
   */
  openAll(signal?: AbortSignal, onProgress?: (opened: number, files: number) => void): Promise<OpenedSource[]> {
    let opened = this.opened().length
    onProgress?.(opened, this.sources.length)
    return mapLimit([...this.sources], DEFAULT_CONCURRENCY, async (f) => {
      const was = f.opened
      const source = await f.open(signal)
      if (!was) onProgress?.(++opened, this.sources.length)
      return source
    })
  }

  /**
   * The encoder that made the sources' vectors (footer key parquetseek.model), for text queries:
   * named by every file opened alike, else undefined.
   */
  get encoder(): string | undefined {
    const named = new Set(this.opened().map((s) => footerValue(s.metadata, KV.model)))
    return named.size === 1 ? [...named][0] : undefined
  }

  /** The model a text query is embedded with: `encoder`; files naming different models are an error naming them. */
  textModel(): string | undefined {
    return oneModel(
      this.opened().map((s) => ({ name: s.name, model: footerValue(s.metadata, KV.model) })),
      this.pipeline.kind.file,
    )
  }

  /** The compute backend scoring this index's queries. */
  get backend() {
    return this.pipeline.backend
  }

  /** With backend `gpu`: the adapter and the tunables it searches with, in words. */
  get device(): string | undefined {
    return this.pipeline.device
  }

  /** The k nearest rows to a vector, or to a text embedded with the files' model (textModel()). */
  async search(query: Query, o: SearchOptions = {}): Promise<SidecarResult> {
    const [result] = await this.searchBatch([query], o)
    return result as SidecarResult
  }

  /** Many queries at once (vectors or texts); rows in the results are each source's own, with its name. */
  async searchBatch(queries: Query[], o: SearchOptions = {}): Promise<SidecarResult[]> {
    const found = await this.searchBatchGlobal(queries, o)
    return found.map((r) => ({
      probed: r.probed,
      stats: r.stats,
      results: r.results.map((h) => ({ ...this.fileOf(h.row), distance: h.distance, values: h.values })),
    }))
  }

  /** A row numbered across the sources: the file holding it (its name as recorded) and its row there. */
  fileOf(row: number): { file: string; row: number } {
    const { source, row: local } = locate(this.sources, row)
    return { file: source.name, row: local }
  }

  /** As searchBatch, with rows numbered across the sources (source i's row r is its rowBase + r). */
  async searchBatchGlobal(queries: Query[], o: SearchOptions = {}) {
    return this.pipeline.search(await queryVectors(queries, () => this.textModel(), this.pipeline.kind.file, o.signal), o)
  }

  /** Forgets fetched lists (sources' cached pages and offset indexes stay). */
  clearCache(): void {
    this.pipeline.clearCache()
  }

  /** Entries in each list (a list's size on the centroid map). */
  get listSizes(): number[] {
    const { kind } = this.pipeline
    return Array.from({ length: this.model.params.nlist }, (_, l) => kind.listSize(l))
  }

  /** The stored vector of one row, numbered across the sources (e.g. "more like row N"). */
  async vectorOf(row: number, signal?: AbortSignal): Promise<Float32Array> {
    if (!Number.isInteger(row) || row < 0 || row >= this.rows)
      throw new ParquetSeekError(`row ${row} is outside the sidecar's ${this.rows} rows`, { file: this.pipeline.kind.file })
    const { source: file, row: local } = locate(this.sources, row)
    const source = await file.open(signal)
    return rowVector(source, source.column, local, this.model.params.dim, signal)
  }

  /**
   * Rows [start, end), numbered across the sources, of `columns` (the Data view): each source's
   * part read through its offset indexes or page table, only the pages holding them.
   */
  readRowSpan(start: number, end: number, columns: string[], o: { signal?: AbortSignal } = {}): Promise<Array<Record<string, unknown>>> {
    return readRowSpanAcross(this.sources, start, end, columns, (f) => f.open(o.signal), { ...o, file: this.pipeline.kind.file })
  }

  /**
   * Exact search over every source's vectors (each read once, front to back): the k nearest rows
   * of each query, numbered across the sources, nearest first (ties: the lower row). What recall
   * is measured against.
   */
  async searchExact(
    queries: Float32Array[],
    o: { k: number; signal?: AbortSignal },
  ): Promise<Array<Array<{ row: number; distance: number }>>> {
    return searchExactAcross(await this.openAll(o.signal), queries, {
      ...o,
      metric: this.model.params.metric,
      kernels: this.pipeline.kernels,
    })
  }

  /** Gives GPU buffers back and lets go of local files it opened by their paths (searches go on, on the CPU, opening them again). */
  close(): void {
    this.pipeline.close()
    letGo(this.#held).catch(() => {})
  }
}

/** Closes files a sidecar opened (a later read opens one again: io/nodeFile.ts). */
async function letGo(files: ReadonlyArray<{ close(): Promise<void> }>): Promise<void> {
  await Promise.all(files.map((f) => f.close().catch(() => {})))
}

/** Lists from the sidecar; vectors and columns from the source files holding the rows. */
class SidecarKind implements IndexKind {
  readonly scoring = 'pq'

  constructor(
    private readonly sidecar: CountingSource,
    readonly model: IvfPqModel,
    private readonly directory: DirectoryEntry[],
    private readonly listsOffset: number,
    private readonly blobOffset: number,
    private readonly sources: readonly SidecarFile[],
    /** The sidecar's, then each file's as it is opened. */
    readonly counters: readonly CountingSource[],
    readonly clock: RoundTripClock,
    /** The sidecar's copy of the vectors (SidecarHeader.vectors), if it has one. */
    private readonly vectors?: CopiedVectors,
  ) {}

  /** Those of any file opened (one a file lacks is refused when a row of it is read). */
  get columnNames(): ReadonlySet<string> {
    return new Set(this.sources.flatMap((f) => (f.opened ? summarizeColumns(f.opened.metadata).map((c) => c.name) : [])))
  }

  /** A file opened; one opened during a search gets its byte budget (the others have it from the search's start). */
  private async open(file: SidecarFile, o: ReadOptions): Promise<OpenedSource> {
    const opened = await file.open(o.signal)
    if (o.maxBytes !== undefined && !opened.source.budget) budgetSearch(opened.source, o.maxBytes)
    return opened
  }

  get file() {
    return this.sidecar.name
  }
  get rows() {
    return this.sources.reduce((n, s) => n + s.rows, 0)
  }
  listSize(l: number): number {
    return this.directory[l]?.count ?? 0
  }

  async readLists(lists: number[], o: ReadOptions): Promise<ListView[]> {
    const ranges = lists.map((l) => {
      const d = this.directory[l] as { offset: number; length: number }
      return { start: this.listsOffset + d.offset, end: this.listsOffset + d.offset + d.length }
    })
    const bodies = await readRanges(this.sidecar, ranges, {
      requestGap: REQUEST_BYTES,
      concurrency: o.connections,
      signal: o.signal,
    })
    const ctx = { file: this.sidecar.name, blobOffset: this.blobOffset }
    return lists.map((l, i) => {
      const view = parseList(bodies[i] as Uint8Array, this.directory[l] as DirectoryEntry, this.model.params.m, l, ctx, { rows: this.rows })
      this.listOf.set(view, l)
      return view
    })
  }

  /** The list each view read is of (a candidate's place in the copied vectors). */
  private readonly listOf = new WeakMap<ListView, number>()

  /** Candidates' vectors: from the sidecar's copy where it has one, else from the sources' pages. */
  async readVectors(rows: number[], place: (row: number) => ListPlace | undefined, out: Float32Array, o: ReadOptions): Promise<Uint8Array> {
    if (this.vectors) return this.copiedVectors(this.vectors, rows, place, out, o)
    return this.pageVectors(rows, out, o)
  }

  /**
   * Rows' vectors from the sources' pages: every page holding one read at once (each source's
   * reads coalesced, sources in parallel) and decoded once, however many rows it holds.
   */
  private async pageVectors(rows: number[], out: Float32Array, o: ReadOptions): Promise<Uint8Array> {
    const { dim } = this.model.params
    const present = new Uint8Array(rows.length)
    const slot = new Map(rows.map((r, i) => [r, i]))
    await Promise.all(
      [...bySource(this.sources, rows)].map(async ([file, local]) => {
        const source = await this.open(file, o)
        const batching = new BatchingSource(source.cached, undefined, o.connections, o.signal)
        await Promise.all(
          (await pageWindows(source, local)).map(async (w) => {
            const { metadata, column, name } = source
            const vectorAt = await readVectorRange(batching, metadata, column, w.g, w.groupStart, w.start, w.end, dim, name, o.signal)
            for (const row of local) {
              const value = row >= w.start && row < w.end ? vectorAt(row) : undefined
              if (value === null || value === undefined) continue
              const i = slot.get(source.rowBase + row) as number
              copyVector(out, i * dim, value as ArrayLike<number> | Uint8Array, source.column.kind)
              present[i] = 1
            }
          }),
        )
      }),
    )
    return present
  }

  /**
   * The candidates' vectors from the sidecar's copy, each at its list entry (4·dim bytes; a
   * query's candidates, from the lists nearest it, mostly in one run); a row with no place in a
   * list read (none today) from its page.
   */
  private async copiedVectors(
    copy: CopiedVectors,
    rows: number[],
    place: (row: number) => ListPlace | undefined,
    out: Float32Array,
    o: ReadOptions,
  ): Promise<Uint8Array> {
    const { dim } = this.model.params
    const size = dim * 4
    const placed: number[] = []
    const ranges: Array<{ start: number; end: number }> = []
    const elsewhere: number[] = []
    for (const [i, row] of rows.entries()) {
      const p = place(row)
      const list = p && this.listOf.get(p.list)
      if (p === undefined || list === undefined) {
        elsewhere.push(i)
        continue
      }
      const start = copy.offset + ((copy.listBase[list] as number) + p.at) * size
      placed.push(i)
      ranges.push({ start, end: start + size })
    }
    const bodies = await readRanges(this.sidecar, ranges, { requestGap: REQUEST_BYTES, concurrency: o.connections, signal: o.signal })
    for (const [k, body] of bodies.entries()) {
      const i = placed[k] as number
      const view = new DataView(body.buffer, body.byteOffset, body.byteLength)
      for (let j = 0; j < dim; j++) out[i * dim + j] = view.getFloat32(j * 4, true)
    }
    const present = new Uint8Array(rows.length)
    for (const i of placed) present[i] = 1
    if (elsewhere.length) {
      const vectors = new Float32Array(elsewhere.length * dim)
      const found = await this.pageVectors(
        elsewhere.map((i) => rows[i] as number),
        vectors,
        o,
      )
      for (const [k, i] of elsewhere.entries()) {
        if (!found[k]) continue
        out.set(vectors.subarray(k * dim, (k + 1) * dim), i * dim)
        present[i] = 1
      }
    }
    return present
  }

  async readColumns(rows: number[], columns: string[], o: ReadOptions): Promise<Map<number, Record<string, unknown>>> {
    return readRowsAcross(await Promise.all(holding(this.sources, rows).map((f) => this.open(f, o))), rows, columns, o)
  }

  distinctFile(row: number, column: string): number | undefined {
    return distinctPerFile(column) ? partAt(this.sources, row)?.index : undefined
  }

  /** Each source's passing rows, placed at its first global row. */
  async filter(expr: Expr, o: ReadOptions): Promise<FilterResult> {
    return filterAcross(await mapLimit([...this.sources], DEFAULT_CONCURRENCY, (f) => this.open(f, o)), expr, o.signal)
  }
}

/** The sidecar's copy of the vectors: where it begins, and where each list's entries begin in it (by list). */
interface CopiedVectors {
  offset: number
  listBase: Float64Array
}

/**
 * The sidecar's copy of the vectors (SidecarHeader.vectors), checked: one float32 vector a list
 * entry, after the blob and inside the file; undefined where it has none. Entries are in the
 * order the lists are stored (by directory offset), each list's in order.
 */
function vectorsSection(
  header: SidecarHeader,
  dim: number,
  directory: DirectoryEntry[],
  size: number,
  file: string,
): CopiedVectors | undefined {
  const v = header.vectors
  if (v === undefined) return undefined
  const entries = directory.reduce((n, d) => n + d.count, 0)
  if (typeof v !== 'object' || v === null || !whole(v.offset) || !whole(v.length))
    throw new ParquetSeekError("the sidecar header's vectors are not {offset, length}", { file })
  if (v.length !== entries * dim * 4 || v.offset < header.blobOffset + header.blobLength || v.offset + v.length > size)
    throw new ParquetSeekError(
      `the vectors section [${v.offset}, ${v.offset + v.length}) is not ${entries} list entries × ${dim} float32 after the index and inside the ${size}-byte file`,
      { file, offset: v.offset },
    )
  // (lists with no entries take no room: their order among the others does not matter)
  const listBase = new Float64Array(directory.length)
  let at = 0
  const stored = Array.from(directory.keys()).sort(
    (a, b) => (directory[a] as DirectoryEntry).offset - (directory[b] as DirectoryEntry).offset || a - b,
  )
  for (const l of stored) {
    listBase[l] = at
    at += (directory[l] as DirectoryEntry).count
  }
  return { offset: v.offset, listBase }
}

/** Source and local row of a global row. */
function locate<T extends { rowBase: number; rows: number }>(sources: readonly T[], global: number): { source: T; row: number } {
  const at = partAt(sources, global)
  if (!at) throw new ParquetSeekError(`row ${global} is in none of the sidecar's sources`)
  return { source: at.part, row: at.row }
}

/** The files holding any of `rows` (global, any order; one past the last file's holds none), in row order. */
function holding(files: readonly SidecarFile[], rows: Iterable<number>): SidecarFile[] {
  const found = new Set<SidecarFile>()
  for (const row of rows) {
    const at = partAt(files, row)
    if (at) found.add(at.part)
  }
  return [...found].sort((a, b) => a.rowBase - b.rowBase)
}

/** Global rows (ascending) grouped by source, as local rows (ascending). */
function bySource<T extends { rowBase: number; rows: number }>(sources: readonly T[], rows: number[]): Map<T, number[]> {
  const out = new Map<T, number[]>()
  for (const g of rows) {
    const { source, row } = locate(sources, g)
    const list = out.get(source)
    if (list) list.push(row)
    else out.set(source, [row])
  }
  return out
}

/** Rows [start, end) of the file, in row group `g` (its first row `groupStart`). */
interface PageWindow {
  g: number
  groupStart: number
  start: number
  end: number
}

/**
 * Row windows [start, end) of a source that hold the given rows (sorted, local): the vector
 * column's pages holding any of them, from its offset index (kept at open); a row group
 * without one is a single window. Each window is one page to read and decode.
 */
async function pageWindows(source: OpenedSource, rows: number[]): Promise<PageWindow[]> {
  const windows: PageWindow[] = []
  let groupStart = 0
  let at = 0
  for (const [g, group] of source.metadata.row_groups.entries()) {
    const groupEnd = groupStart + Number(group.num_rows)
    if (at < rows.length && (rows[at] as number) < groupEnd) {
      const firsts = [...(await pageStarts(source, g)), Number(group.num_rows)]
      for (let p = 0; p + 1 < firsts.length && at < rows.length && (rows[at] as number) < groupEnd; p++) {
        const start = groupStart + (firsts[p] as number)
        const end = groupStart + (firsts[p + 1] as number)
        if ((rows[at] as number) >= end) continue
        windows.push({ g, groupStart, start, end })
        while (at < rows.length && (rows[at] as number) < end) at++
      }
    }
    groupStart = groupEnd
  }
  return windows
}

/** First row (within the row group) of each vector page, from the sidecar's page table or the offset index; [0] without either. */
async function pageStarts(source: OpenedSource, group: number): Promise<number[]> {
  const known = source.pageStarts.get(group)
  if (known) return known
  const chunk = source.metadata.row_groups[group]?.columns[source.column.leafIndex]
  let starts = [0]
  const table =
    chunk?.meta_data && pageTableOptions(source.metadata).pageLocationsByGroup?.[group]?.[chunk.meta_data.path_in_schema.join('.')]
  if (table) starts = table.map((p) => Number(p.first_row_index))
  else if (chunk?.offset_index_offset !== undefined && chunk.offset_index_length !== undefined) {
    const offset = Number(chunk.offset_index_offset)
    const bytes = new Uint8Array(await source.cached.slice(offset, offset + chunk.offset_index_length))
    const index = await decoding('reading the offset index', { file: source.name, column: source.column.name, offset }, () =>
      readOffsetIndex({ view: new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength), offset: 0 }),
    )
    starts = index.page_locations.map((p) => Number(p.first_row_index))
    if (starts[0] !== 0 || starts.some((s, i) => i > 0 && s <= (starts[i - 1] as number)))
      throw new ParquetSeekError("the offset index's pages do not start at row 0 and ascend", {
        file: source.name,
        column: source.column.name,
        offset,
      })
  }
  source.pageStarts.set(group, starts)
  return starts
}
