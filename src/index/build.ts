import type { AsyncBuffer, FileMetaData } from 'hyparquet'
import { parquetMetadataAsync } from 'hyparquet'
import { type BackendChoice, type BackendName, type Kernels, loadKernels } from '../compute/backend.js'
import { KernelPool, type SpawnKernelWorker } from '../compute/pool.js'
import { AbortError, ParquetSeekError, throwIfAborted } from '../errors.js'
import type { ByteSink } from '../io/sink.js'
import { describeEmbeddingColumn, readVectors } from '../parquet/embedding.js'
import { checkMetadata } from '../parquet/guard.js'
import { writeIndexed } from '../parquet/writeIndexed.js'
import { writeBlob } from './blob.js'
import { FORMAT_VERSION, KV } from './keys.js'
import type { IndexParams, Metric } from './model.js'
import type { TrainOptions } from './train.js'
import { encodeAll, normalizeRows, resolveParams, trainModel } from './train.js'
import { tuneNprobe } from './tune.js'

export type BuildPhase = 'read' | 'train-coarse' | 'train-pq' | 'encode' | 'tune' | 'write'
export const BUILD_PHASES: readonly BuildPhase[] = ['read', 'train-coarse', 'train-pq', 'encode', 'tune', 'write']

/** Entries a default query scans at least (see tune). */
const MIN_SCAN = 4096

export interface BuildProgress {
  phase: BuildPhase
  done: number
  total: number
}

export interface BuildOptions extends Omit<TrainOptions, 'onProgress' | 'signal' | 'kernels'> {
  column: string
  metric?: Metric
  skipInvalid?: boolean
  /** The embedding model's name, stored for text queries (default: the input's `parquetseek.model`). */
  model?: string
  /** CPU kernels: `auto` (wasm where WebAssembly SIMD exists, else js), or one forced. */
  backend?: BackendChoice
  /** Threads sharing training and encoding (default 1); threads − 1 workers from spawnWorker. */
  threads?: number
  /** Starts a kernel worker: spawnNodeKernelWorker in Node, a module Worker in browsers. */
  spawnWorker?: SpawnKernelWorker
  /** Name used in messages (a path or URL). */
  file?: string
  signal?: AbortSignal
  onProgress?: (p: BuildProgress) => void
}

export interface BuildSummary {
  params: IndexParams
  column: string
  inputBytes: number
  outputBytes: number
  indexBytes: number
  skippedRows: Array<{ row: number; reason: string }>
  phasesMs: Record<BuildPhase, number>
  backend: BackendName
  /** Threads that shared the work (1 = this thread alone). */
  threads: number
}

/**
 * Reads `source`, trains IVF-PQ on its embedding column and writes the indexed Parquet file to
 * `sink`. The sink is committed only when everything succeeded, and aborted otherwise.
 */
export async function buildIndex(source: AsyncBuffer, sink: ByteSink, o: BuildOptions): Promise<BuildSummary> {
  try {
    const summary = await build(source, sink, o)
    await sink.commit()
    return summary
  } catch (e) {
    await sink.abort()
    throw e
  }
}

async function build(source: AsyncBuffer, sink: ByteSink, o: BuildOptions): Promise<BuildSummary> {
  const kernels = await loadKernels(o.backend)
  const threads = o.threads ?? 1
  if (!Number.isInteger(threads) || threads < 1 || threads > 64) throw new ParquetSeekError(`threads must be 1…64, got ${threads}`)
  if (threads > 1 && !o.spawnWorker) throw new ParquetSeekError('threads > 1 needs spawnWorker (how to start a worker here)')
  const pool = threads > 1 && o.spawnWorker ? await KernelPool.start(o.spawnWorker, threads - 1, kernels.name) : undefined
  try {
    return await buildWith(source, sink, o, kernels, pool)
  } finally {
    pool?.close()
  }
}

async function buildWith(source: AsyncBuffer, sink: ByteSink, o: BuildOptions, kernels: Kernels, pool: KernelPool | undefined) {
  const { file, signal } = o
  const phasesMs = Object.fromEntries(BUILD_PHASES.map((p) => [p, 0])) as Record<BuildPhase, number>
  let phaseStart = performance.now()
  let current: BuildPhase = 'read'
  const enter = (phase: BuildPhase) => {
    const now = performance.now()
    phasesMs[current] += now - phaseStart
    phaseStart = now
    current = phase
  }
  const progress = (phase: BuildPhase, done: number, total: number) => {
    if (signal?.aborted) throw new AbortError()
    if (phase !== current) enter(phase)
    o.onProgress?.({ phase, done, total })
  }
  const metadata = await readMetadata(source, file)
  const column = describeEmbeddingColumn(metadata, o.column, file)
  const embeddingModel = o.model ?? metadata.key_value_metadata?.find((kv) => kv.key === KV.model)?.value ?? undefined
  const vectors = await readVectors(source, metadata, column, {
    file,
    skipInvalid: o.skipInvalid,
    signal,
    onProgress: (done, total) => progress('read', done, total),
  })
  const n = vectors.rowIds.length
  const params = resolveParams(vectors.rows, n, vectors.dim, o)
  if (params.metric === 'cosine') normalizeRows(vectors.data, n, vectors.dim, vectors.rowIds, o.column)
  enter('train-coarse')

  const train: TrainOptions = {
    signal,
    kernels,
    pool,
    onProgress: (phase, done, total) => progress(phase, done, total),
  }
  const model = await trainModel(vectors.data, n, params, train)
  enter('encode')
  const lists = await encodeAll(model, vectors.data, n, vectors.rowIds, train)
  enter('tune')
  // Rows of the data make easier queries than unseen ones (SIFT: 0.98 on its rows, 0.92 on its
  // held-out queries at the same nprobe; on wordnet a third of the lists was needed for 0.95 on
  // held-out queries where rows measured 0.98 at fewer). So the default probes at least a third
  // of the lists and MIN_SCAN entries, and the measurement starts there and only raises it.
  const floor = Math.min(params.nlist, Math.max(Math.ceil(params.nlist / 3), Math.ceil(MIN_SCAN / (n / params.nlist))))
  const tuned = await tuneNprobe(model, lists, vectors.data, vectors.rowIds, {
    seed: params.seed,
    minNprobe: floor,
    kernels,
    signal,
    onProgress: (done, total) => progress('tune', done, total),
  })
  params.nprobe = Math.max(tuned.nprobe, floor)
  params.refine = tuned.refine
  params.tunedRecall = Math.round(tuned.recall * 1000) / 1000
  throwIfAborted(signal)
  enter('write')

  let indexBytes = 0
  const written = await writeIndexed({
    source,
    metadata,
    column,
    sink,
    file,
    signal,
    onProgress: (done, total) => progress('write', done, total),
    makeBlob: (pages) => {
      const entryPages = { offsets: new Float64Array(n), lengths: new Uint32Array(n) }
      for (let e = 0; e < n; e++) {
        const row = lists.rowIds[e] as number
        entryPages.offsets[e] = pages.offsets[row] as number
        entryPages.lengths[e] = pages.lengths[row] as number
      }
      const blob = writeBlob({ params, centroids: model.centroids, codebooks: model.codebooks, lists, pages: entryPages })
      indexBytes = blob.length
      return blob
    },
    keyValues: (offset, length) => [
      { key: KV.version, value: FORMAT_VERSION },
      { key: KV.column, value: column.name },
      { key: KV.offset, value: String(offset) },
      { key: KV.length, value: String(length) },
      { key: KV.params, value: JSON.stringify(params) },
      ...(embeddingModel ? [{ key: KV.model, value: embeddingModel }] : []),
    ],
  })
  enter('write')
  return {
    params,
    column: column.name,
    inputBytes: source.byteLength,
    outputBytes: written.bytes,
    indexBytes,
    skippedRows: vectors.invalid,
    phasesMs,
    backend: kernels.name,
    threads: pool?.threads ?? 1,
  }
}

export async function readMetadata(source: AsyncBuffer, file?: string) {
  if (source.byteLength < 12) throw new ParquetSeekError(`not a Parquet file (${source.byteLength} bytes)`, { file })
  const tail = new Uint8Array(await source.slice(source.byteLength - 4, source.byteLength))
  if (String.fromCharCode(...tail) !== 'PAR1') {
    throw new ParquetSeekError('not a Parquet file (no PAR1 magic at the end)', { file, offset: source.byteLength - 4 })
  }
  let metadata: FileMetaData
  try {
    metadata = await parquetMetadataAsync(source)
  } catch (e) {
    throw new ParquetSeekError(`unreadable Parquet footer (${(e as Error).message})`, { file })
  }
  checkMetadata(metadata, source.byteLength, file)
  return metadata
}
