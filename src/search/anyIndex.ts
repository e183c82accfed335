import { ParquetSeekError } from '../errors.js'
import type { FileInput } from '../io/blobSource.js'
import { compareNames } from '../io/fileUrl.js'
import { isHubGlob } from '../io/hub.js'
import { hubGlob } from '../io/hubGlob.js'
import { type DatasetOpenOptions, folderManifest, isManifestAddress, MANIFEST, SeekDataset } from './dataset.js'
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
 * Parquet file — a URL (relative in a page), in Node a path (a folder: its `manifest.json`), a File or Blob, or a byte source;
 * an `hf://` glob (`hf://datasets/o/r/indexed/*.parquet`) is the indexed files it matches, searched as one
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
  // (an hf:// glob: the files it matches, as an array of them)
  if (isHubGlob(input)) return SeekDataset.open(await hubGlob(input, { fetch: rest.http?.fetch, signal: rest.signal }), rest)
  // (in Node a folder is the dataset its manifest.json lists)
  const address = await folderManifest(input)
  if (isSidecarAddress(address)) return SidecarIndex.openUrl(address, { ...rest, allow })
  if (isManifestAddress(address))
    return SeekDataset.fromManifest(address, { ...rest, allowSources: allow === undefined ? undefined : [...allow] })
  return openIndex(address, rest)
}

/**
 * What a folder's files open as (a page's folder pick or drop; `files`: those directly in it): its
 * `manifest.json` (or its only `.json`) with the files it lists, the folder's other files left
 * aside; else its sidecar (`.pqseek`) with the files it names; else its Parquet files (one opens
 * alone; several, each indexed, searched as one in the order of their names, as a pick of them).
 */
export function folderPick(files: readonly File[]): { files: File[]; unlisted?: 'leave' } {
  const parquet = files.filter((f) => /\.parquet$/i.test(f.name))
  const manifests = files.filter((f) => isManifestAddress(f.name))
  const manifest = manifests.find((f) => f.name === MANIFEST) ?? (manifests.length === 1 ? manifests[0] : undefined)
  if (manifest) return { files: [manifest, ...parquet], unlisted: 'leave' }
  const sidecars = files.filter((f) => isSidecarAddress(f.name))
  if (sidecars.length) return { files: [...sidecars, ...parquet] }
  if (!parquet.length) {
    const held = files.length > 3 ? `${files.length} files (${files[0]?.name}, …)` : files.map((f) => f.name).join(', ')
    throw new ParquetSeekError(
      `the folder holds no Parquet file, manifest (.json) or sidecar index (.pqseek): ${files.length ? `only ${held}` : 'it is empty'}`,
    )
  }
  return { files: naturalOrder(parquet) }
}

/** Files in the order of their names, numbers by value (`part-2` before `part-10`), as a page lists several picked together. */
export function naturalOrder<T extends { name: string }>(files: readonly T[]): T[] {
  return [...files].sort((a, b) => compareNames(a.name, b.name))
}

/** A folder's files (a page's folder pick or drop) opened as `folderPick` reads them. */
export async function openFolder(files: readonly File[], o: AnyOpenOptions = {}): Promise<AnyIndex> {
  const { allow: _, ...rest } = o
  const pick = folderPick(files)
  if (pick.unlisted) return SeekDataset.openFiles(pick.files, { ...rest, unlisted: pick.unlisted })
  const [first] = pick.files
  return pick.files.length === 1 && first ? openIndex(first, rest) : open(pick.files, o)
}
