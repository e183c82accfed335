/**
 * kNN join throughput: the same queries searched one by one and in batches (searchBatch shares
 * list fetches and unions page reads), over the local range server with a per-request delay.
 * Uses the wordnet index that `npm run bench:search` builds (.bench/); prints one table.
 *   npm run bench:join [-- --queries 1000 --rtt-ms 20 --batch 256]
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parquetMetadataAsync } from 'hyparquet'
import { serveFile } from '../src/cli/rangeServer.js'
import { fileSource } from '../src/io/nodeFile.js'
import { describeEmbeddingColumn, readVectors } from '../src/parquet/embedding.js'
import { openIndex } from '../src/search/engine.js'

const root = resolve(import.meta.dirname, '../..')
const { values } = parseArgs({
  options: {
    queries: { type: 'string', default: '1000' },
    'rtt-ms': { type: 'string', default: '20' },
    batch: { type: 'string', default: '256' },
  },
})
const indexed = join(root, '.bench/wordnet-fasttext-words-100d.l2.indexed.parquet')
const queriesFile = join(root, '../shared/data/wordnet-fasttext-words-100d/queries.parquet')
if (!existsSync(indexed) || !existsSync(queriesFile)) {
  console.log(`needs ${indexed} (npm run bench:search) and ../shared/data`)
  process.exit(0)
}
const qs = await fileSource(queriesFile)
const qm = await parquetMetadataAsync(qs)
const vectors = await readVectors(qs, qm, describeEmbeddingColumn(qm, 'embedding'))
await qs.close()
const n = Math.min(Number(values.queries), vectors.rowIds.length)
const queries = Array.from({ length: n }, (_, i) => vectors.data.subarray(i * vectors.dim, (i + 1) * vectors.dim))
const server = await serveFile(indexed, { delayMs: Number(values['rtt-ms']) })
const batch = Number(values.batch)
console.log(`| mode | queries | time | queries/s | bytes read | requests |`)
console.log('|---|---|---|---|---|---|')
try {
  for (const mode of ['one by one', `batches of ${batch}`]) {
    const index = await openIndex(server.url)
    const before = { ...index.opened.counting.counts }
    const t0 = performance.now()
    if (mode === 'one by one') for (const q of queries) await index.search(q, { k: 10 })
    else for (let s = 0; s < n; s += batch) await index.searchBatch(queries.slice(s, s + batch), { k: 10 })
    const s = (performance.now() - t0) / 1000
    const bytes = index.opened.counting.counts.bytes - before.bytes
    const requests = index.opened.counting.counts.requests - before.requests
    console.log(`| ${mode} | ${n} | ${s.toFixed(1)} s | ${(n / s).toFixed(0)} | ${(bytes / 2 ** 20).toFixed(1)} MiB | ${requests} |`)
  }
} finally {
  await server.close()
}
