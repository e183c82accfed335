import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import type { SchemaElement } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { describe, expect, it } from 'vitest'
import { mulberry32 } from '../src/compute/random.js'
import { buildIndex } from '../src/index/build.js'
import { CachedSource } from '../src/io/cache.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { readMetadata } from '../src/parquet/footer.js'
import { jsonRow, shownColumnsOf } from '../src/parquet/json.js'
import { compareValues, evaluate, filterRows, parseWhere } from '../src/query/filter.js'
import { searchExact } from '../src/query/memory.js'
import { readRowSpan } from '../src/search/columns.js'
import { openIndex } from '../src/search/engine.js'
import { cli } from './helpers/cli.js'
import { clusteredVectors, duckdb, listOfFloat, randomWords, tempDir, testSource, writePyarrowLike } from './helpers/fixtures.js'

const CATEGORIES = ['news', 'sport', 'tech', 'art']

/** Each filter passes as many rows of `input` as DuckDB's WHERE beside it. */
async function expectDuckdbCounts(
  db: Awaited<ReturnType<typeof duckdb>>,
  input: string,
  source: Awaited<ReturnType<typeof testSource>>,
  metadata: Awaited<ReturnType<typeof readMetadata>>,
  pairs: Array<[where: string, sql: string]>,
) {
  for (const [where, sql] of pairs) {
    const [[count]] = (await db.rows(`SELECT count(*) FROM '${input}' WHERE ${sql}`)) as [[bigint]]
    const got = await filterRows(source, metadata, parseWhere(where))
    expect([where, got.passing]).toEqual([where, Number(count)])
  }
}

describe('--where filters', () => {
  it('parses the small language and names the position of a mistake', () => {
    expect(parseWhere("category = 'tech' AND (score >= 10 OR note IS NULL)")).toEqual({
      op: 'and',
      left: { op: '=', column: 'category', value: 'tech' },
      right: { op: 'or', left: { op: '>=', column: 'score', value: 10 }, right: { op: 'null', column: 'note', not: false } },
    })
    expect(parseWhere("x NOT IN (1, -2.5) OR NOT y <> 'it''s'")).toEqual({
      op: 'or',
      left: { op: 'in', column: 'x', values: [1, -2.5], not: true },
      right: { op: 'not', expr: { op: '!=', column: 'y', value: "it's" } },
    })
    expect(() => parseWhere('score >= ')).toThrow('--where: expected a number, a quoted text, TRUE or FALSE at the end')
    expect(() => parseWhere("score = 1 AND category 'x'")).toThrow(
      `--where: expected a comparison (=, !=, <, <=, >, >=, IN, BETWEEN, LIKE, IS NULL) at "x" (character 24)`,
    )
  })

  it('evaluates like SQL: a comparison with NULL is unknown, and so is its NOT', () => {
    const e = parseWhere('score > 5 OR note IS NOT NULL')
    expect(evaluate(e, { score: 6n, note: null })).toBe(true)
    expect(evaluate(e, { score: null, note: null })).toBe(false)
    // NOT of unknown is unknown: the row does not pass (it did, where DuckDB passes none)
    expect(evaluate(parseWhere('NOT score > 5'), { score: null })).toBe(false)
    expect(evaluate(parseWhere('NOT (score > 5 AND x = 1)'), { score: null, x: 2 })).toBe(true)
    expect(evaluate(parseWhere('NOT (score > 5 OR x = 1)'), { score: null, x: 2 })).toBe(false)
    expect(evaluate(parseWhere("category IN ('a', 'b')"), { category: 'b' })).toBe(true)
  })

  it('parses BETWEEN, LIKE and ILIKE (NOT, ESCAPE) and names a mistake in them', () => {
    expect(parseWhere("year BETWEEN 2000 AND 2010 AND title NOT ILIKE '%draft\\_%' ESCAPE '\\'")).toEqual({
      op: 'and',
      left: { op: 'between', column: 'year', low: 2000, high: 2010, not: false },
      right: { op: 'like', column: 'title', pattern: '%draft\\_%', escape: '\\', caseless: true, not: true },
    })
    const like = (pattern: string, value: string) => evaluate(parseWhere(`t LIKE '${pattern}'`), { t: value })
    expect([like('a%', 'abc'), like('a%', 'bac'), like('_b_', 'abc'), like('_b_', 'abcd'), like('%.%', 'a.b'), like('%.%', 'ab')]).toEqual([
      true,
      false,
      true,
      false,
      true,
      false,
    ])
    // one _ is one character, a surrogate pair too; regular-expression characters are themselves
    expect([like('_', '😀'), like('(a|b)*', 'a'), like('(a|b)*', '(a|b)*'), like('a%', 'a\nb')]).toEqual([true, false, true, true])
    expect(evaluate(parseWhere("t ILIKE 'ÉTÉ%'"), { t: 'été brûlant' })).toBe(true)
    expect([
      like('%ab%ab', 'xabyab'),
      like('%ab%ab', 'xab'),
      like('a%b%c', 'abc'),
      like('a%b%c', 'acb'),
      like('%', ''),
      like('', ''),
    ]).toEqual([true, false, true, false, true, true])
    // a pattern a regular expression backtracks through for ever (over 10 s here for this text): at once
    const started = performance.now()
    expect(like('%a%a%a%a%a%a%a%a%a%a%b', 'a'.repeat(20000))).toBe(false)
    expect(performance.now() - started).toBeLessThan(2000)
    expect(evaluate(parseWhere("t LIKE '100!%' ESCAPE '!'"), { t: '100%' })).toBe(true)
    expect(evaluate(parseWhere("t LIKE '100!%' ESCAPE '!'"), { t: '1000' })).toBe(false)
    expect(() => parseWhere('year BETWEEN 1 OR 2')).toThrow('--where: expected AND in BETWEEN … AND … at "OR" (character 16)')
    expect(() => parseWhere('t LIKE 5')).toThrow('--where: expected a quoted pattern after LIKE at "5" (character 8)')
    expect(() => parseWhere("t LIKE 'a' ESCAPE 'ab'")).toThrow('--where: expected one quoted character after ESCAPE')
    expect(() => parseWhere("t LIKE 'a!' ESCAPE '!'")).toThrow("--where: the pattern 'a!' ends in its escape character")
    expect(() => parseWhere('t NOT = 1')).toThrow('--where: expected IN, BETWEEN, LIKE or ILIKE after NOT at "=" (character 7)')
    expect(() => evaluate(parseWhere("n LIKE '1%'"), { n: 12 })).toThrow('--where: column "n" holds numbers; \'1%\' LIKE matches text')
  })

  it('LIKE and ILIKE match as a regular expression of the pattern does: plain runs (matched as text) and runs with _, astral and lone surrogates', () => {
    const rand = mulberry32(12)
    const pick = (from: string[], n: number) => Array.from({ length: n }, () => from[Math.floor(rand() * from.length)]).join('')
    const regex = (pattern: string) =>
      new RegExp(
        `^${[...pattern].map((c) => (c === '%' ? '.*' : c === '_' ? '.' : c.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))).join('')}$`,
        'su',
      )
    let plain = 0
    for (let i = 0; i < 3000; i++) {
      // half the patterns without _ (matched as text); some without % (one run, anchored both ends)
      const pattern = pick(i % 2 ? ['a', 'b', 'A', '😀', '%', '%', '_'] : ['a', 'b', 'A', '😀', '%', '%'], 1 + Math.floor(rand() * 6))
      const text = pick(['a', 'b', 'A', 'B', '😀', '\uD83D', '\uDE00'], Math.floor(rand() * 9))
      if (!pattern.includes('_')) plain++
      for (const caseless of [false, true]) {
        const want = caseless ? regex(pattern.toLowerCase()).test(text.toLowerCase()) : regex(pattern).test(text)
        expect(
          evaluate(parseWhere(`t ${caseless ? 'ILIKE' : 'LIKE'} '${pattern}'`), { t: text }),
          `${pattern} ${JSON.stringify(text)}`,
        ).toBe(want)
      }
    }
    expect(plain).toBeGreaterThan(1000)
    // a lone surrogate in the pattern: matched character by character, never half of a pair
    expect(evaluate(parseWhere("t LIKE '%\uD83D%'"), { t: 'x😀' })).toBe(false)
    expect(evaluate(parseWhere("t LIKE '%\uD83D'"), { t: 'x\uD83D' })).toBe(true)
  })

  it('counts LIKE, ILIKE, BETWEEN and NULLs under NOT as DuckDB does, rows and statistics', async () => {
    const dir = tempDir('pqs-filter-')
    const input = join(dir, 'text.parquet')
    const db = await duckdb()
    // titles sorted by row ('doc-00000' …), a word in mixed case, a score that is NULL every 7th
    // row, tags (NULL every 10th, empty every 10th); row groups of 2,048 rows
    await db.run(
      `COPY (SELECT 'doc-' || lpad(i::VARCHAR, 5, '0') AS title, (['Apple pie', 'apple TART', 'Banana_split', '50% off'])[1 + i % 4] AS word, CASE WHEN i % 7 = 0 THEN NULL ELSE i % 100 END AS score, CASE WHEN i % 10 = 9 THEN NULL WHEN i % 10 = 8 THEN [] ELSE [(['ai','ml','db','web'])[1 + i % 4], 'n' || (i % 50)::VARCHAR] END AS tags FROM range(8000) t(i)) TO '${input}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
    )
    const source = await testSource(input)
    const metadata = await readMetadata(source)
    const same = (where: string): [string, string] => [where, where]
    await expectDuckdbCounts(db, input, source, metadata, [
      same("word LIKE 'apple%'"),
      same("word ILIKE 'apple%'"),
      same("word NOT ILIKE '%a%t'"),
      same("word LIKE '%!_%' ESCAPE '!'"),
      same("word LIKE '50!%%' ESCAPE '!'"),
      same("title LIKE 'doc-0012_'"),
      same('score BETWEEN 10 AND 20'),
      same('score NOT BETWEEN 10 AND 90'),
      same("title BETWEEN 'doc-00100' AND 'doc-00199'"),
      same('NOT score > 50'),
      same('NOT (score > 50 OR score IS NULL)'),
      same("NOT (score < 5 AND word LIKE 'a%')"),
      same("score < 5 OR NOT word = 'Apple pie'"),
      ["tags LIKE 'n4%'", "len(list_filter(tags, x -> x LIKE 'n4%')) > 0"],
      ["tags NOT LIKE 'n%'", "tags IS NOT NULL AND len(list_filter(tags, x -> x LIKE 'n%')) = 0"],
      ["NOT tags = 'ai'", "NOT list_contains(tags, 'ai')"],
    ])
    db.close()
    // titles ascend by row: a prefix or a range of them lies in one of the four row groups
    expect((await filterRows(source, metadata, parseWhere("title LIKE 'doc-0012_'"))).rowGroupsSkipped).toBe(3)
    expect((await filterRows(source, metadata, parseWhere("title BETWEEN 'doc-07000' AND 'doc-07100'"))).rowGroupsSkipped).toBe(3)
    // ILIKE and a pattern starting with % or _ can match anywhere: nothing skipped
    expect((await filterRows(source, metadata, parseWhere("title ILIKE 'doc-0012_'"))).rowGroupsSkipped).toBe(0)
    await expect(filterRows(source, metadata, parseWhere("score LIKE '1%'"))).rejects.toThrow(
      `--where: column "score" holds numbers; '1%' LIKE matches text`,
    )
    await source.close()
  })

  it('a row group of 40 MB of text written as pyarrow writes it (one group): filtered a block of rows at a time, never decoded whole, as DuckDB counts — from a disk, and over HTTP with an offset index and without', async () => {
    const dir = tempDir('pqs-filter-blocks-')
    const n = 20_000
    const rand = mulberry32(97)
    // ~2 KB of random words a row: 40 MB of text in one chunk, pages of 1 MiB
    const body = Array.from({ length: n }, () => randomWords(400, rand))
    const schema: SchemaElement[] = [
      { name: 'root', num_children: 2 },
      { name: 'body', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
      { name: 'score', type: 'INT32', repetition_type: 'REQUIRED' },
    ]
    const data = [
      { name: 'body', data: body },
      { name: 'score', data: Int32Array.from({ length: n }, (_, i) => i % 100) },
    ]
    const db = await duckdb()
    // no offset index, from a disk (pages walked); with one (pyarrow's write_page_index, or an
    // indexed file) over HTTP, where the small score chunk has none (hyparquet-writer's): read whole each block
    for (const [name, offsetIndex, local] of [
      ['one-group.parquet', false, true],
      ['with-page-index.parquet', true, false],
      // and over HTTP without one: streamed front to back, every column in the same blocks
      ['over-http.parquet', false, false],
    ] as const) {
      const input = join(dir, name)
      writePyarrowLike(input, schema, data, offsetIndex)
      const file = await testSource(input)
      let longest = 0
      const source = {
        ...file,
        name: file.name,
        local,
        byteLength: file.byteLength,
        slice: (a: number, b?: number) => {
          longest = Math.max(longest, (b ?? file.byteLength) - a)
          return file.slice(a, b)
        },
      }
      const metadata = await readMetadata(source)
      const text = metadata.row_groups[0]?.columns[0]?.meta_data
      expect(Number(text?.total_uncompressed_size)).toBeGreaterThan(16 << 20) // more than one block (ROW_BLOCK_BYTES)
      longest = 0
      await expectDuckdbCounts(db, input, source, metadata, [
        ["body LIKE '%zz%' AND score < 50", "body LIKE '%zz%' AND score < 50"],
        ["body ILIKE '%A1B%'", "body ILIKE '%A1B%'"],
      ])
      // blocks of ROW_BLOCK_BYTES (16 MiB) and their edge pages, never the chunk
      expect(longest, name).toBeLessThanOrEqual(Math.min(Number(text?.total_compressed_size) / 2, (16 << 20) + (2 << 20)))
    }
    db.close()
  })

  it('compares a quoted number with numbers and a quoted date with dates; a literal that cannot compare is an error naming the column', () => {
    expect(evaluate(parseWhere("score >= '5'"), { score: 6 })).toBe(true)
    expect(evaluate(parseWhere("score IN ('5', '6')"), { score: 6n })).toBe(true)
    expect(evaluate(parseWhere("day >= '2020-01-02'"), { day: new Date('2020-03-01') })).toBe(true)
    expect(evaluate(parseWhere("day < '2020-01-02'"), { day: new Date('2020-03-01') })).toBe(false)
    // these passed no row, silently
    expect(() => evaluate(parseWhere("score >= 'high'"), { score: 6 })).toThrow(`--where: column "score" holds numbers; 'high' is not one`)
    expect(() => evaluate(parseWhere("day = 'soon'"), { day: new Date(0) })).toThrow(`--where: column "day" holds dates; 'soon' is not one`)
    expect(() => evaluate(parseWhere("done = 'yes'"), { done: true })).toThrow(
      `--where: column "done" holds TRUE or FALSE; 'yes' is neither`,
    )
    // these passed every row (a date or text against a number) or matched TRUE as 1, silently
    expect(() => evaluate(parseWhere('day > 5'), { day: new Date(0) })).toThrow(
      `--where: column "day" holds dates; 5 is not one (quote a date or time: '2020-01-31', '2020-01-31 12:00')`,
    )
    expect(() => evaluate(parseWhere('word > 5'), { word: 'w7' })).toThrow(
      `--where: column "word" holds text; 5 is not text (quote it: '5')`,
    )
    expect(() => evaluate(parseWhere('score = TRUE'), { score: 1 })).toThrow(`--where: column "score" holds numbers; TRUE is not one`)
    expect(() => evaluate(parseWhere("blob = 'x'"), { blob: Uint8Array.of(1) })).toThrow(
      `--where: column "blob" holds bytes or JSON; 'x' cannot be compared with them`,
    )
    expect(evaluate(parseWhere("word >= 'w5'"), { word: 'w7' })).toBe(true)
    // INT64 ids past 2^53 compare exactly (as numbers, 1234567890123456789 and …788 are one double)
    const id = { id: 1234567890123456789n }
    expect(evaluate(parseWhere('id = 1234567890123456789'), id)).toBe(true)
    expect(evaluate(parseWhere('id = 1234567890123456788'), id)).toBe(false)
    expect(evaluate(parseWhere('id > 1234567890123456788'), id)).toBe(true)
    expect(evaluate(parseWhere("id IN ('1234567890123456789', 5)"), id)).toBe(true)
    expect(evaluate(parseWhere('id > -9223372036854775807'), id)).toBe(true)
    expect(evaluate(parseWhere('id < 1.5e18'), id)).toBe(true)
    expect(evaluate(parseWhere('score = 9007199254740993'), { score: 9007199254740992 })).toBe(true) // a double column: as doubles
    // a NULL compares with nothing, whatever the literal
    expect(evaluate(parseWhere("score >= 'high'"), { score: null })).toBe(false)
    // nor does a NaN (it compared equal to every number: score = 5 and IN (1, 2) both passed it)
    for (const where of ['score = 5', 'score IN (1, 2)', 'score >= 0', 'score < 0'])
      expect(evaluate(parseWhere(where), { score: Number.NaN })).toBe(false)
  })

  it('reads a quoted time without a zone as UTC, as Parquet timestamps are read, whatever the machine’s zone', () => {
    const zone = process.env.TZ
    process.env.TZ = 'America/New_York' // Node applies it at once; Date.parse used to read '… 12:00' as 17:00 UTC here
    try {
      const ts = { ts: new Date('2020-01-02T12:00:00Z') }
      expect(evaluate(parseWhere("ts >= '2020-01-02 12:00'"), ts)).toBe(true)
      expect(evaluate(parseWhere("ts > '2020-01-02 12:00:00'"), ts)).toBe(false)
      expect(evaluate(parseWhere("ts = '2020-01-02T12:00:00.000'"), ts)).toBe(true)
      expect(evaluate(parseWhere("ts = '2020-01-02T07:00-05:00'"), ts)).toBe(true)
      expect(evaluate(parseWhere("ts = '2020-01-02 17:30+0530'"), ts)).toBe(true)
      expect(evaluate(parseWhere("ts >= '2020-01-02'"), ts)).toBe(true)
      for (const text of ['01/02/2020', '2020-02-30', 'Jan 2 2020'])
        expect(() => evaluate(parseWhere(`ts = '${text}'`), ts)).toThrow(`--where: column "ts" holds dates; '${text}' is not one`)
    } finally {
      if (zone === undefined) delete process.env.TZ
      else process.env.TZ = zone
    }
  })

  it('compares DECIMAL values as the decimals they are (hyparquet reads 0.143 as 0.14300000000000002), rows and statistics', async () => {
    const dir = tempDir('pqs-filter-')
    const input = join(dir, 'prices.parquet')
    const db = await duckdb()
    // DECIMAL(10,3): row 1 0.143, the others 355.095 + row / 1000, so the second row group (DuckDB
    // writes 2,048 rows a group) starts at row 2,048 with 357.143
    await db.run(
      `COPY (SELECT (CASE WHEN i = 1 THEN 0.143 ELSE (355095 + i) / 1000 END)::DECIMAL(10,3) AS price, [sin(i + j)::FLOAT for j in range(8)]::FLOAT[8] AS embedding FROM range(3000) t(i)) TO '${input}' (FORMAT parquet)`,
    )
    db.close()
    const out = join(dir, 'prices.indexed.parquet')
    const src = await fileSource(input)
    await buildIndex(src, await fileSink(out, input), { column: 'embedding' })
    await src.close()
    const index = await openIndex(await testSource(out))
    const q = await index.vectorOf(1)
    const exact = await index.search(q, { k: 5, where: 'price = 0.143', columns: ['price'] })
    expect(exact.results.map((r) => [r.row, r.values.price])).toEqual([[1, 0.143]])
    // the second row group's minimum, 357.143, reads as 357.14300000000003: taken as read, its
    // statistics would prove no row of it ≤ 357.143 and skip row 2,048
    const across = await index.search(q, { k: 3, where: 'price >= 357.142 AND price <= 357.143', columns: ['price'] })
    expect(across.results.map((r) => [r.row, r.values.price]).sort()).toEqual([
      [2047, 357.142],
      [2048, 357.143],
    ])
  })

  it('compares a TIME column with quoted times of day in its own unit, rows and statistics, as DuckDB does', async () => {
    const dir = tempDir('pqs-filter-')
    const input = join(dir, 'times.parquet')
    const db = await duckdb()
    // a time every 20 s from midnight (microseconds, DuckDB's TIME): 3,000 rows in row groups of 2,048
    await db.run(
      `COPY (SELECT TIME '00:00:00' + INTERVAL (i * 20) SECOND AS t FROM range(3000) t(i)) TO '${input}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
    )
    const source = await testSource(input)
    const metadata = await readMetadata(source)
    await expectDuckdbCounts(db, input, source, metadata, [
      ["t >= '16:00'", "t >= TIME '16:00'"],
      ["t < '00:00:40' OR t = '11:22:20'", "t < TIME '00:00:40' OR t = TIME '11:22:20'"],
      ["t IN ('01:00', '01:00:10', '16:39:40')", "t IN (TIME '01:00', TIME '16:39:40')"],
    ])
    db.close()
    // 16:00 is row 2,880: the first row group (2,048 rows, to 11:22:20) is ruled out by its statistics
    expect((await filterRows(source, metadata, parseWhere("t >= '16:00'"))).rowGroupsSkipped).toBe(1)
    // a number was compared with the integer stored (microseconds): `t > 5` passed every row but midnight's
    await expect(filterRows(source, metadata, parseWhere('t > 5'))).rejects.toThrow(
      /column "t" holds times of day \(to microseconds\); 5 is not one \(quote a time: '12:00', '12:00:30\.5'\)/,
    )
    await expect(filterRows(source, metadata, parseWhere("t > '4pm'"))).rejects.toThrow(/'4pm' is not one/)
    await source.close()
  })

  it("compares a struct's fields by their dotted path (meta.lang, meta.inner.t), rows and statistics, as DuckDB does", async () => {
    const dir = tempDir('pqs-filter-')
    const input = join(dir, 'structs.parquet')
    const db = await duckdb()
    // JSON-shaped rows: a struct with text, a number, a DECIMAL and a struct holding a TIME; a
    // struct that is sometimes null; a list. Row groups of 2,048 rows, meta.n ascending
    await db.run(
      `COPY (SELECT {'lang': CASE WHEN i % 3 = 0 THEN 'en' ELSE 'de' END, 'n': i, 'price': (i / 100)::DECIMAL(8,2), 'inner': {'t': TIME '00:00:00' + INTERVAL (i % 1440) MINUTE}} AS meta, CASE WHEN i % 10 = 0 THEN NULL ELSE {'x': i} END AS opt, ['a', 'b'] AS tags FROM range(6000) t(i)) TO '${input}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
    )
    const source = await testSource(input)
    const metadata = await readMetadata(source)
    const same = (where: string): [string, string] => [where, where]
    await expectDuckdbCounts(db, input, source, metadata, [
      same("meta.lang = 'en' AND meta.n < 30"),
      same('meta.price = 0.29'),
      ["meta.inner.t >= '04:50'", "meta.inner.t >= TIME '04:50'"],
      same('opt.x IS NULL'),
      same('opt.x < 25 OR meta.n IN (7, 299)'),
    ])
    db.close()
    // meta.n < 30 lies in the first of three row groups: the others are ruled out by the field's statistics
    expect((await filterRows(source, metadata, parseWhere('meta.n < 30'))).rowGroupsSkipped).toBe(2)
    await expect(filterRows(source, metadata, parseWhere('meta = 1'))).rejects.toThrow(
      '--where compares values, and this is a struct; compare its fields: meta.lang, meta.n, meta.price, meta.inner.t',
    )
    await expect(filterRows(source, metadata, parseWhere("tags.list.element = 'a'"))).rejects.toThrow(
      "lists of values (by the list's name), and this one is inside a list or a map; those it can compare are: meta.lang, meta.n, meta.price, meta.inner.t, opt.x, tags",
    )
    await source.close()
  })

  it("compares a list's values by the list's name — any value matching, != and NOT IN when none does — rows and statistics, as DuckDB's list functions count", async () => {
    const dir = tempDir('pqs-filter-')
    const input = join(dir, 'lists.parquet')
    const db = await duckdb()
    // tags (null every 10th row, empty every 10th), integers ascending by row, dates, DECIMALs, and
    // a list of floats (a vector: not compared); row groups of 2,048 rows
    await db.run(
      `COPY (SELECT i AS id, CASE WHEN i % 10 = 9 THEN NULL WHEN i % 10 = 8 THEN [] ELSE [(['ai','ml','db','web'])[1 + i % 4], (['news','blog'])[1 + i % 2]] END AS tags, [i, i * 3] AS ranks, [DATE '2020-01-01' + i::INT] AS days, [(i % 7)::DECIMAL(6,2) + 0.01] AS prices, [i * 0.5]::FLOAT[] AS emb FROM range(8000) t(i)) TO '${input}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
    )
    const source = await testSource(input)
    const metadata = await readMetadata(source)
    await expectDuckdbCounts(db, input, source, metadata, [
      ["tags = 'ai'", "list_contains(tags, 'ai')"],
      ["tags IN ('db', 'web') AND tags = 'blog'", "list_has_any(tags, ['db', 'web']) AND list_contains(tags, 'blog')"],
      ["tags != 'ai'", "tags IS NOT NULL AND NOT list_contains(tags, 'ai')"],
      ["tags NOT IN ('ai', 'ml')", "tags IS NOT NULL AND NOT list_has_any(tags, ['ai', 'ml'])"],
      ['tags IS NULL', 'tags IS NULL'],
      ['ranks > 22000', 'len(list_filter(ranks, x -> x > 22000)) > 0'],
      ['ranks IN (5, 6)', 'list_has_any(ranks, [5, 6])'],
      ["days >= '2035-07-01'", "len(list_filter(days, x -> x >= DATE '2035-07-01')) > 0"],
      ['prices = 6.01', 'list_contains(prices, 6.01)'],
    ])
    db.close()
    // ranks > 22000 lies in the last row group: the others are ruled out by the list's statistics
    expect((await filterRows(source, metadata, parseWhere('ranks > 22000'))).rowGroupsSkipped).toBe(3)
    await expect(filterRows(source, metadata, parseWhere('tags > 5'))).rejects.toThrow('--where: column "tags" holds text; 5 is not text')
    await expect(filterRows(source, metadata, parseWhere('emb > 5'))).rejects.toThrow(
      'column "emb": --where compares values, and this is a list of floats (a vector); those it can compare are: id, tags, ranks, days, prices',
    )
    await source.close()
  })

  it("compares a struct's list field by its dotted name (meta.tags, opt.ranks) as a top-level list, rows and statistics, as DuckDB counts; shows its dates as days", async () => {
    const dir = tempDir('pqs-filter-')
    const input = join(dir, 'struct-lists.parquet')
    const db = await duckdb()
    // a struct holding a list of text (null every 10th row) and a list of dates; a struct that is
    // sometimes null holding a list of integers ascending by row; a list of floats in a struct (a
    // vector: not compared); row groups of 2,048 rows
    await db.run(
      `COPY (SELECT i AS id, {'tags': CASE WHEN i % 10 = 9 THEN NULL ELSE [(['ai','ml','db'])[1 + i % 3], 'x'] END, 'days': [DATE '2020-01-01' + i::INT], 'emb': [i * 0.5]::FLOAT[]} AS meta, CASE WHEN i % 7 = 0 THEN NULL ELSE {'ranks': [i, i * 2]} END AS opt FROM range(5000) t(i)) TO '${input}' (FORMAT parquet, ROW_GROUP_SIZE 2048)`,
    )
    const source = await testSource(input)
    const metadata = await readMetadata(source)
    await expectDuckdbCounts(db, input, source, metadata, [
      ["meta.tags = 'ai'", "list_contains(meta.tags, 'ai')"],
      ["meta.tags IN ('ml', 'db') AND id < 100", "list_has_any(meta.tags, ['ml', 'db']) AND id < 100"],
      ["meta.tags != 'ai'", "meta.tags IS NOT NULL AND NOT list_contains(meta.tags, 'ai')"],
      ['meta.tags IS NULL', 'meta.tags IS NULL'],
      ["meta.days >= '2033-01-01'", "len(list_filter(meta.days, x -> x >= DATE '2033-01-01')) > 0"],
      ['opt.ranks > 9000', 'len(list_filter(opt.ranks, x -> x > 9000)) > 0'],
      ['opt.ranks IS NULL', 'opt.ranks IS NULL'],
    ])
    db.close()
    // opt.ranks > 9000 lies in the last row group: the others are ruled out by the list's statistics
    expect((await filterRows(source, metadata, parseWhere('opt.ranks > 9000'))).rowGroupsSkipped).toBe(2)
    await expect(filterRows(source, metadata, parseWhere('meta.emb > 5'))).rejects.toThrow(
      'column "meta.emb": --where compares values, and this is a list of floats (a vector); those it can compare are: id, meta.tags, meta.days, opt.ranks',
    )
    // a row as the app and the CLI show it: the struct's dates as days
    const [row] = await readRowSpan({ cached: new CachedSource(source), metadata, name: input }, 3, 4, ['meta'])
    expect((jsonRow(row as Record<string, unknown>, shownColumnsOf(metadata)).meta as { days: unknown }).days).toEqual(['2020-01-04'])
    await source.close()
  })

  it('search returns only passing rows, skips row groups by statistics, keeps recall, and honours deleted rows', async () => {
    const dir = tempDir('pqs-filter-')
    const rows = 3000
    const dim = 12
    const v = clusteredVectors(rows, dim, 41)
    const category = Array.from({ length: rows }, (_, i) => CATEGORIES[(i * 7) % 4] as string)
    const input = join(dir, 'in.parquet')
    writeFileSync(
      input,
      new Uint8Array(
        parquetWriteBuffer({
          schema: [
            { name: 'root', num_children: 3 },
            { name: 'category', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
            { name: 'score', type: 'INT32', repetition_type: 'REQUIRED' },
            ...listOfFloat('embedding'),
          ],
          columnData: [
            { name: 'category', data: category },
            { name: 'score', data: Int32Array.from({ length: rows }, (_, i) => i) },
            { name: 'embedding', data: Array.from({ length: rows }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim))) },
          ],
          rowGroupSize: 500,
        }),
      ),
    )
    const out = join(dir, 'out.parquet')
    const src = await fileSource(input)
    await buildIndex(src, await fileSink(out, input), { column: 'embedding' })
    await src.close()
    const index = await openIndex(await testSource(out))
    const where = "category = 'tech' AND score >= 2000"
    const passing = Array.from({ length: rows }, (_, i) => i).filter((i) => category[i] === 'tech' && i >= 2000)
    const data = new Float32Array(passing.length * dim)
    for (const [i, r] of passing.entries()) data.set(v.subarray(r * dim, (r + 1) * dim), i * dim)
    let hits = 0
    const queries = clusteredVectors(30, dim, 42)
    for (let q = 0; q < 30; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim)
      const { results, stats } = await index.search(query, { k: 10, where })
      for (const r of results) {
        expect(category[r.row]).toBe('tech')
        expect(r.row).toBeGreaterThanOrEqual(2000)
      }
      expect(stats.filter).toMatchObject({ rowsPassing: passing.length, rowGroupsSkipped: 4 })
      const truth = new Set(searchExact('l2', data, Uint32Array.from(passing), query, 10).map((h) => h.row))
      for (const r of results) if (truth.has(r.row)) hits++
    }
    console.log(`filtered recall@10 (${passing.length} of ${rows} rows pass): ${(hits / 300).toFixed(3)}`)
    expect(hits / 300).toBeGreaterThanOrEqual(0.95)
    const filtered = await index.search(queries.subarray(0, dim), { k: 10, where })
    expect(filtered.stats.filter?.direct).toBe(false)
    // a filter widens the probe to find enough passing rows; adaptive probing's cut (slack 0:
    // the nearest list alone) does not apply to it
    const cut = await index.search(queries.subarray(0, dim), { k: 10, where, slack: 0 })
    expect(cut.probed).toEqual(filtered.probed)
    expect(cut.probed.length).toBe(filtered.stats.filter?.nprobe)
    expect(cut.probed.length).toBeGreaterThan(1)
    // a narrow filter: its 40 rows ranked directly from their pages — exact search, no lists read
    const narrow = Array.from({ length: 40 }, (_, i) => 1000 + i)
    const few = new Float32Array(narrow.length * dim)
    for (const [i, r] of narrow.entries()) few.set(v.subarray(r * dim, (r + 1) * dim), i * dim)
    for (let q = 0; q < 5; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim)
      const { results, stats } = await index.search(query, { k: 10, where: 'score >= 1000 AND score < 1040', deleted: [1003] })
      expect(stats.filter).toMatchObject({ rowsPassing: 40, nprobe: 0, direct: true })
      expect(stats.listsProbed).toBe(0)
      const exact = searchExact('l2', few, Uint32Array.from(narrow), query, 11).filter((h) => h.row !== 1003)
      expect(results.map((h) => h.row)).toEqual(exact.slice(0, 10).map((h) => h.row))
      for (const [i, h] of results.entries()) expect(h.distance).toBeCloseTo(exact[i]?.distance as number, 5)
    }
    // deleted rows are never returned: a row's own vector finds the next nearest instead (here
    // 2,999 rows are allowed: through the lists)
    const q = await index.vectorOf(77)
    const first = (await index.search(q, { k: 3 })).results.map((r) => r.row)
    expect(first[0]).toBe(77)
    const after = (await index.search(q, { k: 3, deleted: [77] })).results.map((r) => r.row)
    expect(after).not.toContain(77)
    expect(after.slice(0, 2)).toEqual(first.slice(1))
    // the CLI: --where with its stats, a bad expression as one line
    const r = await cli([
      'search',
      out,
      '--query-row',
      '5',
      '--where',
      "category = 'art'",
      '--deleted',
      '5,9',
      '--columns',
      'category',
      '--json',
    ])
    expect(r.code).toBe(0)
    const { results, stats } = JSON.parse(r.stdout)
    expect(
      results.every((x: { row: number; values: { category: string } }) => x.values.category === 'art' && x.row !== 5 && x.row !== 9),
    ).toBe(true)
    expect(stats.filter.rowsPassing).toBe(category.filter((c) => c === 'art').length)
    const bad = await cli(['search', out, '--query-row', '5', '--where', 'colour = 1'])
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim()).toMatch(/column "colour": --where names no such column; the columns it can compare are: category, score$/)
    // the vector column, by its name (a vector) or its leaf's path (in a list), not missing (nor "corrupt data")
    const byName = await cli(['search', out, '--query-row', '5', '--where', 'embedding > 1'])
    expect(byName.code).toBe(1)
    expect(byName.stderr.trim()).toMatch(
      /column "embedding": --where compares values, and this is a list of floats \(a vector\); those it can compare are: category, score$/,
    )
    const byLeaf = await cli(['search', out, '--query-row', '5', '--where', '"embedding.list.element" > 1'])
    expect(byLeaf.code).toBe(1)
    expect(byLeaf.stderr.trim()).toMatch(
      /column "embedding\.list\.element": --where compares plain columns, struct fields and lists of values \(by the list's name\), and this one is inside a list or a map; those it can compare are: category, score$/,
    )
  })

  it('a narrow filter over a file whose index left rows out (null vectors) goes through the lists', async () => {
    const dir = tempDir('pqs-filter-')
    const rows = 3000
    const dim = 12
    const v = clusteredVectors(rows, dim, 43)
    const input = join(dir, 'nulls.parquet')
    writeFileSync(
      input,
      new Uint8Array(
        parquetWriteBuffer({
          schema: [
            { name: 'root', num_children: 2 },
            { name: 'score', type: 'INT32', repetition_type: 'REQUIRED' },
            ...listOfFloat('embedding'),
          ],
          columnData: [
            { name: 'score', data: Int32Array.from({ length: rows }, (_, i) => i) },
            {
              name: 'embedding',
              data: Array.from({ length: rows }, (_, i) => (i === 1003 ? null : Array.from(v.subarray(i * dim, (i + 1) * dim)))),
            },
          ],
          rowGroupSize: 500,
        }),
      ),
    )
    const out = join(dir, 'nulls.indexed.parquet')
    const src = await fileSource(input)
    await buildIndex(src, await fileSink(out, input), { column: 'embedding', skipInvalid: true })
    await src.close()
    const index = await openIndex(await testSource(out))
    // 40 rows, one of them without a vector: ranked through the lists, which never hold it
    const { results, stats } = await index.search(v.subarray(1005 * dim, 1006 * dim), { k: 3, where: 'score >= 1000 AND score < 1040' })
    expect(stats.filter).toMatchObject({ rowsPassing: 40, direct: false })
    expect(results[0]?.row).toBe(1005)
    expect(results.map((r) => r.row)).not.toContain(1003)
  })
})

describe('the order a sort shows values in (the Data view)', () => {
  it('numbers and integers exactly, dates, booleans, text, bytes, then anything by its JSON; NULL and NaN after every value', () => {
    const sorted = (values: unknown[]) => [...values].sort(compareValues)
    // an INT64 past 2^53 beside the double nearest it: exact, as DuckDB orders them
    const big = 2n ** 53n + 1n
    expect(sorted([big, 2 ** 53, -1n, 0.5, null, Number.NaN, 3])).toEqual([-1n, 0.5, 3, 2 ** 53, big, null, Number.NaN])
    expect(sorted([new Date('2021-01-01'), null, new Date('2020-06-30')])).toEqual([new Date('2020-06-30'), new Date('2021-01-01'), null])
    expect(sorted([true, false, undefined, true])).toEqual([false, true, true, undefined])
    expect(sorted(['b', 'a', 'B', '', null])).toEqual(['', 'B', 'a', 'b', null])
    expect(sorted([Uint8Array.of(1, 2), Uint8Array.of(1), Uint8Array.of(0, 9)])).toEqual([
      Uint8Array.of(0, 9),
      Uint8Array.of(1),
      Uint8Array.of(1, 2),
    ])
    // (by JSON text: '[1,5]' before '[1]', as ',' is before ']')
    expect(sorted([[2], [1, 5], null, [1]])).toEqual([[1, 5], [1], [2], null])
  })
})
