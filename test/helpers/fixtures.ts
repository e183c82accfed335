import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DuckDBInstance } from '@duckdb/node-api'
import type { SchemaElement } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { onTestFinished } from 'vitest'
import { mulberry32 } from '../../src/compute/random.js'
import { encoderFor, hashNgramEncoder } from '../../src/encode/encoders.js'
import { USE_LITE } from '../../src/encode/useLite.js'
import { registerUseLiteNode } from '../../src/encode/useLiteNode.js'
import { type BuildOptions, buildIndex } from '../../src/index/build.js'
import { embedTextColumn } from '../../src/index/embed.js'
import { fileSink, fileSource } from '../../src/io/nodeFile.js'
import { openSource } from '../../src/search/open.js'

export const SHARED = join(import.meta.dirname, '../../../shared/data')

export function tempDir(prefix = 'pqs-'): string {
  return mkdtempSync(join(tmpdir(), prefix))
}

export async function duckdb() {
  const instance = await DuckDBInstance.create(':memory:')
  const conn = await instance.connect()
  return {
    async rows(sql: string): Promise<unknown[][]> {
      return (await conn.runAndReadAll(sql)).getRows() as unknown[][]
    },
    async run(sql: string) {
      await conn.run(sql)
    },
    close() {
      conn.closeSync()
      instance.closeSync()
    },
  }
}

/**
 * The rows of a DuckDB query (`select`, with a vector column `embedding`) written as
 * `dir/name.parquet` and indexed at the defaults; returns the indexed file's path.
 */
export async function indexedQuery(dir: string, name: string, select: string): Promise<string> {
  const path = join(dir, `${name}.parquet`)
  const out = join(dir, `${name}.indexed.parquet`)
  const db = await duckdb()
  try {
    await db.run(`COPY (${select}) TO '${path}' (FORMAT parquet)`)
  } finally {
    db.close()
  }
  const src = await fileSource(path)
  await buildIndex(src, await fileSink(out, path), { column: 'embedding' })
  await src.close()
  return out
}

/**
 * Where `got` first differs from `want`, byte for byte (undefined: the same bytes), for
 * `expect(firstDifference(got, want)).toBeUndefined()`. vitest's toEqual walks a typed array value
 * by value: 3.4 s for 3 MiB of floats, 12.6 s for a 3 MiB Buffer on this project's 2-core
 * machines, for an answer this gives in a millisecond (and on a mismatch it names the byte).
 */
export function firstDifference(got: ArrayBufferView | ArrayBuffer, want: ArrayBufferView | ArrayBuffer): string | undefined {
  const bytes = (v: ArrayBufferView | ArrayBuffer) =>
    ArrayBuffer.isView(v) ? Buffer.from(v.buffer, v.byteOffset, v.byteLength) : Buffer.from(v as ArrayBuffer)
  const [a, b] = [bytes(got), bytes(want)]
  if (a.equals(b)) return undefined
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return `${a.length} bytes where ${b.length} were wanted; the first that differs: byte ${i} (${a[i]}, wanted ${b[i]})`
}

/** Clustered random vectors, so IVF has structure to find; `spread`: width of each cluster (centres span 10). */
export function clusteredVectors(n: number, dim: number, seed: number, clusters = 20, spread = 1): Float32Array {
  const rand = mulberry32(seed)
  const centers = Float32Array.from({ length: clusters * dim }, () => rand() * 10 - 5)
  const out = new Float32Array(n * dim)
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rand() * clusters)
    for (let j = 0; j < dim; j++) out[i * dim + j] = (centers[c * dim + j] as number) + (rand() - 0.5) * spread
  }
  return out
}

export const listOfFloat = (name: string, type: 'FLOAT' | 'DOUBLE' = 'FLOAT'): SchemaElement[] => [
  { name, repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
  { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
  { name: 'element', type, repetition_type: 'OPTIONAL' },
]

export interface Fixture {
  name: string
  path: string
  column: string
  rows: number
  dim: number
  /** Rows whose vector is null or otherwise invalid. */
  invalidRows: number[]
}

export function writeListFile(
  path: string,
  rows: Array<number[] | null>,
  extra: Record<string, unknown[]> = {},
  kv: Record<string, string> = {},
  o: {
    /** Page size in bytes (hyparquet-writer's default: 1 MiB, so small files have one page a column). */
    pageSize?: number
    /** Write offset indexes (default); false: none, as pyarrow and DuckDB write by default. */
    offsetIndex?: boolean
    /** Rows a row group (hyparquet-writer's default: 1,000, then more). */
    rowGroupSize?: number
  } = {},
) {
  const { pageSize, offsetIndex = true, rowGroupSize } = o
  const names = Object.keys(extra)
  const buf = parquetWriteBuffer({
    ...(pageSize ? { pageSize } : {}),
    ...(rowGroupSize ? { rowGroupSize } : {}),
    kvMetadata: Object.entries(kv).map(([key, value]) => ({ key, value })),
    schema: [
      { name: 'root', num_children: names.length + 1 },
      ...names.map((n): SchemaElement => ({ name: n, type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' })),
      ...listOfFloat('embedding'),
    ],
    columnData: [...names.map((n) => ({ name: n, data: extra[n] as string[] })), { name: 'embedding', data: rows }].map((c) => ({
      ...c,
      offsetIndex,
    })),
  })
  writeFileSync(path, new Uint8Array(buf))
}

/** `count` random base-36 words (about 6 bytes each, space included): text that snappy and LZ4 barely shrink. */
export const randomWords = (count: number, rand: () => number): string =>
  Array.from({ length: count }, () => Math.floor(rand() * 1e6).toString(36)).join(' ')

/**
 * A file as pyarrow writes one by default: every row in one row group, pages of about 1 MiB, no
 * offset index (`offsetIndex`: with one, as pyarrow's write_page_index). `schema` from the root;
 * `columns` in its order, each as long as the file.
 */
export function writePyarrowLike(
  path: string,
  schema: SchemaElement[],
  columns: Array<{ name: string; data: unknown[] | Int32Array }>,
  offsetIndex = false,
) {
  const rows = columns[0]?.data.length ?? 0
  const columnData = columns.map((c) => ({ ...c, offsetIndex })) as Parameters<typeof parquetWriteBuffer>[0]['columnData']
  writeFileSync(path, new Uint8Array(parquetWriteBuffer({ pageSize: 1 << 20, rowGroupSize: rows, schema, columnData })))
}

/** Small files covering the column shapes and writers the builder must accept. */
export async function makeFixtures(dir: string): Promise<Fixture[]> {
  const out: Fixture[] = []
  const rand = mulberry32(11)
  {
    const rows = 700
    const dim = 12
    const v = clusteredVectors(rows, dim, 1)
    const path = join(dir, 'hyparquet-list-float.parquet')
    const buf = parquetWriteBuffer({
      schema: [
        { name: 'root', num_children: 4 },
        { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
        { name: 'title', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'score', type: 'DOUBLE', repetition_type: 'OPTIONAL' },
        ...listOfFloat('embedding'),
      ],
      columnData: [
        { name: 'id', data: Int32Array.from({ length: rows }, (_, i) => i) },
        // long text in one big page: the builder must re-page it so a row's value is cheap to fetch
        {
          name: 'title',
          data: Array.from({ length: rows }, (_, i) =>
            i % 9 === 0 ? null : `title ${i} ${'é'.repeat(i % 5)} ${'lorem ipsum '.repeat(15)}`,
          ),
        },
        { name: 'score', data: Array.from({ length: rows }, (_, i) => (i % 4 === 0 ? null : rand())) },
        { name: 'embedding', data: Array.from({ length: rows }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim))) },
      ],
      rowGroupSize: 256,
    })
    writeFileSync(path, new Uint8Array(buf))
    out.push({ name: 'hyparquet list<float>, 3 row groups', path, column: 'embedding', rows, dim, invalidRows: [] })
  }
  {
    const rows = 300
    const dim = 8
    const v = clusteredVectors(rows, dim, 2)
    const path = join(dir, 'hyparquet-flba.parquet')
    const buf = parquetWriteBuffer({
      schema: [
        { name: 'root', num_children: 2 },
        { name: 'key', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'REQUIRED' },
        { name: 'vec', type: 'FIXED_LEN_BYTE_ARRAY', type_length: dim * 4, repetition_type: 'REQUIRED' },
      ],
      columnData: [
        { name: 'key', data: Array.from({ length: rows }, (_, i) => `k${i}`) },
        { name: 'vec', data: Array.from({ length: rows }, (_, i) => new Uint8Array(v.slice(i * dim, (i + 1) * dim).buffer)) },
      ],
      rowGroupSize: 100,
    })
    writeFileSync(path, new Uint8Array(buf))
    out.push({ name: 'hyparquet FIXED_LEN_BYTE_ARRAY', path, column: 'vec', rows, dim, invalidRows: [] })
  }
  const db = await duckdb()
  try {
    const vec = (n: number, t: string) => `list_transform(range(${n}), j -> ((hash(i * 1000 + j) % 100000) / 50000.0 - 1)::${t})`
    const typed = join(dir, 'duckdb-types.parquet')
    await db.run(`COPY (SELECT i::INTEGER AS id, 'row ' || i AS name,
        CASE WHEN i % 7 = 0 THEN NULL ELSE i * 1.5 END AS score,
        TIMESTAMP '2024-01-01' + INTERVAL (i) MINUTE AS ts, DATE '2020-02-29' + i::INTEGER AS day,
        (i % 1000)::DECIMAL(10, 2) AS price, (i * 1234567)::DECIMAL(38, 4) AS big, i::BIGINT * 3000000000 AS wide,
        i % 3 = 0 AS flag, {'a': i, 'b': 'x' || i} AS s, [i, i + 1, NULL] AS tags, MAP {'k': i} AS mp,
        ${vec(16, 'FLOAT')}::FLOAT[16] AS embedding
      FROM range(900) t(i)) TO '${typed}' (FORMAT parquet, ROW_GROUP_SIZE 256)`)
    out.push({ name: 'DuckDB FLOAT[16] with many types', path: typed, column: 'embedding', rows: 900, dim: 16, invalidRows: [] })
    const dbl = join(dir, 'duckdb-list-double.parquet')
    await db.run(`COPY (SELECT i AS id, CASE WHEN i IN (5, 6, 300) THEN NULL ELSE ${vec(10, 'DOUBLE')} END AS emb
      FROM range(400) t(i)) TO '${dbl}' (FORMAT parquet, COMPRESSION zstd)`)
    out.push({ name: 'DuckDB list<double>, zstd, null vectors', path: dbl, column: 'emb', rows: 400, dim: 10, invalidRows: [5, 6, 300] })
  } finally {
    db.close()
  }
  return out
}

/** A text file embedded with the built-in hash-ngram encoder, naming its model (text queries work). */
export async function writeTextFile(path: string, titles: string[], dim: number): Promise<void> {
  const encoder = hashNgramEncoder(dim)
  const vectors = await encoder.encode(titles)
  writeListFile(
    path,
    vectors.map((v) => Array.from(v)),
    { title: titles },
    { 'parquetseek.model': encoder.id },
  )
}

/**
 * The `tailBytes` that make opening `path` read the footer and the index head but none of its
 * lists: a search then asks the host for its lists and vector pages, as on a file larger than the
 * tail read (open keeps the tail and serves reads inside it from memory, so on a small test file
 * with the default 1 MiB a search would not reach the server at all).
 */
export async function headOnlyTail(path: string): Promise<number> {
  const source = await fileSource(path)
  try {
    const { location, trailer } = await openSource(source)
    return source.byteLength - (location.offset + location.length - trailer.headBytes)
  } finally {
    await source.close()
  }
}

/** A file source that is closed when the running test finishes (an index reads its source lazily). */
export async function testSource(path: string) {
  const source = await fileSource(path)
  onTestFinished(() => source.close())
  return source
}

/**
 * `words` as a one-column Parquet file (`word`), embedded with use-lite-512 in this process and
 * indexed (cosine): a file that a browser or the CLI searches by meaning. Returns its path.
 */
export async function useLiteWordsFile(dir: string, name: string, words: string[], o: Partial<BuildOptions> = {}): Promise<string> {
  registerUseLiteNode()
  const encoder = encoderFor(USE_LITE)
  if (!encoder) throw new Error(`${USE_LITE} is not registered in Node`)
  const input = join(dir, `${name}.parquet`)
  writeFileSync(input, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'word', data: words, type: 'STRING' }] })))
  const embedded = join(dir, `${name}.embedded.parquet`)
  const out = join(dir, `${name}.indexed.parquet`)
  const text = await fileSource(input)
  await embedTextColumn(text, await fileSink(embedded, input), { text: 'word', encoder })
  await text.close()
  const src = await fileSource(embedded)
  await buildIndex(src, await fileSink(out, embedded), { column: 'embedding', metric: 'cosine', ...o })
  await src.close()
  return out
}

/** A Parquet file of `id` (INT32, 0…n−1) and one text column `name` holding `values` (nullable when one is null). */
export function writeIdTextFile(path: string, name: string, values: Array<string | null>, rowGroupSize?: number) {
  writeFileSync(
    path,
    new Uint8Array(
      parquetWriteBuffer({
        columnData: [
          { name: 'id', data: Int32Array.from({ length: values.length }, (_, i) => i), type: 'INT32' },
          { name, data: values, type: 'STRING', nullable: values.includes(null) },
        ],
        ...(rowGroupSize ? { rowGroupSize } : {}),
      }),
    ),
  )
}
