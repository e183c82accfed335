import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { buildDataset, type FileHandle, type FolderHandle } from '../src/app/datasetBuild.js'
import { newInputs, partsInfo } from '../src/app/parts.js'
import { buildIndex } from '../src/index/build.js'
import { builtOtherwise } from '../src/index/model.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { indexedName, manifestWith } from '../src/search/dataset.js'
import { engineApi } from '../workers/engineApi.js'
import type { FileInfo } from '../workers/fileFacts.js'
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
    // one's index beside it (a build cut short wrote it): left out of those to index, given as the earlier build's
    const p2Index = new File([readFileSync(out)], 'part-2.indexed.parquet')
    const resumed = await api.unindexedParts({ folder: 'parts', files: [p10, p2Index, p2] })
    expect([resumed?.files.map((f) => f.name), resumed?.earlier.map((f) => f.name)]).toEqual([
      ['part-2.parquet', 'part-10.parquet'],
      ['part-2.indexed.parquet'],
    ])
    expect(parts?.earlier).toEqual([])
    // (a file and its index alone: one file to index, as before)
    expect(await api.unindexedParts([p2, p2Index])).toBeUndefined()
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

/** As an earlier fakeBuild wrote it: kept; anything else differs. */
const asBuilt = async (output: File) => ((await output.text()).startsWith('built from ') ? undefined : 'does not open as a Parquet file')

/** The rows of a file an earlier build left: those its text names ("300 rows"), else unknown. */
const rowsOf = async (output: File) => {
  const named = /^(\d+) rows/.exec(await output.text())?.[1]
  return named === undefined ? undefined : Number(named)
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
      builtOtherwise: asBuilt,
      rowsOf,
      confirm: () => {
        throw new Error('nothing to replace in memory')
      },
      build: fakeBuild(10),
      open: async (manifest, files) => void opened.push([await manifest.text(), ...files.map((f) => f.name)]),
    })
    expect(built).toMatchObject({ folder: undefined, written: 2, kept: 0, rows: 20 })
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
        builtOtherwise: asBuilt,
        rowsOf,
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
      builtOtherwise: asBuilt,
      rowsOf,
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
    expect(asked).toEqual(
      Array(2).fill('out already holds b.indexed.parquet, which does not open as a Parquet file: replace it with the file built now?'),
    )
    expect(built).toMatchObject({ folder: 'out', written: 2, kept: 0, rows: 10 })
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
        builtOtherwise: asBuilt,
        rowsOf,
        confirm: () => true,
        build: fakeBuild(1, cancel),
        open: async () => {},
      }),
    ).rejects.toThrow(
      /^Build cancelled\. 2 of 3 files were indexed into out and stay there; manifest\.json was not written\. Index the same files into out again to go on from there: those built with the same settings are kept\.$/,
    )
    expect([...files.keys()].sort()).toEqual(['a.indexed.parquet', 'b.indexed.parquet', 'manifest.json'])
    expect(await text('a.indexed.parquet')).toBe('built from a.parquet')
    expect(JSON.parse((await text('manifest.json')) ?? '')).toEqual({ files: ['a.indexed.parquet'] })
    // files that do not open as one: the open's words, and the same
    await expect(
      buildDataset([a, b], {
        folder,
        builtOtherwise: asBuilt,
        rowsOf,
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
    // cancelled as a file's build ends (no build running to hear it): the next is not begun
    const between = new AbortController()
    const begun: string[] = []
    await expect(
      buildDataset([a, b], {
        signal: between.signal,
        builtOtherwise: asBuilt,
        rowsOf,
        confirm: () => true,
        build: async (file) => {
          begun.push(file.name)
          between.abort()
          return { rows: 1, blob: new Blob(['x']) }
        },
        open: async () => {},
      }),
    ).rejects.toThrow(/^Build cancelled\. 1 of 2 files was indexed; manifest\.json was not written\.$/)
    expect(begun).toEqual(['a.parquet'])
    // cancelled while the dataset opens: the open is given the build's signal, and the manifest is not written
    const opening = new AbortController()
    const { folder: late, text: lateText } = memoryFolder('late')
    await expect(
      buildDataset([a, b], {
        folder: late,
        signal: opening.signal,
        builtOtherwise: asBuilt,
        rowsOf,
        confirm: () => true,
        build: fakeBuild(1),
        open: (_, __, signal) =>
          new Promise((_, reject) => {
            signal?.addEventListener('abort', () => reject(Object.assign(new Error('open cancelled'), { name: 'AbortError' })))
            opening.abort()
          }),
      }),
    ).rejects.toThrow(/^Build cancelled\. 2 of 2 files were indexed into late and stay there; manifest\.json was not written\./)
    expect(await lateText('manifest.json')).toBeUndefined()
    // the first file failing in memory: its words alone
    await expect(
      buildDataset([a], {
        builtOtherwise: asBuilt,
        rowsOf,
        confirm: () => true,
        build: fakeBuild(1, () => new Error('a.parquet: no column x')),
        open: async () => {},
      }),
    ).rejects.toThrow(/^a\.parquet: no column x$/)
  })

  it("a folder's manifest that lists a file gone, or is no manifest, and two files of one name are said before anything is written", async () => {
    const gone = memoryFolder('out', { 'manifest.json': JSON.stringify({ files: ['gone%201.indexed.parquet'] }) })
    await expect(
      buildDataset([a], {
        folder: gone.folder,
        builtOtherwise: asBuilt,
        rowsOf,
        confirm: () => true,
        build: fakeBuild(1),
        open: async () => {},
      }),
    ).rejects.toThrow(
      /^out\/manifest\.json: lists gone%201\.indexed\.parquet, which is not in the folder: list only files it holds, or pick another folder$/,
    )
    expect([...gone.files.keys()]).toEqual(['manifest.json'])
    for (const entry of ['https://cdn.example/x.indexed.parquet', 'sub/x.indexed.parquet']) {
      const { folder } = memoryFolder('out', { 'manifest.json': JSON.stringify({ files: [entry] }) })
      await expect(
        buildDataset([a], { folder, builtOtherwise: asBuilt, rowsOf, confirm: () => true, build: fakeBuild(1), open: async () => {} }),
      ).rejects.toThrow(`out/manifest.json: lists ${entry}, which is not in the folder`)
    }
    const broken = memoryFolder('out', { 'manifest.json': 'PAR1 not json' })
    let builds = 0
    await expect(
      buildDataset([a], {
        folder: broken.folder,
        builtOtherwise: asBuilt,
        rowsOf,
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
      buildDataset([a, new File(['A'], 'a.PARQUET')], {
        builtOtherwise: asBuilt,
        rowsOf,
        confirm: () => true,
        build: fakeBuild(1),
        open: async () => {},
      }),
    ).rejects.toThrow('a.parquet and a.PARQUET would both be indexed into a.indexed.parquet: give each file its own name')
  })

  it("built again into a folder, an earlier build's file newer than its input and built as asked is kept; the others are replaced once agreed, saying why", async () => {
    const { folder, text } = memoryFolder('out', {
      'a.indexed.parquet': 'built from a.parquet',
      'b.indexed.parquet': 'built from b.parquet',
      'c.indexed.parquet': 'built from c.parquet with nlist 8',
    })
    // (b changed since its index was written)
    const newB = new File(['b2'], 'b.parquet', { lastModified: Date.now() + 60_000 })
    const c = new File(['c'], 'c.parquet')
    const asked: string[] = []
    const builds: string[] = []
    const build = fakeBuild(3)
    const built = await buildDataset([a, newB, c], {
      folder,
      builtOtherwise: async (output) => ((await output.text()).endsWith('nlist 8') ? 'was built with nlist 8, not 16' : undefined),
      rowsOf,
      confirm: (q) => {
        asked.push(q)
        return true
      },
      build: (file, i, target) => {
        builds.push(file.name)
        return build(file, i, target)
      },
      open: async (_, files) => expect(files.map((f) => f.name)).toEqual(['a.indexed.parquet', 'b.indexed.parquet', 'c.indexed.parquet']),
    })
    expect(asked).toEqual([
      'out already holds b.indexed.parquet, which is older than b.parquet; c.indexed.parquet, which was built with nlist 8, not 16: replace them with the files built now?',
    ])
    expect(builds).toEqual(['b.parquet', 'c.parquet'])
    expect(built).toMatchObject({ written: 2, kept: 1, rows: 6 })
    expect(await text('a.indexed.parquet')).toBe('built from a.parquet')
    expect(await text('c.indexed.parquet')).toBe('built from c.parquet')
    expect(JSON.parse((await text('manifest.json')) ?? '')).toEqual({
      files: ['a.indexed.parquet', 'b.indexed.parquet', 'c.indexed.parquet'],
    })
    // every file as asked (b as it was): none built, nothing asked, the manifest written
    const again = await buildDataset([a, b, c], {
      folder,
      builtOtherwise: asBuilt,
      rowsOf,
      confirm: () => {
        throw new Error('nothing to replace')
      },
      build: () => {
        throw new Error('nothing to build')
      },
      open: async () => {},
    })
    expect(again).toMatchObject({ written: 0, kept: 3, rows: 0 })
  })

  it('in memory, the indexed files opened with the inputs are kept where built as asked, and the others built without asking', async () => {
    const kept = new File(['built from a.parquet'], 'a.indexed.parquet')
    const builds: string[] = []
    const build = fakeBuild(2)
    const built = await buildDataset([a, b], {
      beside: [kept, new File(['PAR1 of other settings'], 'b.indexed.parquet')],
      builtOtherwise: asBuilt,
      rowsOf,
      confirm: () => {
        throw new Error('nothing asked in memory')
      },
      build: (file, i, target) => {
        builds.push(file.name)
        return build(file, i, target)
      },
      open: async () => {},
    })
    expect(builds).toEqual(['b.parquet'])
    expect(built?.files[0]).toBe(kept)
    expect(await built?.files[1]?.text()).toBe('built from b.parquet')
    expect(built).toMatchObject({ written: 1, kept: 1, rows: 2 })
  })
})

describe('files added to a dataset open from its folder', () => {
  it("the folder's Parquet files no build has added (not listed, not an index, not the input of one listed), and those changed since their index", () => {
    const names = ['a.parquet', 'a.indexed.parquet', 'b.parquet', 'c.parquet', 'other.parquet', 'notes.txt', 'manifest.json']
    const files = names.map((n) => new File(['x'], n, { lastModified: 1000 }))
    const named = ({ added, changed }: { added: File[]; changed: File[] }) => [added.map((f) => f.name), changed.map((f) => f.name)]
    // the manifest lists a's index (a.parquet is its input) and other.parquet itself
    expect(named(newInputs(files, ['a.indexed.parquet', 'other.parquet']))).toEqual([['b.parquet', 'c.parquet'], []])
    expect(named(newInputs(files, ['a.indexed.parquet', 'b.indexed.parquet', 'c.indexed.parquet', 'other.parquet']))).toEqual([[], []])
    // an input newer than its index listed: changed since (the index not in the folder: not said)
    const newer = files.map((f) => (f.name === 'a.parquet' ? new File(['x2'], f.name, { lastModified: 2000 }) : f))
    expect(named(newInputs(newer, ['a.indexed.parquet', 'b.indexed.parquet', 'c.indexed.parquet']))).toEqual([
      ['other.parquet'],
      ['a.parquet'],
    ])
  })

  it('in memory, the manifest open keeps its files first, read from those beside the inputs; a file it lists that is not there is said', async () => {
    const manifest = new File([JSON.stringify({ files: ['x.indexed.parquet', 'y%201.indexed.parquet'] })], 'manifest.json')
    const x = new File(['built from x.parquet'], 'x.indexed.parquet')
    const y = new File(['built from y 1.parquet'], 'y 1.indexed.parquet')
    const c = new File(['c'], 'c.parquet')
    const opened: string[] = []
    const built = await buildDataset([c], {
      manifest,
      beside: [x, c, y, manifest],
      builtOtherwise: asBuilt,
      rowsOf,
      confirm: () => {
        throw new Error('nothing asked in memory')
      },
      build: fakeBuild(4),
      open: async (_, files) => void opened.push(...files.map((f) => f.name)),
    })
    expect(opened).toEqual(['x.indexed.parquet', 'y 1.indexed.parquet', 'c.indexed.parquet'])
    expect(JSON.parse((await built?.manifest.text()) ?? '')).toEqual({
      files: ['x.indexed.parquet', 'y%201.indexed.parquet', 'c.indexed.parquet'],
    })
    expect(built).toMatchObject({ written: 1, kept: 0, rows: 4 })
    await expect(
      buildDataset([c], {
        manifest,
        beside: [x, c],
        builtOtherwise: asBuilt,
        rowsOf,
        confirm: () => true,
        build: fakeBuild(4),
        open: async () => {},
      }),
    ).rejects.toThrow(
      'manifest.json: lists y%201.indexed.parquet, which is not in the folder: list only files it holds, or pick another folder',
    )
  })

  it('into a folder, one that is not the folder of the dataset open is refused before anything is built', async () => {
    const manifest = new File([JSON.stringify({ files: ['x.indexed.parquet'] })], 'manifest.json')
    const c = new File(['c'], 'c.parquet')
    const add = (folder: FolderHandle) =>
      buildDataset([c], {
        folder,
        manifest,
        builtOtherwise: asBuilt,
        rowsOf,
        confirm: () => true,
        build: fakeBuild(1),
        open: async () => {},
      })
    const empty = memoryFolder('elsewhere')
    await expect(add(empty.folder)).rejects.toThrow(
      'elsewhere is not the folder of the dataset open: it holds no manifest.json. Pick that folder to add the files to it.',
    )
    const other = memoryFolder('other', { 'manifest.json': JSON.stringify({ files: ['z.indexed.parquet'] }), 'z.indexed.parquet': 'z' })
    await expect(add(other.folder)).rejects.toThrow('other is not the folder of the dataset open: its manifest.json lists other files.')
    expect([...empty.files.keys(), ...other.files.keys()]).toEqual(['manifest.json', 'z.indexed.parquet'])
    const same = memoryFolder('data', { 'manifest.json': JSON.stringify({ files: ['x.indexed.parquet'] }), 'x.indexed.parquet': 'x' })
    expect(await add(same.folder)).toMatchObject({ written: 1, kept: 0, folder: 'data' })
    expect(JSON.parse((await same.text('manifest.json')) ?? '')).toEqual({ files: ['x.indexed.parquet', 'c.indexed.parquet'] })
  })

  it('a file the manifest lists, indexed again with more or fewer rows: the build says how the rows after it are numbered now', async () => {
    const [a, b, c] = ['a', 'b', 'c'].map((n) => new File([n], `${n}.parquet`)) as [File, File, File]
    const folderWith = () =>
      memoryFolder('data', {
        'manifest.json': JSON.stringify({ files: ['a.indexed.parquet', 'b.indexed.parquet', 'c.indexed.parquet'] }),
        'a.indexed.parquet': '300 rows',
        'b.indexed.parquet': '200 rows',
        'c.indexed.parquet': '100 rows',
      }).folder
    const again = (files: File[], rows: number) =>
      buildDataset(files, {
        folder: folderWith(),
        builtOtherwise: asBuilt,
        rowsOf,
        confirm: () => true,
        build: fakeBuild(rows),
        open: async () => {},
      })
    expect((await again([a], 310))?.renumbered).toBe(
      'the rows of the 2 files after a.indexed.parquet in the manifest are numbered 10 higher than before (it now holds 310 rows, not 300), so a row number saved or linked before names another row now',
    )
    expect((await again([b], 150))?.renumbered).toBe(
      'the rows of the file after b.indexed.parquet in the manifest are numbered 50 lower than before (it now holds 150 rows, not 200), so a row number saved or linked before names another row now',
    )
    expect((await again([c, a], 310))?.renumbered).toBe(
      'the rows of the 2 files after a.indexed.parquet in the manifest are numbered differently than before (rows now: a.indexed.parquet 310, not 300; c.indexed.parquet 310, not 100), so a row number saved or linked before names another row now',
    )
    // the last file's rows move no other row (one added after it had no number before); the same count moves none
    expect(await again([c, new File(['d'], 'd.parquet')], 310)).not.toHaveProperty('renumbered')
    expect(await again([a], 300)).not.toHaveProperty('renumbered')
  })

  it('the engine takes a single file to add where asked to', async () => {
    const api = engineApi()
    const one = fileOf(vectors('one.parquet', 100, 8))
    expect(await api.unindexedParts([one])).toBeUndefined()
    expect((await api.unindexedParts([one], undefined, 1))?.files.map((f) => f.name)).toEqual(['one.parquet'])
    expect(partsInfo({ files: [one], infos: [(await api.fileFacts(one)) as FileInfo], earlier: [] }).info.name).toBe('one.parquet')
  })
})

describe('an index built before, as a build asks for it again (index/model.ts builtOtherwise)', () => {
  it('names the first setting that differs; a setting not asked for is any', () => {
    const built = {
      params: { metric: 'cosine', nlist: 8, m: 4, nbits: 8, seed: 1 } as const,
      column: 'emb',
      model: 'use-lite-512',
      passages: false,
      float16: false,
    }
    const asked = { metric: 'cosine', clustered: false } as const
    expect(builtOtherwise(built, asked)).toBeUndefined()
    expect(builtOtherwise(built, { ...asked, column: 'emb', nlist: 8, model: 'use-lite-512', passages: false })).toBeUndefined()
    expect(builtOtherwise(built, { ...asked, metric: 'l2' })).toBe('was built with metric cosine, not l2')
    expect(builtOtherwise(built, { ...asked, column: 'vec' })).toBe('was built with column emb, not vec')
    expect(builtOtherwise(built, { ...asked, nlist: 16 })).toBe('was built with nlist 8, not 16')
    expect(builtOtherwise({ ...built, model: undefined }, { ...asked, model: 'use-lite-512' })).toBe(
      'was built with model none, not use-lite-512',
    )
    expect(builtOtherwise(built, { ...asked, passages: true })).toBe('embeds each text whole, not in passages')
    expect(builtOtherwise({ ...built, passages: true }, { ...asked, passages: false })).toBe('embeds texts in passages, a row each')
    expect(builtOtherwise(built, { ...asked, float16: false })).toBeUndefined()
    expect(builtOtherwise(built, { ...asked, float16: true })).toBe('stores its vectors as 32-bit floats, not half floats')
    expect(builtOtherwise({ ...built, float16: true }, { ...asked, float16: false })).toBe('stores its vectors as half floats')
    // (an embedding column given keeps its type: not asked, not compared)
    expect(builtOtherwise({ ...built, float16: true }, asked)).toBeUndefined()
    expect(builtOtherwise(built, { ...asked, clustered: true })).toBe('stores its rows in input order, not list by list')
    expect(builtOtherwise({ ...built, params: { ...built.params, clustered: true } }, asked)).toBe('stores its rows list by list')
  })
})
