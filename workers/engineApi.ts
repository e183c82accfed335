import * as Comlink from 'comlink'
import { type BackendChoice, loadKernels, type SearchBackend } from '../src/compute/backend.js'
import { prepareQuery, recallAtK } from '../src/compute/metric.js'
import { mulberry32 } from '../src/compute/random.js'
import { encoderFor, encodeText } from '../src/encode/encoders.js'
import { type ModelLoad, modelLoad } from '../src/encode/useLite.js'
import { AbortError, NoIndexError, ParquetSeekError, throwIfAborted } from '../src/errors.js'
import type { Metric } from '../src/index/model.js'
import { blobSource } from '../src/io/blobSource.js'
import { CachedSource } from '../src/io/cache.js'
import { openHttp } from '../src/io/httpSource.js'
import { isHubGlob } from '../src/io/hub.js'
import { hubGlob } from '../src/io/hubGlob.js'
import type { ByteSource } from '../src/io/source.js'
import { csvLine } from '../src/parquet/csv.js'
import { summarizeColumns } from '../src/parquet/embedding.js'
import { jsonRow, type ShownColumns, shownColumnsIn, shownColumnsOf } from '../src/parquet/json.js'
import { compareValues, nullsLast, parseWhere } from '../src/query/filter.js'
import { type SearchOptions, STAGES } from '../src/query/pipeline.js'
import { folderPick, naturalOrder } from '../src/search/anyIndex.js'
import { type ParquetTarget, readRowSpan } from '../src/search/columns.js'
import { type DatasetResult, folderManifest, indexedName, isManifestAddress, SeekDataset } from '../src/search/dataset.js'
import { openIndex, type SearchStats, type SeekIndex } from '../src/search/engine.js'
import { flatSearch } from '../src/search/flat.js'
import { filterAcross, type RowRange, readRowsAcross, rowGroupBlocks, textModelOf } from '../src/search/parts.js'
import { type Pca2, pca2, pcaPoint } from '../src/search/pca.js'
import { isSidecarAddress, SidecarIndex } from '../src/search/sidecarIndex.js'
import { partitionPoint } from '../src/sorted.js'
import { type FileInfo, inspect, spanOf } from './fileFacts.js'

/**
 * What the engine worker does for the page (workers/engine.worker.ts exposes it with comlink).
 * Everything in and out is plain data: File objects, URLs, numbers, JSON-safe row values.
 * Long calls take a job id from `job()`; `cancel(job)` aborts them.
 */
export type QuerySpec = { row: number } | { vector: number[] } | { text: string }

/** A folder picked or dropped in the page: its name, and the files directly in it (app/folders.ts). */
export interface FolderInput {
  folder: string
  files: File[]
}

export interface SearchRequest {
  k: number
  nprobe?: number
  refine?: number
  columns: string[]
  /** Only rows passing this `--where` filter (`pos = 'n' AND year >= 2020`). */
  where?: string
  /** At most one result per value of this column (a file of passages: one a document). */
  distinct?: string
}

export interface PageHit {
  /** The row: a sidecar's rows are numbered across its files, in the order it lists them. */
  row: number
  distance: number
  values: Record<string, unknown>
  /** A sidecar's hit: the file holding it, and its row there. */
  file?: string
  fileRow?: number
}

export interface PageSearchResult {
  results: PageHit[]
  stats: SearchStats
  probed: number[]
  /** The query on the centroid map (same axes as IndexView.points). */
  queryPoint: [number, number]
  /** A text query: ms to turn it into a vector (the first one includes loading the model: `model`). */
  encodeMs?: number
  /** A text query whose encoder loaded a model: how long that took and how many bytes. */
  model?: ModelLoad
}

export interface IndexView {
  /** Entries per list. */
  sizes: number[]
  /** Each centroid on the first two principal axes of the centroids. */
  points: Array<[number, number]>
}

export interface RecallPoint {
  /** Lists probed in each index (the default search of a manifest whose files differ: their mean a query). */
  nprobe: number
  recall: number
  bytesPerQuery: number
  /** The index's default search (its tuned nprobe, adaptive where it has a slack; a manifest's: each file's own). */
  default?: true
}

/** Rows a Data view sort may order: it holds one value of each (strings: ~100 MB at 2 M rows). */
const SORT_MAX_ROWS = 2_000_000
/** Rows read at once while a sort reads its column. */
const SORT_BLOCK = 65_536
/** Rows read at most at once while the Data view's rows are written as CSV (`rowGroupBlocks`: whole row groups where they fit). */
const CSV_BLOCK = 200_000

interface Handle {
  info: FileInfo
  /** Rows [start, end) of `columns`: what the Data view and a row's details read. */
  read(start: number, end: number, columns: string[], signal?: AbortSignal): Promise<Array<Record<string, unknown>>>
  /**
   * The file, or a sidecar's or manifest's files, as parts of the whole: what the Data view's
   * filter, sort and CSV read (a sidecar's files opened for it: every one, or those holding `rows`).
   */
  parts(signal?: AbortSignal, rows?: Iterable<number>): Promise<readonly RowRange[]>
  /** The DATE, TIME and DECIMAL columns, shown as such. */
  shown: ShownColumns
  index?: Searchable
  /** The index opened again with another backend (over the same sources). */
  reopen(backend: SearchBackend, signal?: AbortSignal): Promise<Searchable>
  pca?: Pca2
}

/** What the page searches: an indexed file's index or a sidecar's over many files, alike. */
interface Searchable {
  readonly rows: number
  readonly metric: Metric
  /** The index's default nprobe (tuned), if it names one (a manifest: where its files agree). */
  readonly nprobe: number | undefined
  /** Indexes searched (a manifest's files, each its own; else 1): a query probes nprobe lists in each. */
  readonly indexes: number
  readonly encoder: string | undefined
  readonly backend: string
  readonly device: string | undefined
  readonly centroids: Float32Array
  readonly dim: number
  /** Entries in each list. */
  readonly listSizes: number[]
  vectorOf(row: number, signal?: AbortSignal): Promise<Float32Array>
  searchBatch(queries: Float32Array[], o: SearchOptions): Promise<Array<{ results: PageHit[]; stats: SearchStats; probed: number[] }>>
  /** The exact k nearest rows of each query (what recall is measured against). */
  exact(queries: Float32Array[], k: number, signal?: AbortSignal): Promise<Array<Array<{ row: number; distance: number }>>>
  clearCache(): void
  close(): void
}

function fileSearchable(index: SeekIndex): Searchable {
  const { model, directory, cached, metadata, column } = index.opened
  return {
    rows: index.rows,
    metric: index.metric,
    nprobe: index.params.nprobe,
    indexes: 1,
    encoder: index.encoder,
    backend: index.backend,
    device: index.device,
    centroids: model.centroids,
    dim: model.params.dim,
    listSizes: directory.map((d) => d.count),
    vectorOf: (row, signal) => index.vectorOf(row, signal),
    searchBatch: (queries, o) => index.searchBatch(queries, o),
    exact: async (queries, k, signal) =>
      flatSearch(cached, metadata, queries, {
        column: column.name,
        metric: index.metric,
        k,
        signal,
        kernels: await loadKernels(index.kernels.name),
      }),
    clearCache: () => index.clearCache(),
    close: () => index.close(),
  }
}

function sidecarSearchable(index: SidecarIndex): Searchable {
  const { params } = index.model
  /** A row numbered across the files: the file holding it, and its row there. */
  const where = (row: number) => {
    const { file, row: fileRow } = index.fileOf(row)
    return { file, fileRow }
  }
  return {
    rows: index.rows,
    metric: params.metric,
    nprobe: params.nprobe,
    indexes: 1,
    encoder: index.encoder,
    backend: index.backend,
    device: index.device,
    centroids: index.model.centroids,
    dim: params.dim,
    listSizes: index.listSizes,
    vectorOf: (row, signal) => index.vectorOf(row, signal),
    searchBatch: async (queries, o) =>
      (await index.searchBatchGlobal(queries, o)).map((r) => ({ ...r, results: r.results.map((h) => ({ ...h, ...where(h.row) })) })),
    exact: (queries, k, signal) => index.searchExact(queries, { k, signal }),
    clearCache: () => index.clearCache(),
    close: () => index.close(),
  }
}

/**
 * Opens a sidecar with its files, or a dataset's files (reporting files opened, of all), again
 * with another backend for reopen.
 */
type Opener<T> = (backend: SearchBackend, signal?: AbortSignal, onProgress?: (opened: number, files: number) => void) => Promise<T>

/**
 * A sidecar index as the page shows a file: the files' rows one after another, the first file's
 * columns. `openSidecar` opens it (again, with another backend, for reopen).
 */
async function openSidecarHandle(
  name: string,
  openSidecar: Opener<SidecarIndex>,
  backend: BackendChoice,
  warnings: string[],
  signal?: AbortSignal,
  onProgress?: (opened: number, files: number) => void,
): Promise<Handle> {
  const index = await openSidecar(backend, signal, onProgress)
  // (sources whose large pages make refinement costly: the page shows why a query reads much)
  warnings.push(...index.warnings)
  const first = index.opened()[0]?.metadata
  const { header } = index
  const info: FileInfo = {
    name,
    bytes: header.sources.reduce((n, s) => n + s.size, 0),
    rows: index.rows,
    columns: first ? summarizeColumns(first) : [],
    vectorColumns: [header.column],
    textColumns: [],
    model: index.encoder,
    modelProblem: textModelOf(index).problem,
    index: {
      column: header.column,
      bytes: header.blobLength + (header.vectors?.length ?? 0),
      params: header.params as unknown as Record<string, unknown>,
      lists: index.model.params.nlist,
    },
    sources: index.sources.map((s) => ({ name: s.name, rows: s.rows })),
  }
  return {
    info,
    read: (start, end, columns, signal) => index.readRowSpan(start, end, columns, { signal }),
    parts: (signal, rows) => (rows ? index.openHolding(rows, signal) : index.openAll(signal)),
    shown: shownColumnsIn(index.opened().map((s) => s.metadata)),
    index: sidecarSearchable(index),
    reopen: async (backend, signal) => sidecarSearchable(await openSidecar(backend, signal)),
  }
}

/** A manifest's stats as one file's: each shard's counts summed; round trips and ms the dataset's. */
function datasetStats(stats: DatasetResult['stats']): SearchStats {
  const per = stats.perShard
  const sum = (f: (s: SearchStats) => number) => per.reduce((n, s) => n + f(s), 0)
  const filters = per.flatMap((s) => (s.filter ? [s.filter] : []))
  return {
    bytes: stats.bytes,
    requests: stats.requests,
    roundTrips: stats.roundTrips,
    ms: stats.ms,
    pagesDecoded: sum((s) => s.pagesDecoded),
    listsProbed: sum((s) => s.listsProbed),
    listsAdjacent: sum((s) => s.listsAdjacent),
    listsFetched: sum((s) => s.listsFetched),
    candidates: sum((s) => s.candidates),
    msByStage: Object.fromEntries(STAGES.map((stage) => [stage, sum((s) => s.msByStage[stage])])) as SearchStats['msByStage'],
    backend: per[0]?.backend ?? 'js',
    ...(per.some((s) => s.gpuFallback) ? { gpuFallback: per.find((s) => s.gpuFallback)?.gpuFallback } : {}),
    ...(filters.length
      ? {
          filter: {
            rowsPassing: filters.reduce((n, f) => n + f.rowsPassing, 0),
            rowGroupsSkipped: filters.reduce((n, f) => n + f.rowGroupsSkipped, 0),
            nprobe: Math.max(...filters.map((f) => f.nprobe)),
            direct: filters.every((f) => f.direct),
          },
        }
      : {}),
  }
}

/**
 * A manifest's indexed files searched as one: rows numbered across them in order, each hit naming
 * its file; the centroid map holds every file's lists (numbered across them, as `probed` is).
 */
function datasetSearchable(ds: SeekDataset): Searchable {
  const first = ds.shards[0] as SeekIndex
  const bases = ds.rowBases
  const nprobes = new Set(ds.shards.map((s) => s.params.nprobe))
  const centroids = new Float32Array(ds.shards.reduce((n, s) => n + s.opened.model.centroids.length, 0))
  let at = 0
  for (const s of ds.shards) {
    centroids.set(s.opened.model.centroids, at)
    at += s.opened.model.centroids.length
  }
  const fileName = (shard: number) => ds.names[shard]?.split('/').at(-1) ?? ''
  return {
    rows: ds.rows,
    metric: first.metric,
    // (the files' tuned nprobe when they agree; else each searches at its own)
    nprobe: nprobes.size === 1 ? first.params.nprobe : undefined,
    indexes: ds.shards.length,
    encoder: ds.encoder,
    backend: first.backend,
    device: first.device,
    centroids,
    dim: first.params.dim,
    listSizes: ds.shards.flatMap((s) => s.opened.directory.map((d) => d.count)),
    vectorOf: (row, signal) => ds.vectorOf(row, signal),
    searchBatch: async (queries, o) =>
      (await ds.searchBatch(queries, o)).map((r) => ({
        results: r.results.map((h) => ({
          row: (bases[h.shard] as number) + h.row,
          distance: h.distance,
          values: h.values,
          file: fileName(h.shard),
          fileRow: h.row,
        })),
        stats: datasetStats(r.stats),
        probed: r.probed,
      })),
    exact: (queries, k, signal) => ds.searchExact(queries, { k, signal }),
    clearCache: () => ds.clearCache(),
    close: () => ds.close(),
  }
}

/**
 * Indexed files searched as one — a manifest's (`kind` manifest), or several picked from disk
 * together (`files`) — as the page shows one file: their rows one after another, the first file's columns.
 */
async function openDatasetHandle(
  name: string,
  kind: 'manifest' | 'files',
  open: Opener<SeekDataset>,
  backend: BackendChoice,
  signal?: AbortSignal,
  onProgress?: (opened: number, files: number) => void,
): Promise<Handle> {
  const ds = await open(backend, signal, onProgress)
  const first = ds.shards[0] as SeekIndex
  const info: FileInfo = {
    name,
    bytes: ds.shards.reduce((n, s) => n + s.opened.raw.byteLength, 0),
    rows: ds.rows,
    columns: summarizeColumns(first.opened.metadata),
    vectorColumns: [first.opened.column.name],
    textColumns: [],
    model: ds.encoder,
    modelProblem: textModelOf(ds).problem,
    index: {
      column: first.opened.column.name,
      bytes: ds.shards.reduce((n, s) => n + s.opened.location.length, 0),
      params: first.opened.location.params,
      lists: ds.shards.reduce((n, s) => n + s.params.nlist, 0),
      eachFile: {
        nlist: spanOf(ds.shards.map((s) => s.params.nlist)),
        nprobe: ds.shards.every((s) => s.params.nprobe !== undefined) ? spanOf(ds.shards.map((s) => s.params.nprobe as number)) : undefined,
      },
    },
    sources: ds.shards.map((s, i) => ({ name: ds.names[i]?.split('/').at(-1) ?? '', rows: s.rows })),
    kind,
  }
  return {
    info,
    read: (start, end, columns, signal) => ds.readRowSpan(start, end, columns, { signal }),
    parts: async () => ds.parts,
    shown: shownColumnsIn(ds.shards.map((s) => s.opened.metadata)),
    index: datasetSearchable(ds),
    reopen: async (backend, signal) => datasetSearchable(await open(backend, signal)),
  }
}

/** A Parquet file, with its index if it has one. */
async function openFileHandle(source: ByteSource, backend: BackendChoice, signal?: AbortSignal): Promise<Handle> {
  const { info, metadata } = await inspect(source, source.name)
  const index = info.index ? await openIndex(source, { backend, signal }) : undefined
  // what the Data view reads through: the index's cache when there is one
  let target: ParquetTarget = index
    ? { cached: index.opened.cached, metadata: index.opened.metadata, name: info.name }
    : { cached: new CachedSource(source), metadata, name: info.name }
  return {
    info,
    read: (start, end, columns, signal) => readRowSpan(target, start, Math.min(end, info.rows), columns, { signal }),
    parts: async () => [{ ...target, rowBase: 0, rows: info.rows }],
    shown: shownColumnsOf(metadata),
    index: index && fileSearchable(index),
    reopen: async (backend, signal) => {
      const next = await openIndex(source, { backend, signal })
      target = { ...target, cached: next.opened.cached }
      return fileSearchable(next)
    },
  }
}

export function engineApi() {
  const handles = new Map<number, Handle>()
  const jobs = new Map<number, AbortController>()
  /** An open's progress, by job: a sidecar's files opened and checked, of all it names. */
  const opening = new Map<number, { opened: number; files: number }>()
  /** A Data view filter's or sort's progress, by job: rows looked at, of all. */
  const counting = new Map<number, { rows: number; of: number }>()
  const countRows = (job: number | undefined) => (rows: number, of: number) => {
    if (job !== undefined && jobs.has(job)) counting.set(job, { rows, of })
  }
  let next = 1
  const signalOf = (job?: number) => (job === undefined ? undefined : jobs.get(job)?.signal)
  const handle = (id: number) => {
    const h = handles.get(id)
    if (!h) throw new ParquetSeekError(`file ${id} is not open`)
    return h
  }
  const indexOf = (id: number) => {
    const h = handle(id)
    if (!h.index) throw new ParquetSeekError('this file has no ParquetSeek index: build one first', { file: h.info.name })
    return { h, index: h.index }
  }

  return {
    job(): number {
      const id = next++
      jobs.set(id, new AbortController())
      return id
    },
    cancel(job: number): void {
      jobs.get(job)?.abort()
    },
    done(job: number): void {
      jobs.delete(job)
      opening.delete(job)
      counting.delete(job)
    },
    /** How far the Data view filter, sort or CSV running as `job` has got (rows looked at, of all; undefined before the first block). */
    rowsProgress(job: number): { rows: number; of: number } | undefined {
      return counting.get(job)
    },
    /** How far the open running as `job` has got (a sidecar's files; undefined before its header is read, and for a single file). */
    openProgress(job: number): { opened: number; files: number } | undefined {
      return opening.get(job)
    },

    /**
     * Several Parquet files (picked together, or a folder's) of which none has an index: the
     * files, in the order of their names, and each one's facts (its footer), for the page to
     * index them as one dataset; `earlier`: the files a build wrote beside them before
     * (`a.indexed.parquet` beside `a.parquet`, as a cancelled build leaves them), left out of
     * those to index, as `index --out-dir` leaves them out of a folder's, for the build to keep
     * where they are built as it asks. Undefined for anything else, which `open` opens as it is:
     * one file, a sidecar or a manifest with its files, files of which one is indexed. `least`:
     * the files it takes (1: those to add to a dataset open).
     */
    async unindexedParts(
      given: File[] | FolderInput,
      job?: number,
      least = 2,
    ): Promise<{ files: File[]; infos: FileInfo[]; earlier: File[] } | undefined> {
      const signal = signalOf(job)
      const picked = Array.isArray(given) ? given : folderPick(given.files).files
      if (picked.some((f) => isSidecarAddress(f.name) || isManifestAddress(f.name))) return undefined
      const outputs = new Set(picked.map((f) => indexedName(f.name)))
      const earlier = picked.filter((f) => outputs.has(f.name))
      const files = naturalOrder(picked.filter((f) => !outputs.has(f.name)))
      if (files.length < least) return undefined
      const infos: FileInfo[] = []
      for (const [i, file] of files.entries()) {
        throwIfAborted(signal)
        const { info } = await inspect(blobSource(file), file.name)
        // (one indexed: the files open as indexed files do, and the unindexed one is said)
        if (info.index) return undefined
        infos.push(info)
        if (job !== undefined && jobs.has(job)) opening.set(job, { opened: i + 1, files: files.length })
      }
      return { files, infos, earlier: naturalOrder(earlier) }
    },

    /** A local file's facts, as the page shows them: its footer, and its index's head where it has one. */
    async fileFacts(file: File): Promise<FileInfo> {
      return (await inspect(blobSource(file), file.name)).info
    },

    /**
     * Opens a local File or a URL: schema, row count, vector columns, and the index if any. A
     * URL of a sidecar (`.pqseek`) opens it over its files, found beside it on its origin or
     * under a URL prefix in `allow` (another site the person allowed); a sidecar picked from disk
     * comes with the files it names (several Files).
     */
    async open(
      given: File | File[] | string | FolderInput,
      backend: BackendChoice,
      job?: number,
      allow: string[] = [],
    ): Promise<{ id: number; info: FileInfo; backend?: string; device?: string; warnings: string[] }> {
      const signal = signalOf(job)
      const warnings: string[] = []
      const onProgress = (opened: number, files: number) => {
        if (job !== undefined && jobs.has(job)) opening.set(job, { opened, files })
      }
      let h: Handle
      // a folder: what it holds (its manifest with the files it lists, its sidecar with its files, or its Parquet files)
      const pick = typeof given === 'object' && 'folder' in given ? folderPick(given.files) : undefined
      let input = pick ? pick.files : (given as File | File[] | string)
      // (a URL ending in /: the dataset its folder's manifest.json lists)
      if (typeof input === 'string') input = await folderManifest(input)
      if (Array.isArray(input) && input.length === 1 && !pick?.unlisted) input = input[0] as File
      if (input instanceof File && (isSidecarAddress(input.name) || isManifestAddress(input.name)))
        throw new ParquetSeekError(
          `${isSidecarAddress(input.name) ? 'a sidecar index' : 'a manifest'} is read with its files: pick them together with it, or open it by its URL`,
          { file: input.name },
        )
      const manifest = Array.isArray(input) ? input.find((f) => isManifestAddress(f.name)) : undefined
      if (Array.isArray(input) && manifest && !input.some((f) => isSidecarAddress(f.name))) {
        // a manifest picked with its files: searched as from its host, rows in its order
        const files = input
        h = await openDatasetHandle(
          manifest.name,
          'manifest',
          (backend, signal, onProgress) => SeekDataset.openFiles(files, { backend, signal, onProgress, unlisted: pick?.unlisted }),
          backend,
          signal,
          onProgress,
        )
      } else if (Array.isArray(input) && !input.some((f) => isSidecarAddress(f.name))) {
        // several indexed files picked together: searched as one, as a manifest of them, in the
        // order of their names (part-2 before part-10), whatever order the browser lists them in
        const files = naturalOrder(input)
        h = await openDatasetHandle(
          `${files[0]?.name} and ${files.length - 1} more`,
          'files',
          (backend, signal, onProgress) =>
            SeekDataset.open(files, { backend, signal, onProgress }).catch((e: unknown) => {
              // (a file without an index opens alone, where the page offers to build one)
              if (e instanceof NoIndexError)
                throw new ParquetSeekError(
                  'has no index: several files open together when each is indexed; open it alone to build its index, or index them all with parquetseek index *.parquet --out-dir indexed/ and open that folder',
                  {
                    file: e.context.file,
                  },
                )
              throw e
            }),
          backend,
          signal,
          onProgress,
        )
      } else if (Array.isArray(input)) {
        const files = input
        const opener: Opener<SidecarIndex> = (backend, signal, onProgress) => SidecarIndex.openFiles(files, { backend, signal, onProgress })
        h = await openSidecarHandle(
          input.find((f) => isSidecarAddress(f.name))?.name as string,
          opener,
          backend,
          warnings,
          signal,
          onProgress,
        )
      } else if (typeof input === 'string' && isHubGlob(input)) {
        // an hf:// glob: the indexed files it matches, searched as one, as several picked together
        const files = await hubGlob(input, { signal })
        h = await openDatasetHandle(
          input,
          'files',
          (backend, signal, onProgress) => SeekDataset.open(files, { backend, signal, onProgress }),
          backend,
          signal,
          onProgress,
        )
      } else if (typeof input === 'string' && isManifestAddress(input)) {
        // (files on another site only under a prefix the person allowed, as for a sidecar)
        const address = input
        h = await openDatasetHandle(
          address,
          'manifest',
          (backend, signal, onProgress) => SeekDataset.fromManifest(address, { backend, signal, onProgress, allowSources: allow }),
          backend,
          signal,
          onProgress,
        )
      } else if (typeof input === 'string' && isSidecarAddress(input)) {
        const address = input
        h = await openSidecarHandle(
          input,
          (backend, signal, onProgress) => SidecarIndex.openUrl(address, { backend, signal, allow, onProgress }),
          backend,
          warnings,
          signal,
          onProgress,
        )
      } else
        h = await openFileHandle(
          typeof input === 'string' ? (await openHttp(input, { signal, onWarning: (w) => warnings.push(w) })).source : blobSource(input),
          backend,
          signal,
        )
      const id = next++
      handles.set(id, h)
      return { id, info: h.info, backend: h.index?.backend, device: h.index?.device, warnings }
    },

    close(id: number): void {
      handles.get(id)?.index?.close()
      handles.delete(id)
    },

    /**
     * Scores this file's searches with another backend (`gpu`: WebGPU in this worker). The index
     * is opened again over the same source; a backend that cannot start leaves the old one.
     * Answers the backend now in use and, on the GPU, the adapter and its tunables in words.
     */
    async setSearchBackend(id: number, backend: SearchBackend, job?: number): Promise<{ backend: string; device?: string }> {
      const { h, index } = indexOf(id)
      const next = await h.reopen(backend, signalOf(job))
      index.close()
      h.index = next
      return { backend: next.backend, device: next.device }
    },

    /**
     * Rows [start, end) of `columns`, as JSON-safe values: what the Data view scrolls through and
     * a row's details show. Only the pages holding those rows are read.
     */
    async rows(id: number, start: number, end: number, columns: string[], job?: number): Promise<Array<Record<string, unknown>>> {
      const h = handle(id)
      const rows = await h.read(start, Math.min(end, h.info.rows), columns, signalOf(job))
      return rows.map((r) => jsonRow(r, h.shown))
    },

    /**
     * The rows passing a `where` filter (the Data view's "Only rows where"), in order, read as a
     * search's filter is: only the columns it names, row groups its statistics rule out skipped.
     */
    async filterRows(id: number, where: string, job?: number): Promise<{ rows: Uint32Array; rowGroupsSkipped: number }> {
      const h = handle(id)
      const { bitmap, passing, rowGroupsSkipped } = await filterAcross(
        await h.parts(signalOf(job)),
        parseWhere(where),
        signalOf(job),
        countRows(job),
      )
      const rows = new Uint32Array(passing)
      let n = 0
      for (let r = 0; r < bitmap.length; r++) if (bitmap[r]) rows[n++] = r
      return Comlink.transfer({ rows, rowGroupsSkipped }, [rows.buffer])
    },

    /**
     * The rows (every row, or `rows`: those a filter kept) in the order of `column`'s values
     * (`compareValues`; `descending`: largest first), NULLs last either way, ties in row order:
     * the Data view's sort. Reads that one column of those rows, a block at a time (progress:
     * `rowsProgress`), and holds its values while it sorts — up to SORT_MAX_ROWS of them.
     */
    async orderRows(id: number, column: string, descending: boolean, rows: Uint32Array | undefined, job?: number): Promise<Uint32Array> {
      const h = handle(id)
      const signal = signalOf(job)
      const count = rows ? rows.length : h.info.rows
      if (count > SORT_MAX_ROWS)
        throw new ParquetSeekError(
          `sorting holds every value of the column: ${count.toLocaleString('en-US')} rows are more than ${SORT_MAX_ROWS.toLocaleString('en-US')}; filter them first`,
          { file: h.info.name, column },
        )
      const values = new Array<unknown>(count)
      for (let at = 0; at < count; at += SORT_BLOCK) {
        const end = Math.min(count, at + SORT_BLOCK)
        if (rows) {
          const wanted = Array.from(rows.subarray(at, end))
          const read = await readRowsAcross(await h.parts(signal, wanted), wanted, [column], { signal })
          for (const [i, r] of wanted.entries()) values[at + i] = read.get(r)?.[column]
        } else for (const [i, r] of (await h.read(at, end, [column], signal)).entries()) values[at + i] = r[column]
        countRows(job)(end, count)
      }
      const sign = descending ? -1 : 1
      const order = Uint32Array.from({ length: count }, (_, i) => i).sort((i, j) => {
        const a = values[i]
        const b = values[j]
        return (nullsLast(a) || nullsLast(b) ? compareValues(a, b) : sign * compareValues(a, b)) || i - j
      })
      const out = rows ? order.map((i) => rows[i] as number) : order
      return Comlink.transfer(out, [out.buffer])
    },

    /** `rows` (any rows, in this order) of `columns`, as JSON-safe values: a filtered Data view's. */
    async rowsAt(id: number, rows: number[], columns: string[], job?: number): Promise<Array<Record<string, unknown>>> {
      const h = handle(id)
      const signal = signalOf(job)
      const values = await readRowsAcross(await h.parts(signal, rows), rows, columns, { signal })
      return rows.map((r) => jsonRow(values.get(r) ?? {}, h.shown))
    },

    /**
     * The Data view's rows as CSV (`csvLine`): a header of `row` (`file` and `file_row` after it
     * for a sidecar's or a manifest's files, as their hits name them) and `columns`, then every
     * row in file order, or `rows` in their order (a filter's, a sort's), `row` each one's number
     * in the whole. Rows are read in file order, whole row groups at a time (`rowGroupBlocks`, at most
     * CSV_BLOCK rows; progress: `rowsProgress`), so that a sort's order decodes each page once,
     * not once a block; its lines are held until the last is written (a sort holds at most
     * SORT_MAX_ROWS rows), the rest go out a block at a time.
     */
    async rowsCsv(id: number, rows: Uint32Array | undefined, columns: string[], job?: number): Promise<Blob> {
      const h = handle(id)
      const signal = signalOf(job)
      const count = rows ? rows.length : h.info.rows
      // positions of `rows` in file order, where they are not in it already
      const byRow = rows?.some((r, i) => i > 0 && r <= (rows[i - 1] as number))
        ? Uint32Array.from({ length: count }, (_, i) => i).sort((i, j) => (rows[i] as number) - (rows[j] as number) || i - j)
        : undefined
      const rowOf = (at: number) => (rows ? (rows[byRow ? (byRow[at] as number) : at] as number) : at)
      const held = byRow && new Array<string>(count)
      // a sidecar's or a manifest's rows name their file and their row there, as its hits do
      const sources = h.info.sources ?? []
      let before = 0
      const bases = sources.map((s) => {
        before += s.rows
        return before - s.rows
      })
      const fileOf = (row: number) => {
        const at = partitionPoint(0, bases.length, (i) => (bases[i] as number) > row) - 1
        return [sources[at]?.name, row - (bases[at] as number)]
      }
      const parts = [new Blob([csvLine(['row', ...(sources.length ? ['file', 'file_row'] : []), ...columns])])]
      let at = 0
      for (const end of rowGroupBlocks(await h.parts(signal), count, rowOf, CSV_BLOCK)) {
        throwIfAborted(signal)
        let read: Array<[number, Record<string, unknown>]>
        if (rows) {
          const wanted = Array.from({ length: end - at }, (_, i) => rowOf(at + i))
          const values = await readRowsAcross(await h.parts(signal, wanted), wanted, columns, { signal })
          read = wanted.map((r) => [r, values.get(r) ?? {}])
        } else read = (await h.read(at, end, columns, signal)).map((v, i) => [at + i, v])
        const lines = read.map(([r, v]) => {
          const json = jsonRow(v, h.shown)
          return csvLine([r, ...(sources.length ? fileOf(r) : []), ...columns.map((c) => json[c])])
        })
        if (held && byRow) for (const [i, line] of lines.entries()) held[byRow[at + i] as number] = line
        else parts.push(new Blob([lines.join('')]))
        countRows(job)(end, count)
        at = end
      }
      if (held) for (let at = 0; at < count; at += CSV_BLOCK) parts.push(new Blob([held.slice(at, at + CSV_BLOCK).join('')]))
      return new Blob(parts, { type: 'text/csv' })
    },

    /** Whether this worker has WebGPU (an adapter, not only the API). */
    async hasGpu(): Promise<boolean> {
      return Boolean(await navigator.gpu?.requestAdapter().catch(() => null))
    },

    async search(id: number, query: QuerySpec, o: SearchRequest, job?: number): Promise<PageSearchResult> {
      const { h, index } = indexOf(id)
      const signal = signalOf(job)
      const encodeStart = performance.now()
      const vector =
        'row' in query
          ? await index.vectorOf(query.row, signal)
          : 'text' in query
            ? await encodeText(index.encoder, query.text, h.info.name)
            : Float32Array.from(query.vector)
      const encodeMs = 'text' in query ? performance.now() - encodeStart : undefined
      const [r] = await index.searchBatch([vector], {
        k: o.k,
        nprobe: o.nprobe,
        refine: o.refine,
        columns: o.columns,
        where: o.where,
        distinct: o.distinct,
        signal,
      })
      if (!r) throw new Error('the search gave no result')
      h.pca ??= centroidPca(index)
      const [x, y] = pcaPoint(h.pca, prepareQuery(vector, index.metric))
      return {
        results: r.results.map((hit) => ({ ...hit, values: jsonRow(hit.values, h.shown) })),
        stats: r.stats,
        probed: r.probed,
        queryPoint: [x, y],
        encodeMs,
        model: encodeMs === undefined ? undefined : modelLoad(),
      }
    },

    /**
     * Loads the text encoder of the open file's model (its download), so that the query being
     * typed does not wait for it; its progress is `modelLoad`'s. A failed load is left to the
     * query, which tries again and says why.
     */
    async prepareEncoder(id: number): Promise<void> {
      const { index } = indexOf(id)
      await encoderFor(index.encoder)
        ?.prepare?.()
        .catch(() => {})
    },

    /** Where the text encoder's model download stands (polled by the page while a text query waits). */
    modelLoad(): ModelLoad | undefined {
      return modelLoad()
    },

    indexView(id: number): IndexView {
      const { h, index } = indexOf(id)
      h.pca ??= centroidPca(index)
      const pca = h.pca
      const { centroids, dim, listSizes } = index
      const points = listSizes.map((_, l) => pcaPoint(pca, centroids.subarray(l * dim, (l + 1) * dim)))
      return { sizes: listSizes, points }
    },

    /**
     * Recall@k against exact search for `queries` rows of the file used as queries (each left
     * out of its own answer), at each nprobe (the index's own: its default search), and by its
     * default search where no nprobe is its own (a manifest's files tuned apart). Exact search
     * reads every vector once.
     */
    async checkRecall(id: number, o: { queries: number; k: number; nprobes: number[] }, job?: number): Promise<RecallPoint[]> {
      const { index } = indexOf(id)
      const signal = signalOf(job)
      const rand = mulberry32(17)
      const rows = new Set<number>()
      while (rows.size < Math.min(o.queries, index.rows)) rows.add(Math.floor(rand() * index.rows))
      const picked = [...rows].sort((a, b) => a - b)
      const vectors: Float32Array[] = []
      const used: number[] = []
      for (const row of picked) {
        try {
          vectors.push(await index.vectorOf(row, signal))
          used.push(row)
        } catch (e) {
          if (e instanceof AbortError) throw e // rows without a vector are skipped
        }
      }
      const exact = await index.exact(vectors, o.k + 1, signal)
      const nearest = exact.map((hits, i) => hits.filter((h) => h.row !== used[i]).slice(0, o.k))
      const truth = nearest.map((hits) => hits.map((h) => h.row))
      // a result as near as the k-th true neighbour is as right (rows at one distance: duplicates)
      const kth = Float64Array.from(nearest, (hits) => hits.at(-1)?.distance ?? Number.NEGATIVE_INFINITY)
      /** Recall at `nprobe` lists an index; undefined: as default searches run (adaptive, when it has a slack). */
      const measure = async (nprobe: number | undefined) => {
        index.clearCache()
        const batch = await index.searchBatch(vectors, { k: o.k + 1, nprobe, signal })
        const found = batch.map((r, i) => {
          const others = r.results.filter((x) => x.row !== used[i])
          return { rows: others.map((h) => h.row), distances: others.map((h) => h.distance) }
        })
        const queries = Math.max(1, used.length)
        return {
          recall: recallAtK(found, truth, o.k, kth),
          bytesPerQuery: (batch[0]?.stats.bytes ?? 0) / queries,
          listsPerIndex: batch.reduce((n, r) => n + r.probed.length, 0) / queries / index.indexes,
        }
      }
      const out: RecallPoint[] = []
      for (const nprobe of o.nprobes) {
        const own = nprobe === index.nprobe
        const { recall, bytesPerQuery } = await measure(own ? undefined : nprobe)
        out.push({ nprobe, recall, bytesPerQuery, ...(own ? { default: true as const } : {}) })
      }
      if (!out.some((p) => p.default)) {
        const { recall, bytesPerQuery, listsPerIndex } = await measure(undefined)
        out.push({ nprobe: Math.round(listsPerIndex * 10) / 10, recall, bytesPerQuery, default: true })
        out.sort((a, b) => a.nprobe - b.nprobe)
      }
      return out
    },
  }
}

export type EngineApi = ReturnType<typeof engineApi>

function centroidPca(index: Searchable): Pca2 {
  return pca2(index.centroids, index.listSizes.length, index.dim)
}
