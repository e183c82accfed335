import { rm } from 'node:fs/promises'
import { resolve } from 'node:path'
import type { FileMetaData } from 'hyparquet'
import { SEARCH_BACKENDS } from '../compute/backend.js'
import { nodeGpu } from '../compute/gpu/node.js'
import { decodeThreads } from '../compute/nodePool.js'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import { isRemote } from '../io/fileUrl.js'
import { openHttp } from '../io/httpSource.js'
import { isHubGlob } from '../io/hub.js'
import { hubGlob } from '../io/hubGlob.js'
import { fileSink, fileSource } from '../io/nodeFile.js'
import type { ByteSource } from '../io/source.js'
import {
  checkVector,
  copyVector,
  describeEmbeddingColumn,
  findEmbeddingColumns,
  readRow,
  readVectors,
  summarizeColumns,
  vectorLength,
} from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { folderManifest, isManifestAddress, SeekDataset } from '../search/dataset.js'
import { spawnNodePageWorker } from '../search/nodePages.js'
import type { OpenOptions } from '../search/open.js'
import { isSidecarAddress, SidecarIndex } from '../search/sidecarIndex.js'
import { choice, UsageError } from './args.js'
import { count, fmtBytes, progressPrinter } from './progress.js'

/** The targets a command was given: a folder as the manifest in it (folderManifest), an hf:// glob as the files it matches. */
export async function folderTargets(targets: string[], signal?: AbortSignal): Promise<string[]> {
  const each = await Promise.all(targets.map(async (t) => (isHubGlob(t) ? hubFiles(t, signal) : [await folderManifest(t)])))
  return each.flat()
}

/** The files an hf:// glob matches (hubGlob), the listing's progress on stderr once it has taken a second. */
export async function hubFiles(glob: string, signal?: AbortSignal): Promise<string[]> {
  const progress = lateProgress()
  try {
    return await hubGlob(glob, { signal, onPage: (listed) => progress.update(`list ${count(listed, 'file')} for ${glob}`) })
  } finally {
    progress.done()
  }
}

/** A remote address (http, https, hf://) rather than a local path. */
export const isUrl = isRemote

/** A local path or an http(s) URL as a byte source (for reads outside the search engine). */
export async function anySource(pathOrUrl: string): Promise<ByteSource & { close(): Promise<void> }> {
  if (isUrl(pathOrUrl)) {
    const { source } = await openHttp(pathOrUrl, { tailBytes: 64 << 10 })
    return { ...source, close: async () => {} }
  }
  return fileSource(pathOrUrl)
}

export type Source = Awaited<ReturnType<typeof anySource>>

/** `use` with a file (a path or a URL) opened and its footer read, closed after. */
export async function withFile<T>(path: string, use: (source: Source, metadata: FileMetaData) => Promise<T>): Promise<T> {
  const source = await anySource(path)
  try {
    return await use(source, await readMetadata(source, source.name))
  } finally {
    await source.close()
  }
}

/**
 * The vector column a command uses when --column is not given: the file's only one. Several, or
 * none (a text column named for --embed-text), is an error saying what to give.
 */
export function soleVectorColumn(metadata: FileMetaData, file: string, purpose: string): string {
  const names = findEmbeddingColumns(metadata).map((c) => c.name)
  if (names.length === 1) return names[0] as string
  if (names.length) throw new UsageError(`${file} has ${names.length} vector columns (${names.join(', ')}): give --column ${purpose}`)
  const text = summarizeColumns(metadata)
    .filter((c) => c.type === 'BYTE_ARRAY' && (c.logicalType === 'UTF8' || c.logicalType === 'STRING'))
    .map((c) => c.name)
  const hint = text.length ? `; text columns here: ${text.join(', ')} (embed one first: index --embed-text, or parquetseek embed)` : ''
  throw new ParquetSeekError(`no vector column ${purpose}: none is a LIST of numbers or a FIXED_LEN_BYTE_ARRAY of float32${hint}`, { file })
}

/**
 * A query file's vector column: the index's column name, or — a file from elsewhere, whose one
 * vector column has another name — that one.
 */
function queryColumn(metadata: FileMetaData, column: string, file: string) {
  const named = findEmbeddingColumns(metadata)
  const only = named.length === 1 && !named.some((c) => c.name === column) ? named[0] : undefined
  return only ?? describeEmbeddingColumn(metadata, column, file)
}

/** Every vector of `column` in a Parquet file (query sets). */
export async function readQueryVectors(
  pathOrUrl: string,
  column: string,
  limit = Number.POSITIVE_INFINITY,
  offset = 0,
): Promise<Float32Array[]> {
  const source = await anySource(pathOrUrl)
  try {
    const metadata = await readMetadata(source, source.name)
    const vectors = await readVectors(source, metadata, queryColumn(metadata, column, source.name), {
      file: source.name,
      invalidHint: 'every row of a query file needs a vector',
    })
    const n = Math.max(0, Math.min(limit, vectors.rowIds.length - offset))
    return Array.from({ length: n }, (_, i) => vectors.data.slice((offset + i) * vectors.dim, (offset + i + 1) * vectors.dim))
  } finally {
    await source.close()
  }
}

/**
 * Row `row`'s vector of a file (`--query-row`, of `--query-file` or of the file searched): that
 * row alone is read, and one without a usable vector is an error naming it — reading every row up
 * to it refused a good row for a null one before it.
 */
export async function readQueryRow(pathOrUrl: string, column: string, row: number): Promise<Float32Array> {
  const source = await anySource(pathOrUrl)
  try {
    const metadata = await readMetadata(source, source.name)
    const rows = Number(metadata.num_rows)
    if (row >= rows) throw new UsageError(`--query-row ${row} is past the ${rows} rows of ${pathOrUrl}`)
    const described = queryColumn(metadata, column, source.name)
    const value = await readRow(source, metadata, described.name, described.leafIndex, row, { file: source.name, vectors: described })
    const dim = value === null || value === undefined ? 0 : vectorLength(value)
    const problem = checkVector(value, dim, described.kind)
    if (problem) throw new ParquetSeekError(`no vector to search with: ${problem}`, { file: source.name, column: described.name, row })
    const out = new Float32Array(dim)
    copyVector(out, 0, value as ArrayLike<number> | Uint8Array, described.kind)
    return out
  } finally {
    await source.close()
  }
}

/** `--backend` of the search commands; `gpu` brings WebGPU up through the webgpu package (Dawn). */
export async function searchBackend(value: string | undefined): Promise<SearchCompute> {
  const backend = choice(value, 'backend', SEARCH_BACKENDS)
  // a large batch (join's) decodes its vector pages on every core, at most 16 (search/pageDecoding.ts)
  const threads = { threads: decodeThreads(), spawnWorker: spawnNodePageWorker }
  return backend === 'gpu' ? { backend, gpu: await nodeGpu(), ...threads } : { backend, ...threads }
}

/** How the commands that search compute: the backend, its GPU, the threads decoding pages. */
export type SearchCompute = Pick<OpenOptions, 'backend' | 'gpu' | 'threads' | 'spawnWorker'>

/**
 * What the index-opening commands share: cancellation, sources allowed beyond an index's own
 * folder. The sidecar or dataset opened holds its local files; its close() lets them go.
 */
export interface OpenContext {
  signal: AbortSignal
  /** `--allow-source` values as given (paths resolved here). */
  allow?: string[]
  compute?: SearchCompute
}

const allowed = (c: OpenContext) => (c.allow ?? []).map((p) => (isUrl(p) ? p : resolve(p)))

/** A sidecar (`.pqseek`): its files resolve beside it (a path) or on its origin (a URL), unless allowed. */
export async function openSidecar(target: string, c: OpenContext, o: { every?: boolean } = {}): Promise<SidecarIndex> {
  const { onProgress, printer } = openProgress()
  try {
    const index = await SidecarIndex.openUrl(target, { signal: c.signal, allow: allowed(c), onProgress, ...c.compute })
    // (the first files are opened at once, the others as searches need them: `every` opens and checks them all now)
    if (o.every)
      await index.openAll(c.signal, onProgress).catch((e: unknown) => {
        index.close()
        throw e
      })
    return index
  } finally {
    printer.done()
  }
}

/** Progress lines on stderr from a second on: what ends sooner says nothing. */
function lateProgress() {
  const printer = progressPrinter()
  const t0 = Date.now()
  return {
    update(text: string) {
      if (Date.now() - t0 >= 1000) printer.update(text)
    },
    done: () => printer.done(),
  }
}

/** Files opened, of a sidecar's or a manifest's, on stderr once the open has taken a second (a few files open in less). */
function openProgress() {
  const printer = lateProgress()
  const onProgress = (opened: number, files: number) => printer.update(`open ${opened.toLocaleString('en-US')}/${count(files, 'file')}`)
  return { onProgress, printer }
}

/** A manifest (`{ "files": [...] }`, local or a URL) of indexed shards, resolved like a sidecar's files. */
export async function openManifest(target: string, c: OpenContext): Promise<SeekDataset> {
  const { onProgress, printer } = openProgress()
  try {
    return await SeekDataset.fromManifest(target, { signal: c.signal, allowSources: allowed(c), onProgress, ...c.compute })
  } finally {
    printer.done()
  }
}

/**
 * What a command's targets are called in its messages: the one, or the first of several and how
 * many more. Several must be indexed files (a shell's `parts/*.indexed.parquet`): a sidecar or a
 * manifest among them is refused, naming it and `command`.
 */
export function targetsLabel(targets: string[], command: string): string {
  const [first, ...more] = targets
  if (!more.length) return first as string
  const other = targets.find((t) => isSidecarAddress(t) || isManifestAddress(t))
  if (other)
    throw new UsageError(
      `${other} is a ${isSidecarAddress(other) ? 'sidecar' : 'manifest'}: ${command} it alone; several files ${command}ed as one are indexed Parquet files`,
    )
  return `${first} and ${count(more.length, 'more file')}`
}

/**
 * Indexed files named one by one (checked by targetsLabel), searched as one as a manifest of them
 * would be (a file named twice: refused by SeekDataset.open).
 */
export async function openFiles(targets: string[], c: OpenContext): Promise<SeekDataset> {
  const { onProgress, printer } = openProgress()
  try {
    return await SeekDataset.open(targets, { signal: c.signal, onProgress, ...c.compute })
  } finally {
    printer.done()
  }
}

/**
 * `use` run on a local copy of `input` when it is remote (a URL, hf://, a Hugging Face or GitHub
 * file page: read whole into a file beside `output`, removed after), else on `input` itself —
 * for commands that read every byte of their input (index, embed).
 */
export async function withLocalInput<T>(input: string, output: string, signal: AbortSignal, use: (path: string) => Promise<T>): Promise<T> {
  if (!isUrl(input)) return use(input)
  const local = `${output}.download-${process.pid}.tmp.parquet`
  try {
    await download(input, local, signal)
    return await use(local)
  } finally {
    await rm(local, { force: true })
  }
}

/** Bytes a download asks for at once. */
const DOWNLOAD_CHUNK = 8 << 20

/** A remote file copied to `path` (through openHttp: retries, a changed file refused), with progress; nothing left behind on failure. */
async function download(url: string, path: string, signal: AbortSignal): Promise<void> {
  const { source } = await openHttp(url, { signal, multiRange: false, tailBytes: 64 << 10 })
  const sink = await fileSink(path)
  const printer = progressPrinter()
  try {
    const size = source.byteLength
    for (let at = 0; at < size; at += DOWNLOAD_CHUNK) {
      throwIfAborted(signal)
      const end = Math.min(size, at + DOWNLOAD_CHUNK)
      await sink.write(new Uint8Array(await source.slice(at, end)))
      printer.update(`download ${fmtBytes(end)}/${fmtBytes(size)}`)
    }
    await sink.commit()
  } catch (e) {
    await sink.abort()
    throw e
  } finally {
    printer.done()
  }
}
