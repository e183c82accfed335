/**
 * Several Parquet files indexed in the page as one dataset: each into a folder the person picked
 * (or in memory), then the manifest.json that lists them — what `parquetseek index … --out-dir`
 * does. No React here: BuildPanel.tsx gives it the build of one file, the question to ask and
 * the dataset's open.
 */

import { isUrlReference } from '../io/confine.js'
import {
  indexedName,
  MANIFEST,
  MAX_MANIFEST_BYTES,
  manifestFiles,
  manifestName,
  manifestText,
  manifestWith,
  renumbered,
} from '../search/dataset.js'

/** The parts of the File System Access API's file handle a dataset build uses (the manifest's writing). */
export interface FileHandle {
  getFile(): Promise<File>
  createWritable(): Promise<{ write(text: string): Promise<void>; close(): Promise<void> }>
}

/** The parts of its folder handle (`showDirectoryPicker`); `H`: its file handles. */
export interface FolderHandle<H extends FileHandle = FileHandle> {
  name: string
  getFileHandle(name: string, o?: { create?: boolean }): Promise<H>
  removeEntry(name: string): Promise<void>
}

/** Several files indexed as one dataset: in a folder (`folder`: its name) or in memory. */
export interface BuiltDataset {
  folder?: string
  manifest: File
  /** Every file the manifest lists: those it listed before the build first, then this build's. */
  files: File[]
  /** How many of this build's files it wrote. */
  written: number
  /** How many it kept as an earlier build wrote them (built as this one asks). */
  kept: number
  /** Rows in the files this build wrote. */
  rows: number
  ms: number
  /** Files the manifest listed, indexed again with more or fewer rows: how the rows after them are numbered now (search/dataset.ts renumbered). */
  renumbered?: string
}

export interface DatasetBuildOptions<H extends FileHandle> {
  /** Where the files and the manifest are written; none: in memory. */
  folder?: FolderHandle<H>
  /** Asked before files already in the folder are replaced (its words name them); false: nothing is built. */
  confirm(question: string): boolean | Promise<boolean>
  /** Indexes the `i`th file, into `target` when given, else into the Blob it answers; its rows. */
  build(file: File, i: number, target?: H): Promise<{ rows: number; blob?: Blob }>
  /**
   * How `output`, the index of `input` already there (in the folder, or among `beside`),
   * differs from what this build writes ("was built with nlist 8, not 16"); undefined: it is
   * kept, and `input` not indexed again (a cancelled build, run again, goes on from there).
   */
  builtOtherwise(output: File, input: File): Promise<string | undefined>
  /** The rows of an indexed file already there, read before it is replaced (undefined: unknown). */
  rowsOf(output: File): Promise<number | undefined>
  /**
   * Without a folder: the files opened with the inputs (their folder's), where an earlier build's
   * index of one is found, and the files `manifest` lists.
   */
  beside?: File[]
  /**
   * The manifest of the dataset open the inputs are added to: in memory, the one read; into a
   * folder, the one the folder's must be (another folder is refused before anything is built).
   */
  manifest?: File
  /** Opens the dataset for search, or throws why it does not open (or that `signal` cancelled it): the manifest is then not written. */
  open(manifest: File, files: File[], signal?: AbortSignal): Promise<void>
  signal?: AbortSignal
}

/**
 * `files` (in the order their rows are to be numbered) each indexed alone into
 * `<name>.indexed.parquet`, then the manifest listing them, written last and only once they open
 * as one dataset. A manifest already in the folder (in memory, the `manifest` given) keeps the
 * files it lists first, in their order, so rows already numbered keep their numbers. A file of
 * that name already there is kept where it is newer than its input and built as this build
 * asks, and replaced otherwise, only if the person agrees. Cancelled or failed: the files built stay (the one being built does not), the
 * manifest is not written, and the error says so. Undefined when the person declines.
 */
export async function buildDataset<H extends FileHandle>(files: File[], o: DatasetBuildOptions<H>): Promise<BuiltDataset | undefined> {
  const { folder } = o
  const names = files.map((f) => indexedName(f.name))
  const twice = names.findIndex((name, i) => names.indexOf(name) !== i)
  if (twice >= 0) {
    const first = files[names.indexOf(names[twice] as string)]?.name
    throw new Error(`${first} and ${files[twice]?.name} would both be indexed into ${names[twice]}: give each file its own name`)
  }
  /** A file of the folder (in memory: of those beside the inputs), or undefined where there is none of that name. */
  const lookup = async (name: string) => (folder ? await fileIn(folder, name) : o.beside?.find((f) => f.name === name))
  const { listed, before } = await listedBefore(folder ? await fileIn(folder, MANIFEST) : o.manifest, names, lookup, o)
  /** Names already in the folder. */
  const there = new Set<string>()
  /** The files already indexed as this build would index them, by their input's place. */
  const kept = new Map<number, File>()
  /** Those to replace, and why. */
  const replaced: string[] = []
  /** Rows of the files the manifest lists that this build replaces: before, then now (renumbered). */
  const counted = new Map<string, { before: number; now: number }>()
  const inManifest = new Set(listed.map(manifestName))
  for (const [i, name] of names.entries()) {
    const found = await lookup(name)
    if (!found) continue
    if (folder) there.add(name)
    const input = files[i] as File
    const why = found.lastModified < input.lastModified ? `is older than ${input.name}` : await o.builtOtherwise(found, input)
    if (why === undefined) {
      kept.set(i, found)
      continue
    }
    if (folder) replaced.push(`${name}, which ${why}`)
    const before = inManifest.has(name) ? await o.rowsOf(found) : undefined
    if (before !== undefined) counted.set(name, { before, now: before })
  }
  if (folder && replaced.length) {
    const one = replaced.length === 1
    const some = replaced.length > 3 ? `${replaced.slice(0, 3).join('; ')}; and ${replaced.length - 3} more` : replaced.join('; ')
    if (
      !(await o.confirm(
        `${folder.name} already holds ${some}: replace ${one ? 'it' : 'them'} with the ${one ? 'file' : 'files'} built now?`,
      ))
    )
      return undefined
  }
  const started = performance.now()
  const outputs: File[] = []
  let rows = 0
  try {
    for (const [i, file] of files.entries()) {
      // (a cancel between two files: the next is not begun)
      o.signal?.throwIfAborted()
      const name = names[i] as string
      const earlier = kept.get(i)
      if (earlier) {
        outputs.push(earlier)
        continue
      }
      const target = await folder?.getFileHandle(name, { create: true })
      try {
        const built = await o.build(file, i, target)
        rows += built.rows
        const count = counted.get(name)
        if (count) count.now = built.rows
        outputs.push(target ? await target.getFile() : new File([built.blob as Blob], name, { type: 'application/vnd.apache.parquet' }))
      } catch (e) {
        // (a file the handle made, empty, for this build goes again)
        if (folder && !there.has(name)) await folder.removeEntry(name).catch(() => {})
        throw e
      }
    }
    const manifest = new File([manifestText(manifestWith(listed, names))], MANIFEST, { type: 'application/json' })
    await o.open(manifest, [...before, ...outputs], o.signal)
    if (folder) {
      const writable = await (await folder.getFileHandle(MANIFEST, { create: true })).createWritable()
      await writable.write(await manifest.text())
      await writable.close()
    }
    const moved = renumbered(listed, counted)
    return {
      folder: folder?.name,
      manifest,
      files: [...before, ...outputs],
      written: outputs.length - kept.size,
      kept: kept.size,
      rows,
      ms: performance.now() - started,
      ...(moved ? { renumbered: moved } : {}),
    }
  } catch (e) {
    const cancelled = (e as Error).name === 'AbortError' || o.signal?.aborted
    const one = outputs.length === 1
    const done = outputs.length
      ? ` ${outputs.length} of ${files.length} files ${one ? 'was' : 'were'} indexed${folder ? ` into ${folder.name} and ${one ? 'stays' : 'stay'} there` : ''}; ${MANIFEST} was not written.` +
        (folder ? ` Index the same files into ${folder.name} again to go on from there: those built with the same settings are kept.` : '')
      : ''
    const why = cancelled ? 'Build cancelled.' : (e as Error).message
    throw new Error(done ? `${why.replace(/[.\s]+$/, '')}.${done}` : why, { cause: e })
  }
}

/**
 * The entries of `manifest` — the folder's, or in memory the dataset's the inputs are added to —
 * and the files it lists that this build does not write (`names`), found by `lookup`; a file it
 * lists that is not there is an error. Into a folder, for a dataset open (`o.manifest`), the
 * folder's manifest must list what that one does.
 */
async function listedBefore(
  manifest: File | undefined,
  names: string[],
  lookup: (name: string) => Promise<File | undefined>,
  o: { folder?: FolderHandle; manifest?: File },
): Promise<{ listed: string[]; before: File[] }> {
  const { folder } = o
  const where = folder ? `${folder.name}/${MANIFEST}` : (manifest?.name ?? MANIFEST)
  if (manifest && manifest.size > MAX_MANIFEST_BYTES) throw new Error(`${where}: is ${manifest.size} bytes, more than a manifest holds`)
  const listed = manifest ? manifestFiles(new Uint8Array(await manifest.arrayBuffer()), where) : []
  if (folder && o.manifest) {
    // (added to the dataset open: the folder picked must be the one it came from)
    const open = manifestFiles(new Uint8Array(await o.manifest.arrayBuffer()), o.manifest.name)
    if (!manifest || listed.join('\n') !== open.join('\n'))
      throw new Error(
        `${folder.name} is not the folder of the dataset open: ${manifest ? `its ${MANIFEST} lists other files` : `it holds no ${MANIFEST}`}. Pick that folder to add the files to it.`,
      )
  }
  const before: File[] = []
  for (const entry of listed) {
    const name = manifestName(entry)
    if (names.includes(name)) continue
    // (a URL, or a file in a subfolder, is none of the folder's own files)
    const file = isUrlReference(entry) || /[\\/]/.test(name) ? undefined : await lookup(name)
    if (!file) throw new Error(`${where}: lists ${entry}, which is not in the folder: list only files it holds, or pick another folder`)
    before.push(file)
  }
  return { listed, before }
}

/** A file in `folder`, or undefined where there is none of that name. */
async function fileIn(folder: FolderHandle, name: string): Promise<File | undefined> {
  try {
    return await (await folder.getFileHandle(name)).getFile()
  } catch (e) {
    if ((e as Error).name === 'NotFoundError') return undefined
    throw e
  }
}
