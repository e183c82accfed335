import { createHash } from 'node:crypto'
import { type FileHandle, open, stat } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { isAbsolute, relative, resolve } from 'node:path'

/**
 * A local static file server with HTTP Range support (single, suffix and multi-range), CORS,
 * ETag, and an injected delay per request — what `parquetseek bench` searches through, and
 * what tests use (with `fault` to misbehave on purpose). Listens on 127.0.0.1 only.
 */
export interface RangeServerOptions {
  /** Milliseconds added before answering each request (simulated round-trip time). */
  delayMs?: number
  /** Answer every request with 200 and the whole file. */
  ignoreRange?: boolean
  /** Refuse multi-range requests (answer with the first range only). */
  noMultiRange?: boolean
  /**
   * How a real host answers ranges: `nginx` (default) single, suffix and multipart ranges;
   * `s3` (also R2, GCS) single and suffix ranges, a multi-range request answered 200 with the
   * whole object; `static` (sirv, behind `vite preview`) single ranges, a suffix range answered
   * with the file's head and a multi-range request with its first range; `hub` (Hugging Face's
   * `resolve/main` URLs, GitHub release assets) every request to the file's URL answered with a
   * redirect (302, its own delay) to a signed CDN URL (`/cdn/…`) that answers as `s3`.
   */
  host?: HostProfile
  /**
   * The client's downlink in Mbit/s, shared by every response as one link would be: a body
   * arrives once the link has carried it and the bodies sent before it (unset: no limit).
   */
  mbps?: number
  /** Per-request hook for fault injection; return true when it handled the response. */
  fault?: (req: IncomingMessage, res: ServerResponse, n: number) => boolean | Promise<boolean>
}

export const HOST_PROFILES = ['nginx', 's3', 'static', 'hub'] as const
export type HostProfile = (typeof HOST_PROFILES)[number]

export interface RangeServer {
  url: string
  requests: number
  /** Body bytes written to clients (what the host sent, whether or not the client read it). */
  bytesSent: number
  close(): Promise<void>
}

/** Serves one file, whatever path a request asks for (`url` ends with its name). */
export function serveFile(path: string, o: RangeServerOptions = {}): Promise<RangeServer> {
  return serve(() => path, path.split('/').pop() as string, o)
}

/**
 * Serves the files under a directory by their path in it (`<url>/<path>`; nothing outside it): a
 * sidecar beside its files, as a static host holds them. `url` is the directory's.
 */
export function serveDir(dir: string, o: RangeServerOptions = {}): Promise<RangeServer> {
  const root = resolve(dir)
  return serve(
    (requested) => {
      let path: string
      try {
        // (a hub host's signed CDN address ends with the path asked for)
        path = decodeURIComponent(new URL(requested, 'http://x').pathname).replace(/^\/cdn\/signed-\d+(?=\/)/, '')
      } catch {
        return undefined
      }
      if (path.includes('\\') || path.includes('\0')) return undefined
      const full = resolve(root, `.${path}`)
      const rel = relative(root, full)
      return rel && !rel.startsWith('..') && !isAbsolute(rel) ? full : undefined
    },
    '',
    o,
  )
}

async function serve(pathOf: (requested: string) => string | undefined, name: string, o: RangeServerOptions): Promise<RangeServer> {
  const state = { requests: 0, bytesSent: 0 }
  const host = o.host ?? 'nginx'
  /** When the simulated link is next free (performance.now() ms). */
  let linkFree = 0
  /** Waits until `bytes` more would have crossed the link (o.mbps). */
  const carry = async (bytes: number) => {
    if (!o.mbps) return
    const now = performance.now()
    linkFree = Math.max(now, linkFree) + (bytes * 8) / (o.mbps * 1000)
    if (linkFree - now >= 1) await new Promise((r) => setTimeout(r, linkFree - now))
  }
  const server: Server = createServer(async (req, res) => {
    const n = ++state.requests
    try {
      if (o.delayMs) await new Promise((r) => setTimeout(r, o.delayMs))
      res.setHeader('Access-Control-Allow-Origin', '*')
      res.setHeader('Access-Control-Allow-Headers', 'Range')
      res.setHeader('Access-Control-Expose-Headers', 'Content-Range, Content-Length, ETag, Accept-Ranges')
      if (req.method === 'OPTIONS') return void res.writeHead(204).end()
      if (o.fault && (await o.fault(req, res, n))) return
      if (host === 'hub' && !req.url?.startsWith('/cdn/')) return void res.writeHead(302, { Location: `/cdn/signed-${n}${req.url}` }).end()
      const path = pathOf(req.url ?? '/')
      const info = await (path === undefined ? Promise.resolve(undefined) : stat(path)).catch((e: NodeJS.ErrnoException) => {
        if (e.code === 'ENOENT') return undefined
        throw e
      })
      if (!info || path === undefined || !info.isFile()) return void res.writeHead(404).end('no such file')
      const size = info.size
      const etag = `"${createHash('sha1').update(`${info.mtimeMs}:${size}`).digest('hex').slice(0, 16)}"`
      res.setHeader('ETag', etag)
      res.setHeader('Accept-Ranges', 'bytes')
      const file = await open(path, 'r')
      try {
        // sirv answers a suffix range with the file's head, one byte over (`bytes=-N` → 0…N)
        const suffix = host === 'static' ? /^bytes=-(\d+)$/.exec(req.headers.range ?? '') : null
        const asked = suffix ? `bytes=0-${Number(suffix[1])}` : req.headers.range
        const ranges = o.ignoreRange ? undefined : parseRange(asked, size)
        if (ranges === 'unsatisfiable') {
          res.writeHead(416, { 'Content-Range': `bytes */${size}` }).end()
          return
        }
        if (!ranges || ((host === 's3' || host === 'hub') && ranges.length > 1)) {
          // the whole object, streamed as a host does: a client that cancels stops the sending
          res.writeHead(200, { 'Content-Length': size, 'Content-Type': 'application/vnd.apache.parquet' })
          if (req.method === 'HEAD') return void res.end()
          for (let at = 0; at < size && !res.destroyed; at += 1 << 16) {
            const chunk = await read(file, at, Math.min(size, at + (1 << 16)))
            await carry(chunk.length)
            state.bytesSent += chunk.length
            if (!res.write(chunk)) await drained(res)
          }
          res.end()
          return
        }
        const list = o.noMultiRange || host === 'static' ? ranges.slice(0, 1) : ranges
        if (list.length === 1) {
          const [r] = list as [{ start: number; end: number }]
          res.writeHead(206, { 'Content-Range': `bytes ${r.start}-${r.end - 1}/${size}`, 'Content-Length': r.end - r.start })
          if (req.method === 'HEAD') return void res.end()
          state.bytesSent += r.end - r.start
          await carry(r.end - r.start)
          res.end(await read(file, r.start, r.end))
          return
        }
        const boundary = `pqseek${n}`
        const chunks: Buffer[] = []
        for (const r of list) {
          chunks.push(
            Buffer.from(
              `\r\n--${boundary}\r\nContent-Type: application/octet-stream\r\nContent-Range: bytes ${r.start}-${r.end - 1}/${size}\r\n\r\n`,
            ),
          )
          chunks.push(await read(file, r.start, r.end))
        }
        chunks.push(Buffer.from(`\r\n--${boundary}--\r\n`))
        const body = Buffer.concat(chunks)
        state.bytesSent += body.length
        await carry(body.length)
        res.writeHead(206, { 'Content-Type': `multipart/byteranges; boundary=${boundary}`, 'Content-Length': body.length })
        res.end(body)
      } finally {
        await file.close()
      }
    } catch (e) {
      if (!res.headersSent) res.writeHead(500).end(String(e))
      else res.destroy()
    }
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address() as AddressInfo
  return {
    url: `http://127.0.0.1:${port}/${name}`,
    get requests() {
      return state.requests
    },
    get bytesSent() {
      return state.bytesSent
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections()
        server.close(() => resolve())
      }),
  }
}

/** Resolves when a response can take more (or its client went away). */
export function drained(res: ServerResponse): Promise<void> {
  return new Promise((resolve) => {
    // a client gone before this was asked: 'close' has already fired and would never come again
    // (the handler then waited for ever and its file handle was closed only by the collector)
    if (res.destroyed || res.closed) return resolve()
    const done = () => {
      res.off('drain', done).off('close', done)
      resolve()
    }
    res.on('drain', done).on('close', done)
  })
}

async function read(file: FileHandle, start: number, end: number): Promise<Buffer> {
  const buf = Buffer.alloc(end - start)
  await file.read(buf, 0, buf.length, start)
  return buf
}

function parseRange(header: string | undefined, size: number): Array<{ start: number; end: number }> | 'unsatisfiable' | undefined {
  const m = /^bytes=(.+)$/.exec(header ?? '')
  if (!m) return undefined
  const out: Array<{ start: number; end: number }> = []
  for (const spec of (m[1] as string).split(',')) {
    const [a, b] = spec.trim().split('-')
    if (a === '') {
      const n = Number(b)
      out.push({ start: Math.max(0, size - n), end: size })
    } else {
      const start = Number(a)
      const end = b === '' || b === undefined ? size : Math.min(size, Number(b) + 1)
      if (start >= size || start >= end) continue
      out.push({ start, end })
    }
  }
  return out.length ? out : 'unsatisfiable'
}
