import { ParquetSeekError } from '../errors.js'
import { TAKES_FILE } from './blobSource.js'
import { pageBase } from './fileUrl.js'
import type { ByteSink } from './sink.js'
import type { ByteSource } from './source.js'

/**
 * Local files, where the runtime has them. A string the library opens (`openIndex`,
 * `SidecarIndex.openUrl`, `SeekDataset.fromManifest`, `PqVectorFile.open`) is a URL in a page —
 * a relative one read from the page's origin — and in Node, through the package's `node` entry,
 * either a URL or a local path. Browser code never imports the file system: Node's side
 * installs itself here (io/nodeFile.ts).
 */
export interface LocalFiles {
  /** The path an address names (a plain path, relative or absolute, or a `file:` URL); undefined for any other URL. */
  pathOf(address: string): string | undefined
  /** A file as a byte source, read where asked; `close()` lets its handle go (a later read opens it again). */
  open(path: string): Promise<ByteSource & { close(): Promise<void> }>
  /** A whole small file (a manifest), at most `limit` bytes. */
  read(path: string, limit: number): Promise<Uint8Array>
  /** What is at `path`: a regular file, a folder, or neither (nothing, or something else). */
  kind(path: string): Promise<'file' | 'folder' | undefined>
  /** A file written under a temporary name beside it and renamed when committed, never over `input` (fileSink). */
  sink(path: string, input?: string): Promise<ByteSink>
  /** Path arithmetic for confining the files a sidecar or a manifest names (io/confine.ts). */
  paths: {
    resolve(...p: string[]): string
    relative(from: string, to: string): string
    isAbsolute(p: string): boolean
    dirname(p: string): string
  }
}

let installed: LocalFiles | undefined

/** Lets strings name local files (Node's side calls it once). */
export function installLocalFiles(files: LocalFiles): void {
  installed = files
}

/**
 * `use` on the local file `address` names (Node), the file closed if `use` fails (otherwise what
 * `use` returns holds it, to let go in its close()); undefined where `address` names none.
 */
export async function withLocalFile<T>(
  address: string,
  use: (file: ByteSource & { close(): Promise<void> }, local: { path: string; files: LocalFiles }) => Promise<T>,
): Promise<T | undefined> {
  const local = localFile(address)
  if (!local) return undefined
  const file = await local.files.open(local.path)
  try {
    return await use(file, local)
  } catch (e) {
    await file.close()
    throw e
  }
}

/**
 * `address` as a local path and the files it is in, where this runtime has local files and it
 * names one; else undefined. In a page (a document or a worker's location: a browser, or Node
 * emulating one) a relative address is a URL, as fetch reads it.
 */
export function localFile(address: string): { path: string; files: LocalFiles } | undefined {
  const path = pageBase() === undefined ? installed?.pathOf(address) : undefined
  return path === undefined || !installed ? undefined : { path, files: installed }
}

/**
 * What a build reads and writes, as given — a byte source (or File, Blob) and a sink — or, in
 * Node, paths: the input opened (let go by `done`), the output written under a temporary name
 * beside it and renamed when complete, never over the input. `what` names the function in errors.
 */
export async function localEnds<T>(
  input: T | string,
  output: ByteSink | string,
  what: string,
): Promise<{ input: T | ByteSource; sink: ByteSink; done(): Promise<void> }> {
  const local = (address: string, role: string) => {
    const found = localFile(address)
    if (!found)
      throw new ParquetSeekError(
        `${what} takes ${role === 'input' ? TAKES_FILE : 'a sink, or in Node a path'}; got ${JSON.stringify(address)}, ${installed && pageBase() === undefined ? 'a URL: it reads every byte, so copy the file here first' : 'a string, and there are no local files here'}`,
      )
    return found
  }
  try {
    const inputFile = typeof input === 'string' ? local(input, 'input') : undefined
    const outputFile = typeof output === 'string' ? local(output, 'output') : undefined
    const opened = inputFile ? await inputFile.files.open(inputFile.path) : undefined
    try {
      const sink = outputFile ? await outputFile.files.sink(outputFile.path, inputFile?.path) : (output as ByteSink)
      return { input: opened ?? (input as T), sink, done: async () => opened?.close() }
    } catch (e) {
      await opened?.close()
      throw e
    }
  } catch (e) {
    // (a sink given is discarded, as a build that fails discards it)
    if (typeof output !== 'string') await output.abort()
    throw e
  }
}
