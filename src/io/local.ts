import { pageBase } from './fileUrl.js'
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
