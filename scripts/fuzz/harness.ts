import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { AbortError, ParquetSeekError } from '../../src/errors.js'
import { buildIndex } from '../../src/index/build.js'
import { mulberry32 } from '../../src/index/random.js'
import { MemorySink } from '../../src/io/sink.js'
import { fromBytes } from '../../src/io/source.js'
import { openIndex } from '../../src/search/engine.js'

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
export function mutate(base: Uint8Array, seed: number): { bytes: Uint8Array; mutation: Mutation } {
  const rand = mulberry32(seed)
  const mutation = MUTATIONS[Math.floor(rand() * MUTATIONS.length)] as Mutation
  const n = base.length
  const at = () => (rand() < 0.5 ? Math.floor(n * 0.8 + rand() * n * 0.2) : Math.floor(rand() * n)) % n
  let bytes = base.slice()
  switch (mutation) {
    case 'bitflip':
      for (let i = 1 + Math.floor(rand() * 8); i > 0; i--) {
        const p = at()
        bytes[p] = (bytes[p] as number) ^ (1 << Math.floor(rand() * 8))
      }
      break
    case 'truncate':
      bytes = bytes.slice(0, Math.floor(rand() * n))
      break
    case 'int32': {
      // a length/offset-like field set to something huge, negative or just off by a little
      const p = at() & ~3
      const values = [0xffffffff, 0x7fffffff, 0x80000000, 0, 1, n, n + 1, Math.floor(rand() * 2 ** 32)]
      new DataView(bytes.buffer).setUint32(Math.min(p, n - 4), values[Math.floor(rand() * values.length)] as number, true)
      break
    }
    case 'random-range': {
      const p = at()
      for (let i = p; i < Math.min(n, p + 1 + Math.floor(rand() * 64)); i++) bytes[i] = Math.floor(rand() * 256)
      break
    }
    case 'zero-range': {
      const p = at()
      bytes.fill(0, p, Math.min(n, p + 1 + Math.floor(rand() * 256)))
      break
    }
    case 'random-file': {
      // random bytes, half of the time dressed as Parquet (magic at both ends, a footer length)
      bytes = Uint8Array.from({ length: Math.floor(rand() * 4096) }, () => Math.floor(rand() * 256))
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
      break
    }
  }
  return { bytes, mutation }
}

/** Runs the reader over `bytes`: open, search (with columns), read one vector. */
export async function exercise(bytes: Uint8Array, query: Float32Array, columns: string[]): Promise<string> {
  const index = await openIndex(fromBytes(bytes, 'fuzz.parquet'), { backend: 'wasm' })
  const { results } = await index.search(query, { k: 5, columns, nprobe: 4 })
  for (const r of results) {
    if (!Number.isInteger(r.row) || r.row < 0 || r.row >= index.rows) throw new Error(`result row ${r.row} outside the file`)
    if (Number.isNaN(r.distance)) throw new Error('NaN distance')
  }
  await index.vectorOf(results[0]?.row ?? 0)
  return `${results.length} results`
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

/** The base file a seed mutates: the bases take turns. */
export function baseFor(bases: Uint8Array[], seed: number): Uint8Array {
  return bases[Math.abs(seed) % bases.length] as Uint8Array
}

/** One case: a base mutated by `seed`, or `given` bytes as they are (a kept regression input). */
export async function runCase(
  bases: Uint8Array[],
  seed: number,
  query: Float32Array,
  columns: string[],
  limitMs = 5000,
  given?: Uint8Array,
): Promise<Outcome> {
  const { bytes, mutation } = given ? { bytes: given, mutation: 'fixture' as const } : mutate(baseFor(bases, seed), seed)
  let timer: ReturnType<typeof setTimeout> | undefined
  const hang = new Promise<Outcome>((resolve) => {
    timer = setTimeout(() => resolve({ kind: 'hang', mutation, detail: `no answer in ${limitMs} ms` }), limitMs)
  })
  const run = outcomeOf(mutation, () => exercise(bytes, query, columns))
  try {
    return await Promise.race([run, hang])
  } finally {
    clearTimeout(timer)
  }
}

/** A small indexed file with the shapes the reader handles: vectors, short and long text, nulls. */
export async function baseFiles(): Promise<Uint8Array[]> {
  return [await baseFile(), await duckdbBase()]
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

export async function baseFile(): Promise<Uint8Array> {
  const rows = 400
  const dim = 8
  const rand = mulberry32(99)
  const buf = parquetWriteBuffer({
    schema: [
      { name: 'root', num_children: 3 },
      { name: 'title', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'body', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
    ],
    columnData: [
      { name: 'title', data: Array.from({ length: rows }, (_, i) => (i % 17 === 0 ? null : `title ${i}`)) },
      { name: 'body', data: Array.from({ length: rows }, (_, i) => `body ${i} `.repeat(60)) },
      { name: 'embedding', data: Array.from({ length: rows }, () => Array.from({ length: dim }, () => rand() * 2 - 1)) },
    ],
    rowGroupSize: 128,
  })
  const sink = new MemorySink()
  await buildIndex(fromBytes(new Uint8Array(buf), 'base.parquet'), sink, { column: 'embedding', nlist: 8 })
  return sink.bytes as Uint8Array
}
