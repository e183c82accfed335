/**
 * The sentence encoder as users meet it, and the demo it serves. Prints:
 *  - Node: model load, warm single-query encode time, embedding throughput (1 thread, every core);
 *  - the page (built site under vite preview, Debian's Chromium): the model load cold and from
 *    the browser cache, warm query encode time, and embedding throughput of a text-only file
 *    dropped in the page; the wait after Search for a first text query on a 50 Mbit/s link,
 *    typed at 5 characters a second (the model's download starts at its first keystroke) or pasted;
 *  - the demo at its defaults, on 200 held-out WordNet senses (not in the demo, not the build's
 *    tune set), exact top-10 over the demo's vectors: recall@10 and bytes read per query; the
 *    same senses through the site's half-float copy of the model: how near the full model's;
 *   npm run bench:encoder [-- --rows 3000]     (after `npm run build`, with the demo generated)
 */
import { existsSync, mkdtempSync, readdirSync, statSync, writeFileSync } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import { parquetMetadataAsync } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { serveFile } from '../src/cli/rangeServer.js'
import { defaultThreads } from '../src/compute/nodePool.js'
import { mulberry32, sampleIndices } from '../src/compute/random.js'
import { encoderFor } from '../src/encode/encoders.js'
import { sentenceEncoderLite, USE_LITE } from '../src/encode/useLite.js'
import { pooledUseLiteNode, registerUseLiteNode } from '../src/encode/useLiteNode.js'
import { fileSource } from '../src/io/nodeFile.js'
import { describeEmbeddingColumn, readVectors } from '../src/parquet/embedding.js'
import { searchExact } from '../src/query/memory.js'
import { openIndex } from '../src/search/engine.js'
import { sitePreview } from './sitePreview.js'
import { readSynsets, tuneSenses } from './wordnet.js'

const root = resolve(import.meta.dirname, '../..')
const { values } = parseArgs({ options: { rows: { type: 'string', default: '3000' } } })
const ROWS = Number(values.rows)
const demo = join(root, 'dist/demo/wordnet.indexed.parquet')
if (!existsSync(demo)) throw new Error('dist/demo/ has no demo: run `node build/scripts/demo.js && npm run build` first')
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number
const { kept, rest } = readSynsets(root, 2)
const texts = kept.slice(0, ROWS).map((s) => s.text)
const PHRASES = [
  'a feeling of great happiness',
  'a vehicle that flies',
  'a large body of salt water',
  'the first meal of the day',
  'extreme fear',
]

// ---- Node
registerUseLiteNode()
const one = encoderFor(USE_LITE) as NonNullable<ReturnType<typeof encoderFor>>
let t = performance.now()
await one.encode(['warm up'])
const nodeLoad = performance.now() - t
const nodeQuery: number[] = []
for (let i = 0; i < 30; i++) {
  t = performance.now()
  await one.encode([PHRASES[i % PHRASES.length] as string])
  nodeQuery.push(performance.now() - t)
}
const throughput: Array<[number, number]> = []
for (const threads of [...new Set([1, defaultThreads()])]) {
  const pool = pooledUseLiteNode(threads)
  await pool.encode(['warm up'])
  t = performance.now()
  await pool.encode(texts)
  throughput.push([threads, texts.length / ((performance.now() - t) / 1000)])
  pool.close()
}
console.log(`Node ${process.version}, ${USE_LITE} on tfjs-backend-wasm:`)
console.log(`  model load (first encode): ${nodeLoad.toFixed(0)} ms`)
console.log(`  one phrase, warm: median ${median(nodeQuery).toFixed(1)} ms of ${nodeQuery.length}`)
for (const [threads, rps] of throughput)
  console.log(
    `  embedding ${texts.length} WordNet texts (${(texts.join('').length / texts.length).toFixed(0)} chars avg): ${rps.toFixed(0)} rows/s on ${threads} thread${threads > 1 ? 's' : ''}`,
  )

// ---- the demo at its defaults, on held-out senses
const tuned = new Set(tuneSenses(rest))
const pool = [...rest.keys()].filter((i) => !tuned.has(i))
const heldOut = Array.from(sampleIndices(pool.length, 200, mulberry32(13)), (i) => (rest[pool[i] as number] as (typeof rest)[number]).text)
const queries = await one.encode(heldOut)
const file = await fileSource(demo)
const metadata = await parquetMetadataAsync(file)
const { data: base, dim, rowIds } = await readVectors(file, metadata, describeEmbeddingColumn(metadata, 'embedding'))
const rows = rowIds
let hits = 0
let bytes = 0
let requests = 0
let nprobe = 0
let nlist = 0
let slack: number | undefined
let lists = 0
/** The demo's 10 rows nearest `q`, exactly. */
const exactTop10 = (q: Float32Array) => searchExact('l2', base, rows, q, 10).map((h) => h.row)
for (const q of queries) {
  const exact = exactTop10(q)
  const index = await openIndex(file) // a fresh session: nothing cached but the footer and index head
  nprobe = index.params.nprobe ?? 0
  nlist = index.params.nlist
  slack = index.params.slack
  const { results, stats } = await index.search(q, { k: 10 })
  lists += stats.listsProbed
  bytes += stats.bytes
  requests += stats.requests
  for (const r of results) if (exact.includes(r.row)) hits++
}
console.log(
  `demo (${rows.length.toLocaleString('en-US')} senses, ${(file.byteLength / 2 ** 20).toFixed(1)} MiB) at defaults (nprobe ${nprobe} of ${nlist}` +
    `${slack === undefined ? '' : `, adaptive: ${(lists / queries.length).toFixed(1)} lists a query`}), ` +
    `${queries.length} held-out senses: recall@10 ${(hits / (queries.length * 10)).toFixed(3)}, ` +
    `${(bytes / queries.length / 1024).toFixed(0)} KiB and ${(requests / queries.length).toFixed(1)} requests a query (after the open)`,
)
await file.close()

// the same held-out senses through the site's copy of the model (dist/models/use-lite/: its
// matrices as half floats, what a page and the widget download), against the full model's vectors
{
  const site = join(root, 'dist/models/use-lite')
  const wasm = join(root, 'node_modules/@tensorflow/tfjs-backend-wasm/dist')
  const half = sentenceEncoderLite({
    modelUrl: pathToFileURL(join(site, 'model.json')).href,
    vocabUrl: pathToFileURL(join(site, 'vocab.json')).href,
    wasmPaths: `${wasm}/`,
    fetch: async (url) => new Response(await readFile(fileURLToPath(url))),
  })
  const got = await half.encode(heldOut)
  let worst = 1
  let same = 0
  let first = 0
  for (const [i, q] of queries.entries()) {
    const h = got[i] as Float32Array
    let dot = 0
    for (let j = 0; j < dim; j++) dot += (q[j] as number) * (h[j] as number)
    worst = Math.min(worst, dot) // both unit length
    const want = exactTop10(q)
    const found = exactTop10(h)
    same += found.filter((r) => want.includes(r)).length
    if (found[0] === want[0]) first++
  }
  const mb = readdirSync(site).reduce((n, f) => n + statSync(join(site, f)).size, 0) / 1e6
  console.log(
    `the site's model (${mb.toFixed(1)} MB with its vocabulary and licence; half floats), the same ${queries.length} senses: worst cosine to the full model's vector ` +
      `${worst.toFixed(7)}; exact top 10 over the demo ${((100 * same) / (queries.length * 10)).toFixed(1)} % the same rows, the same first row ${first} of ${queries.length}`,
  )
}

// the same queries as a visitor of `npm start` sends them: vite preview answers one range a
// request (host profile `static`), 20 ms a request, 6 connections, one session
{
  const server = await serveFile(demo, { host: 'static', delayMs: 20 })
  const index = await openIndex(`${server.url}/wordnet.indexed.parquet`, { connections: 6 })
  const perQuery: Array<{ requests: number; roundTrips: number; bytes: number; ms: number }> = []
  for (const q of queries) {
    const t0 = performance.now()
    const { stats } = await index.search(q, { k: 10, columns: ['word', 'gloss'] })
    perQuery.push({ requests: stats.requests, roundTrips: stats.roundTrips, bytes: stats.bytes, ms: performance.now() - t0 })
  }
  await server.close()
  const warm = perQuery.slice(1) // the first answers the refused multi-range request
  const mean = (f: (x: (typeof warm)[number]) => number) => warm.reduce((a, x) => a + f(x), 0) / warm.length
  console.log(
    `demo on a static host (vite preview: one range a request; 20 ms a request, 6 connections), ${warm.length} warm text queries with their columns: ` +
      `${mean((x) => x.requests).toFixed(1)} requests in ${mean((x) => x.roundTrips).toFixed(1)} round trips, ` +
      `${(mean((x) => x.bytes) / 1024).toFixed(0)} KiB, p50 ${median(warm.map((x) => x.ms)).toFixed(0)} ms a query` +
      ` (rows ${index.params.clustered ? 'stored list by list' : 'in input order'})`,
  )
}

// ---- the page
const { url, browser, close } = await sitePreview(root, 4181)
try {
  const context = await browser.newContext()
  const page = await context.newPage()
  /** The demo's first (or a typed) text query's encode stats: [encode ms, model MB, model load ms]. */
  const encodeStats = async () => {
    const text = (await page.getByTestId('encode-stats').textContent({ timeout: 120_000 })) ?? ''
    const m = /encoded in ([\d.]+) ms \(use-lite-512: ([\d.]+) MB loaded in (\d+) ms\)/.exec(text)
    if (!m) throw new Error(`no encode stats in "${text}"`)
    return m.slice(1).map(Number) as [number, number, number]
  }
  const openDemo = async () => {
    await page.goto(url)
    await page.getByText('Why these results').click({ timeout: 120_000 })
    return encodeStats()
  }
  t = performance.now()
  const [, mb, cold] = await openDemo()
  const coldFirst = performance.now() - t
  const [, , cached] = await openDemo() // a reload: the model from the browser's cache
  const pageQuery: number[] = []
  for (let i = 0; i < 10; i++) {
    const phrase = `${PHRASES[i % PHRASES.length]}${i >= PHRASES.length ? ' again' : ''}`
    await page.getByLabel('Query text').fill(phrase)
    await page.getByRole('button', { name: 'Search', exact: true }).click()
    await page.getByTestId('answer-for').filter({ hasText: phrase }).waitFor()
    await page.getByText('Why these results').click()
    pageQuery.push((await encodeStats())[0])
    await page.getByText('Why these results').click()
  }
  console.log(`the page (Chromium ${browser.version()}, tfjs-backend-wasm in a worker):`)
  console.log(
    `  model load: ${cold} ms cold (${mb} MB), ${cached} ms from the browser cache; demo opened and answered in ${(coldFirst / 1000).toFixed(1)} s cold`,
  )
  console.log(`  one phrase, warm: median ${median(pageQuery).toFixed(1)} ms of ${pageQuery.length} (encode only)`)

  // a visitor's first text query on a 50 Mbit/s link (20 ms latency), in a fresh browser (nothing
  // cached): the model's download starts at the query's first keystroke, so a query typed at 5
  // characters a second waits after Search for what is left of it, a pasted one for all of it
  // (the demo file from another server: the site's own demo address runs the demo's first query)
  {
    const server = await serveFile(demo, { host: 'static' })
    const phrase = PHRASES[0] as string
    const waits: Record<'typed' | 'pasted', number[]> = { typed: [], pasted: [] }
    for (let i = 0; i < 6; i++) {
      const how = i % 2 ? 'pasted' : 'typed'
      const fresh = await browser.newContext()
      const visitor = await fresh.newPage()
      const cdp = await fresh.newCDPSession(visitor)
      await cdp.send('Network.enable')
      await cdp.send('Network.emulateNetworkConditions', {
        offline: false,
        latency: 20,
        downloadThroughput: 50e6 / 8,
        uploadThroughput: 10e6 / 8,
      })
      await visitor.goto(`${url}?src=${encodeURIComponent(`${server.url}/wordnet.indexed.parquet`)}`)
      await visitor.getByTestId('index-status').filter({ hasText: 'Index:' }).waitFor({ timeout: 60_000 })
      const box = visitor.getByLabel('Query text')
      if (how === 'typed') await box.pressSequentially(phrase, { delay: 200 })
      else await box.fill(phrase)
      const t0 = performance.now()
      await visitor.getByRole('button', { name: 'Search', exact: true }).click()
      await visitor.getByTestId('answer-for').filter({ hasText: phrase }).waitFor({ timeout: 120_000 })
      waits[how].push(performance.now() - t0)
      await fresh.close()
    }
    await server.close()
    console.log(
      `  a first text query on 50 Mbit/s (20 ms), fresh browser, "${phrase}": Search to results, median of 3: ` +
        `typed at 5 chars/s (${((phrase.length * 200) / 1000).toFixed(1)} s) ${median(waits.typed).toFixed(0)} ms, ` +
        `pasted ${median(waits.pasted).toFixed(0)} ms`,
    )
  }

  // a text-only file dropped in the page, embedded by the default encoder
  const dir = mkdtempSync(join(tmpdir(), 'pqs-bench-enc-'))
  const input = join(dir, 'senses.parquet')
  writeFileSync(input, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'text', data: texts, type: 'STRING' }] })))
  await page.goto(url)
  await page.getByLabel('Parquet file').setInputFiles(input)
  const build = page.getByRole('region', { name: 'Build' })
  await build.getByRole('button', { name: 'Embed and build index' }).click()
  const phase = page.getByTestId('phase')
  await phase.filter({ hasText: /^embed: embedding text [1-9]/ }).waitFor({ timeout: 300_000 })
  const start = performance.now()
  const firstDone = Number(/([\d,]+)\//.exec((await phase.textContent()) ?? '')?.[1]?.replaceAll(',', ''))
  await phase.filter({ hasNotText: /^embed/ }).waitFor({ timeout: 600_000 })
  const rps = (texts.length - firstDone) / ((performance.now() - start) / 1000)
  console.log(
    `  embedding ${texts.length} texts in the page: ${rps.toFixed(0)} rows/s (navigator.hardwareConcurrency ${await page.evaluate(() => navigator.hardwareConcurrency)}, model load excluded)`,
  )
} finally {
  await close()
}
