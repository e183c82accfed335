import { loadKernels } from '../compute/backend.js'
import { mulberry32, sampleIndices } from '../compute/random.js'
import { AbortError, ParquetSeekError, throwIfAborted } from '../errors.js'
import type { ByteSink } from '../io/sink.js'
import type { ByteSource } from '../io/source.js'
import { describeEmbeddingColumn, forEachVectorBlock, type InvalidRow } from '../parquet/embedding.js'
import { openingTail, readMetadata } from '../parquet/footer.js'
import { LITTLE_ENDIAN } from '../parquet/numbers.js'
import { walkFilePages } from '../parquet/pageLocations.js'
import { type BuildProgress, DEFAULT_MEMORY_BYTES, nprobeFloor } from './build.js'
import { onGrid } from './centroids.js'
import { readContainer, sectionAs, writeContainer } from './container.js'
import type { IndexParams, InvertedLists, IvfPqModel, Metric } from './model.js'
import { defaults } from './model.js'
import { codebookRows, pqLayout } from './pq.js'
import {
  footerHash,
  type SidecarSource,
  type SidecarVectorsWriter,
  type StoredPageTable,
  storedPageTable,
  writeSidecar,
} from './sidecarFile.js'
import { encodeSource, type HeldVectors, Reservoir, TRUTH_KEEP, truthOf } from './stream.js'
import { groupByList, normalizeRows, type ParamOptions, resolveParams, type TrainOptions, trainModel } from './train.js'
import { TUNE_ROWS, tuneFromTruth } from './tune.js'

/**
 * One index over many Parquet files, in three steps that can run apart (a batch system runs
 * the encoding of each file in parallel, on other machines if it likes):
 *
 *   1. train   one seeded sample across all the given files → coarse centroids + PQ codebooks,
 *              plus 100 sampled rows kept as tune queries                    (a model file)
 *   2. encode  each file on its own, with that model: lists and codes of its rows, and the tune
 *              queries' nearest rows in it                                    (a part file each)
 *   3. merge   the parts, in the order given, into one sidecar index; the default nprobe is
 *              measured from the tune queries' true neighbours across all parts
 *
 * The files are never modified. A part names its file's size and footer hash, and the sidecar
 * carries them, so searching over files that changed since is reported as stale.
 */
export const MODEL_MAGIC = 'PQSEEK-MODEL1'
export const PART_MAGIC = 'PQSEEK-PART1'

export interface NamedSource {
  /** How the file should be found again (a path relative to the output, or a URL). */
  name: string
  source: ByteSource
}

/** What identifies a file's content: its size and footer hash. */
export interface SourceIdentity {
  name: string
  size: number
  rows: number
  footerSha256: string
  /** Its chunks without an offset index, their pages (encodePart walks them; sidecarFile.ts). */
  pages?: StoredPageTable
}

export interface SharedModel extends IvfPqModel {
  /** SHA-256 of the parameters, centroids and codebooks: parts say which model encoded them. */
  id: string
  column: string
  /** The files the sample was drawn from. */
  trainedOn: SourceIdentity[]
  /** Tune queries: vectors (count × dim) from the sample, and the (file of trainedOn, row) of each. */
  tuneData: Float32Array
  tuneOrigins: Array<[number, number]>
}

export interface EncodedPart {
  modelId: string
  column: string
  source: SourceIdentity
  /** Per indexed row, ascending: row, list, m code bytes. */
  rowIds: Uint32Array
  assign: Uint32Array
  codes: Uint8Array
  /** Per tune query: up to TRUTH_KEEP nearest rows of this file, by squared L2 (or −dot for `dot`). */
  nearest: Array<Array<{ row: number; distance: number }>>
  invalid: InvalidRow[]
}

export interface SharedOptions extends ParamOptions {
  column: string
  metric?: Metric
  skipInvalid?: boolean
  /** Kernels, worker pool and cancellation. */
  train?: Omit<TrainOptions, 'onProgress'>
  onProgress?: (p: BuildProgress) => void
  /**
   * buildShared: bytes of vectors the training pass may keep so that encoding reads no file again
   * (default DEFAULT_MEMORY_BYTES, as `index --memory-mb`); over it every file is read twice.
   */
  memoryBytes?: number
  /**
   * buildShared: copy every file's vectors into the sidecar (float32, one a list entry, list by
   * list: ~rows × dim × 4 bytes more), so that refining a query's candidates reads a run of the
   * sidecar, not their pages in the files (a page of pyarrow's is ~1 MiB, DuckDB's a whole row
   * group). Where the vectors fit `memoryBytes` the copy is written from those the training pass
   * kept (no file read again); over it every file is read once more (sidecarVectors). The sink
   * must write at a position (ByteSink.writeAt: a file).
   */
  vectors?: boolean
}

const progressOf = (o: Pick<SharedOptions, 'train' | 'onProgress'>) => (phase: BuildProgress['phase'], done: number, total: number) => {
  if (o.train?.signal?.aborted) throw new AbortError()
  o.onProgress?.({ phase, done, total })
}

async function identify({ name, source }: NamedSource, column: string) {
  const metadata = await readMetadata(source, name)
  const embedding = describeEmbeddingColumn(metadata, column, name)
  const identity: SourceIdentity = {
    name,
    size: source.byteLength,
    rows: Number(metadata.num_rows),
    footerSha256: await footerHash(source),
  }
  return { metadata, embedding, identity }
}

/**
 * `o` with the kernels buildIndex uses where it is given none (loadKernels: WebAssembly where it
 * loads), not the TypeScript fallback: the same answers, and training 7,000 rows on TypeScript
 * took ~5 s, most of a sidecar build.
 */
async function withKernels<T extends { train?: Omit<TrainOptions, 'onProgress'> }>(o: T): Promise<T> {
  return o.train?.kernels ? o : { ...o, train: { ...o.train, kernels: await loadKernels() } }
}

/** Step 1: trains the coarse quantizer and PQ codebooks on one seeded sample across `inputs`. */
export async function trainShared(inputs: NamedSource[], o: SharedOptions): Promise<SharedModel> {
  return (await trainHolding(inputs, await withKernels(o), 0)).model
}

/** A file as the training pass opened and read it: its footer, vector blocks and invalid rows, kept to encode. */
interface Held {
  opened: Awaited<ReturnType<typeof identify>>
  vectors: HeldVectors
}

/**
 * trainShared, keeping every file's vectors (and its footer, with the pages found reading it)
 * while they come to at most `holdBytes`: `held` then has one entry a file, for encodePart.
 */
async function trainHolding(
  inputs: NamedSource[],
  o: SharedOptions,
  holdBytes: number,
): Promise<{ model: SharedModel; held?: Array<Held | undefined> }> {
  if (!inputs.length) throw new ParquetSeekError('training needs at least one file')
  const progress = progressOf(o)
  const opened = []
  for (const input of inputs) opened.push({ ...input, ...(await identify(input, o.column)) })
  const rows = opened.reduce((n, f) => n + f.identity.rows, 0)
  const rand = mulberry32((o.seed ?? defaults.seed) + 5)
  let reservoir: Reservoir | undefined
  let valid = 0
  let read = 0
  let held: Array<Held | undefined> | undefined = holdBytes > 0 ? [] : undefined
  let heldBytes = 0
  for (const [i, f] of opened.entries()) {
    const done = read
    const vectors: HeldVectors = { blocks: [], invalid: [] }
    const r = await forEachVectorBlock(
      f.source,
      f.metadata,
      f.embedding,
      { file: f.name, skipInvalid: o.skipInvalid, signal: o.train?.signal, onProgress: (d) => progress('read', done + d, rows) },
      (block) => {
        if (reservoir && block.dim !== reservoir.dim)
          throw new ParquetSeekError(`vectors are ${block.dim}-d here, ${reservoir.dim}-d in the files before`, {
            file: f.name,
            column: o.column,
            row: block.rowStart,
          })
        reservoir ??= new Reservoir(resolveParams(rows, rows, block.dim, o).sample, block.dim, rand)
        // (a held block stays as stored, for encoding and a copy of the vectors: normalized into a copy)
        if (o.metric === 'cosine') {
          const data = held ? block.data.slice() : block.data
          normalizeRows(data, block.rowIds.length, block.dim, block.rowIds, o.column)
          reservoir.offer({ ...block, data }, i)
        } else reservoir.offer(block, i)
        if (!held) return
        heldBytes += block.data.byteLength + block.rowIds.byteLength
        if (heldBytes > holdBytes)
          held = undefined // over the budget: every file is read again to encode
        else vectors.blocks.push(block)
      },
      (bad) => vectors.invalid.push(bad),
    )
    held?.push({ opened: f, vectors })
    valid += r.valid
    read += f.identity.rows
  }
  const sample = reservoir as Reservoir
  const { dim } = sample
  const kept = sample.size
  const params = resolveParams(rows, valid, dim, { ...o, sample: Math.min(kept, o.sample ?? kept) })
  const model = await trainModel(sample.data.subarray(0, kept * dim), kept, params, {
    ...o.train,
    onProgress: (phase, done, total) => progress(phase, done, total),
  })
  const picks = sampleIndices(kept, Math.min(kept, TUNE_ROWS), mulberry32(params.seed + 3))
  const tuneData = new Float32Array(picks.length * dim)
  for (const [i, p] of picks.entries()) tuneData.set(sample.data.subarray(p * dim, (p + 1) * dim), i * dim)
  const tuneOrigins = Array.from(picks, (p) => [sample.origins[2 * p] as number, sample.origins[2 * p + 1] as number] as [number, number])
  const shared: SharedModel = {
    ...model,
    id: await modelId(params, model.centroids, model.codebooks),
    column: o.column,
    trainedOn: opened.map((f) => f.identity),
    tuneData,
    tuneOrigins,
  }
  return { model: shared, held }
}

/** A model's identity: SHA-256 of its params, centroids and codebooks (parts name the model they were encoded with). */
export async function modelId(params: IndexParams, centroids: Float32Array, codebooks: Float32Array): Promise<string> {
  const json = new TextEncoder().encode(JSON.stringify(params))
  const all = new Uint8Array(json.length + centroids.byteLength + codebooks.byteLength)
  all.set(json)
  all.set(new Uint8Array(centroids.buffer, centroids.byteOffset, centroids.byteLength), json.length)
  all.set(new Uint8Array(codebooks.buffer, codebooks.byteOffset, codebooks.byteLength), json.length + centroids.byteLength)
  const digest = await crypto.subtle.digest('SHA-256', all)
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, '0')).join('')
}

/** Step 2: one file's rows assigned and encoded with the shared model (files are independent). */
export async function encodePart(
  model: SharedModel,
  input: NamedSource,
  o: Omit<SharedOptions, keyof ParamOptions | 'column' | 'metric'> = {},
): Promise<EncodedPart> {
  return encodeHeld(model, input, await withKernels(o))
}

/** encodePart, from the vectors the training pass kept (trainHolding) where it kept them. */
async function encodeHeld(
  model: SharedModel,
  input: NamedSource,
  o: Omit<SharedOptions, keyof ParamOptions | 'column' | 'metric'>,
  held?: Held,
): Promise<EncodedPart> {
  const progress = progressOf(o)
  // (the footer the training pass read: the pages it found on the way are known through it)
  const { metadata, embedding, identity } = held?.opened ?? (await identify(input, model.column))
  if (embedding.dim !== undefined && embedding.dim !== model.params.dim)
    throw new ParquetSeekError(`"${model.column}" is ${embedding.dim}-d here; the model is ${model.params.dim}-d`, { file: input.name })
  const encoded = await encodeSource(input.source, metadata, embedding, model, model.tuneData, {
    file: input.name,
    skipInvalid: o.skipInvalid,
    train: { ...o.train, onProgress: (phase, done, total) => progress(phase, done, total) },
    counter: { done: 0, total: identity.rows },
    onRead: (done, total) => progress('read', done, total),
    held: held?.vectors,
  })
  // pages of chunks without an offset index, so a search reads the pages it needs, not whole chunks
  const pages = await walkFilePages(input.source, metadata, input.name, o.train?.signal)
  // (what opening the file for search reads: the sidecar asks for exactly that)
  const opened = { ...identity, tailBytes: openingTail(metadata, identity.size) }
  const source = pages ? { ...opened, pages: storedPageTable(pages) } : opened
  const part: EncodedPart = { modelId: model.id, column: model.column, source, ...encoded }
  return part
}

export interface Merged {
  params: IndexParams
  lists: InvertedLists
  sources: SidecarSource[]
}

/** Step 3: the parts' lists joined (file i's rows numbered after files 0…i−1), nprobe measured. */
export async function mergeParts(
  model: SharedModel,
  parts: EncodedPart[],
  given: Omit<SharedOptions, keyof ParamOptions | 'column' | 'metric' | 'skipInvalid'> = {},
): Promise<Merged> {
  const o = await withKernels(given)
  const progress = progressOf(o)
  const { nlist, m } = model.params
  if (!parts.length) throw new ParquetSeekError('merging needs at least one part')
  const sources: SidecarSource[] = []
  let rowBase = 0
  for (const p of parts) {
    const file = p.source.name
    if (p.modelId !== model.id)
      throw new ParquetSeekError('this part was encoded with another model (its model id differs); encode it again with this one', { file })
    if (p.column !== model.column) throw new ParquetSeekError(`part is of column "${p.column}", the model of "${model.column}"`, { file })
    const twin = sources.find((s) => s.name === file)
    if (twin) throw new ParquetSeekError('the same file is in two parts', { file })
    sources.push({ ...p.source, rowBase })
    rowBase += p.source.rows
  }
  const n = parts.reduce((s, p) => s + p.rowIds.length, 0)
  const assign = new Uint32Array(n)
  const codes = new Uint8Array(n * m)
  const rowIds = new Uint32Array(n)
  let at = 0
  for (const [i, p] of parts.entries()) {
    throwIfAborted(o.train?.signal)
    const base = (sources[i] as SidecarSource).rowBase
    let previous = -1
    for (let e = 0; e < p.rowIds.length; e++) {
      const row = p.rowIds[e] as number
      const list = p.assign[e] as number
      if (row <= previous || row >= p.source.rows || list >= nlist)
        throw new ParquetSeekError(
          `entry ${e} is out of range (row ${row} of ${p.source.rows}, list ${list} of ${nlist}); the part is damaged`,
          { file: p.source.name },
        )
      previous = row
      rowIds[at + e] = base + row
    }
    assign.set(p.assign, at)
    codes.set(p.codes, at * m)
    at += p.rowIds.length
  }
  const lists = groupByList({ assign, codes }, rowIds, nlist, m)

  // each tune query's truth: the best of every part's nearest rows, the query's own row left out
  const selfOf = ([file, row]: [number, number]) => {
    const origin = model.trainedOn[file]
    const i = sources.findIndex((s) => s.size === origin?.size && s.footerSha256 === origin.footerSha256)
    return i < 0 ? -1 : (sources[i] as SidecarSource).rowBase + row
  }
  const queryRows = Uint32Array.from(model.tuneOrigins, (origin) => selfOf(origin) >>> 0)
  const truth = model.tuneOrigins.map((_, qi) =>
    truthOf(
      parts.flatMap((p, i) =>
        (p.nearest[qi] ?? []).map((h) => ({ row: (sources[i] as SidecarSource).rowBase + h.row, distance: h.distance })),
      ),
      queryRows[qi] as number,
    ),
  )
  const indexedRows = n
  const params: IndexParams = { ...model.params, rows: rowBase, indexedRows }
  const floor = nprobeFloor(params, n)
  const tuned = await tuneFromTruth(
    { ...model, params },
    lists,
    { data: model.tuneData, rowIds: queryRows, truth },
    {
      minNprobe: floor,
      kernels: o.train?.kernels,
      pool: o.train?.pool,
      signal: o.train?.signal,
      onProgress: (done, total) => progress('tune', done, total),
    },
  )
  params.nprobe = Math.max(tuned.nprobe, floor)
  params.refine = tuned.refine
  if (tuned.slack !== undefined) params.slack = tuned.slack
  if (tuned.refineSlack !== undefined) params.refineSlack = tuned.refineSlack
  params.tunedRecall = Math.round(tuned.recall * 1000) / 1000
  return { params, lists, sources }
}

/** The three steps in one process, written as a sidecar: what `index --sidecar` runs. */
export async function buildShared(inputs: NamedSource[], sink: ByteSink, given: SharedOptions) {
  try {
    const o = await withKernels(given)
    // the vectors read to train, kept while they fit the budget: no file is read twice
    const { model, held } = await trainHolding(inputs, o, o.memoryBytes ?? DEFAULT_MEMORY_BYTES)
    const parts = []
    for (const [i, input] of inputs.entries()) {
      parts.push(await encodeHeld(model, input, o, held?.[i]))
      // encoded: its vectors let go, unless they are copied into the sidecar (no file read again)
      if (held && !o.vectors) held[i] = undefined
    }
    const merged = await mergeParts(model, parts, o)
    const vectors = o.vectors
      ? sidecarVectors(
          inputs,
          merged.sources,
          model,
          o,
          held?.map((h) => h?.vectors),
        )
      : undefined
    return await writeSidecar(sink, { column: model.column, model, ...merged, vectors })
  } catch (e) {
    await sink.abort()
    throw e
  }
}

/**
 * Every file's vectors for writeSidecar (SidecarHeader.vectors): the vector of each row asked for
 * (one a list entry, in storage order), float32 little-endian. Every file is read once, a block of
 * rows at a time, and each vector goes to its entries: held in memory (within `memoryBytes`) and
 * written in entry order when they fill it — front to back where every vector fits, else a write
 * a run of consecutive entries (the files' rows are in no list's order: mostly a vector each).
 */
export function sidecarVectors(
  inputs: NamedSource[],
  sources: SidecarSource[],
  model: SharedModel,
  o: Pick<SharedOptions, 'train' | 'onProgress' | 'memoryBytes'>,
  /** Every file's vectors as the training pass kept them (as stored), when it kept them all: no file is read. */
  kept?: Array<HeldVectors | undefined>,
): SidecarVectorsWriter {
  const { dim } = model.params
  const progress = progressOf(o)
  const signal = o.train?.signal
  return {
    dim,
    async write(rows, put) {
      if (kept && kept.length === inputs.length && kept.every((h) => h !== undefined))
        return writeKept(rows, put, kept as HeldVectors[], sources, dim, (done) => progress('write', done, rows.length), signal)
      const capacity = Math.max(1, Math.floor((o.memoryBytes ?? DEFAULT_MEMORY_BYTES) / (dim * 4)))
      const held = new HeldEntries(rows.length, capacity, dim)
      // every entry by its row: each file's blocks, in row order, fill them in turn
      const byRow = Uint32Array.from(rows.keys()).sort((a, b) => (rows[a] as number) - (rows[b] as number))
      const rowOf = (next: number) => rows[byRow[next] as number] as number
      let next = 0
      for (const [i, input] of inputs.entries()) {
        const s = sources[i] as SidecarSource
        // (a file none of whose rows is in a list is not read)
        if (next >= byRow.length || rowOf(next) >= s.rowBase + s.rows) continue
        const metadata = await readMetadata(input.source, input.name)
        const embedding = describeEmbeddingColumn(metadata, model.column, input.name)
        await forEachVectorBlock(input.source, metadata, embedding, { file: input.name, skipInvalid: true, signal }, async (block) => {
          if (block.dim !== dim)
            throw new ParquetSeekError(`"${model.column}" is ${block.dim}-d here; the model is ${dim}-d`, { file: input.name })
          let j = 0
          while (next < byRow.length) {
            const row = rowOf(next) - s.rowBase
            if (row >= block.rowEnd) break
            while (j < block.rowIds.length && (block.rowIds[j] as number) < row) j++
            if (block.rowIds[j] !== row) throw new Error(`row ${row} of ${input.name} is in a list but has no vector (the file changed?)`)
            if (held.full) await held.flush(put, signal)
            held.add(byRow[next] as number, block.data.subarray(j * dim, (j + 1) * dim))
            next++
          }
          progress('write', next, rows.length)
        })
        if (next < byRow.length && rowOf(next) < s.rowBase + s.rows)
          throw new Error(`row ${rowOf(next) - s.rowBase} of ${input.name} is in a list but past the file's vectors (the file changed?)`)
      }
      if (next !== byRow.length) throw new Error(`${byRow.length - next} listed rows were not found in the files`)
      await held.flush(put, signal)
    },
  }
}

/**
 * The copy of the vectors from the ones the training pass kept (every file's, as stored): each
 * list entry's vector in entry order, written front to back a piece at a time.
 */
async function writeKept(
  rows: ArrayLike<number>,
  put: (entry: number, bytes: Uint8Array) => Promise<void>,
  kept: HeldVectors[],
  sources: SidecarSource[],
  dim: number,
  progress: (done: number) => void,
  signal: AbortSignal | undefined,
): Promise<void> {
  // where each row's vector is: its block and its place there
  const total = sources.reduce((n, s) => Math.max(n, s.rowBase + s.rows), 0)
  const blockOf = new Int32Array(total).fill(-1)
  const placeOf = new Uint32Array(total)
  const blocks: Float32Array[] = []
  for (const [i, h] of kept.entries()) {
    const base = (sources[i] as SidecarSource).rowBase
    for (const block of h.blocks) {
      for (const [j, row] of block.rowIds.entries()) {
        blockOf[base + row] = blocks.length
        placeOf[base + row] = j
      }
      blocks.push(block.data)
    }
  }
  const most = Math.max(1, Math.floor(PIECE_BYTES / (dim * 4)))
  const piece = new Float32Array(Math.min(rows.length, most) * dim)
  for (let e = 0; e < rows.length; e += most) {
    throwIfAborted(signal)
    const count = Math.min(most, rows.length - e)
    for (let k = 0; k < count; k++) {
      const row = rows[e + k] as number
      const b = blockOf[row] ?? -1
      if (b < 0) throw new Error(`row ${row} is in a list but has no vector`)
      const at = (placeOf[row] as number) * dim
      piece.set((blocks[b] as Float32Array).subarray(at, at + dim), k * dim)
    }
    await put(e, littleEndian(piece.subarray(0, count * dim)))
    progress(e + count)
  }
}

/** Bytes of vectors one write holds, at most. */
const PIECE_BYTES = 4 << 20
/** Writes in flight at once when the held entries are scattered. */
const WRITES_IN_FLIGHT = 16

/**
 * List entries' vectors held until written, at most `capacity` of the `entries` at a time. Where
 * every entry fits, each is held at its own place, so the flush writes them front to back;
 * otherwise in the order they came, and the flush writes runs of consecutive entries, in entry
 * order. A write holds at most PIECE_BYTES.
 */
class HeldEntries {
  private readonly data: Float32Array
  private readonly at: Uint32Array
  private readonly whole: boolean
  private count = 0

  constructor(
    entries: number,
    capacity: number,
    private readonly dim: number,
  ) {
    this.whole = capacity >= entries
    const held = Math.min(entries, capacity)
    this.data = new Float32Array(held * dim)
    this.at = new Uint32Array(this.whole ? 0 : held)
  }

  get full(): boolean {
    return !this.whole && this.count === this.at.length
  }

  add(entry: number, vector: Float32Array): void {
    const slot = this.whole ? entry : this.count
    this.data.set(vector, slot * this.dim)
    if (!this.whole) this.at[slot] = entry
    this.count++
  }

  async flush(put: (entry: number, bytes: Uint8Array) => Promise<void>, signal: AbortSignal | undefined): Promise<void> {
    const { dim, data, at, count } = this
    if (count === 0) return
    this.count = 0
    const most = Math.max(1, Math.floor(PIECE_BYTES / (dim * 4)))
    if (this.whole) {
      for (let e = 0; e < count; e += most) {
        throwIfAborted(signal)
        await put(e, littleEndian(data.subarray(e * dim, Math.min(count, e + most) * dim)))
      }
      return
    }
    const order = Uint32Array.from(at.subarray(0, count).keys()).sort((a, b) => (at[a] as number) - (at[b] as number))
    let k = 0
    const writer = async () => {
      while (k < count) {
        throwIfAborted(signal)
        const first = k
        let end = k + 1
        while (end < count && end - first < most && at[order[end] as number] === (at[order[end - 1] as number] as number) + 1) end++
        k = end
        const piece = new Float32Array((end - first) * dim)
        for (let x = first; x < end; x++) {
          const slot = order[x] as number
          piece.set(data.subarray(slot * dim, (slot + 1) * dim), (x - first) * dim)
        }
        await put(at[order[first] as number] as number, littleEndian(piece))
      }
    }
    await Promise.all(Array.from({ length: WRITES_IN_FLIGHT }, writer))
  }
}

/** A Float32Array's bytes, little-endian (a view where the platform is). */
function littleEndian(values: Float32Array): Uint8Array {
  if (LITTLE_ENDIAN) return new Uint8Array(values.buffer, values.byteOffset, values.byteLength)
  const out = new Uint8Array(values.length * 4)
  const view = new DataView(out.buffer)
  for (let i = 0; i < values.length; i++) view.setFloat32(i * 4, values[i] as number, true)
  return out
}

// ---- files of the steps (src/index/container.ts) ----

interface ModelHeader {
  format: 'parquetseek-model'
  version: 1
  id: string
  column: string
  params: IndexParams
  trainedOn: SourceIdentity[]
  tuneOrigins: Array<[number, number]>
}

export function modelFileBytes(model: SharedModel): Uint8Array {
  const header: ModelHeader = {
    format: 'parquetseek-model',
    version: 1,
    id: model.id,
    column: model.column,
    params: model.params,
    trainedOn: model.trainedOn,
    tuneOrigins: model.tuneOrigins,
  }
  return writeContainer(MODEL_MAGIC, header, { centroids: model.centroids, codebooks: model.codebooks, tune: model.tuneData })
}

const isCount = (v: unknown, min = 0): v is number => Number.isSafeInteger(v) && (v as number) >= min

export async function readModelFile(bytes: Uint8Array, file: string): Promise<SharedModel> {
  const c = readContainer<ModelHeader>(bytes, MODEL_MAGIC, file, 'ParquetSeek model file')
  const h = c.header
  const p = h.params
  const ok =
    h.format === 'parquetseek-model' &&
    h.version === 1 &&
    typeof h.column === 'string' &&
    typeof p === 'object' &&
    p !== null &&
    isCount(p.dim, 1) &&
    isCount(p.nlist, 1) &&
    isCount(p.m, 1) &&
    p.m <= p.dim &&
    isCount(p.nbits, 1) &&
    p.nbits <= 8 &&
    ['l2', 'cosine', 'dot'].includes(p.metric) &&
    Array.isArray(h.trainedOn) &&
    Array.isArray(h.tuneOrigins) &&
    h.tuneOrigins.every((t) => Array.isArray(t) && isCount(t[0]) && t[0] < h.trainedOn.length && isCount(t[1]))
  if (!ok) throw new ParquetSeekError('unsupported or malformed model header', { file, offset: 20 })
  const layout = pqLayout(p.dim, p.m, p.nbits)
  const centroids = sectionAs(c, 'centroids', Float32Array, p.nlist * p.dim, file)
  const codebooks = sectionAs(c, 'codebooks', Float32Array, (1 << p.nbits) * p.dim, file)
  const tuneData = sectionAs(c, 'tune', Float32Array, h.tuneOrigins.length * p.dim, file)
  const id = await modelId(p, centroids, codebooks)
  if (id !== h.id) throw new ParquetSeekError('model content does not match its id', { file })
  if (!onGrid(centroids, p.nlist, p.dim))
    throw new ParquetSeekError(
      'this model was trained before index format v2 (centroids of one byte a value): run parquetseek train again',
      {
        file,
        section: 'centroids',
      },
    )
  if (!onGrid(codebookRows(codebooks, layout), layout.ksub, p.dim))
    throw new ParquetSeekError(
      'this model was trained before index format v4 (codebooks of one byte a value): run parquetseek train again',
      {
        file,
        section: 'codebooks',
      },
    )
  return { params: p, centroids, codebooks, layout, id, column: h.column, trainedOn: h.trainedOn, tuneData, tuneOrigins: h.tuneOrigins }
}

interface PartHeader {
  format: 'parquetseek-part'
  version: 1
  modelId: string
  column: string
  source: SourceIdentity
  m: number
  entries: number
  nearestCounts: number[]
  invalid: InvalidRow[]
}

export function partFileBytes(part: EncodedPart): Uint8Array {
  const flat = part.nearest.flat()
  const header: PartHeader = {
    format: 'parquetseek-part',
    version: 1,
    modelId: part.modelId,
    column: part.column,
    source: part.source,
    m: part.codes.length / Math.max(1, part.rowIds.length),
    entries: part.rowIds.length,
    nearestCounts: part.nearest.map((n) => n.length),
    invalid: part.invalid,
  }
  return writeContainer(PART_MAGIC, header, {
    rowIds: part.rowIds,
    assign: part.assign,
    codes: part.codes,
    nearestRows: Uint32Array.from(flat, (h) => h.row),
    nearestDistances: Float32Array.from(flat, (h) => h.distance),
  })
}

export function readPartFile(bytes: Uint8Array, file: string, m: number): EncodedPart {
  const c = readContainer<PartHeader>(bytes, PART_MAGIC, file, 'ParquetSeek part file')
  const h = c.header
  const s = h.source
  const ok =
    h.format === 'parquetseek-part' &&
    h.version === 1 &&
    typeof h.modelId === 'string' &&
    typeof h.column === 'string' &&
    typeof s === 'object' &&
    s !== null &&
    typeof s.name === 'string' &&
    isCount(s.size) &&
    isCount(s.rows) &&
    typeof s.footerSha256 === 'string' &&
    isCount(h.entries) &&
    h.entries <= s.rows &&
    Array.isArray(h.nearestCounts) &&
    h.nearestCounts.every((n) => isCount(n) && n <= TRUTH_KEEP) &&
    Array.isArray(h.invalid)
  if (!ok) throw new ParquetSeekError('unsupported or malformed part header', { file, offset: 20 })
  if (h.entries && h.m !== m) throw new ParquetSeekError(`part has ${h.m} code bytes a row; the model ${m}`, { file })
  const total = h.nearestCounts.reduce((a, b) => a + b, 0)
  const nearestRows = sectionAs(c, 'nearestRows', Uint32Array, total, file)
  const nearestDistances = sectionAs(c, 'nearestDistances', Float32Array, total, file)
  let at = 0
  const nearest = h.nearestCounts.map((count) =>
    Array.from({ length: count }, () => {
      const hit = { row: nearestRows[at] as number, distance: nearestDistances[at] as number }
      at++
      return hit
    }),
  )
  return {
    modelId: h.modelId,
    column: h.column,
    source: s,
    rowIds: sectionAs(c, 'rowIds', Uint32Array, h.entries, file),
    assign: sectionAs(c, 'assign', Uint32Array, h.entries, file),
    codes: sectionAs(c, 'codes', Uint8Array, h.entries * m, file),
    nearest,
    invalid: h.invalid,
  }
}
