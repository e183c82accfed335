/**
 * Fuzzing beyond file bytes (issue 17): a hostile HTTP server and hostile sidecars/manifests.
 *
 * Server mode: one loopback server answers `/case-<seed>/f.parquet` by misbehaving, per request,
 * in a way the seed picks (whole-file 200s, endless or over-long bodies, backwards and bogus
 * multipart parts, wrong or absurd Content-Range, compressed ranges, truncated bodies, errors,
 * lies about the bytes). The reader must end in a valid answer or a ParquetSeekError within the
 * case's time, reading at most a bounded number of bytes; when no answer carried wrong bytes
 * under plausible headers, a valid answer must equal the honest one (the oracle).
 *
 * Sidecar mode: a sidecar mutated like a file, or a manifest whose names are chosen to escape
 * (`../`, absolute paths, other origins, `//host`, junk). The resolver records every path or
 * URL the reader tries to open: one outside the index's folder or origin is a crash.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { drained } from '../../src/cli/rangeServer.js'
import { mulberry32 } from '../../src/compute/random.js'
import { buildShared } from '../../src/index/partitioned.js'
import { resolveSourceName } from '../../src/io/confine.js'
import { MemorySink } from '../../src/io/sink.js'
import { fromBytes } from '../../src/io/source.js'
import { SeekDataset } from '../../src/search/dataset.js'
import { openIndex } from '../../src/search/engine.js'
import { SidecarIndex } from '../../src/search/sidecarIndex.js'
import { mutate, traced } from './harness.js'

export const MISBEHAVIOURS = [
  'honest',
  'whole-200',
  'endless-200',
  'over-long-206',
  'backwards-part',
  'bogus-part',
  'wrong-range',
  'huge-size',
  'gzip',
  'truncated',
  'error-status',
  'lie',
] as const
export type Misbehaviour = (typeof MISBEHAVIOURS)[number]

/** Bytes a hostile answer may push before the client must have stopped reading (per request). */
const ENDLESS = 64 << 20

export interface HostileServer {
  url(seed: number): string
  /** Whether any answer of this case carried wrong bytes under plausible headers. */
  lied(seed: number): boolean
  /** Body bytes the server got out for this case. */
  sent(seed: number): number
  close(): Promise<void>
}

export async function hostileServer(file: Uint8Array): Promise<HostileServer> {
  const size = file.length
  const cases = new Map<number, { n: number; lied: boolean; sent: number }>()
  const server = createServer(async (req, res) => {
    const seed = Number(/^\/case-(-?\d+)\//.exec(req.url ?? '')?.[1])
    const state = cases.get(seed) ?? { n: 0, lied: false, sent: 0 }
    cases.set(seed, state)
    const rand = mulberry32(seed * 7919 + ++state.n)
    // most requests are answered honestly, so cases reach past the first read
    const how: Misbehaviour = rand() < 0.7 ? 'honest' : (MISBEHAVIOURS[Math.floor(rand() * MISBEHAVIOURS.length)] as Misbehaviour)
    const count = (n: number) => {
      state.sent += n
    }
    try {
      await answer(req, res, how, rand, file, size, count, () => {
        state.lied = true
      })
    } catch {
      res.destroy()
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: (seed) => `http://127.0.0.1:${port}/case-${seed}/f.parquet`,
    lied: (seed) => cases.get(seed)?.lied ?? false,
    sent: (seed) => cases.get(seed)?.sent ?? 0,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

function ranges(header: string | undefined, size: number): Array<{ start: number; end: number }> {
  const spec = /^bytes=(.+)$/.exec(header ?? '')?.[1] ?? ''
  return spec.split(',').map((s) => {
    const [a, b] = s.trim().split('-')
    return a === '' ? { start: Math.max(0, size - Number(b)), end: size } : { start: Number(a), end: Math.min(size, Number(b) + 1) }
  })
}

async function answer(
  req: IncomingMessage,
  res: ServerResponse,
  how: Misbehaviour,
  rand: () => number,
  file: Uint8Array,
  size: number,
  count: (n: number) => void,
  lie: () => void,
) {
  const asked = ranges(req.headers.range, size)
  const first = asked[0] ?? { start: 0, end: size }
  const send = (status: number, headers: Record<string, string | number>, body: Uint8Array) => {
    count(body.length)
    res.writeHead(status, headers).end(body)
  }
  const endless = async (status: number, headers: Record<string, string | number>) => {
    res.writeHead(status, headers)
    const chunk = Buffer.alloc(64 << 10)
    for (let sent = 0; sent < ENDLESS && !res.destroyed; sent += chunk.length) {
      count(chunk.length)
      if (!res.write(chunk)) await drained(res)
    }
    res.end()
  }
  const range = (r: { start: number; end: number }, total: number | string = size) => `bytes ${r.start}-${r.end - 1}/${total}`
  switch (how) {
    case 'honest': {
      if (asked.length === 1) return send(206, { 'Content-Range': range(first) }, file.subarray(first.start, first.end))
      const parts = asked.flatMap((r) => [Buffer.from(`\r\n--b\r\nContent-Range: ${range(r)}\r\n\r\n`), file.subarray(r.start, r.end)])
      return send(206, { 'Content-Type': 'multipart/byteranges; boundary=b' }, Buffer.concat([...parts, Buffer.from('\r\n--b--\r\n')]))
    }
    case 'whole-200':
      return send(200, { 'Content-Length': size }, file)
    case 'endless-200':
      return endless(200, {})
    case 'over-long-206':
      return endless(206, { 'Content-Range': range(first) })
    case 'backwards-part': {
      const body = Buffer.concat([
        Buffer.from(`\r\n--b\r\nContent-Range: bytes ${first.end + 100}-${first.start}/${size}\r\n\r\n`),
        Buffer.alloc(Math.min(4096, first.end - first.start + 200)),
        Buffer.from('\r\n--b--\r\n'),
      ])
      return send(206, { 'Content-Type': 'multipart/byteranges; boundary=b' }, body)
    }
    case 'bogus-part': {
      // random bytes around the delimiters, a part claiming more than the body holds, or no range
      const junk = Uint8Array.from({ length: Math.floor(rand() * 2048) }, () => Math.floor(rand() * 256))
      const claims = [`bytes 0-${size * 4}/${size}`, `bytes ${first.start}-${first.end + 1_000_000}/${size}`, 'bytes */*', 'junk']
      const body = Buffer.concat([
        Buffer.from(`--b\r\nContent-Range: ${claims[Math.floor(rand() * claims.length)]}\r\n\r\n`),
        junk,
        Buffer.from(rand() < 0.5 ? '\r\n--b--\r\n' : '--b'),
      ])
      return send(206, { 'Content-Type': `multipart/byteranges; boundary=${rand() < 0.8 ? 'b' : ''}` }, body)
    }
    case 'wrong-range': {
      const shift = 1 + Math.floor(rand() * 1000)
      const start = Math.max(0, first.start - shift)
      const end = Math.min(size, start + (first.end - first.start))
      return send(206, { 'Content-Range': range({ start, end }) }, file.subarray(start, end))
    }
    case 'huge-size':
      return send(206, { 'Content-Range': range(first, 10 * 2 ** 40) }, file.subarray(first.start, first.end))
    case 'gzip': {
      const { gzipSync } = await import('node:zlib')
      return send(206, { 'Content-Range': range(first), 'Content-Encoding': 'gzip' }, gzipSync(Buffer.alloc(8 << 20)))
    }
    case 'truncated': {
      res.writeHead(206, { 'Content-Range': range(first), 'Content-Length': first.end - first.start })
      const half = file.subarray(first.start, first.start + Math.floor((first.end - first.start) / 2))
      count(half.length)
      res.write(half)
      return void setTimeout(() => res.destroy(), 1)
    }
    case 'error-status': {
      const status = [404, 416, 500, 503, 429, 301, 204][Math.floor(rand() * 7)] as number
      return send(status, {}, new Uint8Array(0))
    }
    case 'lie': {
      // plausible headers, wrong bytes: the reader may err or answer differently, never crash
      lie()
      const body = Uint8Array.from(file.subarray(first.start, first.end))
      for (let i = 0; i < 1 + rand() * 8; i++) {
        const at = Math.floor(rand() * body.length)
        body[at] = (body[at] ?? 0) ^ (1 << Math.floor(rand() * 8))
      }
      return send(206, { 'Content-Range': range(first) }, body)
    }
  }
}

/** One server case: open, search with columns, read a vector. Returns the result rows. */
export async function exerciseServer(url: string, query: Float32Array, columns: string[]): Promise<number[]> {
  const index = await openIndex(url, {
    backend: 'wasm',
    http: { attempts: 2, retryDelayMs: 1, stallMs: 1000, attemptMs: 3000 },
  })
  const { results } = await index.search(query, { k: 5, columns, nprobe: 4 })
  for (const r of results)
    if (!Number.isInteger(r.row) || r.row < 0 || r.row >= index.rows) throw new Error(`result row ${r.row} outside the file`)
  await index.vectorOf(results[0]?.row ?? 0)
  return results.map((r) => r.row)
}

/** The sidecar base: one small Parquet file (`src.parquet`) and a sidecar over it, without and with its vectors copied in. */
export async function sidecarBase(): Promise<{ sidecar: Uint8Array; vectors: Uint8Array; source: Uint8Array }> {
  const rows = 300
  const rand = mulberry32(5)
  const source = new Uint8Array(
    parquetWriteBuffer({
      columnData: [
        { name: 'title', data: Array.from({ length: rows }, (_, i) => `t${i}`) },
        {
          name: 'embedding',
          data: Array.from({ length: rows }, () => Array.from({ length: 8 }, () => rand())),
        },
      ],
      schema: [
        { name: 'root', num_children: 2 },
        { name: 'title', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
        { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
      ],
    }),
  )
  const built = async (vectors: boolean) => {
    const sink = new MemorySink()
    await buildShared([{ name: 'src.parquet', source: fromBytes(source, 'src.parquet') }], sink, { column: 'embedding', nlist: 4, vectors })
    return sink.bytes as Uint8Array
  }
  return { sidecar: await built(false), vectors: await built(true), source }
}

/** The sidecar an odd seed mutates: seeds 3 mod 4 the one carrying its vectors. */
export const sidecarOf = (base: { sidecar: Uint8Array; vectors: Uint8Array }, seed: number) =>
  seed % 4 === 3 ? base.vectors : base.sidecar

const ESCAPES = [
  '../src.parquet',
  '/etc/passwd',
  '//evil.example/x.parquet',
  'http://evil.example/x.parquet',
  'file:///etc/passwd',
  '..',
  '',
  'a/../../b',
  '%2e%2e/x',
  '\0',
  'src.parquet',
]

/**
 * One sidecar/manifest case. Odd seeds: a mutated sidecar over `dir/src.parquet` (sidecarOf); even seeds: a
 * manifest at http://fuzz.example/data/ whose names mix real shards and escapes. Throws an
 * Error (a crash) when the reader asks for anything outside the folder or origin.
 */
export async function exerciseSidecar(
  seed: number,
  base: { sidecar: Uint8Array; vectors: Uint8Array; source: Uint8Array; indexed: Uint8Array },
  query: Float32Array,
  /** Ranges read from the sidecar, for the oracle. */
  reads: Array<[number, number]> = [],
  /** The sidecar as built: its answer is what unread edits must leave unchanged. */
  unmutated = false,
): Promise<string> {
  const rand = mulberry32(seed)
  if (seed % 2) {
    const built = sidecarOf(base, seed)
    const bytes = unmutated ? built : mutate(built, seed).bytes
    const dir = '/fuzz/data'
    // half the cases as on disk, half as on a host (names resolved as paths against its URL)
    const hosted = rand() < 0.5
    const index = await SidecarIndex.open(
      traced(bytes, 'all.pqseek', reads),
      async (name) => {
        const missing = async () => new (await import('../../src/errors.js')).ParquetSeekError('no such file', { file: name })
        if (hosted) {
          const where = resolveSourceName(name, { kind: 'url', url: 'http://fuzz.example/data/all.pqseek', names: 'paths' })
          if (where.kind !== 'url' || new URL(where.url).origin !== 'http://fuzz.example')
            throw new Error(`escaped to ${JSON.stringify(where)}`)
          if (where.url !== 'http://fuzz.example/data/src.parquet') throw await missing()
        } else {
          const where = resolveSourceName(name, { kind: 'path', dir }, [], await import('node:path'))
          if (where.kind !== 'path' || !where.path.startsWith(`${dir}/`)) throw new Error(`escaped to ${JSON.stringify(where)}`)
          if (where.path !== `${dir}/src.parquet`) throw await missing()
        }
        return fromBytes(base.source, 'src.parquet')
      },
      { backend: 'wasm' },
    )
    const { results } = await index.search(query.subarray(0, 8), { k: 3, columns: ['title'] })
    return JSON.stringify(results.map((r) => [r.file, r.row, r.distance, r.values.title]))
  }
  const names = Array.from({ length: 1 + Math.floor(rand() * 3) }, () =>
    rand() < 0.4
      ? 'part.parquet'
      : (ESCAPES[Math.floor(rand() * ESCAPES.length)] as string) + (rand() < 0.3 ? 'x'.repeat(Math.floor(rand() * 50)) : ''),
  )
  const manifest = rand() < 0.1 ? { files: names.map((n, i) => (i === 0 ? 42 : n)) } : { files: names }
  const manifestUrl = 'http://fuzz.example/data/manifest.json'
  const fetchAny = (async (input: string | URL) => {
    const url = new URL(String(input))
    if (url.origin !== 'http://fuzz.example') throw new Error(`escaped to ${url.href}`)
    if (url.href === manifestUrl) return new Response(JSON.stringify(manifest))
    if (url.pathname !== '/data/part.parquet') return new Response('', { status: 404 })
    return new Response(base.indexed, { status: 200, headers: { 'Content-Length': String(base.indexed.length) } })
  }) as typeof fetch
  const dataset = await SeekDataset.fromManifest(manifestUrl, { fetch: fetchAny, http: { fetch: fetchAny, attempts: 1 }, backend: 'wasm' })
  const { results } = await dataset.search(query, { k: 3 })
  return `${results.length} results`
}
