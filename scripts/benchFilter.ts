/**
 * Filtered search: recall@10 against exact search over the passing rows, bytes and lists per
 * query, for filters of different selectivity on the indexes `npm run bench:search` builds.
 *   npm run bench:filter
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { compressors } from 'hyparquet-compressors'
import { serveFile } from '../src/cli/rangeServer.js'
import type { Metric } from '../src/index/model.js'
import { fileSource } from '../src/io/nodeFile.js'
import { describeEmbeddingColumn, readVectors } from '../src/parquet/embedding.js'
import { columnsOf, evaluate, parseWhere } from '../src/query/filter.js'
import { searchExact } from '../src/query/memory.js'
import { openIndex } from '../src/search/engine.js'

const root = resolve(import.meta.dirname, '../..')
const cases: Array<{ name: string; metric: Metric; filters: string[] }> = [
  { name: 'wordnet-fasttext-words-100d', metric: 'l2', filters: ['id >= 31000', 'id < 6000', 'id < 600'] },
  {
    name: 'sap-fiori-docs-minilm-384',
    metric: 'cosine',
    filters: ["category = 'Sapui5'", "category = 'Btp Fiori Tools'", 'word_count > 615'],
  },
]
console.log('| data | filter | rows passing | row groups skipped | recall@10 | nprobe | KiB / query | unfiltered: recall, KiB |')
console.log('|---|---|---|---|---|---|---|---|')
for (const c of cases) {
  const indexed = join(root, `.bench/${c.name}.${c.metric}.indexed.parquet`)
  const queriesFile = join(root, `../shared/data/${c.name}/queries.parquet`)
  if (!existsSync(indexed) || !existsSync(queriesFile)) {
    console.log(`| ${c.name} | needs .bench (npm run bench:search) and ../shared/data |`)
    continue
  }
  const file = await fileSource(indexed)
  const metadata = await parquetMetadataAsync(file)
  const base = await readVectors(file, metadata, describeEmbeddingColumn(metadata, 'embedding'))
  const columns = [...new Set(c.filters.flatMap((f) => [...columnsOf(parseWhere(f))]))]
  const values = (await parquetReadObjects({ file, metadata, columns, compressors })) as Array<Record<string, unknown>>
  await file.close()
  const qs = await fileSource(queriesFile)
  const qm = await parquetMetadataAsync(qs)
  const queries = await readVectors(qs, qm, describeEmbeddingColumn(qm, 'embedding'))
  await qs.close()
  const n = Math.min(100, queries.rowIds.length)
  const server = await serveFile(indexed, { delayMs: 20 })
  try {
    const measure = async (where: string | undefined) => {
      const expr = where === undefined ? undefined : parseWhere(where)
      const passing = Array.from(base.rowIds).filter((r) => !expr || evaluate(expr, values[r] as Record<string, unknown>))
      const data = new Float32Array(passing.length * base.dim)
      for (const [i, r] of passing.entries()) data.set(base.data.subarray(r * base.dim, (r + 1) * base.dim), i * base.dim)
      const index = await openIndex(server.url)
      let hits = 0
      let bytes = 0
      let nprobe = 0
      let skipped = 0
      for (let q = 0; q < n; q++) {
        const query = queries.data.subarray(q * queries.dim, (q + 1) * queries.dim)
        index.clearCache()
        const { results, stats } = await index.search(query, { k: 10, where })
        if (q > 0) bytes += stats.bytes // the first query also reads the filter's columns
        nprobe = stats.filter?.nprobe ?? index.params.nprobe ?? 0
        skipped = stats.filter?.rowGroupsSkipped ?? 0
        const truth = new Set(searchExact(c.metric, data, Uint32Array.from(passing), query, 10).map((h) => h.row))
        for (const r of results) if (truth.has(r.row)) hits++
      }
      return { passing: passing.length, recall: hits / (n * Math.min(10, passing.length)), kib: bytes / (n - 1) / 1024, nprobe, skipped }
    }
    const plain = await measure(undefined)
    for (const f of c.filters) {
      const m = await measure(f)
      console.log(
        `| ${c.name} | \`${f}\` | ${m.passing} of ${base.rowIds.length} | ${m.skipped} of ${metadata.row_groups.length} | ${m.recall.toFixed(3)} | ${m.nprobe} | ${m.kib.toFixed(0)} | ${plain.recall.toFixed(3)}, ${plain.kib.toFixed(0)} |`,
      )
    }
  } finally {
    await server.close()
  }
}
