import type { AsyncBuffer, FileMetaData } from 'hyparquet'
import { type BackendName, type Kernels, loadKernels, type SearchBackend } from '../compute/backend.js'
import type { GpuBuild } from '../compute/gpu/build.js'
import { float32Query, kernelKind } from '../compute/metric.js'
import { type KeptWorkers, type KernelPool, type SpawnKernelWorker, withPool } from '../compute/pool.js'
import { mulberry32, sampleIndices } from '../compute/random.js'
import { spillGraph } from '../compute/spill.js'
import { AbortError, GpuError, ParquetSeekError, throwIfAborted } from '../errors.js'
import { type FileInput, readable, TAKES_FILE } from '../io/blobSource.js'
import { localEnds } from '../io/local.js'
import type { ByteSink } from '../io/sink.js'
import { describeEmbeddingColumn, type EmbeddingColumn, forEachVectorBlock, readVectors } from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { permuteProblem } from '../parquet/permute.js'
import { writeIndexed } from '../parquet/writeIndexed.js'
import { storageOrder, writeBlob } from './blob.js'
import { FORMAT_VERSION, footerValue, KV } from './keys.js'
import type { IndexParams, InvertedLists, IvfPqModel, Metric } from './model.js'
import { defaults, ownEnd } from './model.js'
import { orderWithinLists } from './rowOrder.js'
import { encodeSource, Reservoir, truthOf } from './stream.js'
import type { TrainOptions } from './train.js'
import { encodeAll, groupByList, normalizeRows, resolveParams, trainModel } from './train.js'
import { NO_ROW, TUNE_ROWS, type TuneResult, tuneFromTruth, tuneNprobe } from './tune.js'

/** `reorder`: with clusterRows only, every column decoded to be written in list order. */
export type BuildPhase = 'read' | 'train-coarse' | 'train-pq' | 'encode' | 'tune' | 'reorder' | 'write'
export const BUILD_PHASES: readonly BuildPhase[] = ['read', 'train-coarse', 'train-pq', 'encode', 'tune', 'reorder', 'write']

/**
 * Entries a default query scans at least: ~4,096 × (m + 7) bytes, a request or two, so on a
 * small file probing fewer lists saves nothing a user would notice (see nprobeFloor).
 */
const MIN_SCAN = 4096
/** Vectors a build holds in memory by default (`--memory-mb`): the in-memory build, a sidecar build's training pass. */
export const DEFAULT_MEMORY_BYTES = 1 << 30
const mib = (n: number) => Math.ceil(n / 2 ** 20)

export interface BuildProgress {
  phase: BuildPhase
  done: number
  total: number
}

export interface BuildOptions extends Omit<TrainOptions, 'onProgress' | 'signal' | 'kernels' | 'gpu' | 'pool' | 'spill'> {
  column: string
  metric?: Metric
  skipInvalid?: boolean
  /** The embedding model's name, stored for text queries (default: the input's `parquetseek.model`). */
  model?: string
  /**
   * Kernels: `auto` (wasm where WebAssembly SIMD exists, else js), one forced, or `gpu`: k-means,
   * assignment and encoding on WebGPU (an index of the same quality; falls back to the CPU).
   */
  backend?: SearchBackend
  /** The WebGPU entry point for `gpu` (default: navigator.gpu; in Node, nodeGpu()). */
  gpu?: GPU
  /**
   * Budget for holding every vector in memory (default 1 GiB); a larger embedding column is
   * built in two streaming passes (sample, then encode row group by row group) instead. With
   * `clusterRows`, also the decoded rows held at once while they are written in their new order: a
   * file whose rows take more is read once for each window of rows that fits.
   */
  memoryBytes?: number
  /**
   * What this device can give the build at most (default: no limit; the browser sets it from
   * navigator.deviceMemory). A file needing more is refused up front, with the sizes.
   */
  memoryLimitBytes?: number
  /** Threads sharing training, encoding and the tune step (default 1); threads − 1 workers from spawnWorker. */
  threads?: number
  /** Starts a kernel worker: spawnNodeKernelWorker in Node, a module Worker in browsers. */
  spawnWorker?: SpawnKernelWorker
  /**
   * Workers kept for the next build (several files built in turn): this build takes those an
   * earlier one left there, or starts them there, and leaves them for the next; the caller ends
   * them (`close()`). The same bytes are written either way.
   */
  workers?: KeptWorkers
  /**
   * Held-out queries (row-major, the column's dimension each), like the ones the index will
   * meet: the default nprobe and refine are measured on them (recall@10 against exact search
   * over every row), with no floor. Without them, rows of the data serve (each left out of its
   * own answer), and the default probes at least `nprobeFloor` lists (4,096 entries).
   */
  tuneQueries?: ArrayLike<number>[]
  /**
   * The recall@10 the default nprobe and refine are tuned to reach on the tune queries (default
   * 0.98; with `tuneQueries`, 0.96 where 0.98's reads cost over 1.25 times as much: tune.ts):
   * lower reads less a query. Queries not tuned on score about 0.01 either side of it
   * (docs/BENCHMARKS.md).
   */
  targetRecall?: number
  /**
   * Store the rows list by list (lists in their storage order, near rows together inside each), so a
   * query's candidates lie close together in the file and a host that answers one range a
   * request serves them in a few requests. Every column is rewritten in that order and the
   * input's row numbers are kept in a `parquetseek_row` column. Needs every other column flat
   * (numbers, booleans, strings, dates and times, DECIMALs of up to 15 digits), a list or a struct
   * of such values (repage.ts canRepage).
   */
  clusterRows?: boolean
  /**
   * Store rows near a list boundary in a second list too, chosen as SOAR does (compute/spill.ts):
   * a query finds as many true neighbours in fewer lists, so it reads fewer stretches of the
   * file, for a larger index. Default: from SPILL_MIN_LISTS lists up, where it pays.
   */
  spill?: boolean
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
  backend: BackendName | 'gpu'
  /** Set when `gpu` was asked for but failed: the CPU built the index instead, and why. */
  gpuFallback?: string
  /** With backend `gpu`: the adapter and its tunables, in words. */
  device?: string
  /** Threads that shared the work (1 = this thread alone). */
  threads: number
  /** True when the vectors exceeded the memory budget and were streamed in two passes. */
  streamed: boolean
}

/**
 * Reads `input`, trains IVF-PQ on its embedding column and writes the indexed Parquet file to
 * `output`. The output is committed only when everything succeeded, and aborted otherwise. In
 * Node both may be paths: the output is written beside it under a temporary name, renamed when
 * complete, and never over the input.
 */
export async function buildIndex(
  input: AsyncBuffer | FileInput | string,
  output: ByteSink | string,
  o: BuildOptions,
): Promise<BuildSummary> {
  const { input: given, sink, done } = await localEnds(input, output, 'buildIndex')
  try {
    const summary = await build(readable(given, 'buildIndex', TAKES_FILE), sink, o)
    await sink.commit()
    return summary
  } catch (e) {
    await sink.abort()
    throw e
  } finally {
    await done()
  }
}

async function build(source: AsyncBuffer, sink: ByteSink, o: BuildOptions): Promise<BuildSummary> {
  checkTargetRecall(o) // before anything is read
  const kernels = await loadKernels(o.backend)
  const gpu = o.backend === 'gpu' ? await (await import('../compute/gpu/open.js')).openGpuBuild(o.gpu, o.signal) : undefined
  return withPool(o.threads ?? 1, o.spawnWorker, kernels.name, (pool) => buildWith(source, sink, o, kernels, pool, gpu), o.workers)
}

async function buildWith(
  source: AsyncBuffer,
  sink: ByteSink,
  o: BuildOptions,
  kernels: Kernels,
  pool: KernelPool | undefined,
  gpu: GpuBuild | undefined,
) {
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
  const embeddingModel = o.model ?? footerValue(metadata, KV.model)
  const train: TrainOptions = {
    signal,
    kernels,
    pool,
    gpu,
    onProgress: (phase, done, total) => progress(phase, done, total),
  }
  // the float32 matrix of all vectors, as the column's decoded size estimates it
  const matrixBytes = metadata.row_groups.reduce(
    (sum, g) => sum + Number(g.columns[column.leafIndex]?.meta_data?.total_uncompressed_size ?? 0),
    0,
  )
  const limit = o.memoryLimitBytes ?? Number.POSITIVE_INFINITY
  const budget = o.memoryBytes ?? DEFAULT_MEMORY_BYTES
  const streamed = matrixBytes > Math.min(limit / 2, budget)
  // streaming still holds n × (m + 8) bytes of codes and ids (m + 4 more for rows it may spill), and one row group of vectors
  const rows = Number(metadata.num_rows)
  const dimGuess = column.dim ?? Math.max(1, Math.round(matrixBytes / 4 / Math.max(1, rows)))
  const m = o.m ?? defaults.m(dimGuess)
  const largestGroup = Math.max(
    ...metadata.row_groups.map((g) => Number(g.columns[column.leafIndex]?.meta_data?.total_uncompressed_size ?? 0)),
  )
  // clustered rows: the writer also holds the columns of a window of rows decoded (JS values: about
  // twice their bytes), as many rows as the budget takes (permuteRows)
  const otherBytes = metadata.row_groups.reduce(
    (sum, g) =>
      sum + g.columns.reduce((n, c, i) => n + (i === column.leafIndex ? 0 : Number(c.meta_data?.total_uncompressed_size ?? 0)), 0),
    0,
  )
  const heldToReorder = o.clusterRows ? Math.min(2 * otherBytes + (streamed ? matrixBytes : 0), budget) : 0
  const needed =
    (streamed ? rows * (m + 8 + (o.spill === false ? 0 : m + 4)) + 2 * largestGroup + 64_000 * dimGuess * 4 : 2 * matrixBytes) +
    heldToReorder
  if (needed > limit)
    throw new ParquetSeekError(
      `indexing needs about ${mib(needed)} MiB here (${streamed ? `${rows} rows × ${m + 8 + (o.spill === false ? 0 : m + 4)} bytes of codes and ids, plus the largest row group` : 'the vectors twice'}${heldToReorder ? ', and rows decoded to store them list by list' : ''}), more than the ${mib(limit)} MiB this device allows`,
      { file, column: column.name },
    )
  if (o.clusterRows) {
    const problem = permuteProblem(metadata, column)
    if (problem) throw new ParquetSeekError(problem, { file })
  }
  const context: ModelContext = { source, metadata, column, o, kernels, train, progress, enter }
  const modelOf = (c: ModelContext) => (streamed ? streamingModel(c) : inMemoryModel(c))
  let built: Built
  let gpuFallback: string | undefined
  try {
    built = await modelOf(context)
  } catch (e) {
    if (!(e instanceof GpuError)) throw e
    // the device was lost or refused the work: the CPU builds the same index
    gpuFallback = `${e.message}; built on the CPU (${kernels.name}) instead`
    built = await modelOf({ ...context, train: { ...train, gpu: undefined } })
  }
  const { params, model, lists } = built
  const n = lists.rowIds.length
  throwIfAborted(signal)
  enter(o.clusterRows ? 'reorder' : 'write')
  let order: Uint32Array | undefined
  // computed once: the blob stores the lists in it, and clustered rows follow it (4 s at 4,000 lists)
  const { storage } = built
  if (o.clusterRows) {
    order = clusteredOrder(lists, storage, rows)
    const moved = new Uint32Array(rows)
    for (const [i, row] of order.entries()) moved[row] = i
    for (let e = 0; e < n; e++) lists.rowIds[e] = moved[lists.rowIds[e] as number] as number
    params.clustered = true
  }

  let indexBytes = 0
  const written = await writeIndexed({
    source,
    metadata,
    column,
    order,
    vectors: built.vectors,
    sink,
    file,
    signal,
    reorderBytes: budget,
    onReorder: (done, total) => progress('reorder', done, total),
    onProgress: (done, total) => progress('write', done, total),
    makeBlob: (pages) => {
      const entryPages = { offsets: new Float64Array(n), lengths: new Uint32Array(n) }
      for (let e = 0; e < n; e++) {
        const row = lists.rowIds[e] as number
        entryPages.offsets[e] = pages.offsets[row] as number
        entryPages.lengths[e] = pages.lengths[row] as number
      }
      const blob = writeBlob({ params, centroids: model.centroids, codebooks: model.codebooks, lists, pages: entryPages, storage })
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
    skippedRows: built.invalid,
    phasesMs,
    backend: gpu && !gpuFallback ? ('gpu' as const) : kernels.name,
    ...(gpuFallback ? { gpuFallback } : {}),
    ...(gpu && !gpuFallback ? { device: gpu.device } : {}),
    threads: pool?.threads ?? 1,
    streamed,
  }
}

/**
 * Clustered rows: output row i is input row order[i] — the rows of each list, lists in the
 * order the blob stores them, rows inside a list in their entries' order (rowOrder.ts); rows
 * outside the index (invalid vectors) last, ascending.
 */
function clusteredOrder(lists: InvertedLists, storage: Uint32Array, rows: number): Uint32Array {
  const order = new Uint32Array(rows)
  const placed = new Uint8Array(rows)
  let at = 0
  for (const l of storage) {
    for (let e = lists.listStart[l] as number; e < ownEnd(lists, l); e++) {
      const row = lists.rowIds[e] as number
      order[at++] = row
      placed[row] = 1
    }
  }
  for (let row = 0; row < rows; row++) if (!placed[row]) order[at++] = row
  return order
}

type Progress = (phase: BuildPhase, done: number, total: number) => void

/** What both ways of building the model work from. */
interface ModelContext {
  source: AsyncBuffer
  metadata: FileMetaData
  column: EmbeddingColumn
  o: BuildOptions
  kernels: Kernels
  train: TrainOptions
  progress: Progress
  enter: (phase: BuildPhase) => void
}

interface Built {
  params: IndexParams
  model: IvfPqModel
  lists: InvertedLists
  invalid: Array<{ row: number; reason: string }>
  /** The lists' storage order (blob.ts storageOrder), computed for the tune step. */
  storage: Uint32Array
  /**
   * Every row's vector as read (not normalized), row-major, when the writer can take them instead
   * of decoding the column a second time to store rows list by list (permute.ts vectorStore).
   */
  vectors?: Float32Array
}

/** `o.targetRecall` must be a recall a tune can aim at. */
function checkTargetRecall(o: BuildOptions): void {
  const t = o.targetRecall
  if (t !== undefined && !(t > 0 && t <= 1))
    throw new ParquetSeekError(`targetRecall must be a recall@10 above 0 and at most 1; got ${t}`, { file: o.file, column: o.column })
}

/** `o.tuneQueries` checked against the index and prepared for its metric, as one matrix (a copy), or undefined. */
function tuneQueries(o: BuildOptions, params: IndexParams): Float32Array | undefined {
  const q = o.tuneQueries
  if (!q) return undefined
  const { dim } = params
  if (q.length === 0)
    throw new ParquetSeekError('tuneQueries is empty: give held-out queries, or leave it out', { file: o.file, column: o.column })
  const out = new Float32Array(q.length * dim)
  for (const [i, v] of q.entries()) {
    const f = float32Query(v, i, 'tune query')
    if (f.length !== dim)
      throw new ParquetSeekError(`tune query ${i} has ${f.length} numbers; the column's vectors have ${dim}`, {
        file: o.file,
        column: o.column,
      })
    out.set(f, i * dim)
  }
  if (params.metric === 'cosine') normalizeRows(out, q.length, dim, Uint32Array.from(q.keys()), 'tuneQueries')
  return out
}

/**
 * The default nprobe is at least this: lists enough to scan MIN_SCAN entries. Not a share of
 * the lists — the build measures nprobe on rows of the data left out of their own answers, and
 * on rows drawn at random that predicts unseen queries of the same distribution (wordnet cosine,
 * 200 rows vs 200 held-out words spread over the query set, nprobe 100 of 1,000: recall@10 0.957
 * vs 0.955; glove: 0.956 vs 0.963 at 18 of 357; `npm run bench:rows`). The floor only matters
 * on small files, where it also covers queries from another collection than the rows (SIFT-5k's:
 * 0.775 at 16 of 156 lists, where its rows reach 0.972; 0.999 at the floor's 128); on large
 * files pass such queries as tuneQueries.
 */
export function nprobeFloor(params: IndexParams, n: number): number {
  return Math.min(params.nlist, Math.max(1, Math.ceil(MIN_SCAN / (n / params.nlist))))
}

/** All vectors in one matrix: train on a sample, encode every row, tune with exact refinement. */
async function inMemoryModel({ source, metadata, column, o, kernels, train, progress, enter }: ModelContext): Promise<Built> {
  const { file, signal } = o
  const vectors = await readVectors(source, metadata, column, {
    file,
    skipInvalid: o.skipInvalid,
    // the tune step's workers search the vectors where they lie (the GPU is sent its own copy)
    shared: !!train.pool && !train.gpu,
    signal,
    onProgress: (done, total) => progress('read', done, total),
  })
  const n = vectors.rowIds.length
  const params = resolveParams(vectors.rows, n, vectors.dim, o)
  const heldOut = tuneQueries(o, params) // checked before any training
  // rows stored list by list from these, not from a second decode of the column (10 s at 1 M ×
  // 100-d): lists of values exact in float32 only (FLOAT, FLOAT16, small integers; doubles were
  // rounded here), every row valid, so row i is vector i; a copy before normalizing for cosine
  // (the memory estimate counts the vectors twice)
  const whole = o.clusterRows && column.kind === 'list' && column.element !== 'DOUBLE' && n === vectors.rows
  const original = whole ? (params.metric === 'cosine' ? vectors.data.slice() : vectors.data) : undefined
  if (params.metric === 'cosine') normalizeRows(vectors.data, n, vectors.dim, vectors.rowIds, o.column)
  enter('train-coarse')
  const model = await trainModel(vectors.data, n, params, train)
  enter('encode')
  const lists = await encodeAll(model, vectors.data, n, vectors.rowIds, withSpill(train, model, o, kernels))
  if (o.clusterRows) {
    // before the tune step, which prices candidate pages where the file will hold them
    const slot = new Uint32Array(vectors.rows)
    for (const [i, row] of vectors.rowIds.entries()) slot[row] = i
    await orderWithinLists(lists, vectors.data, (row) => slot[row] as number, params.dim, params.m, signal, kernels)
  }
  enter('tune')
  const floor = heldOut ? 1 : nprobeFloor(params, n)
  // the tune step prices reads where the file will hold them; the blob and clustered rows use it too
  // (lists the data's rows read together side by side)
  const storage = storageOrder(model.centroids, params.nlist, params.dim, kernels, {
    data: vectors.data,
    n,
    kind: kernelKind(params.metric),
  })
  const tuned = await tuneNprobe(model, lists, vectors.data, vectors.rowIds, {
    seed: params.seed,
    target: o.targetRecall,
    minNprobe: floor,
    heldOut,
    clustered: o.clusterRows,
    storage,
    kernels,
    pool: train.pool,
    gpu: train.gpu,
    signal,
    onProgress: (done, total) => progress('tune', done, total),
  })
  storeTuned(params, tuned, floor)
  return { params, model, lists, invalid: vectors.invalid, storage, vectors: original }
}

/**
 * For inputs whose vectors do not fit the memory budget: two passes over the row groups.
 * Pass 1 keeps a seeded reservoir sample (the training set and the tune queries); pass 2
 * encodes each row group as it is read and keeps, for the tune queries, their exact nearest
 * rows. Memory: the sample, n × (m + 8) bytes of codes and ids, one block of rows (rowBlocks).
 */
async function streamingModel({ source, metadata, column, o, kernels, train, progress, enter }: ModelContext): Promise<Built> {
  const { file, signal } = o
  const rows = Number(metadata.num_rows)
  const cosine = (o.metric ?? 'l2') === 'cosine'
  const rand = mulberry32((o.seed ?? defaults.seed) + 5)
  const invalid: Array<{ row: number; reason: string }> = []
  let reservoir: Reservoir | undefined
  const { dim, valid: n } = await forEachVectorBlock(
    source,
    metadata,
    column,
    { file, skipInvalid: o.skipInvalid, signal, onProgress: (done, total) => progress('read', done, total) },
    (block) => {
      if (cosine) normalizeRows(block.data, block.rowIds.length, block.dim, block.rowIds, o.column)
      reservoir ??= new Reservoir(resolveParams(rows, rows, block.dim, o).sample, block.dim, rand)
      reservoir.offer(block)
    },
    (bad) => invalid.push(bad),
  )
  const sample = reservoir as Reservoir
  const kept = sample.size
  const params = resolveParams(rows, n, dim, { ...o, sample: Math.min(kept, o.sample ?? kept) })
  const heldOut = tuneQueries(o, params) // checked before any training
  enter('train-coarse')
  const model = await trainModel(sample.data.subarray(0, kept * dim), kept, params, train)

  // tune queries: the caller's held-out ones, or rows of the sample; their truth is gathered during pass 2
  const picks = heldOut ? [] : sampleIndices(kept, Math.min(kept, TUNE_ROWS), mulberry32(params.seed + 3))
  const queryData = heldOut ?? new Float32Array(picks.length * dim)
  for (const [i, p] of picks.entries()) queryData.set(sample.data.subarray(p * dim, (p + 1) * dim), i * dim)
  const queryRows = heldOut
    ? new Uint32Array(heldOut.length / dim).fill(NO_ROW)
    : Uint32Array.from(picks, (p) => sample.origins[2 * p + 1] as number)

  enter('encode')
  const encoded = await encodeSource(source, metadata, column, model, queryData, {
    file,
    skipInvalid: o.skipInvalid,
    train: withSpill(train, model, o, kernels),
    counter: { done: 0, total: n },
  })
  const lists = groupByList(encoded, encoded.rowIds, params.nlist, params.m)

  enter('tune')
  const truth = encoded.nearest.map((candidates, qi) => truthOf(candidates, queryRows[qi] as number))
  const floor = heldOut ? 1 : nprobeFloor(params, n)
  const storage = storageOrder(model.centroids, params.nlist, params.dim, kernels, {
    data: sample.data.subarray(0, kept * dim),
    n: kept,
    kind: kernelKind(params.metric),
  })
  const tuned = await tuneFromTruth(
    model,
    lists,
    { data: queryData, rowIds: queryRows, truth },
    {
      target: o.targetRecall,
      minNprobe: floor,
      storage,
      kernels,
      pool: train.pool,
      gpu: train.gpu,
      signal,
      onProgress: (done, total) => progress('tune', done, total),
    },
  )
  storeTuned(params, tuned, floor)
  return { params, model, lists, invalid, storage }
}

/**
 * Lists from which a build spills rows by default. Where a query probes a large share of few
 * lists they come in long runs anyway, and spilled rows only add bytes: wordnet cosine (62 k
 * rows, 1,000 lists, tuned on its rows, s3) read 0.986 in 440 KiB and 10.4 requests a query
 * without them, 0.987 in 698 KiB and 12.5 with; on 300 k rows (2,191 lists, held-out tuning)
 * 0.9615 in 476 KiB and 13.9 requests without, 0.969 in 357 KiB and 10.5 with (2026-12-04).
 */
export const SPILL_MIN_LISTS = 2048

/** Train options encoding rows into second lists too where the build spills (marked in the params). */
function withSpill(train: TrainOptions, model: IvfPqModel, o: BuildOptions, kernels: Kernels): TrainOptions {
  const { params } = model
  const wanted = o.spill ?? params.nlist >= SPILL_MIN_LISTS
  const spill = wanted ? spillGraph(model.centroids, params.nlist, params.dim, kernels) : undefined
  if (spill) params.spilled = true
  return { ...train, spill }
}

/** The tuned defaults, stored in the index's parameters (nprobe never below the build's floor). */
function storeTuned(params: IndexParams, tuned: TuneResult, floor: number): void {
  params.nprobe = Math.max(tuned.nprobe, floor)
  params.refine = tuned.refine
  if (tuned.slack !== undefined) params.slack = tuned.slack
  if (tuned.refineSlack !== undefined) params.refineSlack = tuned.refineSlack
  params.tunedRecall = Math.round(tuned.recall * 1000) / 1000
}
