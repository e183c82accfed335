/**
 * Hostile servers, files and paths (issue 17): each case below was found by acting as an
 * attacker or an unlucky user, reproduced here first, then fixed. A case passes when it ends
 * in a clear one-line error (or the right answer) within its time, reading a bounded number of
 * bytes, and leaves what the user owns as it was.
 */
import { execFileSync, spawn } from 'node:child_process'
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join, resolve } from 'node:path'
import { gzipSync } from 'node:zlib'
import { ByteWriter } from 'hyparquet-writer'
import { writePageHeader } from 'hyparquet-writer/src/datapage.js'
import { deltaBinaryPack } from 'hyparquet-writer/src/delta.js'
import { beforeAll, describe, expect, it } from 'vitest'
import { drained, serveFile } from '../src/cli/rangeServer.js'
import { mulberry32 } from '../src/compute/random.js'
import { parseTrailer, SECTION, type SectionName, TRAILER_BYTES, writeBlob } from '../src/index/blob.js'
import { buildIndex } from '../src/index/build.js'
import { crc32 } from '../src/index/crc32.js'
import { FORMAT_VERSION, KV } from '../src/index/keys.js'
import { locateIndex } from '../src/index/locate.js'
import type { InvertedLists, PageLocations } from '../src/index/model.js'
import { encodeAll, resolveParams, trainModel } from '../src/index/train.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { describeEmbeddingColumn, type VectorElement } from '../src/parquet/embedding.js'
import { readMetadata } from '../src/parquet/footer.js'
import { lz4Compress, lz4DecompressBlock } from '../src/parquet/lz4.js'
import { decodeVectorPage } from '../src/parquet/vectorPage.js'
import { writeIndexed } from '../src/parquet/writeIndexed.js'
import { openIndex } from '../src/search/engine.js'
import { cli, type Run } from './helpers/cli.js'
import { clusteredVectors, headOnlyTail, tempDir, testSource, writeListFile } from './helpers/fixtures.js'

const dir = tempDir('pqs-hostile-')
const rows = 3000
const dim = 16
const data = clusteredVectors(rows, dim, 17, 12)
const vectorOf = (r: number) => Array.from(data.subarray(r * dim, (r + 1) * dim))
const input = join(dir, 'in.parquet')
const indexed = join(dir, 'in.indexed.parquet')
const query = JSON.stringify(vectorOf(42))
/** Opening `indexed` with this tailBytes leaves its lists and pages on the server (the file is smaller than the default tail). */
let tail: number

beforeAll(async () => {
  writeListFile(
    input,
    Array.from({ length: rows }, (_, r) => vectorOf(r)),
    { title: Array.from({ length: rows }, (_, r) => `row ${r}`) },
  )
  const source = await fileSource(input)
  await buildIndex(source, await fileSink(indexed, input), { column: 'embedding', nlist: 24 })
  await source.close()
  tail = await headOnlyTail(indexed)
}, 60_000)

function oneLineError(r: Run, code: number, pattern: RegExp) {
  expect(r.code, r.stderr).toBe(code)
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(pattern)
  expect(r.stderr).not.toMatch(/unexpected error|\n\s+at /)
}

let big: Promise<string> | undefined
/** `indexed` with a 10 kB text column more a row: ~30 MB, its vector pages far outside the tail read at open (built once). */
function bigFile(): Promise<string> {
  big ??= (async () => {
    const plain = join(dir, 'big.parquet')
    const bigIndexed = join(dir, 'big.indexed.parquet')
    const rand = mulberry32(3)
    const filler = () => Array.from({ length: 10_000 }, () => String.fromCharCode(97 + Math.floor(rand() * 26))).join('')
    writeListFile(
      plain,
      Array.from({ length: rows }, (_, r) => vectorOf(r)),
      { title: Array.from({ length: rows }, (_, r) => `row ${r}`), body: Array.from({ length: rows }, filler) },
    )
    const source = await fileSource(plain)
    await buildIndex(source, await fileSink(bigIndexed, plain), { column: 'embedding', nlist: 24 })
    await source.close()
    return bigIndexed
  })()
  return big
}

const mkfifo = (path: string) => execFileSync('mkfifo', [path])
const leftovers = (folder: string) => readdirSync(folder).filter((f) => f.includes('.tmp-'))

describe('1. special files at the output (and input) path are refused before any work', () => {
  it('a FIFO, /dev/null and a directory as the output of every writer: refused, left as they were', async () => {
    const fifo = join(dir, 'out.fifo')
    mkfifo(fifo)
    const outDir = join(dir, 'out-dir')
    mkdirSync(outDir)
    const writers: Array<(out: string) => string[]> = [
      (out) => ['index', input, out, '--column', 'embedding'],
      (out) => ['index', '--sidecar', out, input, '--column', 'embedding'],
      (out) => ['train', input, '--column', 'embedding', '--out', out],
      (out) => ['join', input, indexed, '--out', out],
    ]
    for (const args of writers) {
      oneLineError(await cli(args(fifo)), 1, /out\.fifo: the output is a named pipe \(FIFO\), not a regular file; refusing to replace it/)
      oneLineError(await cli(args('/dev/null')), 1, /\/dev\/null: the output is a character device, not a regular file/)
      oneLineError(await cli(args(outDir)), 1, /out-dir: the output is a directory, not a regular file/)
    }
    expect(statSync(fifo).isFIFO()).toBe(true)
    expect(statSync('/dev/null').isCharacterDevice()).toBe(true)
    expect(readdirSync(outDir)).toEqual([])
    expect(leftovers(dir)).toEqual([])
  }, 60_000)

  it('a FIFO or a directory as an input is refused at once (a FIFO used to block forever)', async () => {
    const fifo = join(dir, 'in.fifo')
    mkfifo(fifo)
    oneLineError(
      await cli(['index', fifo, join(dir, 'x.parquet'), '--column', 'embedding']),
      1,
      /in\.fifo: is a named pipe \(FIFO\), not a regular file/,
    )
    oneLineError(await cli(['search', fifo, '--query', query]), 1, /in\.fifo: is a named pipe \(FIFO\), not a regular file/)
    // (a folder: what takes one, where it said only "is a directory, not a regular file")
    oneLineError(
      await cli(['index', dir, join(dir, 'x.parquet'), '--column', 'embedding']),
      2,
      /is a folder: --out-dir DIR indexes each of its Parquet files into DIR/,
    )
  }, 30_000)
})

/** A server whose every answer `handle` writes; counts the body bytes it got out to the socket. */
async function hostile(handle: (req: IncomingMessage, res: ServerResponse, n: number) => void | Promise<void>) {
  let n = 0
  const counted = { bytes: 0 }
  const server = createServer(async (req, res) => {
    const write = res.write.bind(res)
    res.write = ((chunk: Buffer, ...rest: never[]) => {
      counted.bytes += chunk.length
      return write(chunk, ...rest)
    }) as typeof res.write
    try {
      await handle(req, res, ++n)
    } catch {
      res.destroy()
    }
  })
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/f.parquet`,
    counted,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections()
        server.close(() => r())
      }),
  }
}

/** Honest answers from the indexed file: single ranges, suffix ranges, and multipart for several. */
function honest(req: IncomingMessage, res: ServerResponse, file = readFileSync(indexed)) {
  const size = file.length
  const specs = (/^bytes=(.+)$/.exec(req.headers.range ?? '')?.[1] ?? '').split(',').map((s) => {
    const [a, b] = s.trim().split('-')
    return a === '' ? { start: Math.max(0, size - Number(b)), end: size } : { start: Number(a), end: Math.min(size, Number(b) + 1) }
  })
  const [one] = specs
  if (specs.length === 1 && one) {
    res.writeHead(206, { 'Content-Range': `bytes ${one.start}-${one.end - 1}/${size}`, 'Content-Length': one.end - one.start })
    return void res.end(file.subarray(one.start, one.end))
  }
  const parts = specs.flatMap((r) => [
    Buffer.from(`\r\n--b\r\nContent-Range: bytes ${r.start}-${r.end - 1}/${size}\r\n\r\n`),
    file.subarray(r.start, r.end),
  ])
  res.writeHead(206, { 'Content-Type': 'multipart/byteranges; boundary=b' })
  res.end(Buffer.concat([...parts, Buffer.from('\r\n--b--\r\n')]))
}

/** Writes zeros until the client goes away (or `limit` bytes), honouring backpressure. */
async function endless(res: ServerResponse, limit = 1 << 30) {
  const chunk = Buffer.alloc(64 << 10)
  for (let sent = 0; sent < limit && !res.destroyed; sent += chunk.length) {
    if (!res.write(chunk)) await drained(res)
  }
  res.end()
}

const isMulti = (req: IncomingMessage) => (req.headers.range ?? '').includes(',')

describe('2. a multipart answer whose part range runs backwards', () => {
  it('is a clear error, not an endless loop', async () => {
    const s = await hostile((req, res) => {
      if (!isMulti(req)) return honest(req, res)
      const size = statSync(indexed).size
      res.writeHead(206, { 'Content-Type': 'multipart/byteranges; boundary=b' })
      res.end(
        Buffer.concat([
          Buffer.from(`\r\n--b\r\nContent-Range: bytes 2200-1123/${size}\r\n\r\n`),
          Buffer.alloc(3000),
          Buffer.from('\r\n--b--\r\n'),
        ]),
      )
    })
    try {
      const index = await openIndex(s.url, { tailBytes: tail, http: { retryDelayMs: 1 } })
      await expect(index.search(vectorOf(42), { nprobe: 24 })).rejects.toThrow(
        /multipart part without a valid Content-Range \("bytes 2200-1123\/\d+"\)/,
      )
    } finally {
      await s.close()
    }
  }, 15_000)
})

describe('3. response bodies are bounded by what was asked for', () => {
  it('a query that would read more than maxBytesPerQuery fails naming the option, before reading', async () => {
    const index = await openIndex(await testSource(indexed), { tailBytes: tail })
    await expect(index.search(vectorOf(42), { nprobe: 24, maxBytesPerQuery: 1000 })).rejects.toThrow(
      /more bytes would pass maxBytesPerQuery \(1000 bytes\); raise it, or ask for less/,
    )
    expect((await index.search(vectorOf(42), { nprobe: 24 })).results[0]?.row).toBe(42)
  })

  it('a 206 that keeps sending past the range: cut off, a clear error, a few MiB at most', async () => {
    const s = await hostile(async (req, res, n) => {
      if (n === 1) return honest(req, res)
      const m = /^bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')
      res.writeHead(206, { 'Content-Range': `bytes ${m?.[1]}-${m?.[2]}/${statSync(indexed).size}` })
      await endless(res)
    })
    try {
      const index = await openIndex(s.url, { tailBytes: tail, http: { retryDelayMs: 1, multiRange: false } })
      await expect(index.search(vectorOf(42))).rejects.toThrow(/the server sent more than the \d+ bytes asked for/)
      expect(s.counted.bytes).toBeLessThan(16 << 20)
    } finally {
      await s.close()
    }
  }, 20_000)

  it('a 200 with an endless body to a multi-range request: cancelled unread, then single ranges, same answer', async () => {
    const s = await hostile(async (req, res) => {
      if (!isMulti(req)) return honest(req, res)
      res.writeHead(200, { 'Content-Type': 'application/octet-stream' })
      await endless(res)
    })
    try {
      const index = await openIndex(s.url, { tailBytes: tail })
      const a = await index.search(vectorOf(42), { nprobe: 24, k: 5 })
      expect(a.stats.requests).toBeGreaterThan(1)
      const b = await (await openIndex(await testSource(indexed))).search(vectorOf(42), { nprobe: 24, k: 5 })
      expect(a.results.map((r) => r.row)).toEqual(b.results.map((r) => r.row))
      expect(s.counted.bytes).toBeLessThan(statSync(indexed).size + (4 << 20))
    } finally {
      await s.close()
    }
  }, 20_000)

  it('a compressed (gzip) range answer is refused before it is inflated', async () => {
    const bomb = gzipSync(Buffer.alloc(64 << 20))
    const s = await hostile((req, res, n) => {
      if (n === 1) return honest(req, res)
      const m = /^bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')
      res.writeHead(206, {
        'Content-Range': `bytes ${m?.[1]}-${m?.[2]}/${statSync(indexed).size}`,
        'Content-Encoding': 'gzip',
        'Content-Length': bomb.length,
      })
      res.end(bomb)
    })
    try {
      const index = await openIndex(s.url, { tailBytes: tail, http: { multiRange: false } })
      await expect(index.search(vectorOf(42))).rejects.toThrow(/compressed a range answer \(Content-Encoding: gzip\)/)
    } finally {
      await s.close()
    }
  }, 20_000)

  it('a Content-Range claiming a 10 TiB file with a 4 GiB footer: refused before the footer is asked for', async () => {
    const size = 10 * 2 ** 40
    const s = await hostile((req, res) => {
      const tail = Buffer.alloc(1 << 20)
      tail.writeUInt32LE(0xfffffff0, tail.length - 8)
      tail.write('PAR1', tail.length - 4)
      res.writeHead(206, { 'Content-Range': `bytes ${size - tail.length}-${size - 1}/${size}`, 'Content-Length': tail.length })
      res.end(req.headers.range === `bytes=-${tail.length}` ? tail : Buffer.alloc(0))
    })
    try {
      await expect(openIndex(s.url)).rejects.toThrow(/footer length 4294967280 is over the 67108864-byte limit/)
      expect(s.counted.bytes).toBeLessThanOrEqual(1 << 20)
    } finally {
      await s.close()
    }
  }, 20_000)

  it('an S3-style host answering a multi-range request with the whole 30 MB object: cancelled after little was sent, same answer', async () => {
    // a file much larger than loopback socket buffers, so what the host got out is measurable
    const bigIndexed = await bigFile()
    const size = statSync(bigIndexed).size
    expect(size).toBeGreaterThan(25 << 20)
    const s3 = await serveFile(bigIndexed, { host: 's3' })
    try {
      const index = await openIndex(s3.url)
      const a = await index.search(vectorOf(42), { nprobe: 24, k: 5, columns: ['title'] })
      const b = await (await openIndex(await testSource(bigIndexed))).search(vectorOf(42), { nprobe: 24, k: 5, columns: ['title'] })
      expect(a.results).toEqual(b.results)
      const read = index.opened.open.bytes + a.stats.bytes
      console.log(
        `S3-style host, 30 MB object: client read ${(read / 1024).toFixed(0)} KiB, host sent ${(s3.bytesSent / 1024).toFixed(0)} KiB`,
      )
      expect(s3.bytesSent - read).toBeLessThan(512 << 10)
    } finally {
      await s3.close()
    }
  }, 60_000)

  it('a host that ignores Range: a small file is read whole, a large one refused unread, naming the header', async () => {
    const s = await hostile(async (_req, res) => {
      res.writeHead(200, { 'Content-Length': 100 << 20 })
      await endless(res, 100 << 20)
    })
    try {
      await expect(openIndex(s.url)).rejects.toThrow(
        /ignores Range requests .*files over 8 MiB are read only from hosts that honour "Range: bytes=…"/,
      )
      // two answers cancelled at their headers (the tail read and the multi-range probe beside
      // it): what got out is what loopback socket buffers took before, far from the 100 MB body
      expect(s.counted.bytes).toBeLessThan(12 << 20)
    } finally {
      await s.close()
    }
  }, 20_000)
})

/**
 * An indexed file written through the real writer, whose index `tamper` edits before it is
 * serialised (CRCs stay valid: what is checked is whether the contents fit the file).
 */
async function tamperedIndex(
  name: string,
  tamper: (x: { centroids: Float32Array; codebooks: Float32Array; lists: InvertedLists; pages: PageLocations }) => void,
  /** Edits a section's serialised bytes; its CRC, the table's and the trailer's are then made to match. */
  bytes?: { section: SectionName; edit: (section: Uint8Array) => void },
) {
  const source = await fileSource(input)
  const metadata = await readMetadata(source, 'in.parquet')
  const column = describeEmbeddingColumn(metadata, 'embedding')
  const ids = Uint32Array.from({ length: rows }, (_, i) => i)
  const params = resolveParams(rows, rows, dim, { nlist: 8, coarseIterations: 3, pqIterations: 3 })
  const model = await trainModel(data, rows, params)
  const lists = await encodeAll(model, data, rows, ids)
  const out = join(dir, name)
  const sink = await fileSink(out)
  await writeIndexed({
    source,
    metadata,
    column,
    sink,
    makeBlob: (rowPages) => {
      const pages = {
        offsets: Float64Array.from(lists.rowIds, (r) => rowPages.offsets[r] as number),
        lengths: Uint32Array.from(lists.rowIds, (r) => rowPages.lengths[r] as number),
      }
      const edited = { centroids: model.centroids.slice(), codebooks: model.codebooks.slice(), lists, pages }
      tamper(edited)
      const blob = writeBlob({ params: { ...params, nprobe: 8, refine: 10 }, ...edited })
      if (bytes) resealed(blob, bytes.section, bytes.edit)
      return blob
    },
    keyValues: (offset, length) => [
      { key: KV.version, value: FORMAT_VERSION },
      { key: KV.column, value: 'embedding' },
      { key: KV.offset, value: String(offset) },
      { key: KV.length, value: String(length) },
      { key: KV.params, value: JSON.stringify(params) },
    ],
  })
  await sink.commit()
  await source.close()
  return out
}

/** Edits one section of a serialised blob in place and recomputes the CRCs that cover it. */
function resealed(blob: Uint8Array, section: SectionName, edit: (bytes: Uint8Array) => void) {
  const { sections } = parseTrailer(blob, blob.length)
  const s = sections[section]
  edit(blob.subarray(s.offset, s.offset + s.length))
  const view = new DataView(blob.buffer, blob.byteOffset, blob.byteLength)
  const trailer = blob.length - TRAILER_BYTES
  const table = trailer - view.getUint32(trailer + 16, true) * 32
  for (let at = table; at < trailer; at += 32)
    if (view.getUint32(at, true) === SECTION[section]) view.setUint32(at + 4, crc32(blob.subarray(s.offset, s.offset + s.length)), true)
  view.setUint32(trailer + 56, crc32(blob.subarray(table, trailer)), true)
  view.setUint32(trailer + 60, crc32(blob.subarray(trailer, trailer + 60)), true)
}

describe('7. index contents are checked against the file', () => {
  it('a row id past the row count is refused when its list is read', async () => {
    const path = await tamperedIndex('rowid.parquet', ({ lists }) => {
      const end = (lists.listStart[1] as number) - 1
      lists.rowIds[end] = 4_000_000_000
    })
    oneLineError(
      await cli(['search', path, '--query', query, '--nprobe', '8']),
      1,
      /list 0: row id 4000000000 is past the 3000 rows of the file/,
    )
  }, 30_000)

  it('a row listed in two lists is refused, never returned twice', async () => {
    const path = await tamperedIndex('dup.parquet', ({ lists, pages }) => {
      // list 0's first row also replaces an entry of another list where it keeps that list
      // ascending (the replaced row drops out of the index): one row, two lists
      const e0 = lists.listStart[0] as number
      const row = lists.rowIds[e0] as number
      for (let l = 1; l < 8; l++) {
        const start = lists.listStart[l] as number
        const end = lists.listStart[l + 1] as number
        for (let e = start; e < end; e++) {
          if ((e > start && (lists.rowIds[e - 1] as number) >= row) || (e + 1 < end && (lists.rowIds[e + 1] as number) <= row)) continue
          lists.rowIds[e] = row
          pages.offsets[e] = pages.offsets[e0] as number
          pages.lengths[e] = pages.lengths[e0] as number
          return
        }
      }
      throw new Error('no place for the duplicate')
    })
    const r = await cli(['search', path, '--query', query, '--nprobe', '8', '--k', '1000', '--refine', '10', '--json'])
    oneLineError(r, 1, /(is in more than one list|point at the same vector page)/)
  }, 30_000)

  it('centroid and codebook grids that do not decode to exact floats, and infinite float32 codebooks (v3), are refused at open, naming the section and byte', async () => {
    // dimension 3's grid step set to 2^200: past float32's range
    const grid = await tamperedIndex('grid.parquet', () => {}, {
      section: 'centroids',
      edit: (bytes) => new DataView(bytes.buffer, bytes.byteOffset).setInt32(3 * 8, 200, true),
    })
    oneLineError(
      await cli(['search', grid, '--query', query]),
      1,
      /section centroids, byte \d+: dimension 3: grid 2\^200 from -?\d+ is not exact in float32/,
    )
    // the codebooks' grid (format v4), dimension 2
    const books = await tamperedIndex('books.parquet', () => {}, {
      section: 'codebooks',
      edit: (bytes) => new DataView(bytes.buffer, bytes.byteOffset).setInt32(2 * 8, 200, true),
    })
    oneLineError(
      await cli(['search', books, '--query', query]),
      1,
      /section codebooks, byte \d+: dimension 2: grid 2\^200 from -?\d+ is not exact in float32/,
    )
    // the writer never stores centroids or codebooks the lists were not encoded against
    await expect(
      tamperedIndex('nan.parquet', ({ centroids }) => {
        centroids[5] = Number.NaN
      }),
    ).rejects.toThrow(/centroid 0 value 5 is NaN: centroids must be finite/)
    await expect(
      tamperedIndex('inf.parquet', ({ codebooks }) => {
        codebooks[3] = Number.POSITIVE_INFINITY
      }),
    ).rejects.toThrow(/codebook row 0 value 3 is Infinity: codebooks must be finite/)
    // a file of format v3 stores float32 codebooks: one made infinite is refused by value
    const v3 = join(import.meta.dirname, 'fixtures/v3/clustered-1000x16.v3.parquet')
    const v3source = await fileSource(v3)
    const location = locateIndex(await readMetadata(v3source, v3), v3source.byteLength, v3)
    await v3source.close()
    const bytes = readFileSync(v3)
    resealed(bytes.subarray(location?.offset, (location?.offset as number) + (location?.length as number)), 'codebooks', (b) =>
      new DataView(b.buffer, b.byteOffset).setFloat32(3 * 4, Number.POSITIVE_INFINITY, true),
    )
    const inf = join(dir, 'inf3.parquet')
    writeFileSync(inf, bytes)
    oneLineError(await cli(['search', inf, '--query', query]), 1, /section codebooks, byte \d+: value 3 is Infinity/)
  }, 30_000)
})

/** A sidecar over `in.parquet` whose recorded source name is replaced (JSON padded to the same length). */
async function sidecarNaming(name: string): Promise<string> {
  const folder = join(dir, `side-${Math.random().toString(36).slice(2)}`)
  mkdirSync(folder)
  const long = `a${'x'.repeat(120)}.parquet`
  writeFileSync(join(folder, long), readFileSync(input))
  const out = join(folder, 'all.pqseek')
  const r = await cli(['index', '--sidecar', out, join(folder, long), '--column', 'embedding', '--nlist', '8'])
  expect(r.code, r.stderr).toBe(0)
  const bytes = readFileSync(out)
  const text = bytes.toString('latin1')
  const from = `"name":"${long}"`
  const to = `"name":${JSON.stringify(name)}`
  expect(to.length).toBeLessThanOrEqual(from.length)
  writeFileSync(out, Buffer.from(text.replace(from, to + ' '.repeat(from.length - to.length)), 'latin1'))
  return out
}

describe('6. a sidecar or manifest names sources only beside itself', () => {
  it('paths out of its folder, absolute paths, URLs and protocol-relative URLs are refused; --allow-source widens it', async () => {
    const outside = resolve(input)
    const cases: Array<[string, RegExp]> = [
      ['../../../etc/passwd', /source "..\/..\/..\/etc\/passwd" is outside the index's own directory/],
      [outside, /is outside the index's own directory/],
      ['http://127.0.0.1:9/x.parquet', /is a URL, and this index is a local file/],
      ['//127.0.0.1:9/x.parquet', /is a URL, and this index is a local file/],
    ]
    for (const [name, pattern] of cases) oneLineError(await cli(['search', await sidecarNaming(name), '--query', query]), 1, pattern)
    // the caller may allow a folder: the same file then searches (its footer matches the record)
    const allowed = await cli(['search', await sidecarNaming(outside), '--query', query, '--allow-source', dir, '--json'])
    expect(allowed.code, allowed.stderr).toBe(0)
    expect(JSON.parse(allowed.stdout).results[0].row).toBe(42)
  }, 90_000)

  it('a source that is a FIFO is refused, not waited on', async () => {
    const side = await sidecarNaming('pipe.parquet')
    mkfifo(join(side, '..', 'pipe.parquet'))
    oneLineError(await cli(['search', side, '--query', query]), 1, /pipe\.parquet: is a named pipe \(FIFO\), not a regular file/)
  }, 30_000)

  it('a local manifest naming a file outside its folder is refused', async () => {
    const folder = join(dir, 'manifest')
    mkdirSync(folder)
    writeFileSync(join(folder, 'm.json'), JSON.stringify({ files: [indexed] }))
    oneLineError(await cli(['search', join(folder, 'm.json'), '--query', query]), 1, /is outside the index's own directory/)
  }, 30_000)
})

describe('8. errors a user can cause are one clear line, before any work', () => {
  it('option values out of range are usage errors naming the option (k, refine, negative numbers)', async () => {
    oneLineError(await cli(['search', indexed, '--query', query, '--k', '1e9']), 2, /--k must be an integer from 1 to 10,000, got "1e9"/)
    oneLineError(await cli(['search', indexed, '--query', query, '--refine', '1e9']), 2, /--refine must be an integer from 1 to 1,000/)
    oneLineError(await cli(['search', indexed, '--query', query, '--k', '-5']), 2, /--k must be an integer from 1 to 10,000, got "-5"/)
  }, 30_000)

  it('a --where nested 60,000 deep is refused, not a stack overflow', async () => {
    const where = `${'('.repeat(60_000)}title = 'x'${')'.repeat(60_000)}`
    oneLineError(await cli(['search', indexed, '--query', query, '--where', where]), 1, /--where: nests more than 64 deep/)
  }, 30_000)

  it('parquetseek.params that is JSON but not an object is named, not a crash', () => {
    const metadata = {
      key_value_metadata: [
        { key: KV.offset, value: '4' },
        { key: KV.length, value: '100' },
        { key: KV.params, value: 'null' },
      ],
    }
    expect(() => locateIndex(metadata as never, 1000, 'f.parquet')).toThrow(
      'f.parquet, section key-value metadata: parquetseek.params is null, not a JSON object',
    )
  })

  it('a usage error found after the output path was named leaves no temp file', async () => {
    const folder = join(dir, 'usage')
    mkdirSync(folder)
    oneLineError(
      await cli(['index', input, join(folder, 'o.parquet'), '--column', 'embedding', '--nlist', '0']),
      2,
      /--nlist must be an integer from 1/,
    )
    oneLineError(await cli(['train', input, '--column', 'embedding', '--out', join(folder, 'm'), '--nlist', '0']), 2, /--nlist/)
    expect(readdirSync(folder)).toEqual([])
  }, 30_000)

  it('a server without multi-range draws no MaxListenersExceededWarning', async () => {
    // the large file: its results' 10 kB bodies lie far apart and outside the tail read at open,
    // so the search sends more single-range requests under one signal than Node's default limit
    // of 10 listeners (the small file would come whole with the open)
    const s = await serveFile(await bigFile(), { noMultiRange: true })
    try {
      const r = await cli(['search', s.url, '--query', query, '--nprobe', '24', '--k', '20', '--columns', 'body', '--json'])
      expect(r.code, r.stderr).toBe(0)
      expect(JSON.parse(r.stdout).stats.requests).toBeGreaterThan(10)
      expect(r.stderr).not.toMatch(/MaxListenersExceededWarning/)
    } finally {
      await s.close()
    }
  }, 30_000)
})

describe('memory under hostile servers', () => {
  it('bytes held for reads stay within 2× the largest legitimate read over a server sending endless bodies', async () => {
    // the same search in a fresh process against an honest and a hostile server, sampling the
    // memory held by ArrayBuffers (what response bodies occupy) every 2 ms, and peak RSS
    const peak = async (url: string) => {
      const script = `const { openIndex } = await import(${JSON.stringify(resolve('build/src/node.js'))});
        let buffers = 0;
        const sample = setInterval(() => { buffers = Math.max(buffers, process.memoryUsage().arrayBuffers) }, 2);
        const index = await openIndex(process.argv[1], { tailBytes: ${tail}, http: { retryDelayMs: 1, multiRange: false } });
        let error = '';
        try { await index.search(${query}, { nprobe: 24 }) } catch (e) { error = e.message }
        clearInterval(sample);
        console.log(JSON.stringify({ rss: process.resourceUsage().maxRSS * 1024, buffers, error }))`
      const child = spawn(process.execPath, ['--input-type=module', '-e', script, url], { stdio: ['ignore', 'pipe', 'inherit'] })
      let out = ''
      child.stdout.on('data', (d) => {
        out += d
      })
      await new Promise((r) => child.on('close', r))
      return JSON.parse(out) as { rss: number; buffers: number; error: string }
    }
    const honestServer = await hostile((req, res) => honest(req, res))
    const evil = await hostile(async (req, res, n) => {
      if (n === 1) return honest(req, res)
      const m = /^bytes=(\d+)-(\d+)/.exec(req.headers.range ?? '')
      res.writeHead(206, { 'Content-Range': `bytes ${m?.[1]}-${m?.[2]}/${statSync(indexed).size}` })
      await endless(res)
    })
    try {
      const base = await peak(honestServer.url)
      const bad = await peak(evil.url)
      expect(base.error).toBe('')
      expect(bad.error).toMatch(/sent more than/)
      const mib = (n: number) => `${(n / 2 ** 20).toFixed(1)} MiB`
      console.log(
        `honest server: buffers ${mib(base.buffers)}, peak RSS ${mib(base.rss)}; endless bodies: buffers ${mib(bad.buffers)}, peak RSS ${mib(bad.rss)}; server sent ${mib(evil.counted.bytes)}`,
      )
      // every legitimate read here is under 1 MiB (the open reads the footer and index head only)
      expect(bad.buffers).toBeLessThan(2 * (1 << 20))
      // RSS varies by a few tens of MiB between runs of the same work (heap sizing); an
      // unbounded body would add hundreds
      expect(bad.rss).toBeLessThan(base.rss + (48 << 20))
    } finally {
      await honestServer.close()
      await evil.close()
    }
  }, 60_000)
})

/** One embedding page as the builder writes it (DataPage V2, one vector), with header fields and body chosen. */
function vectorPage(o: {
  uncompressed: number
  body: Uint8Array
  stored?: boolean
  values?: number
  encoding?: string
  /** The definition levels' length as written: a bigint is written as a thrift i64. */
  defLength?: number | bigint
}): Uint8Array {
  const writer = new ByteWriter()
  writePageHeader(writer, {
    type: 'DATA_PAGE_V2',
    uncompressed_page_size: o.uncompressed,
    compressed_page_size: o.body.length,
    data_page_header_v2: {
      num_values: o.values ?? dim,
      num_nulls: 0,
      num_rows: 1,
      encoding: o.encoding ?? 'PLAIN',
      definition_levels_byte_length: o.defLength ?? 0,
      repetition_levels_byte_length: 0,
      is_compressed: !o.stored,
    },
  } as never)
  writer.appendBytes(o.body)
  return new Uint8Array(writer.getBuffer())
}

describe('4–5. vector pages: decoded within their declared size', () => {
  const column = { kind: 'list' as const, element: 'FLOAT' as const }
  const ctx = { file: 'f.parquet', column: 'embedding', offset: 1234, row: 7 }

  it('an LZ4 block whose match runs past the output stops at once (it used to copy the whole claimed length)', () => {
    // one literal, then a match of offset 1 whose length bytes claim ~1 GiB (4 MiB of 0xff)
    const body = new Uint8Array(4 << 20).fill(0xff)
    body.set([0x1f, 0x41, 0x01, 0x00], 0)
    body[body.length - 1] = 0
    const page = vectorPage({ uncompressed: dim * 4, body })
    const t0 = performance.now()
    expect(() => decodeVectorPage(page, column, 'LZ4_RAW', dim, new Float32Array(dim), 0, ctx)).toThrow(
      'f.parquet, column "embedding", row 7, byte 1234: cannot decompress the vector page (lz4 length runs past the output)',
    )
    console.log(`LZ4 bomb page (4 MiB of length bytes) refused in ${(performance.now() - t0).toFixed(1)} ms`)
  })

  it('a header field a corrupt byte retyped as a 64-bit integer is refused naming the page, not thrown as a TypeError', () => {
    // (the fuzzer's swap of two bytes did this: hyparquet reads an i64 field as a BigInt, and
    // adding it to a number threw "Cannot mix BigInt and other types")
    const body = lz4Compress(new Uint8Array(new Float32Array(vectorOf(3)).buffer))
    const page = vectorPage({ uncompressed: dim * 4, body, defLength: 0n })
    expect(() => decodeVectorPage(page, column, 'LZ4_RAW', dim, new Float32Array(dim), 0, ctx)).toThrow(
      'f.parquet, column "embedding", section page header, row 7, byte 1234: corrupt page header: DataPage V2 definition_levels_byte_length is the 64-bit 0, not a 32-bit integer',
    )
    // the same page with the field as written: decoded
    const out = new Float32Array(dim)
    decodeVectorPage(vectorPage({ uncompressed: dim * 4, body }), column, 'LZ4_RAW', dim, out, 0, ctx)
    expect(Array.from(out)).toEqual(Array.from(new Float32Array(vectorOf(3))))
  })

  it('a page claiming 1 GiB of values is refused before anything is allocated', () => {
    const before = process.memoryUsage().arrayBuffers
    const page = vectorPage({ uncompressed: 1 << 30, body: new Uint8Array(64) })
    expect(() => decodeVectorPage(page, column, 'LZ4_RAW', dim, new Float32Array(dim), 0, ctx)).toThrow(
      'byte 1234: corrupt page header: uncompressed size 1073741824',
    )
    expect(process.memoryUsage().arrayBuffers - before).toBeLessThan(16 << 20)
  })

  it('a page decodes to its vector compressed or stored, at any byte offset, as float, double, half float or integers, one page after another', () => {
    const floats = (r: number) => new Uint8Array(new Float32Array(vectorOf(r)).buffer)
    const decode = (page: Uint8Array, element: VectorElement = 'FLOAT') => {
      const out = new Float32Array(dim + 2).fill(-1)
      decodeVectorPage(page, { kind: 'list', element }, 'LZ4_RAW', dim, out, 1, ctx)
      expect([out[0], out[dim + 1]]).toEqual([-1, -1]) // only its slot written
      return Array.from(out.subarray(1, dim + 1))
    }
    const expected = (r: number) => Array.from(new Float32Array(vectorOf(r)))
    // compressed (the builder's pages), twice in a row with other vectors: nothing carried over
    for (const r of [3, 4, 3]) expect(decode(vectorPage({ uncompressed: dim * 4, body: lz4Compress(floats(r)) }))).toEqual(expected(r))
    // stored uncompressed, its values at every alignment within the bytes read
    for (const shift of [0, 1, 2, 3]) {
      const page = vectorPage({ uncompressed: dim * 4, body: floats(5), stored: true })
      const within = new Uint8Array(page.length + shift)
      within.set(page, shift)
      expect(decode(within.subarray(shift))).toEqual(expected(5))
    }
    // DOUBLE elements, read as float32
    const doubles = new Uint8Array(Float64Array.from(vectorOf(6)).buffer)
    expect(decode(vectorPage({ uncompressed: dim * 8, body: lz4Compress(doubles) }), 'DOUBLE')).toEqual(expected(6))
    // half floats (2 bytes a value): normal, subnormal (2^-24), the largest (65504), −0 and 1/3 rounded
    const halves = [0x3c00, 0xc000, 0x0001, 0x7bff, 0x8000, 0x3555, 0x0000, 0xbc00]
    const halfValues = [1, -2, 2 ** -24, 65504, -0, 0.333251953125, 0, -1]
    const halfBody = new Uint8Array(Uint16Array.from({ length: dim }, (_, j) => halves[j % 8] as number).buffer)
    const halfOut = decode(vectorPage({ uncompressed: dim * 2, body: lz4Compress(halfBody) }), 'FLOAT16')
    expect(halfOut).toEqual(Array.from({ length: dim }, (_, j) => halfValues[j % 8]))
    expect(Object.is(halfOut[4], -0)).toBe(true)
    // 8- and 16-bit integers, stored as INT32, DELTA_BINARY_PACKED (compressed or not)
    const ints = Array.from({ length: dim }, (_, j) => [-128, 127, 0, -1, 255, 300, -32768, 32767][j % 8] as number)
    const packed = new ByteWriter()
    deltaBinaryPack(packed, ints, 'INT32')
    const deltas = new Uint8Array(packed.getBytes())
    for (const element of ['INT8', 'UINT8', 'INT16', 'UINT16'] as const) {
      const page = vectorPage({ uncompressed: deltas.length, body: lz4Compress(deltas), encoding: 'DELTA_BINARY_PACKED' })
      expect(decode(page, element)).toEqual(ints)
      const stored = vectorPage({ uncompressed: deltas.length, body: deltas, stored: true, encoding: 'DELTA_BINARY_PACKED' })
      expect(decode(stored, element)).toEqual(ints)
    }
    // integers PLAIN are not what the builder writes
    expect(() =>
      decode(vectorPage({ uncompressed: dim * 4, body: lz4Compress(new Uint8Array(Int32Array.from(ints).buffer)) }), 'INT8'),
    ).toThrow('vector page encoding is PLAIN, expected DELTA_BINARY_PACKED')
    // a delta header whose blocks hold no miniblock: named, not left to fail past the page's end
    const endless = Uint8Array.from([0x80, 0x01, 0x00, dim, 0x00, 0x00, 0x00])
    expect(() =>
      decode(vectorPage({ uncompressed: endless.length, body: endless, stored: true, encoding: 'DELTA_BINARY_PACKED' }), 'INT8'),
    ).toThrow("vector page's delta header is not one Parquet allows (block 128, 0 miniblocks)")
    // one that counts other than the vector's values, or runs out of bytes
    deltas[3] = dim + 1
    expect(() =>
      decode(vectorPage({ uncompressed: deltas.length, body: deltas, stored: true, encoding: 'DELTA_BINARY_PACKED' }), 'INT8'),
    ).toThrow("vector page's delta header counts 17 values, expected a 16-d vector")
    deltas[3] = dim
    const cut = deltas.subarray(0, 6)
    expect(() =>
      decode(vectorPage({ uncompressed: cut.length, body: cut, stored: true, encoding: 'DELTA_BINARY_PACKED' }), 'INT8'),
    ).toThrow("cannot unpack the vector page's integers")
    // a page of the wrong width for its type is refused before decompressing
    expect(() => decode(vectorPage({ uncompressed: dim * 4, body: lz4Compress(floats(3)) }), 'FLOAT16')).toThrow(
      'vector page claims 64 bytes of values, a 16-d vector has 32',
    )
    // an infinite half float is a damaged page, as a float's is
    halfBody.set([0x00, 0x7c], 6)
    expect(() => decode(vectorPage({ uncompressed: dim * 2, body: lz4Compress(halfBody) }), 'FLOAT16')).toThrow(
      'vector page holds a non-finite value at 3 (damaged page)',
    )
  })

  it('a page holding a value that is not finite is refused, naming where; finite extremes pass', () => {
    // 16-d (four values at a time) and 13-d (a remainder of one)
    for (const d of [dim, 13])
      for (const at of [0, 5, d - 1])
        for (const bad of [Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY]) {
          const values = Float32Array.from({ length: d }, (_, j) => j - 4)
          values[at] = bad
          const page = vectorPage({ uncompressed: d * 4, body: lz4Compress(new Uint8Array(values.buffer)), values: d })
          expect(() => decodeVectorPage(page, column, 'LZ4_RAW', d, new Float32Array(d), 0, ctx)).toThrow(
            `f.parquet, column "embedding", row 7, byte 1234: vector page holds a non-finite value at ${at} (damaged page)`,
          )
        }
    // the largest floats, the smallest subnormal and −0 are finite: decoded as they are
    const extremes = Float32Array.from(
      { length: dim },
      (_, j) => [3.4028234663852886e38, -3.4028234663852886e38, 1e-45, -0][j % 4] as number,
    )
    const out = new Float32Array(dim)
    decodeVectorPage(
      vectorPage({ uncompressed: dim * 4, body: lz4Compress(new Uint8Array(extremes.buffer)) }),
      column,
      'LZ4_RAW',
      dim,
      out,
      0,
      ctx,
    )
    expect(Array.from(out)).toEqual(Array.from(extremes))
  })

  it('LZ4 blocks from our compressor decode through the bounded decoder exactly; truncated ones fail', () => {
    const values = new Uint8Array(new Float32Array(vectorOf(3)).buffer)
    const packed = lz4Compress(values)
    expect(lz4DecompressBlock(packed, values.length)).toEqual(values)
    expect(() => lz4DecompressBlock(packed.subarray(0, packed.length - 3), values.length)).toThrow(/lz4/)
    expect(() => lz4DecompressBlock(packed, values.length + 1)).toThrow(/decodes to 64 bytes, expected 65/)
  })
})
