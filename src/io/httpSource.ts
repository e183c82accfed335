import { AbortError, ParquetSeekError } from '../errors.js'
import { againstPage, fileUrl, unreadableScheme } from './fileUrl.js'
import { hubHeaders, hubRefusal, isHubGlob } from './hub.js'
import { type ByteSource, type ConnectionLimiter, concatBytes, type RoundTripClock } from './source.js'

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
  /**
   * Try `Range: bytes=a-b,c-d` for scattered reads (default true; falls back when unsupported).
   * Whether the host answers them is asked at open, beside the tail read (see openHttp).
   */
  multiRange?: boolean
  /**
   * Ask at open whether the host answers multi-range requests (default true). False where that is
   * known already (a sidecar's files on the sidecar's host): `multiRange` is then taken as the answer.
   */
  probeMultiRange?: boolean
  /**
   * An attempt that receives nothing (no headers, or no body bytes) for this long is abandoned
   * and retried: a stalled or trickling server cannot hang a search (default 20 s).
   */
  stallMs?: number
  /** An attempt still unfinished after this long (a trickle) is abandoned and retried (default 120 s). */
  attemptMs?: number
  /**
   * A host that ignores Range is read whole only for files up to this size (default 8 MiB);
   * a larger file there is an error that names the header the host must support.
   */
  maxWholeFileBytes?: number
  /**
   * Also read the file's first this many bytes, beside the tail read (the same round trip): a file
   * whose header is at its start (a sidecar index). Answered in `head` when the host gave them as asked.
   */
  headBytes?: number
  /**
   * The open's own requests (the tail, the probe, the head) counted on this clock and sent
   * through this limiter, as a CountingSource counts later reads: a sidecar's open, which reads
   * its files beside its own reads, counts its round trips on one clock.
   */
  clock?: RoundTripClock
  limiter?: ConnectionLimiter
}

export interface OpenedHttp {
  source: ByteSource
  /** The file's last bytes, from the same first request that learned its size. */
  tail: Uint8Array
  tailStart: number
  /** The file's first bytes (`headBytes` of them, or the whole of a smaller file), when asked for and given. */
  head?: Uint8Array
  /** Requests it sent: the tail read (2 when the server mishandled the suffix range), the multi-range probe, and the head read. */
  requests: number
  /** Dependent round trips it took: 1, or 2 when the server mishandled the suffix range. */
  roundTrips: number
}

interface Validator {
  size: number
  etag: string | undefined
  lastModified: string | undefined
}

/**
 * Hosts documented to answer one range a request: Amazon S3 ("doesn't support retrieving multiple
 * ranges of data per GET request": a 200 with the whole object) and Alibaba OSS (416). Their files
 * are not asked at open whether they answer several (the whole-object answer, cancelled, would
 * still cost its first bytes and, over HTTP/1.1, the connection).
 */
const ONE_RANGE_HOSTS = [/(^|\.)s3([.-][a-z0-9-]+)*\.amazonaws\.com(\.cn)?$/i, /(^|\.)oss-[a-z0-9-]+\.aliyuncs\.com$/i]

/** Whether `url` is on a host known to answer one range a request (ONE_RANGE_HOSTS). */
export function answersOneRange(url: string): boolean {
  try {
    const { hostname } = new URL(url)
    return ONE_RANGE_HOSTS.some((host) => host.test(hostname))
  } catch {
    return false
  }
}

/** Default of `maxWholeFileBytes`. */
export const WHOLE_FILE_MAX = 8 << 20
/** Multipart headers and delimiters a multi-range answer may add to the bytes asked for. */
const PART_OVERHEAD = 256

/**
 * What to do with a response once its headers are in: read at most `limit` body bytes (a body
 * that runs past it is cut off, never buffered), or `skip` it (cancelled unread).
 */
type BodyPlan = { limit: number } | 'skip'

/**
 * An address fetch cannot take (a path outside a page: made absolute against one by then) is said at
 * once, not retried as a network error. In Node a path is a local file through the package's
 * `node` entry (io/local.ts), and never comes here.
 */
function checkAddress(url: string): void {
  const scheme = unreadableScheme(url)
  if (scheme) throw new ParquetSeekError(scheme, { file: url })
  try {
    new URL(url)
  } catch {
    throw new ParquetSeekError(
      'not a URL, and there is no page to read it from (in Node, import from "parquetseek" to open a local path)',
      {
        file: url,
      },
    )
  }
}

/**
 * Opens a URL for ranged reads. The first request asks for the file's last `tailBytes` with a
 * suffix range, which also returns the size (Content-Range), so no HEAD round trip is needed.
 * Later reads check that size and ETag/Last-Modified did not change, so a replaced file is
 * reported rather than misread. A server that ignores Range (200) is read once, whole, when
 * the file is small (`maxWholeFileBytes`); a larger one is refused without reading its body.
 *
 * Every body is bounded: a range answer is read up to the length asked for, a multi-range
 * answer up to twice that (a server that merges ranges), a whole-file answer up to
 * `maxWholeFileBytes`; anything longer is cancelled as it arrives, so a hostile or broken
 * server costs at most those bytes of memory. Bodies are asked for without content coding
 * (`Accept-Encoding: identity`); a compressed range answer is refused.
 */
export async function openHttp(address: string, o: HttpOptions = {}): Promise<OpenedHttp> {
  // a Hugging Face or GitHub file page, or hf://: where its bytes are
  if (isHubGlob(address))
    throw new ParquetSeekError(
      'is a glob of files, not one file: open() and the CLI (index --out-dir or --sidecar, search, join, bench, info) list the files it matches',
      { file: address },
    )
  const url = fileUrl(againstPage(address))
  checkAddress(url)
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis)
  const attempts = o.attempts ?? 4
  const baseDelay = o.retryDelayMs ?? 100
  const tailBytes = Math.max(1024, o.tailBytes ?? 1 << 20)
  const stallMs = o.stallMs ?? 20_000
  const attemptMs = o.attemptMs ?? 120_000
  const wholeMax = o.maxWholeFileBytes ?? WHOLE_FILE_MAX
  /**
   * Where reads go: the URL, or where it redirected them (Hugging Face's `resolve/main`, GitHub
   * release assets: a 302 to a signed CDN URL on every request), so later reads skip the
   * redirect's round trip. A signed URL that stops answering (expired: 401/403/404/410) is
   * left for the URL again, which redirects anew.
   */
  let target = url

  /** One ranged request with retries; `body` is undefined when the plan skipped it or it overran its limit. */
  async function request(
    range: string,
    signal: AbortSignal | undefined,
    plan: (res: Response) => BodyPlan,
    expected?: { start: number; end: number },
    tries = attempts,
  ): Promise<{ res: Response; body: Uint8Array | undefined }> {
    let lastError = ''
    let lastRetryAfter: number | undefined
    for (let attempt = 0; attempt < tries; attempt++) {
      if (attempt > 0) await sleep(delayFor(attempt, baseDelay, lastRetryAfter), signal)
      // one controller per attempt: the caller's signal, or a stall, aborts it
      const attemptAbort = new AbortController()
      const unfollow = follow(signal, attemptAbort)
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
        unfollow()
      }
      arm()
      let res: Response
      try {
        res = await doFetch(target, {
          // (the Hub's token goes to the Hub, not to the CDN it redirects to)
          headers: { Range: range, 'Accept-Encoding': 'identity', ...hubHeaders(target) },
          signal: attemptAbort.signal,
        })
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
      const drop = () => {
        disarm()
        attemptAbort.abort()
        res.body?.cancel().catch(() => {})
      }
      if (res.status === 429 || res.status >= 500) {
        drop()
        lastRetryAfter = retryAfterMs(res.headers.get('retry-after'))
        lastError = `HTTP ${res.status} ${res.statusText}`.trim()
        continue
      }
      if (target !== url && (res.status === 401 || res.status === 403 || res.status === 404 || res.status === 410)) {
        drop()
        lastError = `HTTP ${res.status} from ${target}, where ${url} redirected`
        target = url
        continue
      }
      if (target === url && res.redirected && res.url && (res.status === 200 || res.status === 206)) target = res.url
      if (res.status === 416) {
        drop()
        // a host that refuses several ranges in one request (Alibaba OSS answers 416): the caller
        // reads them one by one; a single range refused is the file's change
        if (range.includes(',')) return { res, body: undefined }
        throw new ParquetSeekError(`HTTP 416: the server says range ${range} is not satisfiable (did the file shrink?)`, { file: url })
      }
      if (res.status !== 200 && res.status !== 206) {
        drop()
        throw new ParquetSeekError(`${`HTTP ${res.status} ${res.statusText}`.trim()}${hubRefusal(target, res.status)}`, { file: url })
      }
      const coding = res.headers.get('content-encoding')
      if (res.status === 206 && coding && coding.toLowerCase() !== 'identity') {
        drop()
        throw new ParquetSeekError(
          `the server compressed a range answer (Content-Encoding: ${coding}); serve the file without content coding for Range requests`,
          { file: url },
        )
      }
      const how = plan(res)
      if (how === 'skip') {
        drop()
        return { res, body: undefined }
      }
      let body: Uint8Array | undefined
      try {
        body = await readBody(res, arm, how.limit)
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
      if (!body) {
        attemptAbort.abort()
        return { res, body: undefined }
      }
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
      return { res, body }
    }
    throw new ParquetSeekError(`gave up after ${tries} attempts: ${lastError}`, { file: url })
  }

  /** A request of the open itself: on the caller's clock and connections, when given. */
  async function opening<T>(ask: () => Promise<T>): Promise<T> {
    await o.limiter?.acquire()
    const depth = o.clock?.send()
    try {
      return await ask()
    } finally {
      if (depth !== undefined) o.clock?.done(depth)
      o.limiter?.release()
    }
  }

  const tooLarge = (what: string, limit: number) =>
    new ParquetSeekError(`the server sent more than the ${limit} bytes asked for (${what}); it is not answering Range requests correctly`, {
      file: url,
    })
  const rangeless = (size: string) =>
    new ParquetSeekError(
      `the server ignores Range requests (it answered 200 with the whole ${size} file): files over ${fmtMiB(wholeMax)} are read only from hosts that honour "Range: bytes=…" (and, across origins, expose Content-Range with Access-Control-Expose-Headers)`,
      { file: url },
    )

  /** sirv (behind `vite preview`) answers a suffix range with the file's head, one byte over: `bytes 0-N/size`. */
  const headInstead = (res: Response) => {
    const c = parseContentRange(res.headers.get('content-range'))
    return c?.size !== undefined && c.end < c.size - 1
  }
  // Does the host answer multi-range requests? Asked beside the tail read, in the same round trip,
  // so a host without them (S3, R2, GCS, CDNs, vite preview: a 200 with the whole object, or one
  // part) costs a cold search no round trip for a refused request. Its first and last byte, far
  // apart so no server merges them; a whole-object answer is cancelled unread. One attempt: on any
  // failure multi-range is tried at the first scattered read, as without the probe.
  const oneRange = answersOneRange(url)
  const probe =
    (o.multiRange ?? true) && o.probeMultiRange !== false && !oneRange
      ? opening(() =>
          request(
            'bytes=0-0,-1',
            o.signal,
            (res) => (res.status === 206 && multipart(res) ? { limit: 4 * PART_OVERHEAD } : 'skip'),
            undefined,
            1,
          ),
        ).then(
          ({ res }) => res.status === 206 && multipart(res),
          () => undefined,
        )
      : undefined
  // the file's first bytes, asked beside the tail (one attempt: on any failure the caller reads them)
  const headBytes = Math.max(0, Math.floor(o.headBytes ?? 0))
  const headAsked = headBytes
    ? opening(() =>
        request(`bytes=0-${headBytes - 1}`, o.signal, (res) => (res.status === 206 ? { limit: headBytes } : 'skip'), undefined, 1),
      ).then(
        (answer) => answer,
        () => undefined,
      )
    : undefined
  const first = await opening(() =>
    request(`bytes=-${tailBytes}`, o.signal, (res) => {
      // the head instead of the tail: not read (the tail is asked for by offsets below)
      if (res.status === 206) return headInstead(res) ? 'skip' : { limit: tailBytes }
      const length = contentLength(res)
      return length !== undefined && length > wholeMax ? 'skip' : { limit: wholeMax }
    }),
  )
  if (first.res.status === 200) {
    if (!first.body) throw rangeless(sizeText(contentLength(first.res)))
    o.onWarning?.(`${url}: the server ignores Range requests; read the whole file (${first.body.length} bytes) once`)
    const whole = first.body
    await headAsked
    return {
      source: { byteLength: whole.length, name: url, slice: async (s, e) => whole.slice(s, e).buffer },
      tail: whole,
      tailStart: 0,
      ...(headBytes ? { head: whole.subarray(0, headBytes) } : {}),
      requests: 1 + (probe ? 1 : 0) + (headAsked ? 1 : 0),
      roundTrips: 1,
    }
  }
  if (!first.body && !headInstead(first.res)) throw tooLarge(`bytes=-${tailBytes}`, tailBytes)
  const cr = parseContentRange(first.res.headers.get('content-range'))
  if (!cr || cr.size === undefined) {
    throw new ParquetSeekError(
      `range response without a usable Content-Range ("${first.res.headers.get('content-range')}"); expose it with Access-Control-Expose-Headers`,
      { file: url },
    )
  }
  if (cr.end >= cr.size)
    throw new ParquetSeekError(`Content-Range "${first.res.headers.get('content-range')}" ends past the file's size`, { file: url })
  if (first.body && first.body.length !== cr.end - cr.start + 1)
    throw new ParquetSeekError(`short body for the file's tail: ${first.body.length} bytes`, { file: url })
  let tail = first.body ?? new Uint8Array(0)
  let tailStart = cr.start
  let roundTrips = 1
  const validator: Validator = {
    size: cr.size,
    etag: strongEtag(first.res.headers.get('etag')),
    lastModified: first.res.headers.get('last-modified') ?? undefined,
  }
  const fixed = validator
  /** A 200 to a later ranged read: fine for a small file (read whole, checked), else refused unread. */
  const wholePlan =
    (asked: number) =>
    (res: Response): BodyPlan =>
      res.status === 206 ? { limit: asked } : fixed.size <= wholeMax ? { limit: fixed.size } : 'skip'
  if (cr.end !== cr.size - 1) {
    // Some static servers (sirv, behind `vite preview`) answer a suffix range with the file's
    // head (left unread above); now that the size is known, ask for the tail by explicit offsets.
    const { size } = fixed
    const start = Math.max(0, size - tailBytes)
    const again = await opening(() => request(`bytes=${start}-${size - 1}`, o.signal, wholePlan(size - start), { start, end: size }))
    if (!again.body || again.res.status !== 206) throw rangeless(sizeText(size))
    tail = again.body
    tailStart = start
    roundTrips++
  }
  // sent with the first request, so answered by now (a whole-object answer is cancelled at its headers)
  let multiRange = (o.multiRange ?? true) && !oneRange && (await probe) !== false

  const source: ByteSource = {
    byteLength: fixed.size,
    name: url,
    async slice(start, end = fixed.size, signal) {
      if (start < 0 || end > fixed.size || start > end)
        throw new ParquetSeekError(`read [${start}, ${end}) outside the ${fixed.size}-byte file`, { file: url, offset: start })
      if (start === end) return new ArrayBuffer(0)
      const range = `bytes=${start}-${end - 1}`
      const { res, body } = await request(range, signal, wholePlan(end - start), { start, end })
      if (res.status === 200) {
        // Range support vanished: a small file's body is the whole file (still checked to be the
        // same file); a large one was refused unread
        if (!body) throw rangeless(sizeText(fixed.size))
        if (body.length !== fixed.size) throw changed(url, `size is now ${body.length}`)
        return body.slice(start, end).buffer
      }
      if (!body) throw tooLarge(range, end - start)
      const cr = parseContentRange(res.headers.get('content-range'))
      if (cr?.size !== undefined && cr.size !== fixed.size) throw changed(url, `size was ${fixed.size}, is now ${cr.size}`)
      const etag = strongEtag(res.headers.get('etag'))
      if (fixed.etag && etag && etag !== fixed.etag) throw changed(url, `ETag was ${fixed.etag}, is now ${etag}`)
      const lm = res.headers.get('last-modified') ?? undefined
      if (!fixed.etag && fixed.lastModified && lm && lm !== fixed.lastModified)
        throw changed(url, `Last-Modified was ${fixed.lastModified}, is now ${lm}`)
      return body.buffer.byteLength === body.length ? (body.buffer as ArrayBuffer) : body.slice().buffer
    },
    // absent once the host is known to answer one range a request (the probe at open, or a
    // refused request since): readers then plan single ranges from the start, with no request
    // that goes nowhere counted, instead of planning for multi-range and falling back
    get sliceMany() {
      return multiRange ? sliceMany : undefined
    },
  }
  async function sliceMany(ranges: Array<{ start: number; end: number }>, signal?: AbortSignal): Promise<Uint8Array[] | undefined> {
    if (!multiRange || ranges.length < 2) return undefined
    const header = `bytes=${ranges.map((r) => `${r.start}-${r.end - 1}`).join(',')}`
    const asked = ranges.reduce((n, r) => n + (r.end - r.start), 0)
    // a host without multi-range answers 200 with the whole object: cancelled unread, and
    // single ranges from now on; a merged answer may cost up to twice the bytes asked for
    const { res, body } = await request(header, signal, (r) =>
      r.status === 206 ? { limit: 2 * asked + PART_OVERHEAD * (ranges.length + 1) } : 'skip',
    )
    if (!body || res.status !== 206) {
      multiRange = false
      return undefined
    }
    const boundary = multipartBoundary(res)
    let parts: Part[]
    if (boundary) parts = parseMultipart(body, boundary, url)
    else {
      // One part: the server merged the ranges (or answered the first only)
      multiRange = false
      const cr = parseContentRange(res.headers.get('content-range'))
      if (!cr || body.length !== cr.end - cr.start + 1) return undefined
      parts = [{ start: cr.start, end: cr.end + 1, size: cr.size, bytes: body }]
    }
    for (const p of parts) if (p.size !== undefined && p.size !== fixed.size) throw changed(url, `size was ${fixed.size}, is now ${p.size}`)
    const etag = strongEtag(res.headers.get('etag'))
    if (fixed.etag && etag && etag !== fixed.etag) throw changed(url, `ETag was ${fixed.etag}, is now ${etag}`)
    const out: Uint8Array[] = []
    for (const r of ranges) {
      const p = parts.find((q) => q.start <= r.start && q.end >= r.end)
      if (!p) return undefined
      out.push(p.bytes.subarray(r.start - p.start, r.end - p.start))
    }
    return out
  }
  // the head: only a 206 from the file's start, of this file (its size and ETag), whole as asked
  const answer = await headAsked
  const got = answer?.res.status === 206 ? parseContentRange(answer.res.headers.get('content-range')) : undefined
  const headEtag = answer && strongEtag(answer.res.headers.get('etag'))
  const head =
    answer?.body &&
    got?.start === 0 &&
    got.size === fixed.size &&
    answer.body.length === Math.min(headBytes, fixed.size) &&
    got.end === answer.body.length - 1 &&
    !(fixed.etag && headEtag && headEtag !== fixed.etag)
      ? answer.body
      : undefined
  return {
    source,
    tail,
    tailStart,
    ...(head ? { head } : {}),
    requests: roundTrips + (probe ? 1 : 0) + (headAsked ? 1 : 0),
    roundTrips,
  }
}

/** A multipart/byteranges answer (several parts), its boundary. */
function multipartBoundary(res: Response): string | undefined {
  return /multipart\/byteranges;\s*boundary="?([^";]+)"?/i.exec(res.headers.get('content-type') ?? '')?.[1]
}

function multipart(res: Response): boolean {
  return multipartBoundary(res) !== undefined
}

interface Part {
  start: number
  end: number
  size: number | undefined
  bytes: Uint8Array
}

/**
 * multipart/byteranges body → parts with their Content-Range (RFC 9110 §14.6). Moves forward
 * only: each part must start after the previous one ended, so a part whose range runs
 * backwards (`bytes 200-100/…`) is an error, never a step back to an earlier delimiter.
 */
export function parseMultipart(body: Uint8Array, boundary: string, file?: string): Part[] {
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
    const value = /content-range:\s*([^\r\n]+)/i.exec(headers)?.[1] ?? null
    const cr = parseContentRange(value)
    const start = headersEnd + 4
    if (!cr) throw new ParquetSeekError(`multipart part without a valid Content-Range ("${value}")`, { file, offset: at })
    const length = cr.end - cr.start + 1
    if (start + length > body.length) throw new ParquetSeekError('multipart part is truncated', { file, offset: at })
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
  const range = { start: Number(m[1]), end: Number(m[2]), size: m[3] === '*' ? undefined : Number(m[3]) }
  // a range that runs backwards, past the size, or past what a number holds exactly is no range
  if (!Number.isSafeInteger(range.end) || range.end < range.start) return undefined
  if (range.size !== undefined && (!Number.isSafeInteger(range.size) || range.end >= range.size)) return undefined
  return range
}

function strongEtag(value: string | null): string | undefined {
  if (!value) return undefined
  return value.startsWith('W/') ? value.slice(2) : value
}

export function retryAfterMs(value: string | null): number | undefined {
  if (!value) return undefined
  const s = Number(value)
  return Number.isFinite(s) ? Math.min(10_000, s * 1000) : undefined
}

/**
 * The body, calling `progress` on every chunk (it re-arms the stall timer); undefined, with the
 * rest cancelled unread, once it runs past `limit` bytes (a Content-Length over it is refused
 * before reading anything).
 */
export async function readBody(res: Response, progress: () => void, limit: number): Promise<Uint8Array | undefined> {
  const declared = contentLength(res)
  if (declared !== undefined && declared > limit) {
    await res.body?.cancel().catch(() => {})
    return undefined
  }
  if (!res.body) return new Uint8Array(0)
  const reader = res.body.getReader()
  const parts: Uint8Array[] = []
  let total = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    total += value.length
    if (total > limit) {
      await reader.cancel().catch(() => {})
      return undefined
    }
    parts.push(value)
    progress()
  }
  return parts.length === 1 ? (parts[0] as Uint8Array) : concatBytes(parts)
}

function contentLength(res: Response): number | undefined {
  const value = res.headers.get('content-length')
  const n = value === null ? Number.NaN : Number(value)
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined
}

const fmtMiB = (bytes: number) => `${+(bytes / 2 ** 20).toFixed(1)} MiB`
const sizeText = (bytes: number | undefined) => (bytes === undefined ? 'unknown-size' : `${bytes}-byte`)

/**
 * Aborts `controller` when `signal` fires, through one listener per signal however many
 * requests follow it (sixteen parallel reads used to add sixteen, and Node warned about a leak).
 * Returns the function that stops following.
 */
const followers = new WeakMap<AbortSignal, Set<AbortController>>()
function follow(signal: AbortSignal | undefined, controller: AbortController): () => void {
  if (!signal) return () => {}
  if (signal.aborted) controller.abort()
  let set = followers.get(signal)
  if (!set) {
    const created = new Set<AbortController>()
    followers.set(signal, created)
    signal.addEventListener(
      'abort',
      () => {
        for (const c of created) c.abort()
      },
      { once: true },
    )
    set = created
  }
  set.add(controller)
  const active = set
  return () => active.delete(controller)
}

function delayFor(attempt: number, base: number, retryAfter: number | undefined): number {
  return retryAfter ?? base * 2 ** (attempt - 1)
}

export function sleep(ms: number, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(new AbortError())
    const wake = new AbortController()
    const unfollow = follow(signal, wake)
    const timer = setTimeout(() => {
      unfollow()
      resolve()
    }, ms)
    wake.signal.addEventListener('abort', () => {
      clearTimeout(timer)
      unfollow()
      reject(new AbortError())
    })
  })
}
