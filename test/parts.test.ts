import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildDataset, type FileHandle, type FolderHandle } from '../src/app/datasetBuild.js'
import { partsInfo } from '../src/app/parts.js'
import { buildIndex } from '../src/index/build.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { indexedName, manifestWith } from '../src/search/dataset.js'
import { engineApi } from '../workers/engineApi.js'
import { clusteredVectors, tempDir, writeIdTextFile, writeListFile } from './helpers/fixtures.js'

// Several Parquet files none of which is indexed, opened in the page together: offered to be
// indexed as one dataset (app/BuildPanel.tsx), as `parquetseek index … --out-dir` does.

const dir = tempDir('pqs-parts-')
const fileOf = (path: string) => new File([readFileSync(path)], path.split('/').at(-1) as string)

function vectors(name: string, rows: number, dim: number, extra: Record<string, unknown[]> = {}): string {
  const v = clusteredVectors(rows, dim, rows)
  const path = join(dir, name)
  writeListFile(
    path,
    Array.from({ length: rows }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim))),
    extra,
  )
  return path
}

describe('several unindexed files in the page', () => {
  it('the engine gives them, in the order of their names, with their facts; anything else opens as it is', async () => {
    const api = engineApi()
    const p10 = fileOf(vectors('part-10.parquet', 300, 8))
    const p2 = fileOf(vectors('part-2.parquet', 200, 8, { title: Array.from({ length: 200 }, (_, i) => `t${i}`) }))
    const parts = await api.unindexedParts([p10, p2])
    expect(parts?.files.map((f) => f.name)).toEqual(['part-2.parquet', 'part-10.parquet'])
    expect(parts?.infos.map((i) => [i.name, i.rows, i.vectorColumns])).toEqual([
      ['part-2.parquet', 200, ['embedding']],
      ['part-10.parquet', 300, ['embedding']],
    ])
    // a folder's: its Parquet files (the rest left aside)
    const folder = await api.unindexedParts({ folder: 'parts', files: [p10, new File(['notes'], 'README.md'), p2] })
    expect(folder?.files.map((f) => f.name)).toEqual(['part-2.parquet', 'part-10.parquet'])
    // one file, one indexed among them, a manifest or a sidecar with them: not parts
    expect(await api.unindexedParts([p10])).toBeUndefined()
    const input = vectors('c.parquet', 300, 8)
    const out = join(dir, indexedName('c.parquet'))
    const src = await fileSource(input)
    await buildIndex(src, await fileSink(out, input), { column: 'embedding', nlist: 4 })
    await src.close()
    expect(await api.unindexedParts([p2, fileOf(out), p10])).toBeUndefined()
    expect(await api.unindexedParts([p2, p10, new File(['{"files":[]}'], 'manifest.json')])).toBeUndefined()
    expect(await api.unindexedParts([p2, p10, new File(['x'], 'all.pqseek')])).toBeUndefined()
    // a file that is no Parquet: said, naming it
    await expect(api.unindexedParts([p2, new File(['not parquet at all'], 'notes.parquet')])).rejects.toThrow(/notes\.parquet/)
  })

  it('shown as one: rows and bytes of all, the columns every file has; files with none in common say which differs', async () => {
    const api = engineApi()
    const a = fileOf(vectors('a.parquet', 100, 8, { title: Array.from({ length: 100 }, (_, i) => `a${i}`) }))
    const b = fileOf(vectors('b.parquet', 150, 8, { lang: Array.from({ length: 150 }, () => 'en') }))
    const parts = await api.unindexedParts([a, b])
    if (!parts) throw new Error('expected parts')
    const { info, problem } = partsInfo(parts)
    expect(problem).toBeUndefined()
    expect(info).toMatchObject({
      name: 'a.parquet and 1 more',
      rows: 250,
      vectorColumns: ['embedding'],
      kind: 'parts',
      sources: [
        { name: 'a.parquet', rows: 100 },
        { name: 'b.parquet', rows: 150 },
      ],
    })
    expect(info.bytes).toBe(a.size + b.size)
    // every name either file has: a new column's name must be free in both
    expect(info.columns.map((c) => c.name).sort()).toEqual(['embedding', 'lang', 'title'])
    // a file with text only beside files with vectors: no column to index in all
    const text = join(dir, 'notes.parquet')
    writeIdTextFile(text, 'body', ['solar power', 'river boats'])
    const mixed = await api.unindexedParts([a, fileOf(text)])
    if (!mixed) throw new Error('expected parts')
    expect(partsInfo(mixed).problem).toBe(
      'notes.parquet has no vector column embedding, as a.parquet has: the files of one dataset need one column of one name to index.',
    )
    // text alone in all: embedded, then indexed
    const text2 = join(dir, 'notes-2.parquet')
    writeIdTextFile(text2, 'body', ['tall ships'])
    const texts = await api.unindexedParts([fileOf(text), fileOf(text2)])
    if (!texts) throw new Error('expected parts')
    const shown = partsInfo(texts)
    expect(shown.problem).toBeUndefined()
    expect(shown.info).toMatchObject({ vectorColumns: [], textColumns: ['body'] })
  })

  it('a manifest built into a folder keeps the files it listed first, in their order; a file indexed again keeps its place', () => {
    expect(indexedName('part 1.PARQUET')).toBe('part 1.indexed.parquet')
    expect(manifestWith([], ['b.indexed.parquet', 'a #1.indexed.parquet'])).toEqual(['b.indexed.parquet', 'a%20%231.indexed.parquet'])
    expect(manifestWith(['x.indexed.parquet', 'a%20%231.indexed.parquet'], ['a #1.indexed.parquet', 'y.indexed.parquet'])).toEqual([
      'x.indexed.parquet',
      'a%20%231.indexed.parquet',
      'y.indexed.parquet',
    ])
  })
})

/** A folder as `showDirectoryPicker` gives one, in memory: its files by name. */
function memoryFolder(name: string, held: Record<string, string> = {}) {
  const files = new Map(Object.entries(held).map(([n, text]) => [n, new Blob([text])]))
  const notFound = () => Object.assign(new Error('not found'), { name: 'NotFoundError' })
  const folder: FolderHandle = {
    name,
    async getFileHandle(file, o) {
      if (!files.has(file)) {
        if (!o?.create) throw notFound()
        files.set(file, new Blob([]))
      }
      return {
        getFile: async () => new File([files.get(file) as Blob], file),
        createWritable: async () => {
          const parts: string[] = []
          return { write: async (text: string) => void parts.push(text), close: async () => void files.set(file, new Blob(parts)) }
        },
      }
    },
    async removeEntry(file) {
      if (!files.delete(file)) throw notFound()
    },
  }
  const text = async (file: string) => files.get(file)?.text()
  return { folder, files, text }
}

/** A build of one file that writes its name into the target (or answers it as the Blob) and counts as `rows` rows. */
const fakeBuild = (rows: number, fail?: (i: number) => Error | undefined) => async (file: File, i: number, target?: FileHandle) => {
  const error = fail?.(i)
  if (error) throw error
  const bytes = `built from ${file.name}`
  if (!target) return { rows, blob: new Blob([bytes]) }
  const w = await target.createWritable()
  await w.write(bytes)
  await w.close()
  return { rows, blob: undefined }
}

describe('a dataset built in the page (app/datasetBuild.ts)', () => {
  const a = new File(['a'], 'a.parquet')
  const b = new File(['b'], 'b.parquet')

  it('in memory: each file built in order, the manifest listing them, the dataset opened from them', async () => {
    const opened: string[][] = []
    const built = await buildDataset([b, a], {
      confirm: () => {
        throw new Error('nothing to replace in memory')
      },
      build: fakeBuild(10),
      open: async (manifest, files) => void opened.push([await manifest.text(), ...files.map((f) => f.name)]),
    })
    expect(built).toMatchObject({ folder: undefined, built: 2, rows: 20 })
    expect(await Promise.all(built?.files.map((f) => f.text()) ?? [])).toEqual(['built from b.parquet', 'built from a.parquet'])
    expect(opened).toEqual([
      [`${JSON.stringify({ files: ['b.indexed.parquet', 'a.indexed.parquet'] }, null, 2)}\n`, 'b.indexed.parquet', 'a.indexed.parquet'],
    ])
  })

  it("into a folder: its manifest's files kept first, a file there replaced only once agreed, the manifest written once the dataset opens", async () => {
    const { folder, text } = memoryFolder('out', {
      'manifest.json': JSON.stringify({ files: ['old.indexed.parquet', 'b.indexed.parquet'] }),
      'old.indexed.parquet': 'old',
      'b.indexed.parquet': 'b before',
    })
    const asked: string[] = []
    // declined: nothing built, nothing changed
    expect(
      await buildDataset([a, b], {
        folder,
        confirm: (q) => {
          asked.push(q)
          return false
        },
        build: fakeBuild(1),
        open: async () => {},
      }),
    ).toBeUndefined()
    expect(await text('b.indexed.parquet')).toBe('b before')
    expect(await text('a.indexed.parquet')).toBeUndefined()
    let manifestAtOpen: string | undefined
    const built = await buildDataset([a, b], {
      folder,
      confirm: (q) => {
        asked.push(q)
        return true
      },
      build: fakeBuild(5),
      open: async (_, files) => {
        manifestAtOpen = await text('manifest.json')
        expect(files.map((f) => f.name)).toEqual(['old.indexed.parquet', 'a.indexed.parquet', 'b.indexed.parquet'])
      },
    })
    expect(asked).toEqual(Array(2).fill('out already holds b.indexed.parquet: replace it with the files built now?'))
    expect(built).toMatchObject({ folder: 'out', built: 2, rows: 10 })
    // (the old manifest still there while the dataset opened)
    expect(JSON.parse(manifestAtOpen ?? '')).toEqual({ files: ['old.indexed.parquet', 'b.indexed.parquet'] })
    expect(JSON.parse((await text('manifest.json')) ?? '')).toEqual({
      files: ['old.indexed.parquet', 'b.indexed.parquet', 'a.indexed.parquet'],
    })
    expect(await text('b.indexed.parquet')).toBe('built from b.parquet')
  })

  it('cancelled or failed: the files built stay, the one being built does not, the manifest is not written', async () => {
    const { folder, files, text } = memoryFolder('out', {
      'manifest.json': JSON.stringify({ files: ['a.indexed.parquet'] }),
      'a.indexed.parquet': 'a',
    })
    const controller = new AbortController()
    const c = new File(['c'], 'c.parquet')
    const cancel = (i: number) => {
      if (i < 2) return undefined
      controller.abort()
      return Object.assign(new Error('aborted'), { name: 'AbortError' })
    }
    await expect(
      buildDataset([a, b, c], {
        folder,
        signal: controller.signal,
        confirm: () => true,
        build: fakeBuild(1, cancel),
        open: async () => {},
      }),
    ).rejects.toThrow(/^Build cancelled\. 2 of 3 files were indexed into out and stay there; manifest\.json was not written\.$/)
    expect([...files.keys()].sort()).toEqual(['a.indexed.parquet', 'b.indexed.parquet', 'manifest.json'])
    expect(await text('a.indexed.parquet')).toBe('built from a.parquet')
    expect(JSON.parse((await text('manifest.json')) ?? '')).toEqual({ files: ['a.indexed.parquet'] })
    // files that do not open as one: the open's words, and the same
    await expect(
      buildDataset([a, b], {
        folder,
        confirm: () => true,
        build: fakeBuild(1),
        open: async () => {
          throw new Error('shard 1 is 24-d l2, the first shard 16-d l2: one dataset needs one kind of vector')
        },
      }),
    ).rejects.toThrow(
      'one dataset needs one kind of vector. 2 of 2 files were indexed into out and stay there; manifest.json was not written.',
    )
    expect(JSON.parse((await text('manifest.json')) ?? '')).toEqual({ files: ['a.indexed.parquet'] })
    // the first file failing in memory: its words alone
    await expect(
      buildDataset([a], { confirm: () => true, build: fakeBuild(1, () => new Error('a.parquet: no column x')), open: async () => {} }),
    ).rejects.toThrow(/^a\.parquet: no column x$/)
  })

  it("a folder's manifest that lists a file gone, or is no manifest, and two files of one name are said before anything is written", async () => {
    const gone = memoryFolder('out', { 'manifest.json': JSON.stringify({ files: ['gone%201.indexed.parquet'] }) })
    await expect(
      buildDataset([a], { folder: gone.folder, confirm: () => true, build: fakeBuild(1), open: async () => {} }),
    ).rejects.toThrow(
      /^out\/manifest\.json: lists gone%201\.indexed\.parquet, which is not in the folder: list only files it holds, or pick another folder$/,
    )
    expect([...gone.files.keys()]).toEqual(['manifest.json'])
    for (const entry of ['https://cdn.example/x.indexed.parquet', 'sub/x.indexed.parquet']) {
      const { folder } = memoryFolder('out', { 'manifest.json': JSON.stringify({ files: [entry] }) })
      await expect(buildDataset([a], { folder, confirm: () => true, build: fakeBuild(1), open: async () => {} })).rejects.toThrow(
        `out/manifest.json: lists ${entry}, which is not in the folder`,
      )
    }
    const broken = memoryFolder('out', { 'manifest.json': 'PAR1 not json' })
    let builds = 0
    await expect(
      buildDataset([a], {
        folder: broken.folder,
        confirm: () => true,
        build: async () => {
          builds += 1
          return { rows: 1 }
        },
        open: async () => {},
      }),
    ).rejects.toThrow(/out\/manifest\.json: the manifest is not JSON/)
    expect(builds).toBe(0)
    // two files of one output name
    await expect(
      buildDataset([a, new File(['A'], 'a.PARQUET')], { confirm: () => true, build: fakeBuild(1), open: async () => {} }),
    ).rejects.toThrow('a.parquet and a.PARQUET would both be indexed into a.indexed.parquet: give each file its own name')
  })
})
