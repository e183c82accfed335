import { readFileSync, writeFileSync } from 'node:fs'
import { createServer, request, type ServerResponse } from 'node:http'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { drained, serveFile } from '../src/cli/rangeServer.js'
import { fileUrl } from '../src/io/fileUrl.js'
import { answersOneRange, openHttp } from '../src/io/httpSource.js'
import { fileSink } from '../src/io/nodeFile.js'
import { DEFAULT_GAP, REQUEST_BYTES, readRanges } from '../src/io/ranges.js'
import { MemorySink } from '../src/io/sink.js'
import { type ByteSource, ConnectionLimiter, CountingSource, RoundTripClock } from '../src/io/source.js'
import { firstDifference, tempDir } from './helpers/fixtures.js'

/** A source whose reads each take `ms`, recording how many were in flight at once; multi-range refused (a host that answers 200). */
function slowSource(size: number, ms: number) {
  const bytes = Uint8Array.from({ length: size }, (_, i) => i & 255)
  const state: {
    inFlight: number
    most: number
    singles: number
    many: number
    hostInFlight: number
    hostMost: number
    shared?: typeof state
  } = {
    inFlight: 0,
    most: 0,
    singles: 0,
    many: 0,
    hostInFlight: 0,
    hostMost: 0,
  }
  const source: ByteSource = {
    name: 'slow',
    byteLength: size,
    async slice(start, end = size) {
      state.singles++
      state.inFlight++
      state.most = Math.max(state.most, state.inFlight)
      const host = state.shared ?? state
      host.hostInFlight++
      host.hostMost = Math.max(host.hostMost, host.hostInFlight)
      await new Promise((r) => setTimeout(r, ms))
      host.hostInFlight--
      state.inFlight--
      return bytes.slice(start, end).buffer
    },
    async sliceMany() {
      state.many++
      await new Promise((r) => setTimeout(r, ms))
      return undefined
    },
  }
  return { source, state, bytes }
}

describe('reads planned like a browser on a host without multi-range', () => {
  it('after a refused multi-range request, never more than `concurrency` requests in flight, every range right', async () => {
    const { source, state, bytes } = slowSource(100_000, 5)
    const counting = new CountingSource(source)
    const ranges = Array.from({ length: 40 }, (_, i) => ({ start: i * 2000, end: i * 2000 + 100 }))
    const bodies = await readRanges(counting, ranges, { gap: 0, concurrency: 6 })
    expect(state.most).toBe(6)
    expect(state.many).toBe(1) // refused once; this source plans single ranges from then on
    expect(counting.sliceMany).toBeUndefined()
    expect(state.singles).toBe(40)
    for (const [i, r] of ranges.entries()) expect(bodies[i]).toEqual(bytes.subarray(r.start, r.end))
    // the refused request and the singles: 1 + 40 requests, in 1 + ⌈40 / 6⌉ round trips
    expect(counting.counts.requests).toBe(41)
    expect(counting.clock.deepest).toBe(1 + Math.ceil(40 / 6))
  })

  it('once multi-range is refused, ranges closer than a request costs are read as one span', async () => {
    const { source, state, bytes } = slowSource(100_000, 2)
    const counting = new CountingSource(source)
    const ranges = Array.from({ length: 40 }, (_, i) => ({ start: i * 2000, end: i * 2000 + 100 }))
    const bodies = await readRanges(counting, ranges, { gap: 0, concurrency: 6, requestGap: REQUEST_BYTES })
    expect(state.many).toBe(1)
    expect(state.singles).toBe(1)
    for (const [i, r] of ranges.entries()) expect(bodies[i]).toEqual(bytes.subarray(r.start, r.end))
  })

  it('round trips are counted as requests go out: together once, after an answer one more, across sources sharing a clock', async () => {
    const clock = new RoundTripClock()
    const a = new CountingSource(slowSource(1000, 3).source, clock)
    const b = new CountingSource(slowSource(1000, 3).source, clock)
    await Promise.all([a.slice(0, 10), a.slice(20, 30), b.slice(0, 10)]) // one wave over two files
    expect(clock.deepest).toBe(1)
    await a.slice(40, 50) // depends on the answers: the next
    expect(clock.deepest).toBe(2)
    const slow = a.slice(0, 1) // sent with another that is answered first, then a third after it
    await b.slice(0, 1)
    await Promise.all([slow, b.slice(5, 6)])
    expect(clock.deepest).toBe(4)
  })
})

describe('connections shared by the files on one host', () => {
  it('never more in flight than the host allows, across files; a request waiting for a connection goes out a round trip later', async () => {
    const a = slowSource(1000, 5)
    const b = slowSource(1000, 5)
    b.state.shared = a.state // one host: count both files' requests together
    const clock = new RoundTripClock()
    const limiter = new ConnectionLimiter(2)
    const sa = new CountingSource(a.source, clock, limiter)
    const sb = new CountingSource(b.source, clock, limiter)
    await Promise.all([sa.slice(0, 1), sa.slice(1, 2), sb.slice(0, 1), sb.slice(1, 2), sb.slice(2, 3)])
    expect(a.state.hostMost).toBe(2)
    expect(clock.deepest).toBe(3) // five requests through two connections: three waves
  })
})

describe('reading through gaps that cost less than a request', () => {
  const ranges = [
    { start: 0, end: 4000 },
    { start: 5000, end: 9000 }, // gap 1,000
    { start: 11_000, end: 15_000 }, // gap 2,000
    { start: 15_000 + REQUEST_BYTES + 1, end: 20_000 + REQUEST_BYTES }, // gap one byte more than a request
  ]

  it('where each range is a request: gaps up to REQUEST_BYTES are read, a larger one is not', async () => {
    const bytes = Uint8Array.from({ length: 30_000 + REQUEST_BYTES }, (_, i) => i % 251)
    const asked: Array<[number, number]> = []
    const single: ByteSource = {
      name: 's3',
      byteLength: bytes.length,
      slice: async (start, end) => {
        asked.push([start, end as number])
        return bytes.slice(start, end).buffer
      },
    }
    const bodies = await readRanges(single, ranges, { gap: DEFAULT_GAP, requestGap: REQUEST_BYTES })
    expect(asked.sort((a, b) => a[0] - b[0])).toEqual([
      [0, 15_000],
      [15_000 + REQUEST_BYTES + 1, 20_000 + REQUEST_BYTES],
    ])
    for (const [i, r] of ranges.entries()) expect(bodies[i]).toEqual(bytes.subarray(r.start, r.end))
  })

  it('more ranges than connections: the closest gaps are read when that saves a round trip for less than it saves', async () => {
    const plan = async (gaps: number[]) => {
      const ranges: Array<{ start: number; end: number }> = []
      let at = 0
      for (const gap of [0, ...gaps]) {
        at += gap
        ranges.push({ start: at, end: at + 500 })
        at += 500
      }
      const bytes = Uint8Array.from({ length: at }, (_, i) => i % 251)
      const asked: Array<[number, number]> = []
      const single: ByteSource = {
        name: 's3',
        byteLength: at,
        slice: async (start, end) => {
          asked.push([start, end as number])
          await new Promise((r) => setTimeout(r, 2))
          return bytes.slice(start, end).buffer
        },
      }
      const counting = new CountingSource(single)
      const bodies = await readRanges(counting, ranges, { gap: DEFAULT_GAP, requestGap: REQUEST_BYTES, concurrency: 6 })
      for (const [i, r] of ranges.entries()) expect(bodies[i]).toEqual(bytes.subarray(r.start, r.end))
      return { requests: asked.length, roundTrips: counting.clock.deepest, read: asked.reduce((n, [s, e]) => n + e - s, 0) }
    }
    const far = 3 * REQUEST_BYTES
    // 7 ranges on 6 connections, two of them 1.1 requests apart: read as one, one round trip
    const near = Math.round(1.1 * REQUEST_BYTES)
    expect(await plan([far, far, near, far, far, far])).toEqual({ requests: 6, roundTrips: 1, read: 7 * 500 + near })
    // every gap costs over two requests: 7 requests, 2 round trips, nothing between them read
    expect(await plan([far, far, far, far, far, far])).toEqual({ requests: 7, roundTrips: 2, read: 7 * 500 })
    // 13 ranges: a third round saved by merging the closest gap, not a second one (that needs 7 merged)
    expect(await plan([far, far, near, far, far, far, far, far, far, far, far, far])).toMatchObject({ requests: 12, roundTrips: 2 })
  })

  it('a local source (a file, a Blob), where a request costs next to nothing: only gaps under `gap` merge', async () => {
    const asked: Array<[number, number]> = []
    const local: ByteSource = {
      name: 'disk',
      byteLength: 30_000 + REQUEST_BYTES,
      local: true,
      slice: async (start, end) => {
        asked.push([start, end as number])
        return new ArrayBuffer((end as number) - start)
      },
    }
    await readRanges(new CountingSource(local), ranges, { gap: DEFAULT_GAP, requestGap: REQUEST_BYTES })
    expect(asked).toHaveLength(ranges.length)
  })

  it('where one request carries many ranges: only gaps under `gap` merge', async () => {
    let sent: Array<{ start: number; end: number }> = []
    const multi: ByteSource = {
      name: 'nginx',
      byteLength: 30_000 + REQUEST_BYTES,
      slice: async () => {
        throw new Error('no single range expected')
      },
      sliceMany: async (rs) => {
        sent = rs
        return rs.map((r) => new Uint8Array(r.end - r.start))
      },
    }
    await readRanges(multi, ranges, { gap: DEFAULT_GAP, requestGap: REQUEST_BYTES })
    expect(sent).toEqual(ranges)
  })
})

describe('static hosts', () => {
  it('sirv (vite preview) answers a suffix range with the head, one byte over: left unread, the tail asked for by offsets', async () => {
    // what `npm start` serves the demo with: `Range: bytes=-N` → 206 `bytes 0-N/size`, N + 1 bytes
    const path = join(tempDir(), 'big.bin')
    const bytes = Uint8Array.from({ length: 3 << 20 }, (_, i) => (i * 7) & 255)
    writeFileSync(path, bytes)
    const server = await serveFile(path, { host: 'static' })
    try {
      const opened = await openHttp(server.url, { tailBytes: 1 << 20 })
      // the head left unread, then the tail by offsets; beside the first, the multi-range probe
      expect(opened).toMatchObject({ requests: 3, roundTrips: 2 })
      expect(opened.tailStart).toBe(bytes.length - (1 << 20))
      expect(firstDifference(opened.tail, bytes.subarray(bytes.length - (1 << 20)))).toBeUndefined()
      expect(new Uint8Array(await opened.source.slice(1000, 1010))).toEqual(bytes.subarray(1000, 1010))
    } finally {
      await server.close()
    }
  })
})

describe('hosts documented to answer one range a request', () => {
  it('a file on S3 or Alibaba OSS is not asked at open whether its host answers several ranges: single ranges from the start', async () => {
    expect(
      [
        'https://bucket.s3.amazonaws.com/x.parquet',
        'https://bucket.s3.eu-west-1.amazonaws.com/data/x.parquet?X-Amz-Signature=abc',
        'https://s3.us-east-1.amazonaws.com/bucket/x.parquet',
        'https://bucket.s3-us-west-2.amazonaws.com/x.parquet',
        'https://bucket.s3.dualstack.ap-south-1.amazonaws.com/x.parquet',
        'https://bucket.oss-cn-hangzhou.aliyuncs.com/x.parquet',
        'https://d111111abcdef8.cloudfront.net/x.parquet',
        'https://storage.googleapis.com/bucket/x.parquet',
        'https://s3.example.com/x.parquet',
        'https://example.com/s3.amazonaws.com/x.parquet',
      ].map(answersOneRange),
    ).toEqual([true, true, true, true, true, true, false, false, false, false])
    const path = join(tempDir(), 'x.bin')
    const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 13) & 255)
    writeFileSync(path, bytes)
    const server = await serveFile(path, { host: 's3' })
    const asked: string[] = []
    // the S3 address, answered by the local S3-like server
    const fake = ((_input: string | URL | Request, init?: RequestInit) => {
      asked.push(new Headers(init?.headers).get('range') ?? '')
      return fetch(server.url, init)
    }) as typeof fetch
    try {
      const opened = await openHttp('https://bucket.s3.eu-west-1.amazonaws.com/x.bin', { fetch: fake, tailBytes: 1024 })
      expect(opened.requests).toBe(1)
      expect(opened.source.sliceMany).toBeUndefined()
      expect(new Uint8Array(await opened.source.slice(5000, 5010))).toEqual(bytes.subarray(5000, 5010))
      expect(asked).toEqual(['bytes=-1024', 'bytes=5000-5009'])
      // elsewhere the host is asked, beside the first read
      asked.length = 0
      await openHttp('https://cdn.example/x.bin', { fetch: fake, tailBytes: 1024 })
      expect(asked.sort()).toEqual(['bytes=-1024', 'bytes=0-0,-1'])
    } finally {
      await server.close()
    }
  })
})

describe('hosts that redirect every request (Hugging Face resolve/main, GitHub release assets)', () => {
  it('later reads go straight to where the first was sent, and back through the URL when that stops answering', async () => {
    const path = join(tempDir(), 'hub.bin')
    const bytes = Uint8Array.from({ length: 1 << 20 }, (_, i) => (i * 13) & 255)
    writeFileSync(path, bytes)
    const seen: string[] = []
    /** Signatures given out by requests up to this one have expired. */
    let expiredUpTo = 0
    const server = await serveFile(path, {
      host: 'hub',
      fault(req, res) {
        seen.push(req.url ?? '')
        // an expired signed URL is refused, as S3 answers a stale signature
        const signed = /^\/cdn\/signed-(\d+)\//.exec(req.url ?? '')
        if (signed && Number(signed[1]) <= expiredUpTo) {
          res.writeHead(403).end('Request has expired')
          return true
        }
        return false
      },
    })
    try {
      const opened = await openHttp(server.url, { tailBytes: 64 << 10 })
      const redirects = () => seen.filter((u) => !u.startsWith('/cdn/')).length
      const atOpen = redirects() // the tail read and the multi-range probe, each redirected once
      expect(atOpen).toBe(2)
      for (const at of [0, 4096, 500_000])
        expect(new Uint8Array(await opened.source.slice(at, at + 100))).toEqual(bytes.subarray(at, at + 100))
      expect(redirects()).toBe(atOpen) // no redirect after the open
      expiredUpTo = seen.length
      expect(new Uint8Array(await opened.source.slice(9000, 9100))).toEqual(bytes.subarray(9000, 9100))
      // the refused signed URL, then the URL again (redirected to a fresh one), which later reads keep
      expect(seen.slice(-3).map((u) => u.replace(/signed-\d+/, 'signed-n'))).toEqual([
        '/cdn/signed-n/hub.bin',
        '/hub.bin',
        '/cdn/signed-n/hub.bin',
      ])
      const before = redirects()
      expect(new Uint8Array(await opened.source.slice(20_000, 20_100))).toEqual(bytes.subarray(20_000, 20_100))
      expect(redirects()).toBe(before)
    } finally {
      await server.close()
    }
  })
})

describe('addresses people copy: where the bytes are', () => {
  it('Hugging Face file pages and hf:// read from resolve/, GitHub file pages from raw.githubusercontent.com; others as they are', () => {
    const cases: Array<[string, string]> = [
      [
        'https://huggingface.co/datasets/o/r/blob/main/data/train-00000.parquet',
        'https://huggingface.co/datasets/o/r/resolve/main/data/train-00000.parquet',
      ],
      ['https://huggingface.co/o/model/blob/v1.0/x.parquet', 'https://huggingface.co/o/model/resolve/v1.0/x.parquet'],
      ['https://huggingface.co/spaces/o/s/blob/main/x.parquet', 'https://huggingface.co/spaces/o/s/resolve/main/x.parquet'],
      ['hf://datasets/o/r/data/x.parquet', 'https://huggingface.co/datasets/o/r/resolve/main/data/x.parquet'],
      [
        'hf://datasets/o/r@~parquet/default/train/0000.parquet',
        'https://huggingface.co/datasets/o/r/resolve/refs%2Fconvert%2Fparquet/default/train/0000.parquet',
      ],
      ['hf://datasets/o/r@v2/x.parquet', 'https://huggingface.co/datasets/o/r/resolve/v2/x.parquet'],
      ['hf://models/o/m/x.parquet', 'https://huggingface.co/o/m/resolve/main/x.parquet'],
      ['https://github.com/o/r/blob/main/demo/x.parquet?raw=true', 'https://raw.githubusercontent.com/o/r/main/demo/x.parquet'],
      ['https://github.com/o/r/raw/v1/x.parquet', 'https://raw.githubusercontent.com/o/r/v1/x.parquet'],
      // already the bytes, or not a file page: unchanged
      ['https://huggingface.co/datasets/o/r/resolve/main/x.parquet', 'https://huggingface.co/datasets/o/r/resolve/main/x.parquet'],
      ['https://huggingface.co/datasets/o/r', 'https://huggingface.co/datasets/o/r'],
      ['https://github.com/o/r', 'https://github.com/o/r'],
      ['https://cdn.example/blob/main/x.parquet', 'https://cdn.example/blob/main/x.parquet'],
      ['data/x.parquet', 'data/x.parquet'],
    ]
    for (const [address, url] of cases) expect(fileUrl(address), address).toBe(url)
  })

  it('openHttp fetches the bytes of an hf:// address, and names the URL it read in errors', async () => {
    const asked: string[] = []
    const fake = (async (input: string | URL | Request) => {
      asked.push(String(input))
      return new Response('no such file', { status: 404, statusText: 'Not Found' })
    }) as typeof fetch
    await expect(openHttp('hf://datasets/o/r/x.parquet', { fetch: fake, multiRange: false })).rejects.toThrow(
      'https://huggingface.co/datasets/o/r/resolve/main/x.parquet: HTTP 404 Not Found',
    )
    expect(asked).toEqual(['https://huggingface.co/datasets/o/r/resolve/main/x.parquet'])
  })
})

describe("the bench server's simulated downlink (--mbps)", () => {
  it('bodies share one link: two 125 KB ranges at 10 Mbit/s arrive after ~100 and ~200 ms, bytes intact', async () => {
    const path = join(tempDir(), 'link.bin')
    const bytes = Uint8Array.from({ length: 400_000 }, (_, i) => (i * 13) & 255)
    writeFileSync(path, bytes)
    const server = await serveFile(path, { host: 's3', mbps: 10 })
    try {
      const t0 = performance.now()
      const read = (start: number) =>
        fetch(server.url, { headers: { Range: `bytes=${start}-${start + 124_999}` } }).then(async (r) => ({
          body: new Uint8Array(await r.arrayBuffer()),
          ms: performance.now() - t0,
        }))
      const [a, b] = await Promise.all([read(0), read(200_000)])
      expect(firstDifference(a.body, bytes.subarray(0, 125_000))).toBeUndefined()
      expect(firstDifference(b.body, bytes.subarray(200_000, 325_000))).toBeUndefined()
      // 1 Mbit each: the first arrives after its own 100 ms, the second after both bodies' 200
      const [first, second] = [a.ms, b.ms].sort((x, y) => x - y) as [number, number]
      expect(first).toBeGreaterThanOrEqual(95)
      expect(second).toBeGreaterThanOrEqual(195)
      expect(server.bytesSent).toBe(250_000)
    } finally {
      await server.close()
    }
  })
})

describe('the range server waiting for a slow client', () => {
  it('drained resolves for a response whose client has already gone (it waited for ever, holding its file open)', async () => {
    let gone: ServerResponse | undefined
    const closed = new Promise<void>((resolve) => {
      const server = createServer((_, res) => {
        res.writeHead(200)
        res.on('close', () => {
          gone = res
          server.close()
          resolve()
        })
        res.write('x')
      }).listen(0, '127.0.0.1', () => {
        const { port } = server.address() as { port: number }
        const req = request({ host: '127.0.0.1', port }, (r) => r.once('data', () => req.destroy()))
        req.on('error', () => {})
        req.end()
      })
    })
    await closed
    const after = await Promise.race([
      drained(gone as ServerResponse).then(() => 'resolved'),
      new Promise((r) => setTimeout(() => r('still waiting'), 1000)),
    ])
    expect(after).toBe('resolved')
  })
})

describe('sinks that write at a position (a sidecar copying its vectors)', () => {
  it('a file and memory alike: writeAt lands where asked, past the end too (zeros between), and write goes on where it was', async () => {
    const text = (s: string) => new TextEncoder().encode(s)
    const path = join(tempDir('pqs-sink-'), 'out.bin')
    const results: Uint8Array[] = []
    for (const sink of [await fileSink(path), new MemorySink()]) {
      await sink.write(text('abc'))
      await sink.writeAt?.(10, text('xy'))
      await sink.write(text('de'))
      await sink.writeAt?.(1, text('Z'))
      await sink.commit()
      results.push(sink instanceof MemorySink ? (sink.bytes as Uint8Array) : new Uint8Array(readFileSync(path)))
    }
    const expected = new Uint8Array([...text('aZcde'), 0, 0, 0, 0, 0, ...text('xy')])
    expect(results).toEqual([expected, expected])
  })
})

describe("a file's first bytes asked beside its size (openHttp headBytes: a sidecar's header)", () => {
  it('every host answers them in the first round trip: nginx, s3, a static server, a redirecting hub, and a server ignoring Range (the whole file)', async () => {
    const path = join(tempDir('pqs-head-'), 'file.bin')
    const bytes = Uint8Array.from({ length: 300_000 }, (_, i) => (i * 7) % 251)
    writeFileSync(path, bytes)
    for (const o of [{ host: 'nginx' }, { host: 's3' }, { host: 'static' }, { host: 'hub' }, { ignoreRange: true }] as const) {
      const server = await serveFile(path, o)
      try {
        const opened = await openHttp(server.url, { headBytes: 1000, tailBytes: 2048, maxWholeFileBytes: 1 << 20 })
        expect(opened.head, JSON.stringify(o)).toEqual(bytes.subarray(0, 1000))
        // (a static server answers the suffix read with the file's head: the tail takes a second trip, as before)
        expect(opened.roundTrips).toBe('host' in o && o.host === 'static' ? 2 : 1)
      } finally {
        await server.close()
      }
    }
  })
})
