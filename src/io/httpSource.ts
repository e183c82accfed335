import { AbortError, ParquetSeekError } from '../errors.js'
import type { ByteSource } from './source.js'

export interface HttpOptions {
  /** Bytes of the file's end read by the first request (footer, index head, page indexes). */
  tailBytes?: number
  /** Attempts per request for network errors, 5xx, 429 and short bodies. */
  attempts?: number
  /** First retry delay; doubles each retry (Retry-After, when sent, wins up to 10 s). */
  retryDelayMs?: number
  fetch?: typeof fetch
  onWarning?: (message: string) => void
  signal?: AbortSignal
  /** Try `Range: bytes=a-b,c-d` for scattered reads (default true; falls back when unsupported). */
  multiRange?: boolean
  /**
   * An attempt that receives nothing (no headers, or no body bytes) for this long is abandoned
   * and retried: a stalled or trickling server cannot hang a search (default 20 s).
   */
  stallMs?: number
  /** An attempt still unfinished after this long (a trickle) is abandoned and retried (default 120 s). */
  attemptMs?: number
}

export interface OpenedHttp {
  source: ByteSource
  /** The file's last bytes, from the same first request that learned its size. */
  tail: Uint8Array
  tailStart: number
  /** Requests it took (1, or 2 when the server mishandled the suffix range). */
  requests: number
}

interface Validator {
  size: number
  etag: string | undefined
  lastModified: string | undefined
}

/**
 * Opens a URL for ranged reads. The first request asks for the file's last `tailBytes` with a
 * suffix range, which also returns the size (Content-Range), so no HEAD round trip is needed.
 * Later reads check that size and ETag/Last-Modified did not change, so a replaced file is
 * reported rather than misread. A server that ignores Range (200) is read once, whole.
 */
export async function openHttp(url: string, o: HttpOptions = {}): Promise<OpenedHttp> {
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis)
  const attempts = o.attempts ?? 4
  const baseDelay = o.retryDelayMs ?? 100
  const tailBytes = Math.max(1024, o.tailBytes ?? 1 << 20)
  const stallMs = o.stallMs ?? 20_000
  const attemptMs = o.attemptMs ?? 120_000

  async function request(range: string, signal: AbortSignal | undefined, expected?: { start: number; end: number }) {
    let lastError = ''
    let lastRetryAfter: number | undefined
    for (let attempt = 0; attempt < attempts; attempt++) {
      if (attempt > 0) await sleep(delayFor(attempt, baseDelay, lastRetryAfter), signal)
      // one controller per attempt: the caller's signal, or a stall, aborts it
      const attemptAbort = new AbortController()
      const onOuterAbort = () => attemptAbort.abort()
      signal?.addEventListener('abort', onOuterAbort, { once: true })
      let stalled = false
      let overdue = false
      let timer: ReturnType<typeof setTimeout> | undefined
      const deadline = setTimeout(() => {
        overdue = true
        attemptAbort.abort()
      }, attemptMs)
      const arm = () => {
        clearTimeout(timer)
        timer = setTimeout(() => {
          stalled = true
          attemptAbort.abort()
        }, stallMs)
      }
      const disarm = () => {
        clearTimeout(timer)
        clearTimeout(deadline)
        signal?.removeEventListener('abort', onOuterAbort)
      }
      arm()
      let res: Response
      try {
        res = await doFetch(url, { headers: { Range: range }, signal: attemptAbort.signal })
      } catch (e) {
        disarm()
        if (signal?.aborted) throw new AbortError()
        lastError = overdue
          ? `no response in ${attemptMs} ms`
          : stalled
            ? `no response in ${stallMs} ms`
            : `network error (${(e as Error).message}; blocked by CORS, offline, or the server closed the connection)`
        continue
      }
      if (res.status === 429 || res.status >= 500) {
        disarm()
        lastRetryAfter = retryAfterMs(res.headers.get('retry-after'))
        lastError = `HTTP ${res.status} ${res.statusText}`.trim()
        await res.body?.cancel().catch(() => {})
        continue
      }
      if (res.status === 416 || (res.status !== 200 && res.status !== 206)) disarm()
      if (res.status === 416)
        throw new ParquetSeekError(`HTTP 416: the server says range ${range} is not satisfiable (did the file shrink?)`, { file: url })
      if (res.status !== 200 && res.status !== 206) {
        throw new ParquetSeekError(`HTTP ${res.status} ${res.statusText}`.trim(), { file: url })
      }
      let body: Uint8Array
      try {
        body = await readBody(res, arm)
      } catch (e) {
        if (signal?.aborted) throw new AbortError()
        lastError = overdue
          ? `the body took over ${attemptMs} ms (a trickle)`
          : stalled
            ? `the body stalled (nothing for ${stallMs} ms)`
            : `connection lost mid-body (${(e as Error).message})`
        continue
      } finally {
        disarm()
      }
      const result = { res, body }
      if (res.status === 206 && expected) {
        const cr = parseContentRange(res.headers.get('content-range'))
        if (!cr || cr.start !== expected.start || cr.end !== expected.end - 1) {
          lastError = `wrong Content-Range "${res.headers.get('content-range')}" for ${range}`
          continue
        }
        if (body.length !== expected.end - expected.start) {
          lastError = `short body: ${body.length} of ${expected.end - expected.start} bytes`
          continue
        }
      }
      return result
    }
    throw new ParquetSeekError(`gave up after ${attempts} attempts: ${lastError}`, { file: url })
  }

  const first = await request(`bytes=-${tailBytes}`, o.signal)
  if (first.res.status === 200) {
    o.onWarning?.(`${url}: the server ignores Range requests; read the whole file (${first.body.length} bytes) once`)
    const whole = first.body
    return {
      source: { byteLength: whole.length, name: url, slice: async (s, e) => whole.slice(s, e).buffer },
      tail: whole,
      tailStart: 0,
      requests: 1,
    }
  }
  const cr = parseContentRange(first.res.headers.get('content-range'))
  if (!cr || cr.size === undefined) {
    throw new ParquetSeekError(
      `range response without a usable Content-Range ("${first.res.headers.get('content-range')}"); expose it with Access-Control-Expose-Headers`,
      { file: url },
    )
  }
  if (first.body.length !== cr.end - cr.start + 1)
    throw new ParquetSeekError(`short body for the file's tail: ${first.body.length} bytes`, { file: url })
  let tail = first.body
  let tailStart = cr.start
  let requests = 1
  if (cr.end !== cr.size - 1) {
    // Some static servers (sirv, behind `vite preview`) answer a suffix range with the file's
    // head; now that the size is known, ask for the tail by explicit offsets.
    const start = Math.max(0, cr.size - tailBytes)
    const again = await request(`bytes=${start}-${cr.size - 1}`, o.signal, { start, end: cr.size })
    tail = again.body
    tailStart = start
    requests++
  }
  const validator: Validator = {
    size: cr.size,
    etag: strongEtag(first.res.headers.get('etag')),
    lastModified: first.res.headers.get('last-modified') ?? undefined,
  }
  const fixed = validator
  let multiRange = o.multiRange ?? true

  const source: ByteSource = {
    byteLength: fixed.size,
    name: url,
    async slice(start, end = fixed.size, signal) {
      if (start < 0 || end > fixed.size || start > end)
        throw new ParquetSeekError(`read [${start}, ${end}) outside the ${fixed.size}-byte file`, { file: url, offset: start })
      if (start === end) return new ArrayBuffer(0)
      const { res, body } = await request(`bytes=${start}-${end - 1}`, signal, { start, end })
      if (res.status === 200) {
        // Range support vanished: the body is the whole file; still check it is the same file.
        if (body.length !== fixed.size) throw changed(url, `size is now ${body.length}`)
        return body.slice(start, end).buffer
      }
      const cr = parseContentRange(res.headers.get('content-range'))
      if (cr?.size !== undefined && cr.size !== fixed.size) throw changed(url, `size was ${fixed.size}, is now ${cr.size}`)
      const etag = strongEtag(res.headers.get('etag'))
      if (fixed.etag && etag && etag !== fixed.etag) throw changed(url, `ETag was ${fixed.etag}, is now ${etag}`)
      const lm = res.headers.get('last-modified') ?? undefined
      if (!fixed.etag && fixed.lastModified && lm && lm !== fixed.lastModified)
        throw changed(url, `Last-Modified was ${fixed.lastModified}, is now ${lm}`)
      return body.buffer.byteLength === body.length ? (body.buffer as ArrayBuffer) : body.slice().buffer
    },
    async sliceMany(ranges, signal) {
      if (!multiRange || ranges.length < 2) return undefined
      const header = `bytes=${ranges.map((r) => `${r.start}-${r.end - 1}`).join(',')}`
      const { res, body } = await request(header, signal)
      const type = res.headers.get('content-type') ?? ''
      const boundary = /multipart\/byteranges;\s*boundary="?([^";]+)"?/i.exec(type)?.[1]
      let parts: Part[]
      if (res.status === 206 && boundary) parts = parseMultipart(body, boundary)
      else {
        // One part (the server merged the ranges) or the whole file: use it if it covers them.
        multiRange = false
        const cr =
          res.status === 206 ? parseContentRange(res.headers.get('content-range')) : { start: 0, end: body.length - 1, size: body.length }
        if (!cr) return undefined
        parts = [{ start: cr.start, end: cr.end + 1, size: cr.size, bytes: body }]
      }
      for (const p of parts)
        if (p.size !== undefined && p.size !== fixed.size) throw changed(url, `size was ${fixed.size}, is now ${p.size}`)
      const etag = strongEtag(res.headers.get('etag'))
      if (fixed.etag && etag && etag !== fixed.etag) throw changed(url, `ETag was ${fixed.etag}, is now ${etag}`)
      const out: Uint8Array[] = []
      for (const r of ranges) {
        const p = parts.find((q) => q.start <= r.start && q.end >= r.end)
        if (!p) return undefined
        out.push(p.bytes.subarray(r.start - p.start, r.end - p.start))
      }
      return out
    },
  }
  return { source, tail, tailStart, requests }
}

interface Part {
  start: number
  end: number
  size: number | undefined
  bytes: Uint8Array
}

/** multipart/byteranges body → parts with their Content-Range (RFC 9110 §14.6). */
export function parseMultipart(body: Uint8Array, boundary: string): Part[] {
  const text = new TextDecoder('latin1')
  const delimiter = new TextEncoder().encode(`--${boundary}`)
  const parts: Part[] = []
  let at = indexOf(body, delimiter, 0)
  while (at >= 0) {
    at += delimiter.length
    if (body[at] === 45 && body[at + 1] === 45) break // closing "--boundary--"
    const headersEnd = indexOf(body, CRLFCRLF, at)
    if (headersEnd < 0) break
    const headers = text.decode(body.subarray(at, headersEnd))
    const cr = parseContentRange(/content-range:\s*([^\r\n]+)/i.exec(headers)?.[1] ?? null)
    const start = headersEnd + 4
    if (!cr) throw new ParquetSeekError('multipart part without Content-Range')
    const length = cr.end - cr.start + 1
    if (start + length > body.length) throw new ParquetSeekError('multipart part is truncated')
    parts.push({ start: cr.start, end: cr.end + 1, size: cr.size, bytes: body.subarray(start, start + length) })
    at = indexOf(body, delimiter, start + length)
  }
  return parts
}

const CRLFCRLF = new Uint8Array([13, 10, 13, 10])

function indexOf(hay: Uint8Array, needle: Uint8Array, from: number): number {
  outer: for (let i = from; i <= hay.length - needle.length; i++) {
    for (let j = 0; j < needle.length; j++) if (hay[i + j] !== needle[j]) continue outer
    return i
  }
  return -1
}

function changed(url: string, detail: string) {
  return new ParquetSeekError(`the file changed on the server since it was opened (${detail}); open it again`, { file: url })
}

export function parseContentRange(value: string | null): { start: number; end: number; size: number | undefined } | undefined {
  const m = /^bytes (\d+)-(\d+)\/(\d+|\*)$/.exec(value?.trim() ?? '')
  if (!m) return undefined
  return { start: Number(m[1]), end: Number(m[2]), size: m[3] === '*' ? undefined : Number(m[3]) }
}

function strongEtag(value: string | null): string | undefined {
  if (!value) return undefined
  return value.startsWith('W/') ? value.slice(2) : value
}

function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined
  const s = Number(value)
  return Number.isFinite(s) ? Math.min(10_000, s * 1000) : undefined
}

/** The whole body, calling `progress` on every chunk (it re-arms the stall timer). */
async function readBody(res: Response, progress: () => void): Promise<Uint8Array> {
  if (!res.body) return new Uint8Array(await res.arrayBuffer())
  const reader = res.body.getReader()
  const parts: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    parts.push(value)
    total += value.length
    progress()
  }
  if (parts.length === 1) return parts[0] as Uint8Array
  const out = new Uint8Array(total)
  let at = 0
  for (const p of parts) {
    out.set(p, at)
    at += p.length
  }
  return out
}

function delayFor(attempt: number, base: number, retryAfter: number | undefined): number {
  return retryAfter ?? base * 2 ** (attempt - 1)
}

function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError())
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    const onAbort = () => {
      clearTimeout(timer)
      reject(new AbortError())
    }
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
