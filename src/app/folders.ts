/**
 * Folders given to the page — picked (an input with `webkitdirectory`) or dropped — as the files
 * directly in them: what `parquetseek index … --out-dir` writes is one folder, its manifest beside
 * the files it lists.
 */

import type { FolderInput } from '../../workers/engineApi.js'

export type { FolderInput }

/** A folder pick's files (each named by its path from the folder chosen) as that folder's own files. */
export function pickedFolder(files: readonly File[]): FolderInput | undefined {
  const folder = files[0]?.webkitRelativePath.split('/')[0]
  if (!folder) return undefined
  return { folder, files: files.filter((f) => f.webkitRelativePath.split('/').length === 2) }
}

/** The parts of a dropped item's FileSystemEntry that reading a folder needs (fakes stand in for it in tests). */
export interface EntryLike {
  isFile: boolean
  isDirectory: boolean
  name: string
}
interface FileEntryLike extends EntryLike {
  file(ok: (f: File) => void, fail: (e: unknown) => void): void
}
interface FolderEntryLike extends EntryLike {
  createReader(): { readEntries(ok: (entries: EntryLike[]) => void, fail: (e: unknown) => void): void }
}

/**
 * The files directly in a dropped folder. A folder's reader answers its entries a batch at a
 * time (Chromium: 100), an empty batch at the end.
 */
export async function folderFiles(folder: EntryLike): Promise<File[]> {
  const reader = (folder as FolderEntryLike).createReader()
  const entries: EntryLike[] = []
  for (;;) {
    const batch = await new Promise<EntryLike[]>((ok, fail) => reader.readEntries(ok, fail))
    if (!batch.length) break
    entries.push(...batch)
  }
  return Promise.all(entries.filter((e) => e.isFile).map((e) => new Promise<File>((ok, fail) => (e as FileEntryLike).file(ok, fail))))
}

/**
 * What a drop gives the page: its files, or the one folder dropped. `entries` are its items'
 * `webkitGetAsEntry()`, taken while the drop event lasts (they are gone after it).
 */
export async function dropped(
  files: readonly File[],
  entries: ReadonlyArray<EntryLike | null>,
): Promise<File | File[] | FolderInput | undefined> {
  const folders = entries.filter((e): e is EntryLike => e?.isDirectory === true)
  if (folders.length > 1 || (folders.length && entries.length > 1))
    throw new Error('drop one folder at a time, or files (a sidecar or a manifest with its files, or indexed files)')
  const [folder] = folders
  if (folder) return { folder: folder.name, files: await folderFiles(folder) }
  return files.length > 1 ? [...files] : files[0]
}
