import type { FileInput } from '../io/blobSource.js'
import { type DatasetOpenOptions, folderManifest, isManifestAddress, SeekDataset } from './dataset.js'
import { openIndex, type SeekIndex } from './engine.js'
import { isSidecarAddress, SidecarIndex } from './sidecarIndex.js'

/** What `open` answers: one indexed file, a sidecar over files left as they are, or a manifest's indexed files. */
export type AnyIndex = SeekIndex | SidecarIndex | SeekDataset

export interface AnyOpenOptions extends DatasetOpenOptions {
  /**
   * Where a sidecar's or a manifest's files may be besides its own origin (its own folder, in
   * Node): URL prefixes (or folders) its names may lead to (resolveSourceName).
   */
  allow?: readonly string[]
}

/**
 * Opens what an address names, as the app, the widget and the CLI do: a sidecar (`.pqseek`) over
 * the files it names, a manifest (`.json`) of indexed files searched as one, else an indexed
 * Parquet file — a URL (relative in a page), in Node a path (a folder: its `manifest.json`), a File or Blob, or a byte source
 * (a File or byte source is one indexed file: a sidecar's files must come with it, through
 * `SidecarIndex.open(source, resolve)`); an array (a FileList) of indexed files, searched as one as a
 * manifest's (`SeekDataset.open`), or a page's pick of a sidecar's or a manifest's File with its
 * files (`SidecarIndex.openFiles`, `SeekDataset.openFiles`). Each answers `search(vector or text, options)`,
 * `searchBatch`, `rows`, `encoder`, `textModel()`, `vectorOf(row)`, `clearCache()` and `close()`.
 */
export async function open(given: string | FileInput | Iterable<string | FileInput>, o: AnyOpenOptions = {}): Promise<AnyIndex> {
  const { allow, ...rest } = o
  // (a page's `input.files` is a FileList: iterable, not an array)
  const input =
    typeof given !== 'string' && !ArrayBuffer.isView(given) && Symbol.iterator in Object(given)
      ? [...(given as Iterable<string | FileInput>)]
      : (given as string | FileInput)
  if (Array.isArray(input)) {
    // a page's pick of a sidecar, or of a manifest, with its files
    const named = (is: (name: string) => boolean) => (i: unknown) => typeof File !== 'undefined' && i instanceof File && is(i.name)
    if (input.some(named(isSidecarAddress))) return SidecarIndex.openFiles(input as File[], rest)
    return input.some(named(isManifestAddress)) ? SeekDataset.openFiles(input as File[], rest) : SeekDataset.open(input, rest)
  }
  if (typeof input !== 'string') return openIndex(input, rest)
  // (in Node a folder is the dataset its manifest.json lists)
  const address = await folderManifest(input)
  if (isSidecarAddress(address)) return SidecarIndex.openUrl(address, { ...rest, allow })
  if (isManifestAddress(address))
    return SeekDataset.fromManifest(address, { ...rest, allowSources: allow === undefined ? undefined : [...allow] })
  return openIndex(address, rest)
}
