import { describe, expect, it } from 'vitest'
import { dropped, type EntryLike, folderFiles, pickedFolder } from '../src/app/folders.js'

/** A file as a folder pick gives it: named by its path from the folder chosen. */
const inFolder = (path: string) => Object.assign(new File(['x'], path.split('/').at(-1) as string), { webkitRelativePath: path })

/** A dropped folder's entry, its reader answering `batch` entries at a time as Chromium's does (100), then an empty batch. */
function folderEntry(name: string, names: string[], batch = 2): EntryLike {
  const entries = names.map((n) =>
    n.endsWith('/')
      ? { isFile: false, isDirectory: true, name: n.slice(0, -1) }
      : { isFile: true, isDirectory: false, name: n, file: (ok: (f: File) => void) => ok(new File(['x'], n)) },
  )
  return {
    isFile: false,
    isDirectory: true,
    name,
    createReader: () => {
      let at = 0
      return {
        readEntries: (ok: (e: EntryLike[]) => void) => {
          const next = entries.slice(at, at + batch)
          at += batch
          setTimeout(() => ok(next))
        },
      }
    },
  } as EntryLike
}

describe("the app's folders", () => {
  it('a folder pick gives the files directly in the folder chosen, named by it; its subfolders left aside', () => {
    const pick = pickedFolder(['indexed/manifest.json', 'indexed/part-0.indexed.parquet', 'indexed/raw/part-0.parquet'].map(inFolder))
    expect(pick?.folder).toBe('indexed')
    expect(pick?.files.map((f) => f.name)).toEqual(['manifest.json', 'part-0.indexed.parquet'])
    expect(pickedFolder([])).toBeUndefined()
  })

  it("a dropped folder's files, read a batch at a time to the end (subfolders left aside); files dropped as they are; two folders refused", async () => {
    const names = ['manifest.json', 'raw/', 'part-0.indexed.parquet', 'part-1.indexed.parquet', 'part-2.indexed.parquet']
    const files = await folderFiles(folderEntry('indexed', names))
    expect(files.map((f) => f.name)).toEqual([
      'manifest.json',
      'part-0.indexed.parquet',
      'part-1.indexed.parquet',
      'part-2.indexed.parquet',
    ])
    const folder = await dropped([new File([''], 'indexed')], [folderEntry('indexed', names, 100)])
    expect(folder).toMatchObject({ folder: 'indexed' })
    expect((folder as { files: File[] }).files).toHaveLength(4)
    const a = new File(['x'], 'a.indexed.parquet')
    const b = new File(['x'], 'b.indexed.parquet')
    const file = { isFile: true, isDirectory: false, name: 'a' }
    expect(await dropped([a], [file])).toBe(a)
    expect(await dropped([a, b], [file, file])).toEqual([a, b])
    await expect(dropped([a, b], [folderEntry('x', []), folderEntry('y', [])])).rejects.toThrow('drop one folder at a time')
    await expect(dropped([a, b], [folderEntry('x', []), file])).rejects.toThrow('drop one folder at a time')
  })
})
