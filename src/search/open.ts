import type { FileMetaData } from 'hyparquet'
import type { SearchBackend } from '../compute/backend.js'
import { NoIndexError, ParquetSeekError } from '../errors.js'
import type { DirectoryEntry, Trailer } from '../index/blob.js'
import { parseTrailer, TRAILER_BYTES } from '../index/blob.js'
import { footerValue, PQ_VECTOR_KEY } from '../index/keys.js'
import { headSections, type IndexLocation, locateIndex } from '../index/locate.js'
import type { IvfPqModel, Metric } from '../index/model.js'
import { pqLayout } from '../index/pq.js'
import { type FileInput, readable, TAKES_ADDRESS } from '../io/blobSource.js'
import { CachedSource } from '../io/cache.js'
import { addressEndsWith } from '../io/fileUrl.js'
import { type HttpOptions, openHttp } from '../io/httpSource.js'
import { withLocalFile } from '../io/local.js'
import { type ByteSource, type ConnectionLimiter, CountingSource, type RoundTripClock } from '../io/source.js'
import { describeEmbeddingColumn, type EmbeddingColumn } from '../parquet/embedding.js'
import { footerLength, parseFooter } from '../parquet/footer.js'
import type { SpawnWorker } from './pageDecoding.js'

export interface OpenOptions {
  /**
   * Bytes of the file's end read first (DEFAULT_TAIL); covers footer + index head for most files
   * (a dataset's shards share theirs: tailShare).
   */
  tailBytes?: number
  /**
   * Byte budget for cached inverted lists and other reads, and a quarter of it for candidates'
   * decoded vectors (default DEFAULT_CACHE_BYTES; a dataset's or a sidecar's files share theirs: cacheShare).
   */
  cacheBytes?: number
  http?: Omit<HttpOptions, 'tailBytes' | 'signal'>
  /**
   * Kernels for scoring: `auto` (wasm where WebAssembly SIMD exists, else js), one forced, or
   * `gpu`: the list scan, top-k and refinement on WebGPU (the CPU does the rest; the same rows
   * as the CPU, distances to float rounding).
   */
  backend?: SearchBackend
  /**
   * Most bytes one search (or the open) may read (default 256 MiB): a damaged or hostile file
   * that would make a query read more fails with an error naming this option instead.
   */
  maxBytesPerQuery?: number
  /** Requests a search keeps in flight at once (default 16; a browser allows about 6 per host on HTTP/1.1). */
  connections?: number
  /** The WebGPU entry point for `gpu` (default: navigator.gpu; in Node, nodeGpu()). */
  gpu?: GPU
  /** Round trips counted together with other sources' (a dataset's shards, searched in parallel). */
  clock?: RoundTripClock
  /**
   * Threads decoding a large search's vector pages (default 1): the calling one and threads − 1
   * workers started by `spawnWorker` when a search first decodes enough pages to share
   * (search/pageDecoding.ts: a batch of some hundreds of queries), stopped by `close()`.
   */
  threads?: number
  /** How to start a page worker here (Node: spawnNodePageWorker; a browser: a module Worker exposing pageWorkerApi()). */
  spawnWorker?: SpawnWorker
  /** Connections shared with other sources on the same host (a dataset's shards). */
  limiter?: ConnectionLimiter
  signal?: AbortSignal
}

export interface OpenedIndex {
  raw: ByteSource
  counting: CountingSource
  cached: CachedSource
  metadata: FileMetaData
  column: EmbeddingColumn
  location: IndexLocation
  trailer: Trailer
  model: IvfPqModel
  directory: DirectoryEntry[]
  /** Absolute file offset of the lists section. */
  listsOffset: number
  /** Byte range of the non-embedding page indexes, when not yet in memory. */
  pageIndex: { start: number; end: number } | undefined
  open: { bytes: number; requests: number; roundTrips: number; ms: number }
  /** Lets go of what the open took hold of (a local file's handle; a later read takes it again). */
  release?: () => Promise<void>
}

const DEFAULT_TAIL = 1 << 20
/** The least a shard of many reads first: footers of a few hundred columns, a small index head. */
const MIN_SHARED_TAIL = 64 << 10
export const DEFAULT_MAX_BYTES = 256 << 20
/** Bytes an opened file keeps of what it read (lists, other reads, decoded vectors): OpenOptions.cacheBytes. */
export const DEFAULT_CACHE_BYTES = 64 << 20

/**
 * What each of `files` searched together (a manifest's shards, a sidecar's sources) keeps: `total`
 * shared out evenly, so all of them keep at most it, however many there are. By default as much
 * as up to four files would keep alone (256 MiB), so a few files keep as much each as one does.
 */
export function cacheShare(files: number, total?: number): number {
  return Math.floor((total ?? DEFAULT_CACHE_BYTES * Math.min(4, files)) / Math.max(1, files))
}

/**
 * What each of `files` opened together (a manifest's shards) reads first: as much as four files
 * would read alone (4 MiB), shared out evenly, between MIN_SHARED_TAIL and DEFAULT_TAIL each — so
 * opening 32 shards reads 4 MiB, not 32, and a shard whose head lies further back reads the rest
 * in one more request.
 */
export function tailShare(files: number): number {
  return Math.min(DEFAULT_TAIL, Math.max(MIN_SHARED_TAIL, Math.floor((4 * DEFAULT_TAIL) / Math.max(1, files))))
}

/**
 * Reads footer, index trailer and head (centroids, codebooks, directory) and the page indexes
 * that projection needs — one suffix read when they fit in `tailBytes`, two otherwise.
 */
export async function openSource(given: FileInput | string, o: OpenOptions = {}): Promise<OpenedIndex> {
  const input = typeof given === 'string' ? given : readable(given, 'openIndex', TAKES_ADDRESS)
  // a local path (Node): the file, its handle let go by `release`
  if (typeof input === 'string') {
    const local = await withLocalFile(input, async (file) => ({ ...(await openSource(file, o)), release: () => file.close() }))
    if (local) return local
  }
  const t0 = performance.now()
  const tailBytes = o.tailBytes ?? DEFAULT_TAIL
  let raw: ByteSource
  let tail: Uint8Array
  let tailStart: number
  const io = { bytes: 0, requests: 0, roundTrips: 0 }
  if (typeof input === 'string') {
    const opened = await openHttp(input, { ...o.http, tailBytes, signal: o.signal })
    raw = opened.source
    tail = opened.tail
    tailStart = opened.tailStart
    io.bytes += tail.length
    io.requests += opened.requests
    io.roundTrips += opened.roundTrips
  } else {
    raw = input
    tailStart = Math.max(0, raw.byteLength - tailBytes)
    tail = new Uint8Array(await raw.slice(tailStart, raw.byteLength, o.signal))
    io.bytes += tail.length
    io.requests++
    io.roundTrips++
  }
  const file = raw.name
  const size = raw.byteLength
  const counting = new CountingSource(raw, o.clock, o.limiter)
  const cached = new CachedSource(counting, o.cacheBytes ?? DEFAULT_CACHE_BYTES)
  // a sidecar or a manifest handed to openIndex: said so, with what opens it
  const magic = String.fromCharCode(...tail.subarray(tail.length - 4))
  // (a byte source a caller made may have no name)
  if (magic !== 'PAR1' && addressEndsWith(file ?? '', '.pqseek'))
    throw new ParquetSeekError('is a sidecar index, not an indexed Parquet file: SidecarIndex.openUrl (or .open) opens it', { file })
  if (magic !== 'PAR1' && addressEndsWith(file ?? '', '.json'))
    throw new ParquetSeekError('is a manifest, not an indexed Parquet file: SeekDataset.fromManifest opens it', { file })
  const footerStart = size - 8 - footerLength(tail, size, file)

  // Everything open needs must be in memory; read what the first request missed, in one go.
  const maxBytes = o.maxBytesPerQuery ?? DEFAULT_MAX_BYTES
  const ensure = async (start: number) => {
    if (start >= tailStart) return
    if (tail.length + tailStart - start > maxBytes)
      throw new ParquetSeekError(`opening needs ${tail.length + tailStart - start} bytes, over maxBytesPerQuery (${maxBytes})`, {
        file,
        offset: start,
      })
    const more = new Uint8Array(await counting.slice(start, tailStart, o.signal))
    io.roundTrips++
    const merged = new Uint8Array(tail.length + more.length)
    merged.set(more)
    merged.set(tail, more.length)
    tail = merged
    tailStart = start
  }
  await ensure(footerStart)
  const metadata = parseFooter(tail.subarray(footerStart - tailStart), size, file, footerStart)
  const location = locateIndex(metadata, size, file)
  if (!location)
    throw new NoIndexError(
      file,
      footerValue(metadata, PQ_VECTOR_KEY) === undefined
        ? undefined
        : 'this Parquet file holds a pq-vector index, not a ParquetSeek one: PqVectorFile.open searches it, or `parquetseek index` builds one',
    )
  const column = describeEmbeddingColumn(metadata, location.column, file)
  const blobEnd = location.offset + location.length
  await ensure(Math.max(location.offset, blobEnd - TRAILER_BYTES - 64 * 32))
  const ctx = { file, blobOffset: location.offset }
  const trailerBytes = tail.subarray(Math.max(0, location.offset - tailStart), blobEnd - tailStart)
  const trailer = parseTrailer(trailerBytes, location.length, ctx)
  if (trailer.params.rows !== Number(metadata.num_rows))
    throw new ParquetSeekError(`the index covers ${trailer.params.rows} rows, the file has ${metadata.num_rows}`, {
      file,
      section: 'trailer',
      offset: blobEnd - TRAILER_BYTES,
    })
  const headStart = blobEnd - trailer.headBytes
  let pageIndexStart = headStart
  for (const group of metadata.row_groups) {
    for (const [c, chunk] of group.columns.entries()) {
      if (c !== column.leafIndex && chunk.offset_index_offset !== undefined)
        pageIndexStart = Math.min(pageIndexStart, Number(chunk.offset_index_offset))
    }
  }
  await ensure(headStart)
  cached.pin(tailStart, tail)
  // The other columns' offset indexes (written just before the blob) let projection read only
  // the pages of result rows. When the first read missed them, the first search fetches them
  // alongside its lists, so they cost no round trip of their own.
  const pageIndex = pageIndexStart < tailStart ? { start: pageIndexStart, end: Math.min(tailStart, location.offset) } : undefined

  const head = headSections(tail, tailStart - location.offset, trailer, ctx)
  const { params } = trailer
  const kv = location.params as {
    sample?: number
    seed?: number
    coarseIterations?: number
    pqIterations?: number
    nprobe?: number
    refine?: number
    tunedRecall?: number
    slack?: number
    refineSlack?: number
    clustered?: boolean
  }
  const model: IvfPqModel = {
    params: {
      ...params,
      metric: params.metric as Metric,
      sample: kv.sample ?? 0,
      seed: kv.seed ?? 0,
      coarseIterations: kv.coarseIterations ?? 0,
      pqIterations: kv.pqIterations ?? 0,
      nprobe: Number.isInteger(kv.nprobe) && (kv.nprobe as number) >= 1 ? Math.min(params.nlist, kv.nprobe as number) : undefined,
      refine: Number.isInteger(kv.refine) && (kv.refine as number) >= 1 ? Math.min(1000, kv.refine as number) : undefined,
      tunedRecall: kv.tunedRecall,
      // a slack that is not a finite number ≥ 0 (a damaged or hand-edited entry) is ignored: fixed probing
      ...(typeof kv.slack === 'number' && kv.slack >= 0 && Number.isFinite(kv.slack) ? { slack: kv.slack } : {}),
      ...(typeof kv.refineSlack === 'number' && kv.refineSlack >= 0 && Number.isFinite(kv.refineSlack)
        ? { refineSlack: kv.refineSlack }
        : {}),
      ...(kv.clustered === true ? { clustered: true } : {}),
      ...(head.spilled ? { spilled: true } : {}),
    },
    centroids: head.centroids,
    codebooks: head.codebooks,
    layout: pqLayout(params.dim, params.m, params.nbits),
  }
  const { directory } = head
  io.requests += counting.counts.requests
  io.bytes += counting.counts.bytes
  counting.counts.requests = 0
  counting.counts.bytes = 0
  return {
    raw,
    counting,
    cached,
    metadata,
    column,
    location,
    trailer,
    model,
    directory,
    listsOffset: location.offset + trailer.sections.lists.offset,
    pageIndex,
    open: { ...io, ms: performance.now() - t0 },
  }
}
