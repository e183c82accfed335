import { execFileSync } from 'node:child_process'
import { appendFileSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, relative } from 'node:path'
import { pathToFileURL } from 'node:url'
import { describe, expect, it } from 'vitest'
import { serveDir } from '../src/cli/rangeServer.js'
import { mulberry32 } from '../src/compute/random.js'
import {
  buildIndex,
  embedTextColumn,
  encoderFor,
  fileSink,
  fileSource,
  hashNgramEncoder,
  MemorySink,
  open,
  openFolder,
  openHttp,
  openIndex,
  registerEncoder,
  registerEncoderPool,
  resolveSourceName,
  SeekDataset,
  SeekIndex,
  SidecarIndex,
  toArrowTable,
} from '../src/node.js'
import { clusteredVectors, tempDir, writeListFile } from './helpers/fixtures.js'

const root = join(import.meta.dirname, '..')

/**
 * Two indexed files of 600 rows (a.indexed.parquet, b.indexed.parquet: titles a0…, b0…), the
 * manifest of both, and a sidecar (all.pqseek) over their unindexed copies, in one folder.
 */
async function twoFiles(prefix: string) {
  const dir = tempDir(prefix)
  const dim = 8
  const v = clusteredVectors(1200, dim, 4)
  const rows = (from: number) => Array.from({ length: 600 }, (_, i) => Array.from(v.subarray((from + i) * dim, (from + i + 1) * dim)))
  for (const [name, from] of [
    ['a', 0],
    ['b', 600],
  ] as const) {
    writeListFile(join(dir, `${name}.parquet`), rows(from), { title: Array.from({ length: 600 }, (_, i) => `${name}${i}`) })
    const src = await fileSource(join(dir, `${name}.parquet`))
    await buildIndex(src, await fileSink(join(dir, `${name}.indexed.parquet`), join(dir, `${name}.parquet`)), {
      column: 'embedding',
      nlist: 8,
    })
    await src.close()
  }
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ files: ['a.indexed.parquet', 'b.indexed.parquet'] }))
  const { buildShared } = await import('../src/index/partitioned.js')
  const parts = await Promise.all(
    ['a', 'b'].map(async (n) => ({ name: `${n}.parquet`, source: await fileSource(join(dir, `${n}.parquet`)) })),
  )
  await buildShared(parts, await fileSink(join(dir, 'all.pqseek')), { column: 'embedding', nlist: 8 })
  for (const p of parts) await p.source.close()
  return { dir, v, dim }
}

describe('the npm library', () => {
  it('builds, opens and searches through the public entry; results come as plain objects and as an Arrow table', async () => {
    const dir = tempDir('pqs-lib-')
    const dim = 8
    const v = clusteredVectors(800, dim, 2)
    const input = join(dir, 'in.parquet')
    writeListFile(
      input,
      Array.from({ length: 800 }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim))),
      { title: Array.from({ length: 800 }, (_, i) => `t${i}`) },
    )
    const out = join(dir, 'out.parquet')
    const src = await fileSource(input)
    await buildIndex(src, await fileSink(out, input), { column: 'embedding' })
    await src.close()
    const file = await fileSource(out)
    const index = await openIndex(file)
    const [a, b] = await index.searchBatch([v.subarray(0, dim), v.subarray(5 * dim, 6 * dim)], { k: 4, columns: ['title'] })
    expect(a?.results[0]).toEqual({ row: 0, distance: 0, values: { title: 't0' } })
    expect(b?.results[0]?.row).toBe(5)
    const table = toArrowTable(b?.results ?? [])
    expect(table.numRows).toBe(4)
    expect(table.schema.fields.map((f) => f.name)).toEqual(['row', 'distance', 'title'])
    expect(table.getChild('title')?.toArray()).toEqual(b?.results.map((r) => r.values.title))
    expect(Array.from(table.getChild('row')?.toArray() ?? [])).toEqual(b?.results.map((r) => r.row))
    await file.close()
  })

  it('npm pack ships the built library, the CLI and the widget, never tests or data', () => {
    const [pack] = JSON.parse(execFileSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: root, encoding: 'utf8' }))
    const paths: string[] = pack.files.map((f: { path: string }) => f.path)
    expect(paths).toContain('build/src/lib.js')
    expect(paths).toContain('build/src/node.d.ts')
    expect(paths).toContain('bin/parquetseek.js')
    expect(paths.filter((p) => /(^|\/)(test|e2e|scripts|public|\.bench)\/|\.test\.|\.parquet$|\.npy$/.test(p))).toEqual([])
  })
  it('the public entry serves sidecars as the README shows: SidecarIndex.open with a confined resolver', async () => {
    const dir = tempDir('pqs-lib-side-')
    const dim = 8
    const v = clusteredVectors(600, dim, 3)
    writeListFile(
      join(dir, 'a.parquet'),
      Array.from({ length: 600 }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim))),
    )
    const { buildShared } = await import('../src/index/partitioned.js')
    const a = await fileSource(join(dir, 'a.parquet'))
    await buildShared([{ name: 'a.parquet', source: a }], await fileSink(join(dir, 'all.pqseek')), { column: 'embedding', nlist: 8 })
    await a.close()
    const opened: Array<{ close(): Promise<void> }> = []
    const open = async (path: string) => {
      const s = await fileSource(path)
      opened.push(s)
      return s
    }
    const paths = await import('node:path')
    const index = await SidecarIndex.open(await open(join(dir, 'all.pqseek')), async (name) => {
      const where = resolveSourceName(name, { kind: 'path', dir }, [], paths)
      return where.kind === 'path' ? open(where.path) : where.url
    })
    const { results } = await index.search(v.subarray(7 * dim, 8 * dim), { k: 1 })
    expect(results[0]).toMatchObject({ file: 'a.parquet', row: 7, distance: 0 })
    expect(() => resolveSourceName('../b.parquet', { kind: 'path', dir }, [], paths)).toThrow(/outside the index's own directory/)
    for (const s of opened) await s.close()
  })

  it('in Node a path opens what a URL would (an indexed file, a sidecar, a manifest); close() lets the files go, and a later search opens them again', async () => {
    const { dir, v, dim } = await twoFiles('pqs-lib-paths-')
    const fds = () => readdirSync('/proc/self/fd').length
    const settled = async (want: number) => {
      for (let i = 0; i < 100 && fds() !== want; i++) await new Promise((r) => setTimeout(r, 10))
      return fds()
    }
    const before = fds()
    const q = v.subarray(700 * dim, 701 * dim) // b's row 100
    const o = { k: 3, columns: ['title'] }

    // an indexed file, by a relative path and by a file: URL, answers as through fileSource
    const file = await fileSource(join(dir, 'b.indexed.parquet'))
    const want = (await (await openIndex(file)).search(q, o)).results
    await file.close()
    expect(want[0]).toEqual({ row: 100, distance: 0, values: { title: 'b100' } })
    // (a small first read: the file is not all in it, so a search reads from the file)
    const index = await openIndex(relative(process.cwd(), join(dir, 'b.indexed.parquet')), { tailBytes: 4096 })
    expect((await index.search(q, o)).results).toEqual(want)
    const byUrl = await openIndex(pathToFileURL(join(dir, 'b.indexed.parquet')).href)
    expect((await byUrl.search(q, o)).results).toEqual(want)
    byUrl.close()
    // a sidecar and a manifest: their files beside them, each hit naming its file and its row there
    const sidecar = await SidecarIndex.openUrl(join(dir, 'all.pqseek'))
    expect((await sidecar.search(q, o)).results[0]).toMatchObject({ file: 'b.parquet', row: 100, distance: 0, values: { title: 'b100' } })
    const dataset = await SeekDataset.fromManifest(join(dir, 'manifest.json'), { tailBytes: 4096 })
    expect((await dataset.search(q, o)).results[0]).toMatchObject({
      file: 'b.indexed.parquet',
      shard: 1,
      row: 100,
      distance: 0,
      values: { title: 'b100' },
    })
    expect(fds()).toBeGreaterThanOrEqual(before + 6) // each file held open while in use

    // (a dataset forgets its reads as one index does)
    expect((await dataset.search(q, o)).stats.requests).toBe(0)
    dataset.clearCache()
    expect((await dataset.search(q, o)).stats.requests).toBeGreaterThan(0)
    index.close()
    sidecar.close()
    dataset.close()
    expect(await settled(before)).toBe(before)
    // closed, they search on: each file opened again, what it read before read again
    index.clearCache()
    const again = await index.search(q, o)
    expect(again.results).toEqual(want)
    expect(again.stats.requests).toBeGreaterThan(0)
    index.close()
    // a file changed since it was opened is refused, not read as what it was
    appendFileSync(join(dir, 'b.indexed.parquet'), 'x')
    index.clearCache()
    await expect(index.search(q, o)).rejects.toThrow(/b\.indexed\.parquet: the file changed since it was opened/)
    // what a manifest or sidecar names stays beside it, as over HTTP
    writeFileSync(join(dir, 'escape.json'), JSON.stringify({ files: ['../elsewhere.indexed.parquet'] }))
    await expect(SeekDataset.fromManifest(join(dir, 'escape.json'))).rejects.toThrow(/outside the index's own directory/)
    // a shard that will not open lets the others go
    writeFileSync(join(dir, 'broken.json'), JSON.stringify({ files: ['a.indexed.parquet', 'a.parquet'] }))
    await expect(SeekDataset.fromManifest(join(dir, 'broken.json'))).rejects.toThrow(
      /a\.parquet: this Parquet file has no ParquetSeek index/,
    )
    expect(await settled(before)).toBe(before)
  })

  it('in Node the model a file names encodes text with nothing registered first (use-lite-512, its weights from the dependencies)', async () => {
    const encoder = encoderFor('use-lite-512')
    expect(encoder).toMatchObject({ id: 'use-lite-512', dim: 512 })
    const [joy, glad, tax] = await (encoder as NonNullable<typeof encoder>).encode(['joy', 'gladness', 'income tax'])
    const cos = (a?: ArrayLike<number>, b?: ArrayLike<number>) => Array.from(a ?? []).reduce((n, x, i) => n + x * (b?.[i] as number), 0)
    expect(joy?.length).toBe(512)
    expect(cos(joy, glad)).toBeGreaterThan(cos(joy, tax)) // by meaning
  })

  it("a File or Blob (a page's file input, a drop) builds and opens as a byte source does; anything else is an error naming what it got", async () => {
    const dir = tempDir('pqs-lib-blob-')
    const dim = 8
    const v = clusteredVectors(500, dim, 6)
    const input = join(dir, 'in.parquet')
    writeListFile(
      input,
      Array.from({ length: 500 }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim))),
    )
    // (a Blob's slice answers a Blob, not bytes: handed one, Node aborted the process)
    const sink = new MemorySink()
    await buildIndex(new Blob([readFileSync(input)]), sink, { column: 'embedding', nlist: 8 })
    const file = new File([sink.bytes as Uint8Array<ArrayBuffer>], 'papers.indexed.parquet')
    const index = await openIndex(file)
    const { results } = await index.search(v.subarray(9 * dim, 10 * dim), { k: 1 })
    expect(results[0]).toMatchObject({ row: 9, distance: 0 })
    expect(index.opened.raw.name).toBe('papers.indexed.parquet') // errors name the file
    // the file's bytes in memory too (a Uint8Array's slice is no ArrayBuffer: read as bytes, named so)
    const inMemory = await openIndex(sink.bytes as Uint8Array)
    expect((await inMemory.search(v.subarray(9 * dim, 10 * dim), { k: 1 })).results[0]).toMatchObject({ row: 9, distance: 0 })
    await expect(openIndex(new Uint8Array(8))).rejects.toThrow('bytes: not a Parquet file (8 bytes)')
    const dataset = await SeekDataset.open([file, new File([sink.bytes as Uint8Array<ArrayBuffer>], 'copy.indexed.parquet')])
    expect(dataset.names).toEqual(['papers.indexed.parquet', 'copy.indexed.parquet'])
    for (const [bad, got] of [
      [null, 'null'],
      [42, 'a number'],
      [{}, 'an object without them'],
      [new Map(), 'a Map'],
    ] as const)
      await expect(openIndex(bad as never)).rejects.toThrow(
        `openIndex takes a URL (in Node a path), a File or Blob, or a byte source ({ byteLength, slice(start, end) }); got ${got}`,
      )
    await expect(openIndex(new URL('https://cdn.example/x.parquet') as never)).rejects.toThrow(
      'got a URL object (give its string: url.href)',
    )
    await expect(buildIndex([1, 2] as never, new MemorySink(), { column: 'embedding' })).rejects.toThrow(
      /^buildIndex takes .*; got an array$/,
    )
    // a URL is not read whole by a build (the CLI's index downloads it first)
    await expect(buildIndex('https://cdn.example/in.parquet', new MemorySink(), { column: 'embedding' })).rejects.toThrow(
      'buildIndex takes a File or Blob, a byte source ({ byteLength, slice(start, end) }), or in Node a path; got "https://cdn.example/in.parquet", a URL: it reads every byte, so copy the file here first',
    )
  })

  it('in Node a build and an embedding read and write paths: the output written whole or not at all, never over its input', async () => {
    const dir = tempDir('pqs-lib-build-paths-')
    const dim = 8
    const v = clusteredVectors(500, dim, 7)
    const input = join(dir, 'in.parquet')
    const texts = Array.from({ length: 500 }, (_, i) => `note ${i} about ${['rivers', 'stars', 'bread'][i % 3]}`)
    writeListFile(
      input,
      Array.from({ length: 500 }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim))),
      { body: texts },
    )
    // the same bytes as through fileSource and fileSink
    const source = await fileSource(input)
    await buildIndex(source, await fileSink(join(dir, 'by-source.parquet'), input), { column: 'embedding', nlist: 8 })
    await source.close()
    const summary = await buildIndex(relative(process.cwd(), input), join(dir, 'by-path.parquet'), { column: 'embedding', nlist: 8 })
    expect(summary).toMatchObject({ column: 'embedding', skippedRows: [] })
    expect(readFileSync(join(dir, 'by-path.parquet'))).toEqual(readFileSync(join(dir, 'by-source.parquet')))
    // the input as its own output, a missing input, a failed build: nothing written, nothing left behind
    const before = readFileSync(input)
    await expect(buildIndex(input, input, { column: 'embedding' })).rejects.toThrow('refusing to overwrite the input')
    await expect(buildIndex(join(dir, 'nope.parquet'), join(dir, 'x.parquet'), { column: 'embedding' })).rejects.toThrow(/nope\.parquet/)
    await expect(buildIndex(input, join(dir, 'y.parquet'), { column: 'titel' })).rejects.toThrow(/titel/)
    expect(readFileSync(input)).toEqual(before)
    expect(readdirSync(dir).sort()).toEqual(['by-path.parquet', 'by-source.parquet', 'in.parquet'])
    // a text column embedded from a path to a path, then indexed, then searched by text
    // (the encoder by its model's name, as files name it)
    const embedded = await embedTextColumn(input, join(dir, 'notes.parquet'), {
      text: 'body',
      encoder: 'parquetseek/hash-ngram-v1:32',
      as: 'vec',
    })
    expect(embedded).toMatchObject({ rows: 500, embedded: 500, column: 'vec', encoder: hashNgramEncoder(32).id })
    await expect(embedTextColumn(input, join(dir, 'z.parquet'), { text: 'body', encoder: 'no-such-model' })).rejects.toThrow(
      'no encoder for the model "no-such-model" in this build',
    )
    expect(readdirSync(dir).filter((f) => f.startsWith('.') || f.startsWith('z'))).toEqual([])
    // by name on threads: the model's pool where one is registered (Node: use-lite-512's workers), stopped after
    const lexical = hashNgramEncoder(32)
    const model = 'test/pooled-model:32'
    const calls = { pool: 0, closed: 0 }
    registerEncoder((id) => (id === model ? { ...lexical, id } : undefined))
    registerEncoderPool((id, threads) =>
      id === model && threads === 2
        ? {
            id,
            dim: 32,
            encode: (texts: string[]) => {
              calls.pool++
              return lexical.encode(texts)
            },
            close: () => void calls.closed++,
          }
        : undefined,
    )
    await embedTextColumn(input, join(dir, 'pooled.parquet'), { text: 'body', encoder: model, threads: 2, as: 'vec' })
    expect(calls).toEqual({ pool: 2, closed: 1 }) // (500 texts in batches of 256)
    await embedTextColumn(input, join(dir, 'alone.parquet'), { text: 'body', encoder: model, as: 'vec' })
    expect(calls).toEqual({ pool: 2, closed: 1 })
    expect(readFileSync(join(dir, 'pooled.parquet'))).toEqual(readFileSync(join(dir, 'alone.parquet')))
    await buildIndex(join(dir, 'notes.parquet'), join(dir, 'notes.indexed.parquet'), { column: 'vec', metric: 'cosine', nlist: 8 })
    const index = await open(join(dir, 'notes.indexed.parquet'))
    const { results } = await index.search('note 42 about rivers', { k: 1, columns: ['body'] })
    expect(results[0]?.values).toEqual({ body: 'note 42 about rivers' })
    index.close()
  })

  it("in a page a relative address is read from the page's site: an indexed file, a sidecar and a manifest, their files beside them", async () => {
    const { dir, v, dim } = await twoFiles('pqs-lib-page-')
    const site = await serveDir(dir)
    const page = globalThis as { location?: { href: string } }
    page.location = { href: `${site.url}app/index.html` } // (a worker's location, as a page's code sees it)
    try {
      const q = v.subarray(700 * dim, 701 * dim) // b's row 100
      const one = await openIndex('../b.indexed.parquet')
      expect(one.opened.raw.name).toBe(`${site.url}b.indexed.parquet`)
      expect((await one.search(q, { k: 1, columns: ['title'] })).results[0]).toEqual({ row: 100, distance: 0, values: { title: 'b100' } })
      // (a sidecar's and a manifest's files resolved against a relative base were refused as "not a valid URL")
      const sidecar = await SidecarIndex.openUrl('../all.pqseek')
      expect((await sidecar.search(q, { k: 1 })).results[0]).toMatchObject({ file: 'b.parquet', row: 100, distance: 0 })
      const dataset = await SeekDataset.fromManifest('../manifest.json')
      expect(dataset.names).toEqual([`${site.url}a.indexed.parquet`, `${site.url}b.indexed.parquet`])
      expect((await dataset.search(q, { k: 1 })).results[0]).toMatchObject({ shard: 1, row: 100, distance: 0 })
    } finally {
      delete page.location
      await site.close()
    }
  })

  it('open() takes any address (an indexed file, a sidecar, a manifest), and each searches by text with the model its files name', async () => {
    const dir = tempDir('pqs-lib-open-')
    const model = 'parquetseek/hash-ngram-v1:16'
    const encoder = encoderFor(model) as NonNullable<ReturnType<typeof encoderFor>>
    const colours = ['amber', 'azure', 'coral', 'ivory', 'jade', 'lilac', 'olive', 'plum', 'rust', 'teal']
    const animals = ['falcon', 'otter', 'heron', 'lynx', 'marten', 'badger', 'ibis', 'gecko', 'bison', 'moth']
    const titles = colours.flatMap((c) => animals.flatMap((a) => [`${c} ${a}`, `${a} of ${c}`]))
    const vectors = await encoder.encode(titles)
    // a.parquet: the first 100 titles, b.parquet the rest; both name the model, as `index --embed-text` writes them
    for (const [name, from, named] of [
      ['a', 0, model],
      ['b', 100, model],
      ['other', 100, 'someone/else-v1:16'],
    ] as const) {
      const rows = vectors.slice(from, from + 100).map((x) => Array.from(x))
      writeListFile(join(dir, `${name}.parquet`), rows, { title: titles.slice(from, from + 100) }, { 'parquetseek.model': named })
      const src = await fileSource(join(dir, `${name}.parquet`))
      await buildIndex(src, await fileSink(join(dir, `${name}.indexed.parquet`), join(dir, `${name}.parquet`)), {
        column: 'embedding',
        metric: 'cosine',
        nlist: 4,
        model: named,
      })
      await src.close()
    }
    writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ files: ['a.indexed.parquet', 'b.indexed.parquet'] }))
    writeFileSync(join(dir, 'mixed.json'), JSON.stringify({ files: ['a.indexed.parquet', 'other.indexed.parquet'] }))
    const { buildShared } = await import('../src/index/partitioned.js')
    const parts = await Promise.all(
      ['a', 'b'].map(async (n) => ({ name: `${n}.parquet`, source: await fileSource(join(dir, `${n}.parquet`)) })),
    )
    await buildShared(parts, await fileSink(join(dir, 'all.pqseek')), { column: 'embedding', metric: 'cosine', nlist: 4 })
    for (const p of parts) await p.source.close()

    const o = { k: 3, columns: ['title'] }
    const one = await open(join(dir, 'b.indexed.parquet'))
    const sidecar = await open(join(dir, 'all.pqseek'))
    const dataset = await open(join(dir, 'manifest.json'))
    // (a folder: the dataset its manifest.json lists)
    const folder = await open(dir)
    expect(folder).toBeInstanceOf(SeekDataset)
    expect((folder as SeekDataset).names).toEqual((dataset as SeekDataset).names)
    folder.close()
    expect(one).toBeInstanceOf(SeekIndex)
    expect(sidecar).toBeInstanceOf(SidecarIndex)
    expect(dataset).toBeInstanceOf(SeekDataset)
    for (const index of [one, sidecar, dataset]) {
      expect(index.textModel()).toBe(model)
      // a text is embedded with the files' model: the same answer as its vector, the row of that title first
      const byText = await index.search('rust otter', o)
      expect(byText.results).toEqual((await index.search(vectors[titles.indexOf('rust otter')] as Float32Array, o)).results)
      expect(byText.results[0]?.values).toEqual({ title: 'rust otter' })
      // a batch of texts and vectors, in one call of the model
      const [text, vector] = await index.searchBatch(['plum moth', vectors[titles.indexOf('moth of teal')] as Float32Array], o)
      expect(text?.results[0]?.values).toEqual({ title: 'plum moth' })
      expect(vector?.results[0]?.values).toEqual({ title: 'moth of teal' })
      await expect(index.search('  ', o)).rejects.toThrow('the text query is empty')
      index.close()
    }
    // a sidecar's and a manifest's hits name their file
    expect((await sidecar.search('rust otter', o)).results[0]).toMatchObject({ file: 'b.parquet', row: titles.indexOf('rust otter') - 100 })
    // an array of indexed files: searched as one, as the manifest of them
    const both = await open([join(dir, 'a.indexed.parquet'), join(dir, 'b.indexed.parquet')])
    expect(both).toBeInstanceOf(SeekDataset)
    expect((await both.search('rust otter', o)).results).toEqual((await dataset.search('rust otter', o)).results)
    both.close()
    dataset.close()
    // one file named twice (another way) would answer every query twice
    await expect(open([join(dir, 'a.indexed.parquet'), relative(process.cwd(), join(dir, 'a.indexed.parquet'))])).rejects.toThrow(
      /a\.indexed\.parquet is listed twice \(files 0 and 1\)/,
    )
    // a page's pick of a sidecar with its files (File objects: no folders, found by their names)
    const picked = (name: string) => new File([readFileSync(join(dir, name))], name)
    // (a page's input.files is a FileList: iterable, not an array)
    const fileList = {
      *[Symbol.iterator]() {
        yield* [picked('all.pqseek'), picked('a.parquet'), picked('b.parquet')]
      },
    }
    const fromDisk = await open(fileList)
    expect(fromDisk).toBeInstanceOf(SidecarIndex)
    expect((await fromDisk.search('rust otter', o)).results).toEqual((await sidecar.search('rust otter', o)).results)
    await expect(open([picked('all.pqseek'), picked('a.parquet')])).rejects.toThrow(
      'all.pqseek: names b.parquet: pick it together with the sidecar (every file it names)',
    )
    // a page's pick of a manifest with its files: opened in the manifest's order (b first here), rows
    // numbered as from its folder or host; a file it lists missing, or one it does not list, named
    const reversed = new File([JSON.stringify({ files: ['b.indexed.parquet', 'a.indexed.parquet'] })], 'reversed.json')
    const fromPick = await open([picked('a.indexed.parquet'), reversed, picked('b.indexed.parquet')])
    expect(fromPick).toBeInstanceOf(SeekDataset)
    const otter = (await fromPick.search('rust otter', o)).results[0]
    expect(otter).toMatchObject({ file: 'b.indexed.parquet', shard: 0, row: titles.indexOf('rust otter') - 100 })
    expect((fromPick as SeekDataset).shardOf(titles.indexOf('amber falcon') + 100)).toEqual({
      shard: 1,
      row: titles.indexOf('amber falcon'),
    })
    fromPick.close()
    await expect(open([reversed, picked('a.indexed.parquet')])).rejects.toThrow(
      'reversed.json: lists b.indexed.parquet: pick it together with the manifest (every file it lists)',
    )
    await expect(
      open([reversed, picked('a.indexed.parquet'), picked('b.indexed.parquet'), picked('other.indexed.parquet')]),
    ).rejects.toThrow(
      'reversed.json: does not list other.indexed.parquet: pick only its files, or pick the files without it to search every one',
    )
    // files of different models: a vector searches them, a text is refused naming the models
    const mixed = await open(join(dir, 'mixed.json'))
    expect((await mixed.search(vectors[3] as Float32Array, o)).results[0]?.values).toEqual({ title: titles[3] })
    await expect(mixed.search('rust otter', o)).rejects.toThrow(
      /its files name different models, parquetseek\/hash-ngram-v1:16 \(.*a\.indexed\.parquet\); someone\/else-v1:16 \(.*other\.indexed\.parquet\)/,
    )
    mixed.close()
    const other = await open(join(dir, 'other.indexed.parquet'))
    await expect(other.search('rust otter')).rejects.toThrow('no query encoder for the file\'s model "someone/else-v1:16" in this build')
    other.close()
    // a manifest's files outside its folder: refused, unless `allow` names where they may be
    mkdirSync(join(dir, 'lists'))
    writeFileSync(join(dir, 'lists', 'up.json'), JSON.stringify({ files: ['../a.indexed.parquet'] }))
    await expect(open(join(dir, 'lists', 'up.json'))).rejects.toThrow(/outside the index's own directory/)
    const allowed = await open(join(dir, 'lists', 'up.json'), { allow: [dir] })
    expect(allowed.rows).toBe(100)
    allowed.close()
    // a file that names no model searches by vector; a text says why it cannot
    const { dir: plain, v, dim } = await twoFiles('pqs-lib-open-plain-')
    const unnamed = await open(join(plain, 'a.indexed.parquet'))
    expect((await unnamed.search(v.subarray(0, dim), { k: 1 })).results[0]).toMatchObject({ row: 0, distance: 0 })
    await expect(unnamed.search('rust otter')).rejects.toThrow('does not name the model that made its vectors')
    unnamed.close()
  })

  it("a page's folder (openFolder): its manifest with the files it lists, else its sidecar with its files, else its indexed files; the folder's other files left aside", async () => {
    const { dir, v, dim } = await twoFiles('pqs-lib-folder-')
    const picked = (names: string[]) => names.map((name) => new File([readFileSync(join(dir, name))], name))
    const everything = readdirSync(dir)
    expect(everything.sort()).toEqual(['a.indexed.parquet', 'a.parquet', 'all.pqseek', 'b.indexed.parquet', 'b.parquet', 'manifest.json'])
    const query = v.subarray(700 * dim, 701 * dim) // b's row 100
    // the whole folder: the dataset its manifest lists (the unindexed files and the sidecar beside it left aside)
    const folder = await openFolder(picked(everything))
    expect(folder).toBeInstanceOf(SeekDataset)
    const fromDisk = await SeekDataset.fromManifest(join(dir, 'manifest.json'))
    expect((await folder.search(query, { k: 5 })).results).toEqual((await fromDisk.search(query, { k: 5 })).results)
    expect((await folder.search(query, { k: 1 })).results[0]).toMatchObject({ file: 'b.indexed.parquet', row: 100, distance: 0 })
    fromDisk.close()
    folder.close()
    // no manifest: the sidecar, over the files it names
    const sidecar = await openFolder(picked(everything.filter((n) => n !== 'manifest.json')))
    expect(sidecar).toBeInstanceOf(SidecarIndex)
    expect((await sidecar.search(query, { k: 1 })).results[0]).toMatchObject({ file: 'b.parquet', row: 100 })
    sidecar.close()
    // only indexed files: searched as one in the order of their names, whatever order they come in
    const both = await openFolder(picked(['b.indexed.parquet', 'a.indexed.parquet']))
    expect(both).toBeInstanceOf(SeekDataset)
    expect((both as SeekDataset).names).toEqual(['a.indexed.parquet', 'b.indexed.parquet'])
    both.close()
    // one file: opened alone
    const one = await openFolder(picked(['b.indexed.parquet']))
    expect(one).toBeInstanceOf(SeekIndex)
    one.close()
    await expect(openFolder([new File(['x'], 'notes.txt')])).rejects.toThrow(
      'the folder holds no Parquet file, manifest (.json) or sidecar index (.pqseek): only notes.txt',
    )
    await expect(openFolder([])).rejects.toThrow(
      'the folder holds no Parquet file, manifest (.json) or sidecar index (.pqseek): it is empty',
    )
    // a file its manifest lists, missing from the folder: named
    await expect(openFolder(picked(['manifest.json', 'a.indexed.parquet', 'a.parquet']))).rejects.toThrow(
      'manifest.json: lists b.indexed.parquet: pick it together with the manifest (every file it lists)',
    )
  })

  it("a sidecar, a manifest or an indexed file handed to another kind's open says what it is and what opens it", async () => {
    const { dir } = await twoFiles('pqs-lib-kinds-')
    await expect(openIndex(join(dir, 'manifest.json'))).rejects.toThrow(
      'manifest.json: is a manifest, not an indexed Parquet file: SeekDataset.fromManifest opens it',
    )
    await expect(openIndex(join(dir, 'all.pqseek'))).rejects.toThrow(
      'all.pqseek: is a sidecar index, not an indexed Parquet file: SidecarIndex.openUrl (or .open) opens it',
    )
    // (they said "no PAR1 magic at the end", "not a ParquetSeek sidecar index", "the manifest is not JSON")
    const parquet = join(dir, 'a.indexed.parquet')
    await expect(SidecarIndex.openUrl(parquet)).rejects.toThrow('(no PQSEEK-SIDECAR1 magic): it is a Parquet file, which openIndex opens')
    await expect(SeekDataset.fromManifest(parquet)).rejects.toThrow('the manifest is not JSON: it is a Parquet file, which openIndex opens')
    // a file pq-vector indexed (it said only "has no ParquetSeek index")
    const { withPqVectorIndex } = await import('../src/search/pqVector.js')
    const pqv = join(dir, 'pqv.parquet')
    writeFileSync(
      pqv,
      withPqVectorIndex(readFileSync(join(dir, 'a.parquet')), 8, new Float32Array(8), [Uint32Array.from({ length: 600 }, (_, i) => i)]),
    )
    await expect(openIndex(pqv)).rejects.toThrow(
      'pqv.parquet: this Parquet file holds a pq-vector index, not a ParquetSeek one: PqVectorFile.open searches it',
    )
  })

  it("toArrowTable keeps the file of each row (a sidecar's, a dataset's hits) and never lets a returned column take the place of row or distance", async () => {
    const { dir, v, dim } = await twoFiles('pqs-lib-arrow-')
    const q = v.subarray(700 * dim, 701 * dim) // b's row 100
    const dataset = await SeekDataset.fromManifest(join(dir, 'manifest.json'))
    const { results } = await dataset.search(q, { k: 5, columns: ['title'] })
    const table = toArrowTable(results)
    expect(table.schema.fields.map((f) => f.name)).toEqual(['file', 'shard', 'row', 'distance', 'title'])
    expect(table.toArray().map((r) => r.toJSON())).toEqual(
      results.map(({ file, shard, row, distance, values }) => ({ file, shard, row, distance, ...values })),
    )
    const sidecar = await SidecarIndex.openUrl(join(dir, 'all.pqseek'))
    const side = toArrowTable((await sidecar.search(q, { k: 2 })).results)
    expect(side.schema.fields.map((f) => f.name)).toEqual(['file', 'row', 'distance'])
    expect(side.getChild('file')?.get(0)).toBe('b.parquet')
    // a file's own `distance` column (a place's, say) comes beside the search's, not over it
    const own = toArrowTable([{ row: 3, distance: 0.5, values: { distance: 'far', row: 7, title: 't' } }])
    expect(own.toArray()[0]?.toJSON()).toEqual({ row: 3, distance: 0.5, 'values.distance': 'far', 'values.row': 7, title: 't' })
    dataset.close()
    sidecar.close()
  })

  it('a column no file has, to return or to keep distinct values of, is refused before anything is read', async () => {
    const { dir, v, dim } = await twoFiles('pqs-lib-columns-')
    const q = v.subarray(700 * dim, 701 * dim)
    const index = await openIndex(join(dir, 'b.indexed.parquet'), { tailBytes: 4096 })
    const before = { ...index.opened.counting.counts }
    await expect(index.search(q, { columns: ['title', 'titel'] })).rejects.toThrow(
      'b.indexed.parquet, column "titel": no such column to return; the columns are: title, embedding',
    )
    await expect(index.search(q, { distinct: 'titel' })).rejects.toThrow(
      'b.indexed.parquet, column "titel": no such column to keep one row of each value of (distinct); the columns are: title, embedding',
    )
    // (it used to read the lists and candidates first: 2 requests, 85–208 KiB on the demo over HTTP)
    expect(index.opened.counting.counts).toEqual(before)
    expect((await index.search(q, { k: 1, distinct: 'title' })).results[0]).toMatchObject({ row: 100, values: {} })
    const dataset = await SeekDataset.fromManifest(join(dir, 'manifest.json'))
    const opened = dataset.shards.map((s) => ({ ...s.opened.counting.counts }))
    await expect(dataset.search(q, { columns: ['titel'] })).rejects.toThrow(
      'a.indexed.parquet and 1 more files, column "titel": no such column to return',
    )
    expect(dataset.shards.map((s) => s.opened.counting.counts)).toEqual(opened)
    const sidecar = await SidecarIndex.openUrl(join(dir, 'all.pqseek'))
    await expect(sidecar.search(q, { distinct: 'titel' })).rejects.toThrow('all.pqseek, column "titel": no such column to keep one row')
    for (const closing of [index, dataset, sidecar]) closing.close()
  })

  it('an address no fetch takes (a path outside a page, s3://, gs://) is said at once with what to give instead, not retried as a network error; a file: URL is a path', async () => {
    let fetched = 0
    const fetch = async () => {
      fetched++
      return new Response('')
    }
    await expect(openHttp('data/papers.indexed.parquet', { fetch })).rejects.toThrow(
      /data\/papers\.indexed\.parquet: not a URL, and there is no page to read it from/,
    )
    // an object store's own scheme: the address to give instead, not a network error or ENOENT
    await expect(openHttp('s3://bucket/papers.indexed.parquet', { fetch })).rejects.toThrow(
      's3://bucket/papers.indexed.parquet: s3:// addresses are not read directly: files are read over HTTP(S) with Range requests, so give https://BUCKET.s3.amazonaws.com/KEY for a public bucket, or a presigned URL',
    )
    expect(fetched).toBe(0)
    await expect(openIndex('gs://bucket/papers.indexed.parquet')).rejects.toThrow(
      /gs:\/\/ addresses are not read directly.*storage\.googleapis\.com/,
    )
    await expect(fileSource('az://account/papers.parquet')).rejects.toThrow(/az:\/\/ addresses are not read directly/)
    // a file: URL is its path; a file whose name has a colon is a file
    const dir = tempDir('pqs-lib-scheme-')
    writeFileSync(join(dir, 'data:2020.parquet'), 'PAR1')
    for (const address of [pathToFileURL(join(dir, 'data:2020.parquet')).href, join(dir, 'data:2020.parquet')]) {
      const file = await fileSource(address)
      expect(file.byteLength).toBe(4)
      await file.close()
    }
  })

  it('distinct: k values even when the nearest 5 × k rows hold fewer (the search widens); fewer only when the probed lists hold fewer', async () => {
    const dir = tempDir('pqs-lib-distinct-')
    const dim = 8
    const docs = 60
    const each = 12 // a text's passages: near copies of one vector, so 5 × k = 25 rows hold 3 texts
    const rand = mulberry32(5)
    const centers = Array.from({ length: docs }, () => Array.from({ length: dim }, () => rand() * 10))
    const rows: number[][] = []
    const doc: string[] = []
    for (const [d, c] of centers.entries())
      for (let p = 0; p < each; p++) {
        rows.push(c.map((x) => x + (rand() - 0.5) * 0.01))
        doc.push(`d${d}`)
      }
    const input = join(dir, 'in.parquet')
    writeListFile(input, rows, { doc })
    const out = join(dir, 'out.parquet')
    const src = await fileSource(input)
    await buildIndex(src, await fileSink(out, input), { column: 'embedding', nlist: 8 })
    await src.close()
    const file = await fileSource(out)
    const index = await openIndex(file)
    const query = (centers[0] as number[]).map((x) => x + 0.3)
    // the 5 texts whose nearest passage is nearest, by brute force
    const nearest = new Map<string, number>()
    for (const [r, v] of rows.entries()) {
      const d2 = v.reduce((n, x, i) => n + (x - (query[i] as number)) ** 2, 0)
      nearest.set(doc[r] as string, Math.min(nearest.get(doc[r] as string) ?? Infinity, d2))
    }
    const want = [...nearest].sort((a, b) => a[1] - b[1]).slice(0, 5)
    const all = await index.search(query, { k: 5, nprobe: 8, distinct: 'doc', columns: ['doc'] })
    expect(all.results.map((h) => h.values.doc)).toEqual(want.map(([d]) => d))
    for (const [i, h] of all.results.entries()) expect(h.distance).toBeCloseTo(Math.sqrt(want[i]?.[1] as number), 3)
    const plain = await index.search(query, { k: 25, nprobe: 8, columns: ['doc'] })
    expect(new Set(plain.results.map((h) => h.values.doc)).size).toBeLessThan(5) // what one pool of 5 × k held
    expect(all.stats.candidates).toBeGreaterThan(plain.stats.candidates) // the second, wider search is counted
    // one probed list: as many texts as it holds, no more, and the search ends
    const one = await index.search(query, { k: 5, nprobe: 1, distinct: 'doc', columns: ['doc'] })
    const inList = new Set((await index.search(query, { k: 10_000, nprobe: 1, columns: ['doc'] })).results.map((h) => h.values.doc))
    expect(one.results.length).toBe(Math.min(5, inList.size))
    await file.close()
  })
})
