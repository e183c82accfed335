import { type BackendChoice, loadKernels, type SearchBackend } from '../src/compute/backend.js'
import { prepareQuery, recallAtK } from '../src/compute/metric.js'
import { mulberry32 } from '../src/compute/random.js'
import { encodeText } from '../src/encode/encoders.js'
import { type ModelLoad, modelLoad } from '../src/encode/useLite.js'
import { AbortError, ParquetSeekError } from '../src/errors.js'
import { blobSource } from '../src/io/blobSource.js'
import { CachedSource } from '../src/io/cache.js'
import { openHttp } from '../src/io/httpSource.js'
import type { ByteSource } from '../src/io/source.js'
import { jsonRow, shownColumnsOf } from '../src/parquet/json.js'
import { type ParquetTarget, readRowSpan } from '../src/search/columns.js'
import { openIndex, type SearchStats, type SeekIndex } from '../src/search/engine.js'
import { flatSearch } from '../src/search/flat.js'
import { type Pca2, pca2, pcaPoint } from '../src/search/pca.js'
import { type FileInfo, inspect } from './fileFacts.js'

/**
 * What the engine worker does for the page (workers/engine.worker.ts exposes it with comlink).
 * Everything in and out is plain data: File objects, URLs, numbers, JSON-safe row values.
 * Long calls take a job id from `job()`; `cancel(job)` aborts them.
 */
export type QuerySpec = { row: number } | { vector: number[] } | { text: string }

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
  row: number
  distance: number
  values: Record<string, unknown>
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
  nprobe: number
  recall: number
  bytesPerQuery: number
}

interface Handle {
  source: ByteSource
  info: FileInfo
  /** What the Data view and row details read through (the index's cache when there is one). */
  target: ParquetTarget
  index?: SeekIndex
  pca?: Pca2
}

export function engineApi() {
  const handles = new Map<number, Handle>()
  const jobs = new Map<number, AbortController>()
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
    },

    /** Opens a local File or a URL: schema, row count, vector columns, and the index if any. */
    async open(
      input: File | string,
      backend: BackendChoice,
      job?: number,
    ): Promise<{ id: number; info: FileInfo; backend?: string; device?: string; warnings: string[] }> {
      const signal = signalOf(job)
      const warnings: string[] = []
      let source: ByteSource
      if (typeof input === 'string') source = (await openHttp(input, { signal, onWarning: (w) => warnings.push(w) })).source
      else source = blobSource(input)
      const { info, metadata } = await inspect(source, source.name)
      const index = info.index ? await openIndex(source, { backend, signal }) : undefined
      const target = index
        ? { cached: index.opened.cached, metadata: index.opened.metadata, name: info.name }
        : { cached: new CachedSource(source), metadata, name: info.name }
      const id = next++
      handles.set(id, { source, info, index, target })
      return { id, info, backend: index?.backend, device: index?.device, warnings }
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
      const next = await openIndex(h.source, { backend, signal: signalOf(job) })
      index.close()
      h.index = next
      h.target = { ...h.target, cached: next.opened.cached }
      return { backend: next.backend, device: next.device }
    },

    /**
     * Rows [start, end) of `columns`, as JSON-safe values: what the Data view scrolls through and
     * a row's details show. Only the pages holding those rows are read.
     */
    async rows(id: number, start: number, end: number, columns: string[], job?: number): Promise<Array<Record<string, unknown>>> {
      const h = handle(id)
      const rows = await readRowSpan(h.target, start, Math.min(end, h.info.rows), columns, { signal: signalOf(job) })
      const shown = shownColumnsOf(h.target.metadata)
      return rows.map((r) => jsonRow(r, shown))
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
      const r = await index.search(vector, {
        k: o.k,
        nprobe: o.nprobe,
        refine: o.refine,
        columns: o.columns,
        where: o.where,
        distinct: o.distinct,
        signal,
      })
      h.pca ??= centroidPca(index)
      const shown = shownColumnsOf(h.target.metadata)
      const [x, y] = pcaPoint(h.pca, prepareQuery(vector, index.metric))
      return {
        results: r.results.map((hit) => ({
          row: hit.row,
          distance: hit.distance,
          values: jsonRow(hit.values, shown),
        })),
        stats: r.stats,
        probed: r.probed,
        queryPoint: [x, y],
        encodeMs,
        model: encodeMs === undefined ? undefined : modelLoad(),
      }
    },

    /** Where the text encoder's model download stands (polled by the page while a text query waits). */
    modelLoad(): ModelLoad | undefined {
      return modelLoad()
    },

    indexView(id: number): IndexView {
      const { h, index } = indexOf(id)
      h.pca ??= centroidPca(index)
      const pca = h.pca
      const { centroids, params } = index.opened.model
      const points = Array.from({ length: params.nlist }, (_, l) => pcaPoint(pca, centroids.subarray(l * params.dim, (l + 1) * params.dim)))
      return { sizes: index.opened.directory.map((d) => d.count), points }
    },

    /**
     * Recall@k against exact search for `queries` rows of the file used as queries (each left
     * out of its own answer), at each nprobe (the index's own: its default search). Exact search
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
      const { metadata, column } = index.opened
      const exact = await flatSearch(index.opened.cached, metadata, vectors, {
        column: column.name,
        metric: index.metric,
        k: o.k + 1,
        signal,
        kernels: await loadKernels(index.kernels.name),
      })
      const nearest = exact.map((hits, i) => hits.filter((h) => h.row !== used[i]).slice(0, o.k))
      const truth = nearest.map((hits) => hits.map((h) => h.row))
      // a result as near as the k-th true neighbour is as right (rows at one distance: duplicates)
      const kth = Float64Array.from(nearest, (hits) => hits.at(-1)?.distance ?? Number.NEGATIVE_INFINITY)
      const out: RecallPoint[] = []
      for (const nprobe of o.nprobes) {
        index.clearCache()
        // the index's own nprobe is searched as default searches run (adaptive, when it has a slack)
        const batch = await index.searchBatch(vectors, { k: o.k + 1, nprobe: nprobe === index.params.nprobe ? undefined : nprobe, signal })
        const found = batch.map((r, i) => {
          const others = r.results.filter((x) => x.row !== used[i])
          return { rows: others.map((h) => h.row), distances: others.map((h) => h.distance) }
        })
        out.push({
          nprobe,
          recall: recallAtK(found, truth, o.k, kth),
          bytesPerQuery: (batch[0]?.stats.bytes ?? 0) / Math.max(1, used.length),
        })
      }
      return out
    },
  }
}

export type EngineApi = ReturnType<typeof engineApi>

function centroidPca(index: SeekIndex): Pca2 {
  const { centroids, params } = index.opened.model
  return pca2(centroids, params.nlist, params.dim)
}
