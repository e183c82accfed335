/**
 * Long texts, searched by what they say past their beginning. The SAP Fiori docs of ../shared/data
 * (728 docs, median 614 words) embedded by use-lite-512 two ways and indexed at the defaults:
 * one vector a doc (the model reads its first 128 tokens), and `--passages` (40 words a row, 10
 * shared with the next; a doc ranks by its nearest passage: the first 10 distinct docs of the top
 * 50 passages). Queries, one a doc: a sentence from past its first 100 words ("deep"), one from
 * before ("head"), and its title. Prints hit@1, hit@10 and MRR of the query's own doc, and times.
 *   npm run bench:passages       (about 15 minutes on 2 cores; needs ../shared/data)
 */
import { existsSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import { defaultThreads, spawnNodeKernelWorker } from '../src/compute/nodePool.js'
import { USE_LITE } from '../src/encode/useLite.js'
import { pooledUseLiteNode } from '../src/encode/useLiteNode.js'
import { buildIndex } from '../src/index/build.js'
import { embedTextColumn } from '../src/index/embed.js'
import { PASSAGE_ROW } from '../src/index/passages.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { readColumnRange } from '../src/parquet/embedding.js'
import { readMetadata } from '../src/parquet/footer.js'
import { openIndex } from '../src/search/engine.js'

const root = resolve(import.meta.dirname, '../..')
const docsPath = resolve(root, '../shared/data/sap-fiori-docs-minilm-384/base.parquet')
if (!existsSync(docsPath)) {
  process.stderr.write(`no ${docsPath}: this benchmark needs the shared datasets\n`)
  process.exit(1)
}
const dir = mkdtempSync(join(tmpdir(), 'pqs-passages-'))

// the docs without their MiniLM vectors (passages are cut from a file without a vector column)
const db = await (await DuckDBInstance.create(':memory:')).connect()
const docs = join(dir, 'docs.parquet')
await db.run(`COPY (SELECT * EXCLUDE (embedding) FROM '${docsPath}') TO '${docs}' (FORMAT parquet)`)
const rows = (await db.runAndReadAll(`SELECT title, content FROM '${docs}'`)).getRowObjectsJson() as Array<{
  title: string
  content: string
}>
db.closeSync()

/** Sentences of 8 to 30 words, markdown marks taken out. */
const sentences = (text: string) =>
  text
    .split(/(?<=[.!?])\s+|\n+/)
    .map((s) =>
      s
        .replace(/[*#`>|_-]+/g, ' ')
        .replace(/\s+/g, ' ')
        .trim(),
    )
    .filter((s) => s.split(' ').length >= 8 && s.split(' ').length <= 30)
type Query = { text: string; doc: number }
const deep: Query[] = []
const head: Query[] = []
for (const [doc, r] of rows.entries()) {
  const words = r.content.split(/\s+/)
  const cut = words.slice(0, 100).join(' ').length
  const later = sentences(r.content.slice(cut))
  const early = sentences(r.content.slice(0, cut)).filter((s) => !s.startsWith('TITLE'))
  if (later.length) deep.push({ text: later[Math.floor(later.length / 2)] as string, doc })
  if (early.length) head.push({ text: early[0] as string, doc })
}
const titles: Query[] = rows.map((r, doc) => ({ text: r.title, doc }))

const threads = defaultThreads()
async function embedAndIndex(name: string, passages: boolean) {
  const embedded = join(dir, `${name}.embedded.parquet`)
  const indexed = join(dir, `${name}.indexed.parquet`)
  const encoder = pooledUseLiteNode(threads)
  const t0 = performance.now()
  const input = await fileSource(docs)
  const summary = await embedTextColumn(input, await fileSink(embedded, docs), {
    text: 'content',
    encoder,
    passages: passages ? {} : undefined,
    onProgress: (done, total) => process.stderr.write(`\r${name}: embed ${done}/${total}`),
  })
  encoder.close()
  await input.close()
  const embedMs = performance.now() - t0
  const source = await fileSource(embedded)
  await buildIndex(source, await fileSink(indexed, embedded), {
    column: 'embedding',
    metric: 'cosine',
    threads,
    spawnWorker: spawnNodeKernelWorker,
  })
  await source.close()
  process.stderr.write(`\n${name}: ${summary.rows} rows embedded in ${(embedMs / 1000).toFixed(0)} s, indexed\n`)
  return { indexed, rows: summary.rows, embedMs }
}

const single = await embedAndIndex('docs', false)
const cut = await embedAndIndex('passages', true)

const encoder = pooledUseLiteNode(threads)
const vectors = async (qs: Query[]) => encoder.encode(qs.map((q) => q.text))
const sets = { deep: await vectors(deep), head: await vectors(head), title: await vectors(titles) }
encoder.close()
const queries = { deep, head, title: titles }

/** hit@1, hit@10 and MRR of each query's own doc; `docOf` maps a result row to its doc. */
async function score(path: string, k: number, docOf: (row: number) => number) {
  const source = await fileSource(path)
  const index = await openIndex(source)
  const out: Record<string, { hit1: number; hit10: number; mrr: number }> = {}
  for (const [name, qv] of Object.entries(sets)) {
    const qs = queries[name as keyof typeof queries]
    const results = await index.searchBatch(qv, { k })
    let hit1 = 0
    let hit10 = 0
    let mrr = 0
    for (const [i, r] of results.entries()) {
      const ranked: number[] = []
      for (const h of r.results) if (!ranked.includes(docOf(h.row))) ranked.push(docOf(h.row))
      const at = ranked.indexOf((qs[i] as Query).doc)
      if (at === 0) hit1++
      if (at >= 0 && at < 10) hit10++
      if (at >= 0) mrr += 1 / (at + 1)
    }
    const n = qs.length
    out[name] = { hit1: +(hit1 / n).toFixed(3), hit10: +(hit10 / n).toFixed(3), mrr: +(mrr / n).toFixed(3) }
  }
  await source.close()
  return out
}

const passageFile = await fileSource(cut.indexed)
const docOfPassage = (await readColumnRange(passageFile, await readMetadata(passageFile), PASSAGE_ROW, 0, cut.rows)) as number[]
await passageFile.close()
const report = {
  encoder: USE_LITE,
  docs: rows.length,
  queries: { deep: deep.length, head: head.length, title: titles.length },
  single: { rows: single.rows, embedSeconds: Math.round(single.embedMs / 1000), ...(await score(single.indexed, 10, (row) => row)) },
  passages: {
    rows: cut.rows,
    embedSeconds: Math.round(cut.embedMs / 1000),
    ...(await score(cut.indexed, 50, (row) => docOfPassage[row] as number)),
  },
}
console.log(JSON.stringify(report, null, 1))
