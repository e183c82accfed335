import { mkdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { Page } from '@playwright/test'
import { serveDir } from '../src/cli/rangeServer.js'
import { USE_LITE } from '../src/encode/useLite.js'
import { buildIndex } from '../src/index/build.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { manifestText } from '../src/search/dataset.js'
import { clusteredVectors, tempDir, writeIdTextFile, writeListFile } from '../test/helpers/fixtures.js'
import { expect, hitRows, hits, searchRow, seriousViolations, test } from './fixtures.js'

// Several Parquet files without an index, opened together: the page indexes each into a folder,
// with the manifest.json that searches them as one (what `parquetseek index … --out-dir` does).

const dir = tempDir('pqs-dataset-')

/** `rows` vectors of `dim` (their own clusters, by `seed`) and a title naming the file and row. */
function part(folder: string, name: string, rows: number, dim: number, seed: number): string {
  const v = clusteredVectors(rows, dim, seed)
  const path = join(folder, name)
  writeListFile(
    path,
    Array.from({ length: rows }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim))),
    { title: Array.from({ length: rows }, (_, i) => `${name} ${i}`) },
  )
  return path
}

/** The native folder dialog cannot be driven by a test: it answers with `out` in the origin-private file system. */
async function pickOutFolder(page: Page) {
  await page.addInitScript(() => {
    const w = globalThis as unknown as {
      showDirectoryPicker: () => Promise<unknown>
      navigator: { storage: { getDirectory(): Promise<{ getDirectoryHandle(n: string, o: object): Promise<unknown> }> } }
    }
    w.showDirectoryPicker = async () => (await w.navigator.storage.getDirectory()).getDirectoryHandle('out', { create: true })
  })
}

/** The names in `out` (the origin-private file system), sorted, and its manifest.json's text if any. */
async function outFolder(page: Page): Promise<{ names: string[]; manifest?: string }> {
  return page.evaluate(async () => {
    type Entry = { getFile(): Promise<{ text(): Promise<string> }> }
    type Folder = { keys(): AsyncIterable<string>; getFileHandle(n: string): Promise<Entry> }
    const storage = (globalThis as unknown as { navigator: { storage: { getDirectory(): Promise<unknown> } } }).navigator.storage
    const root = (await storage.getDirectory()) as { getDirectoryHandle(n: string, o: object): Promise<Folder> }
    const out = await root.getDirectoryHandle('out', { create: true })
    const names: string[] = []
    for await (const name of out.keys()) names.push(name)
    const manifest = names.includes('manifest.json') ? await (await (await out.getFileHandle('manifest.json')).getFile()).text() : undefined
    return { names: names.sort(), manifest }
  })
}

test('a folder of unindexed files is indexed into a picked folder with its manifest.json, and searched as one', async ({ page }, info) => {
  await pickOutFolder(page)
  const parts = join(dir, 'parts')
  mkdirSync(parts)
  // (named so that the order of their names, part-2 before part-10, is not the order of their characters)
  part(parts, 'part-10.parquet', 1500, 16, 3)
  part(parts, 'part-2.parquet', 1200, 16, 4)
  part(parts, 'part-1.parquet', 1000, 16, 5)
  // every worker the page starts, those its workers start too
  const started: string[] = []
  page.on('worker', (w) => started.push(new URL(w.url()).pathname))
  await page.goto('/')
  await page.getByLabel('Parquet folder').setInputFiles(parts)
  await expect(page.getByTestId('parts')).toContainText('3 Parquet files in parts, 3,700 rows, none of them indexed yet.')
  await expect(page.getByTestId('index-status')).toHaveText('No index in these files.')
  const build = page.getByRole('region', { name: 'Build' })
  await expect(build.getByRole('heading')).toHaveText('Index 3 files as one dataset')
  await expect(build.getByRole('checkbox', { name: /into a folder/ })).toBeChecked()
  expect(await seriousViolations(page), 'files to index').toEqual([])
  await page.screenshot({ path: info.outputPath('parts.png'), fullPage: true })
  await build.getByRole('button', { name: 'Index 3 files' }).click()
  await expect(page.getByTestId('built-dataset')).toContainText(
    /^3 files indexed \(3,700 rows\) in [\d.]+ s; written into out with manifest\.json: host that folder as it is/,
    { timeout: 120_000 },
  )
  // the build's kernel workers (one a core beside the build worker) started once for the 3 files
  const threads = await page.evaluate(() => Math.max(1, Math.min(8, navigator.hardwareConcurrency || 1)))
  expect(started.filter((p) => /\/kernel\.worker-[\w-]+\.js$/.test(p))).toHaveLength(threads - 1)
  // the folder holds each file's index and the manifest, listing them in the order of their names
  const out = await outFolder(page)
  expect(out.names).toEqual(['manifest.json', 'part-1.indexed.parquet', 'part-10.indexed.parquet', 'part-2.indexed.parquet'])
  expect(JSON.parse(out.manifest ?? '')).toEqual({ files: ['part-1.indexed.parquet', 'part-2.indexed.parquet', 'part-10.indexed.parquet'] })
  // the page searches them as one: rows numbered across the files in that order
  await expect(page.getByTestId('index-status')).toContainText('a manifest of 3 indexed files')
  await expect(page.getByTestId('file-summary')).toContainText('3,700 rows')
  await searchRow(page, 1000 + 1200 + 7)
  await expect.poll(() => hitRows(page).then((r) => r[0])).toBe(2207)
  await expect(hits(page).first().locator('.hit-title')).toHaveText('part-10.parquet 7')
  await expect(hits(page).first().locator('.hit-file')).toContainText('part-10.indexed.parquet row 7')
  await page.screenshot({ path: info.outputPath('dataset.png'), fullPage: true })
})

test('a dataset build that cannot open as one writes no manifest, and a cancelled one keeps the files built', async ({ page }) => {
  await pickOutFolder(page)
  const files = join(dir, 'mixed')
  mkdirSync(files)
  const a = part(files, 'a.parquet', 800, 16, 6)
  const b = part(files, 'b.parquet', 800, 24, 7)
  await page.goto('/')
  await page.getByLabel('Parquet file').setInputFiles([b, a])
  await expect(page.getByTestId('parts')).toContainText('2 Parquet files, 1,600 rows, none of them indexed yet.')
  await page.getByRole('button', { name: 'Index 2 files' }).click()
  // both are built, but 16-d and 24-d vectors are no dataset: said, and the manifest is not written
  await expect(page.getByRole('alert')).toContainText('is 24-d l2, the first shard 16-d l2: one dataset needs one kind of vector', {
    timeout: 60_000,
  })
  await expect(page.getByRole('alert')).toContainText(
    'one kind of vector. 2 of 2 files were indexed into out and stay there; manifest.json was not written.',
  )
  expect(await outFolder(page)).toEqual({ names: ['a.indexed.parquet', 'b.indexed.parquet'] })
  // the panel is still there to build again; now a second file large enough to be cancelled while it builds
  const big = part(files, 'c.parquet', 60_000, 16, 8)
  await page.getByLabel('Parquet file').setInputFiles([a, big])
  const asked: string[] = []
  page.on('dialog', (d) => {
    asked.push(d.message())
    void d.accept()
  })
  await page.getByRole('button', { name: 'Index 2 files' }).click()
  await expect(page.getByTestId('build-file')).toContainText('file 2 of 2: c.parquet', { timeout: 60_000 })
  await page.getByRole('button', { name: 'Cancel' }).click()
  await expect(page.getByRole('alert')).toHaveText(
    'Build cancelled. 1 of 2 files was indexed into out and stays there; manifest.json was not written. Index the same files into out again to go on from there: those built with the same settings are kept.',
  )
  // a.indexed.parquet, built by the first try with these settings, was kept: nothing to ask
  expect(asked).toEqual([])
  // (the file being built when cancelled is not left behind empty)
  expect(await outFolder(page)).toEqual({ names: ['a.indexed.parquet', 'b.indexed.parquet'] })
  // other settings: the file there is replaced, once the person agrees to what differs
  await page.getByRole('region', { name: 'Build' }).getByLabel('Metric').selectOption('cosine')
  await page.getByRole('button', { name: 'Index 2 files' }).click()
  await expect(page.getByTestId('build-file')).toContainText('file 2 of 2: c.parquet', { timeout: 60_000 })
  await page.getByRole('button', { name: 'Cancel' }).click()
  await expect(page.getByRole('alert')).toContainText('Build cancelled. 1 of 2 files was indexed into out')
  expect(asked).toEqual([
    'out already holds a.indexed.parquet, which was built with metric l2, not cosine: replace it with the file built now?',
  ])
})

test('where the browser cannot write into a folder, the dataset is built in memory (the indexed files an earlier build left beside them kept where built as asked), searched, and each file offered to download', async ({
  page,
}, info) => {
  await page.addInitScript(() => Object.defineProperty(globalThis, 'showDirectoryPicker', { value: undefined }))
  const files = join(dir, 'xy')
  mkdirSync(files)
  const [x, y] = [part(files, 'x.parquet', 900, 16, 9), part(files, 'y.parquet', 700, 16, 10)]
  // an earlier build's: x's as this one builds it (l2), y's of another metric
  for (const [input, metric] of [
    [x, 'l2'],
    [y, 'cosine'],
  ] as const) {
    const source = await fileSource(input)
    await buildIndex(source, await fileSink(input.replace(/\.parquet$/, '.indexed.parquet'), input), { column: 'embedding', metric })
    await source.close()
  }
  await page.goto('/')
  await page.getByLabel('Parquet folder').setInputFiles(files)
  await expect(page.getByTestId('parts')).toContainText(
    '2 Parquet files in xy, 1,600 rows, none of them indexed yet, beside 2 indexed files an earlier build wrote.',
  )
  await expect(page.getByTestId('parts')).toContainText('A file indexed before with the settings you pick is kept as it is.')
  const build = page.getByRole('region', { name: 'Build' })
  await expect(build).toContainText('This browser cannot write into a folder: the files are built in memory, and each can be downloaded.')
  await expect(build.getByRole('checkbox', { name: /into a folder/ })).toHaveCount(0)
  await build.getByRole('button', { name: 'Index 2 files' }).click()
  await expect(page.getByTestId('built-dataset')).toContainText(
    /^1 file indexed \(700 rows\) in [\d.]+ s, 1 kept as an earlier build indexed it; in memory: download each/,
    { timeout: 60_000 },
  )
  await expect(page.getByTestId('index-status')).toContainText('a manifest of 2 indexed files')
  await searchRow(page, 950)
  await expect.poll(() => hitRows(page).then((r) => r[0])).toBe(950)
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'manifest.json' }).click()])
  expect(download.suggestedFilename()).toBe('manifest.json')
  const path = await download.path()
  expect(JSON.parse((await import('node:fs')).readFileSync(path, 'utf8'))).toEqual({ files: ['x.indexed.parquet', 'y.indexed.parquet'] })
  await expect(page.getByRole('button', { name: 'y.indexed.parquet' })).toBeVisible()
  expect(await seriousViolations(page), 'a dataset built in memory').toEqual([])
  await page.screenshot({ path: info.outputPath('memory.png'), fullPage: true })
})

test('files with text only are embedded by meaning and indexed as one dataset, the encoder loaded once for them all, and searched by text', async ({
  page,
}) => {
  await pickOutFolder(page)
  const texts = join(dir, 'texts')
  mkdirSync(texts)
  const topics = ['red apple orchard', 'sailing boat harbour', 'snowy mountain trail', 'sourdough bread bakery']
  for (const [f, name] of ['notes-1.parquet', 'notes-2.parquet'].entries())
    writeIdTextFile(
      join(texts, name),
      'note',
      Array.from({ length: 100 }, (_, i) => `${topics[(i + f) % 4]} ${f * 100 + i}`),
    )
  const requested: string[] = []
  page.context().on('request', (r) => requested.push(new URL(r.url()).pathname))
  await page.goto('/')
  await page.getByLabel('Parquet folder').setInputFiles(texts)
  const build = page.getByRole('region', { name: 'Build' })
  await expect(build.getByRole('combobox', { name: 'Encoder' })).toHaveValue(USE_LITE)
  await build.getByRole('button', { name: 'Embed and index 2 files' }).click()
  await expect(page.getByTestId('built-dataset')).toContainText(/^2 files indexed \(200 rows\) in [\d.]+ s; written into out/, {
    timeout: 120_000,
  })
  // the model loaded once by each encoder worker, for both files (not again for the second)
  const workers = await page.evaluate(() => Math.max(1, Math.min(4, navigator.hardwareConcurrency || 1)))
  expect(requested.filter((p) => p.endsWith('/models/use-lite/model.json'))).toHaveLength(workers)
  await page.getByLabel('Query text').fill('a boat in the harbour')
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  await expect(hits(page)).toHaveCount(10, { timeout: 60_000 })
  for (const text of await hits(page).locator('.hit-main').allTextContents()) expect(text).toMatch(/sailing boat harbour/)
})

test('a folder opened with its manifest, a Parquet file no build has added and one changed since: the page offers to index them into the dataset, into that folder only', async ({
  page,
}, info) => {
  await pickOutFolder(page)
  const folder = join(dir, 'add')
  mkdirSync(folder)
  // a dataset of two files, built as `index … --out-dir --metric cosine --cluster-rows` builds it, and a third file since
  for (const [name, seed] of [
    ['a', 11],
    ['b', 12],
  ] as const) {
    const input = part(folder, `${name}.parquet`, 500, 16, seed)
    const source = await fileSource(input)
    await buildIndex(source, await fileSink(join(folder, `${name}.indexed.parquet`), input), {
      column: 'embedding',
      metric: 'cosine',
      clusterRows: true,
    })
    await source.close()
  }
  writeFileSync(join(folder, 'manifest.json'), manifestText(['a.indexed.parquet', 'b.indexed.parquet']))
  part(folder, 'c.parquet', 400, 16, 13)
  // and a.parquet changed since its index was built: 20 rows more
  part(folder, 'a.parquet', 520, 16, 11)
  const later = new Date(Date.now() + 3_600_000)
  utimesSync(join(folder, 'a.parquet'), later, later)
  await page.goto('/')
  await page.getByLabel('Parquet folder').setInputFiles(folder)
  await expect(page.getByTestId('index-status')).toContainText('a manifest of 2 indexed files')
  const notice = page.getByTestId('additions')
  await expect(notice).toHaveText(
    /^c\.parquet in add is not in its manifest\.json yet\. a\.parquet in add changed since its index was built\.\s*Index them into the dataset$/,
  )
  expect(await seriousViolations(page), 'a file to add').toEqual([])
  await page.screenshot({ path: info.outputPath('add.png'), fullPage: true })
  await notice.getByRole('button', { name: 'Index them into the dataset' }).click()
  const build = page.getByRole('region', { name: 'Build' })
  await expect(build.getByRole('heading')).toHaveText('Add 2 files to the dataset')
  // the dataset's settings first: its metric, its rows stored list by list
  await expect(build.getByRole('combobox', { name: 'Metric' })).toHaveValue('cosine')
  await expect(build.getByRole('checkbox', { name: /list by list/ })).toBeChecked()
  // the folder picked is not the dataset's: refused, nothing written
  await build.getByRole('button', { name: 'Index 2 files' }).click()
  await expect(page.getByRole('alert')).toHaveText(
    'out is not the folder of the dataset open: it holds no manifest.json. Pick that folder to add the files to it.',
  )
  expect(await outFolder(page)).toEqual({ names: [] })
  // the dataset's folder (its files copied where the picker answers): c indexed, and listed after a and b
  for (const name of ['a.indexed.parquet', 'b.indexed.parquet', 'manifest.json'])
    await page.evaluate(
      async ({ name, bytes }) => {
        const storage = (globalThis as unknown as { navigator: { storage: { getDirectory(): Promise<unknown> } } }).navigator.storage
        type Folder = {
          getFileHandle(
            n: string,
            o: object,
          ): Promise<{ createWritable(): Promise<WritableStream & { write(b: unknown): Promise<void>; close(): Promise<void> }> }>
        }
        const root = (await storage.getDirectory()) as { getDirectoryHandle(n: string, o: object): Promise<Folder> }
        const out = await root.getDirectoryHandle('out', { create: true })
        const writable = await (await out.getFileHandle(name, { create: true })).createWritable()
        await writable.write(Uint8Array.from(atob(bytes), (c) => c.charCodeAt(0)))
        await writable.close()
      },
      { name, bytes: readFileSync(join(folder, name)).toString('base64') },
    )
  const asked: string[] = []
  page.on('dialog', (d) => {
    asked.push(d.message())
    void d.accept()
  })
  await build.getByRole('button', { name: 'Index 2 files' }).click()
  await expect(page.getByTestId('built-dataset')).toContainText(
    /^2 files indexed \(920 rows\) in [\d.]+ s, beside the 1 the manifest listed before; written into out/,
    { timeout: 60_000 },
  )
  // b's rows now come 20 later: said
  await expect(page.getByTestId('renumbered')).toHaveText(
    'The rows of the file after a.indexed.parquet in the manifest are numbered 20 higher than before (it now holds 520 rows, not 500), so a row number saved or linked before names another row now.',
  )
  // a's index built again, in its place, once agreed
  expect(asked).toEqual(['out already holds a.indexed.parquet, which is older than a.parquet: replace it with the file built now?'])
  const out = await outFolder(page)
  expect(JSON.parse(out.manifest ?? '')).toEqual({ files: ['a.indexed.parquet', 'b.indexed.parquet', 'c.indexed.parquet'] })
  await expect(page.getByTestId('index-status')).toContainText('a manifest of 3 indexed files')
  await searchRow(page, 1020 + 5)
  await expect.poll(() => hitRows(page).then((r) => r[0])).toBe(1025)
  await expect(hits(page).first().locator('.hit-file')).toContainText('c.indexed.parquet row 5')
})

test('where the browser cannot write into a folder, a file added to a dataset opened from its folder is built in memory with the manifest listing all', async ({
  page,
}) => {
  await page.addInitScript(() => Object.defineProperty(globalThis, 'showDirectoryPicker', { value: undefined }))
  const folder = join(dir, 'add-memory')
  mkdirSync(folder)
  const input = part(folder, 'p.parquet', 300, 16, 21)
  const source = await fileSource(input)
  await buildIndex(source, await fileSink(join(folder, 'p.indexed.parquet'), input), { column: 'embedding' })
  await source.close()
  writeFileSync(join(folder, 'manifest.json'), manifestText(['p.indexed.parquet']))
  part(folder, 'q.parquet', 200, 16, 22)
  await page.goto('/')
  await page.getByLabel('Parquet folder').setInputFiles(folder)
  await page.getByTestId('additions').getByRole('button', { name: 'Index it into the dataset' }).click()
  const build = page.getByRole('region', { name: 'Build' })
  await build.getByRole('button', { name: 'Index 1 file' }).click()
  await expect(page.getByTestId('built-dataset')).toContainText(
    /^1 file indexed \(200 rows\) in [\d.]+ s, beside the 1 the manifest listed before; in memory: download each/,
    { timeout: 60_000 },
  )
  await expect(page.getByTestId('index-status')).toContainText('a manifest of 2 indexed files')
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'manifest.json' }).click()])
  expect(JSON.parse(readFileSync(await download.path(), 'utf8'))).toEqual({ files: ['p.indexed.parquet', 'q.indexed.parquet'] })
  await searchRow(page, 300 + 4)
  await expect(hits(page).first().locator('.hit-file')).toContainText('q.indexed.parquet row 4')
})

test('an hf:// glob of indexed files opens as the files it matches, listed through the Hub, searched as one', async ({ page }) => {
  // the Hub stood in for: its tree listing answered here, its files from a local range server
  const repo = join(dir, 'hub', 'datasets', 'o', 'r', 'resolve', 'main', 'indexed')
  mkdirSync(repo, { recursive: true })
  for (const [i, name] of ['part-2', 'part-10'].entries()) {
    const input = part(dir, `${name}.parquet`, 300, 16, 30 + i)
    const source = await fileSource(input)
    await buildIndex(source, await fileSink(join(repo, `${name}.indexed.parquet`), input), { column: 'embedding', nlist: 4 })
    await source.close()
  }
  const files = await serveDir(join(dir, 'hub'))
  const listed: string[] = []
  try {
    await page.context().route('https://huggingface.co/**', async (route) => {
      const url = new URL(route.request().url())
      const cors = { 'Access-Control-Allow-Origin': '*' }
      if (url.pathname === '/api/datasets/o/r/tree/main/indexed') {
        listed.push(url.href)
        const names = ['part-10.indexed.parquet', 'part-2.indexed.parquet', 'README.md']
        return route.fulfill({ json: names.map((n) => ({ type: 'file', path: `indexed/${n}` })), headers: cors })
      }
      // a file's bytes, ranges and all, from the local server
      return route.fulfill({ response: await route.fetch({ url: new URL(url.pathname, files.url).href }) })
    })
    await page.goto(`/?src=${encodeURIComponent('hf://datasets/o/r/indexed/*.indexed.parquet')}`)
    await expect(page.getByTestId('index-status')).toContainText('2 indexed files')
    await expect(page.getByTestId('file-summary')).toContainText('600 rows')
    expect(listed).toEqual(['https://huggingface.co/api/datasets/o/r/tree/main/indexed'])
    // rows numbered across the files in the order of their names: part-2's 300, then part-10's
    await searchRow(page, 300 + 7)
    await expect.poll(() => hitRows(page).then((r) => r[0])).toBe(307)
    await expect(hits(page).first().locator('.hit-title')).toHaveText('part-10.parquet 7')
  } finally {
    await files.close()
  }
})
