/**
 * Building in the page, as a person does it, against the CLI on the same data: WordNet fastText
 * (62,454 × 100, rows stored list by list) as one file and as 8 files (DuckDB, `id % 8`). Prints,
 * for each, the seconds from the click to the built summary in Debian's Chromium (the built site
 * under vite preview; the folder picked answered by the origin-private file system) and the CLI's
 * wall time (`index`, `index --out-dir`), then whether the page wrote the same bytes as the CLI.
 * --text: files with text only (WordNet's first 4,000 words, as 8 files), each embedded by
 * meaning (use-lite-512) and indexed, in the page and by `index --out-dir --embed-text`.
 *   npm run bench:page-build [-- --reps 2] [--text]     (after `npm run build`)
 */
import { spawnSync } from 'node:child_process'
import { createHash } from 'node:crypto'
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { availableParallelism, tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { DuckDBInstance } from '@duckdb/node-api'
import type { Page } from '@playwright/test'
import { sitePreview } from './sitePreview.js'

const root = resolve(import.meta.dirname, '../..')
const base = join(root, '../shared/data/wordnet-fasttext-words-100d/base.parquet')
const PARTS = 8
const { values } = parseArgs({ options: { reps: { type: 'string', default: '2' }, text: { type: 'boolean', default: false } } })
const reps = Number(values.reps)
const text = values.text
const TEXT_ROWS = 4000

if (!existsSync(base)) {
  console.log(`needs the shared WordNet dataset (${base})`)
  process.exit(0)
}
if (!existsSync(join(root, 'dist/index.html'))) {
  console.log('needs the built site: npm run build first')
  process.exit(1)
}

const work = mkdtempSync(join(tmpdir(), 'pqs-page-build-'))
process.on('exit', () => rmSync(work, { recursive: true, force: true }))
const parts = join(work, 'parts')
mkdirSync(parts)
const db = await DuckDBInstance.create(':memory:')
const conn = await db.connect()
for (let p = 0; p < PARTS; p++)
  await conn.run(
    `COPY (SELECT ${text ? 'id, word' : '*'} FROM '${base}' WHERE id % ${PARTS} = ${p}${text ? ` AND id < ${TEXT_ROWS}` : ''} ORDER BY id) TO '${join(parts, `part-${p}.parquet`)}' (FORMAT parquet)`,
  )
conn.closeSync()
db.closeSync()

/** Seconds a CLI command takes (it must succeed). */
function cli(args: string[]): number {
  const t = performance.now()
  const r = spawnSync(process.execPath, [join(root, 'bin/parquetseek.js'), ...args], { encoding: 'utf8' })
  if (r.status !== 0) throw new Error(`parquetseek ${args.join(' ')}: ${r.stderr}`)
  return (performance.now() - t) / 1000
}
const sha = (path: string) => createHash('sha256').update(readFileSync(path)).digest('hex')

const { url, browser, close } = await sitePreview(root, 4182)
const version = browser.version()

/** A fresh page whose folder picker answers `out` in the origin-private file system. */
async function freshPage(): Promise<Page> {
  const page = await (await browser.newContext()).newPage()
  await page.addInitScript(() => {
    const w = globalThis as unknown as {
      showDirectoryPicker: () => Promise<unknown>
      navigator: { storage: { getDirectory(): Promise<{ getDirectoryHandle(n: string, o: object): Promise<unknown> }> } }
    }
    w.showDirectoryPicker = async () => (await w.navigator.storage.getDirectory()).getDirectoryHandle('out', { create: true })
  })
  await page.goto(url)
  return page
}

/** SHA-256 of each file the page wrote into `out`. */
async function written(page: Page, names: string[]): Promise<string[]> {
  return page.evaluate(async (names) => {
    const root = (await (
      globalThis as unknown as { navigator: { storage: { getDirectory(): Promise<unknown> } } }
    ).navigator.storage.getDirectory()) as {
      getDirectoryHandle(n: string): Promise<{ getFileHandle(n: string): Promise<{ getFile(): Promise<Blob> }> }>
    }
    const out = await root.getDirectoryHandle('out')
    const sums: string[] = []
    for (const name of names) {
      const bytes = await (await (await out.getFileHandle(name)).getFile()).arrayBuffer()
      sums.push([...new Uint8Array(await crypto.subtle.digest('SHA-256', bytes))].map((b) => b.toString(16).padStart(2, '0')).join(''))
    }
    return sums
  }, names)
}

const names = Array.from({ length: PARTS }, (_, p) => `part-${p}.indexed.parquet`)
const rows: string[] = []
try {
  for (let rep = 1; rep <= reps && text; rep++) {
    // text only, 8 files: the page (into a folder), then the CLI (--out-dir --embed-text)
    const page = await freshPage()
    await page.getByLabel('Parquet folder').setInputFiles(parts)
    const t = performance.now()
    await page.getByRole('button', { name: `Embed and index ${PARTS} files` }).click()
    await page.getByTestId('built-dataset').waitFor({ timeout: 900_000 })
    const pageParts = (performance.now() - t) / 1000
    const sums = await written(page, names)
    await page.context().close()
    const out = join(work, `indexed-${rep}`)
    const cliParts = cli(['index', parts, '--out-dir', out, '--embed-text', 'word', '--encoder', 'use-lite-512'])
    const same = names.filter((n, i) => sha(join(out, n)) === sums[i]).length
    rows.push(`| ${rep} | ${pageParts.toFixed(1)} | ${cliParts.toFixed(1)} | ${same} of ${PARTS} |`)
  }
  for (let rep = 1; rep <= reps && !text; rep++) {
    // one file: the page (streamed to a file picked), then the CLI
    let page = await freshPage()
    await page.getByLabel('Parquet file').setInputFiles(base)
    await page.getByRole('checkbox', { name: /list by list/ }).check()
    let t = performance.now()
    await page.getByRole('button', { name: 'Build index' }).click()
    await page.getByTestId('built-summary').waitFor({ timeout: 600_000 })
    const pageOne = (performance.now() - t) / 1000
    await page.context().close()
    const cliOne = cli(['index', base, join(work, 'base.indexed.parquet'), '--cluster-rows'])

    // 8 files: the page (into a folder), then the CLI (--out-dir)
    page = await freshPage()
    await page.getByLabel('Parquet folder').setInputFiles(parts)
    await page.getByRole('checkbox', { name: /list by list/ }).check()
    t = performance.now()
    await page.getByRole('button', { name: `Index ${PARTS} files` }).click()
    await page.getByTestId('built-dataset').waitFor({ timeout: 600_000 })
    const pageParts = (performance.now() - t) / 1000
    const sums = await written(page, names)
    await page.context().close()
    const out = join(work, `indexed-${rep}`)
    const cliParts = cli(['index', parts, '--out-dir', out, '--cluster-rows'])
    const same = names.filter((n, i) => sha(join(out, n)) === sums[i]).length
    rows.push(
      `| ${rep} | ${pageOne.toFixed(1)} | ${cliOne.toFixed(1)} | ${pageParts.toFixed(1)} | ${cliParts.toFixed(1)} | ${same} of ${PARTS} |`,
    )
  }
} finally {
  await close()
}
if (text) {
  console.log(
    `WordNet's first ${TEXT_ROWS.toLocaleString('en-US')} words as ${PARTS} files of text only, embedded by use-lite-512 and indexed; Chromium ${version}; ${availableParallelism()} cores`,
  )
  console.log('| run | page, 8 files into a folder (s) | CLI, 8 files --out-dir --embed-text (s) | page files byte-identical to the CLI |')
  console.log('| --- | --- | --- | --- |')
  for (const row of rows) console.log(row)
  process.exit(0)
}
console.log(
  `WordNet fastText, 62,454 × 100, --cluster-rows; Chromium ${version}; ${availableParallelism()} cores (the page builds on as many threads, at most 8; the CLI on every core)`,
)
console.log(
  '| run | page, one file (s) | CLI, one file (s) | page, 8 files into a folder (s) | CLI, 8 files --out-dir (s) | page files byte-identical to the CLI |',
)
console.log('| --- | --- | --- | --- | --- | --- |')
for (const row of rows) console.log(row)
