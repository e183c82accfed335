import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parquetMetadata, toJson } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { assignNearest } from '../../src/compute/js.js'
import { kmeans } from '../../src/compute/kmeans.js'
import { mulberry32 } from '../../src/compute/random.js'
import { AbortError, ParquetSeekError } from '../../src/errors.js'
import { buildIndex } from '../../src/index/build.js'
import { CachedSource } from '../../src/io/cache.js'
import { MemorySink } from '../../src/io/sink.js'
import { type ByteSource, fromBytes } from '../../src/io/source.js'
import { describeEmbeddingColumn, readVectors, summarizeColumns } from '../../src/parquet/embedding.js'
import { readMetadata } from '../../src/parquet/footer.js'
import { ROW_COLUMN } from '../../src/parquet/permute.js'
import { readRows } from '../../src/search/columns.js'
import { openIndex, type SeekIndex } from '../../src/search/engine.js'
import { flatSearch } from '../../src/search/flat.js'
import { knnJoin } from '../../src/search/join.js'
import { openPqVector, searchPqVector, withPqVectorIndex } from '../../src/search/pqVector.js'

/**
 * Fuzzing the reader: mutate a valid indexed file, then open it, search it, read a vector and
 * project columns. Each case must end in a valid result or a ParquetSeekError (a clear error
 * naming the file/section/offset) within the time limit; anything else is a crash.
 */
export type Mutation = 'bitflip' | 'truncate' | 'int32' | 'random-range' | 'swap' | 'zero-range' | 'random-file'
export const MUTATIONS: readonly Mutation[] = ['bitflip', 'truncate', 'int32', 'random-range', 'swap', 'zero-range', 'random-file']

export interface Outcome {
  kind: 'valid' | 'error' | 'crash' | 'hang'
  mutation: Mutation | 'fixture' | 'server' | 'sidecar'
  detail: string
}

/**
 * One mutated copy of `base`. Half of the edits land in the last 20 % of the file (footer,
 * page indexes, index head), where lengths and offsets live.
 */
export function mutate(base: Uint8Array, seed: number): { bytes: Uint8Array; mutation: Mutation; changed: Changed } {
  const rand = mulberry32(seed)
  const mutation = MUTATIONS[Math.floor(rand() * MUTATIONS.length)] as Mutation
  const n = base.length
  const at = () => (rand() < 0.5 ? Math.floor(n * 0.8 + rand() * n * 0.2) : Math.floor(rand() * n)) % n
  let bytes = base.slice()
  // byte ranges edited ([start, end)); 'all' when the size changed or everything did
  let changed: Changed = []
  const edit = (start: number, end: number) => {
    if (changed !== 'all' && end > start) changed.push([start, Math.min(n, end)])
  }
  switch (mutation) {
    case 'bitflip':
      for (let i = 1 + Math.floor(rand() * 8); i > 0; i--) {
        const p = at()
        bytes[p] = (bytes[p] as number) ^ (1 << Math.floor(rand() * 8))
        edit(p, p + 1)
      }
      break
    case 'truncate':
      bytes = bytes.slice(0, Math.floor(rand() * n))
      changed = 'all'
      break
    case 'int32': {
      // a length/offset-like field set to something huge, negative or just off by a little
      const p = at() & ~3
      const values = [0xffffffff, 0x7fffffff, 0x80000000, 0, 1, n, n + 1, Math.floor(rand() * 2 ** 32)]
      new DataView(bytes.buffer).setUint32(Math.min(p, n - 4), values[Math.floor(rand() * values.length)] as number, true)
      edit(Math.min(p, n - 4), Math.min(p, n - 4) + 4)
      break
    }
    case 'random-range': {
      const p = at()
      const end = Math.min(n, p + 1 + Math.floor(rand() * 64))
      for (let i = p; i < end; i++) bytes[i] = Math.floor(rand() * 256)
      edit(p, end)
      break
    }
    case 'zero-range': {
      const p = at()
      const end = Math.min(n, p + 1 + Math.floor(rand() * 256))
      bytes.fill(0, p, end)
      edit(p, end)
      break
    }
    case 'random-file': {
      // random bytes, half of the time dressed as Parquet (magic at both ends, a footer length)
      bytes = Uint8Array.from({ length: Math.floor(rand() * 4096) }, () => Math.floor(rand() * 256))
      changed = 'all'
      if (bytes.length >= 12 && rand() < 0.5) {
        bytes.set([0x50, 0x41, 0x52, 0x31], 0)
        bytes.set([0x50, 0x41, 0x52, 0x31], bytes.length - 4)
        new DataView(bytes.buffer).setUint32(bytes.length - 8, Math.floor(rand() * bytes.length), true)
      }
      break
    }
    case 'swap': {
      // two 64-byte blocks exchanged (sections out of place)
      const a = at() & ~63
      const b = at() & ~63
      const block = bytes.slice(a, a + 64)
      bytes.copyWithin(a, b, b + 64)
      bytes.set(block.subarray(0, Math.max(0, Math.min(64, n - b))), b)
      edit(a, a + 64)
      edit(b, b + 64)
      break
    }
  }
  return { bytes, mutation, changed }
}

/** Byte ranges a mutation edited, or 'all' (the size changed). */
export type Changed = Array<[number, number]> | 'all'

/** A source over bytes that records every range read from it. */
export function traced(bytes: Uint8Array, name: string, reads: Array<[number, number]>): ByteSource {
  const inner = fromBytes(bytes, name)
  return {
    name,
    byteLength: inner.byteLength,
    slice: (start, end, signal) => {
      reads.push([start, end ?? inner.byteLength])
      return inner.slice(start, end, signal)
    },
  }
}

/** Whether any read touched an edited byte. */
export function touched(changed: Changed, reads: Array<[number, number]>): boolean {
  if (changed === 'all') return true
  return changed.some(([a, b]) => reads.some(([s, e]) => s < b && a < e))
}

/**
 * The entry points fuzzed: an indexed file (open, search with columns and a filter, a vector);
 * a pq-vector file; exact search over a plain file; a kNN join whose queries file is the mutated
 * one. Each returns its whole answer as JSON, so two runs can be compared.
 */
export const ENTRIES = ['embedded', 'pqvector', 'flat', 'join'] as const
export type Entry = (typeof ENTRIES)[number]

export interface Bases {
  embedded: Uint8Array[]
  pqvector: Uint8Array[]
  flat: Uint8Array[]
  /** Queries files to mutate; they are joined against embedded[0]. */
  join: Uint8Array[]
  /** A small indexed file for the hostile server and the manifest cases (their cost is the bytes sent). */
  served: Uint8Array
}

/** The entry point and base a seed exercises: entries take turns, then their bases. */
export function caseOf(bases: Bases, seed: number): { entry: Entry; base: Uint8Array; baseIndex: number } {
  const entry = ENTRIES[Math.abs(seed) % ENTRIES.length] as Entry
  const list = bases[entry]
  const baseIndex = Math.floor(Math.abs(seed) / ENTRIES.length) % list.length
  return { entry, base: list[baseIndex] as Uint8Array, baseIndex }
}

const answer = (hits: Array<{ row: number; distance: number; values?: Record<string, unknown> }>) =>
  JSON.stringify(hits.map((h) => ({ row: h.row, distance: h.distance, values: toJson(h.values ?? {}) })))

function checkRows(hits: Array<{ row: number; distance: number }>, rows: number) {
  for (const r of hits) {
    if (!Number.isInteger(r.row) || r.row < 0 || r.row >= rows) throw new Error(`result row ${r.row} outside the file`)
    if (Number.isNaN(r.distance)) throw new Error('NaN distance')
  }
}

let joinIndex: Promise<SeekIndex> | undefined

/** Runs one entry point over `bytes` (read through `source`, which records its reads). */
export async function exercise(entry: Entry, source: ByteSource, bases: Bases, query: Float32Array, columns: string[]): Promise<string> {
  if (entry === 'embedded') {
    // a small first read: the rest of the file is read only as the search needs it
    const index = await openIndex(source, { backend: 'wasm', tailBytes: 16 << 10 })
    // (the columns this file has: a kept crasher may lack the bases' list column)
    const known = new Set(summarizeColumns(index.opened.metadata).map((c) => c.name))
    const { results } = await index.search(query, { k: 5, columns: columns.filter((c) => known.has(c)), nprobe: 4 })
    checkRows(results, index.rows)
    const filtered = await index.search(query, { k: 3, nprobe: 4, where: "title != 'title 1'", deleted: [2] })
    checkRows(filtered.results, index.rows)
    const vector = await index.vectorOf(results[0]?.row ?? 0)
    return JSON.stringify([answer(results), answer(filtered.results), Array.from(vector)])
  }
  const metadata = await readMetadata(source, source.name)
  const rows = Number(metadata.num_rows)
  if (entry === 'pqvector') {
    const index = await openPqVector(source, metadata)
    const found = await searchPqVector(source, metadata, index, query, { k: 5, nprobe: 2, columns: ['title'], where: "title != 'title 1'" })
    checkRows(found.hits, rows)
    return answer(found.hits)
  }
  if (entry === 'flat') {
    const [hits = []] = await flatSearch(source, metadata, [query], { column: 'embedding', metric: 'l2', k: 5 })
    checkRows(hits, rows)
    const values = await readRows(
      { cached: new CachedSource(source), metadata, name: source.name },
      hits.map((h) => h.row).sort((a, b) => a - b),
      ['title', 'tags'].filter((c) => summarizeColumns(metadata).some((s) => s.name === c)),
    )
    return answer(hits.map((h) => ({ ...h, values: values.get(h.row) })))
  }
  // join: the mutated file holds the queries; the index is a clean one, opened once
  joinIndex ??= openIndex(fromBytes(bases.embedded[0] as Uint8Array, 'index.parquet'), { backend: 'wasm' })
  const index = await joinIndex
  const joined = await knnJoin(source, metadata, index, { column: 'embedding', k: 3, nprobe: 4, batch: 64, excludeSelf: true })
  for (const row of joined.row) if (row < 0 || row >= index.rows) throw new Error(`joined row ${row} outside the index`)
  return JSON.stringify([Array.from(joined.query), Array.from(joined.row), Array.from(joined.distance)])
}

/**
 * A build that stores a mutated file's rows list by list over a budget of a few row groups, so the
 * rows are moved a window at a time (permuteRows), then a search of what it wrote.
 */
export async function exerciseCluster(bytes: Uint8Array, query: Float32Array): Promise<string> {
  const sink = new MemorySink()
  await buildIndex(fromBytes(bytes, 'cluster.parquet'), sink, {
    column: 'embedding',
    nlist: 8,
    clusterRows: true,
    skipInvalid: true,
    memoryBytes: 32 << 10,
  })
  const index = await openIndex(fromBytes(sink.bytes as Uint8Array, 'clustered.parquet'), { backend: 'wasm' })
  const { results } = await index.search(query, { k: 5, nprobe: 4, columns: ['title', ROW_COLUMN] })
  checkRows(results, index.rows)
  return answer(results)
}

/** A case's outcome: its answer, a clear error (ParquetSeekError, cancellation) or a crash (anything else). */
export async function outcomeOf(mutation: Outcome['mutation'], run: () => Promise<string>): Promise<Outcome> {
  try {
    return { kind: 'valid', mutation, detail: await run() }
  } catch (e) {
    return e instanceof ParquetSeekError || e instanceof AbortError
      ? { kind: 'error', mutation, detail: e.message }
      : { kind: 'crash', mutation, detail: e instanceof Error ? `${e.name}: ${e.message}\n${e.stack ?? ''}` : String(e) }
  }
}

/**
 * The oracle: a mutation the reader never read cannot change its answer. When no read touched
 * an edited byte (and the size is the same), the case must give the unmutated base's answer.
 */
export function judge(
  outcome: Outcome,
  changed: Changed,
  reads: Array<[number, number]>,
  expected: Outcome,
): Outcome & { oracle: boolean } {
  if (touched(changed, reads)) return { ...outcome, oracle: false }
  if (outcome.kind === expected.kind && outcome.detail === expected.detail) return { ...outcome, oracle: true }
  return {
    kind: 'crash',
    mutation: outcome.mutation,
    oracle: true,
    detail: `edited bytes ${JSON.stringify(changed)} were never read, yet the answer changed: ${outcome.kind} ${outcome.detail.slice(0, 300)} — the base gave ${expected.kind} ${expected.detail.slice(0, 300)}`,
  }
}

/** One case: a base mutated by `seed`, or `given` bytes as they are (a kept regression input, for `givenEntry`). */
export async function runCase(
  bases: Bases,
  seed: number,
  query: Float32Array,
  columns: string[],
  expected: (entry: Entry, baseIndex: number) => Promise<Outcome>,
  limitMs = 5000,
  given?: Uint8Array,
  givenEntry: Entry = 'embedded',
): Promise<Outcome & { entry: Entry; oracle: boolean }> {
  const picked = given ? { entry: givenEntry, base: given, baseIndex: -1 } : caseOf(bases, seed)
  const { bytes, mutation, changed } = given
    ? { bytes: given, mutation: 'fixture' as const, changed: 'all' as const }
    : mutate(picked.base, seed)
  const reads: Array<[number, number]> = []
  let timer: ReturnType<typeof setTimeout> | undefined
  const hang = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'hang', mutation, detail: `no answer in ${limitMs} ms` }), limitMs)
  })
  const run = outcomeOf(mutation, () => exercise(picked.entry, traced(bytes, 'fuzz.parquet', reads), bases, query, columns))
  try {
    const outcome = await Promise.race([run, hang])
    if (outcome.kind === 'hang' || given) return { ...outcome, entry: picked.entry, oracle: false }
    return { ...judge(outcome, changed, reads, await expected(picked.entry, picked.baseIndex)), entry: picked.entry }
  } finally {
    clearTimeout(timer)
  }
}

/** The files the cases mutate, for every entry point. */
export async function baseFiles(): Promise<Bases> {
  const plain = plainFile()
  return {
    embedded: [await indexed(plain), await duckdbBase()],
    pqvector: [await pqVectorFile(plain)],
    flat: [plain],
    // fewer rows, as large a file: 64 queries a case
    join: [plainFile(64, 12_000, 7)],
    served: await indexed(plainFile(400, 40)),
  }
}

/** The plain file with a pq-vector (Rust, IVF-flat) index appended: PQ_VECTOR1 blob before a footer naming it. */
async function pqVectorFile(plain: Uint8Array): Promise<Uint8Array> {
  const metadata = parquetMetadata(plain.slice().buffer)
  const rows = Number(metadata.num_rows)
  const vectors = (
    await readVectors(fromBytes(plain, 'plain.parquet'), metadata, describeEmbeddingColumn(metadata, 'embedding', 'plain'), {})
  ).data
  const dim = 8
  const k = 6
  const centroids = await kmeans(vectors, rows, dim, { k, iterations: 4, seed: 3 })
  const assign = new Uint32Array(rows)
  assignNearest(vectors, rows, dim, centroids, k, assign)
  const clusters = Array.from({ length: k }, () => [] as number[])
  for (let r = 0; r < rows; r++) clusters[assign[r] as number]?.push(r)
  return withPqVectorIndex(
    plain,
    dim,
    centroids,
    clusters.map((c) => Uint32Array.from(c)),
  )
}

/** DuckDB's writer: DataPage V1 (levels inside the compressed body), Snappy, no offset index. */
async function duckdbBase(): Promise<Uint8Array> {
  const { DuckDBInstance } = await import('@duckdb/node-api')
  const dir = mkdtempSync(join(tmpdir(), 'pqs-fuzz-'))
  const path = join(dir, 'duck.parquet')
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  await conn.run('SELECT setseed(0.5)')
  await conn.run(`COPY (
      SELECT CASE WHEN i % 13 = 0 THEN NULL ELSE 'title ' || i END AS title,
        repeat('word ' || i || ' ', 20) AS body,
        -- a NULL of a fixed-size array: 3 levels, 2 of them repeating a list that is not there
        (CASE WHEN i % 17 = 2 THEN NULL ELSE [i, i, i] END)::INTEGER[3] AS tags,
        [random()::FLOAT for _ in range(8)]::FLOAT[8] AS embedding
      FROM range(400) t(i)
    ) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 128)`)
  conn.closeSync()
  db.closeSync()
  const sink = new MemorySink()
  await buildIndex(fromBytes(new Uint8Array(readFileSync(path)), 'duck.parquet'), sink, { column: 'embedding', nlist: 8 })
  rmSync(dir, { recursive: true, force: true })
  return sink.bytes as Uint8Array
}

/** `n` random lowercase letters, with a space now and then. */
function words(rand: () => number, n: number): string {
  return Array.from({ length: n }, () => (rand() < 0.15 ? ' ' : String.fromCharCode(97 + Math.floor(rand() * 26)))).join('')
}

/** A small plain Parquet file with the shapes the readers handle: vectors, short and long text, nulls. */
function plainFile(rows = 400, textBytes = 2000, seed = 99): Uint8Array {
  const dim = 8
  const rand = mulberry32(seed)
  return new Uint8Array(
    parquetWriteBuffer({
      schema: [
        { name: 'root', num_children: 4 },
        { name: 'title', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'body', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'tags', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
      ],
      columnData: [
        { name: 'title', data: Array.from({ length: rows }, (_, i) => (i % 17 === 0 ? null : `title ${i}`)) },
        // incompressible text (~800 KB in all): the file outgrows the readers' first (suffix) read,
        // so most of its bytes are read only when a search needs them — or never (the oracle)
        { name: 'body', data: Array.from({ length: rows }, (_, i) => `body ${i} ${words(rand, textBytes)}`) },
        // a list of text: null, empty, holding a null
        {
          name: 'tags',
          data: Array.from({ length: rows }, (_, i) => (i % 11 === 3 ? null : i % 7 === 1 ? [] : [`t${i % 5}`, null, `u${i}`])),
        },
        { name: 'embedding', data: Array.from({ length: rows }, () => Array.from({ length: dim }, () => rand() * 2 - 1)) },
      ],
      rowGroupSize: 128,
    }),
  )
}

async function indexed(plain: Uint8Array): Promise<Uint8Array> {
  const sink = new MemorySink()
  await buildIndex(fromBytes(plain, 'base.parquet'), sink, { column: 'embedding', nlist: 8 })
  return sink.bytes as Uint8Array
}
