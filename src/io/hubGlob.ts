import { AbortError, ParquetSeekError } from '../errors.js'
import { compareNames } from './fileUrl.js'
import { retryAfterMs, sleep } from './httpSource.js'
import { hubEndpoint, hubHeaders, hubRefusal, hubRevision, isHubGlob, parseHubAddress } from './hub.js'

/**
 * A glob as DuckDB reads one, as a regular expression over a path: `*` any characters but `/`,
 * `**` any folders (none too), `?` one character, `[abc]`, `[a-z]`, `[!abc]` one of a set.
 */
export function globPattern(glob: string): RegExp {
  let re = ''
  for (let i = 0; i < glob.length; i++) {
    const c = glob[i] as string
    if (c === '*' && glob[i + 1] === '*') {
      i++
      if (glob[i + 1] === '/') {
        i++
        re += '(?:[^/]*/)*'
      } else re += '.*'
    } else if (c === '*') re += '[^/]*'
    else if (c === '?') re += '[^/]'
    else if (c === '[' && glob.indexOf(']', i + 2) > 0) {
      const end = glob.indexOf(']', i + 2)
      const set = glob.slice(i + 1, end).replace(/\\/g, '\\\\')
      re += `[${set.startsWith('!') ? `^${set.slice(1)}` : set}]`
      i = end
    } else re += c.replace(/[.+^$(){}|\\[\]]/g, '\\$&')
  }
  return new RegExp(`^${re}$`)
}

/** An entry of the Hub's tree listing (`GET /api/<kind>/<repo>/tree/<revision>/<path>`). */
interface TreeEntry {
  type: string
  path: string
}

/** How long a page of a listing may take, its body read. */
const LISTING_MS = 30_000

/** Pages of a listing followed at most (a bound on a listing that would not end). */
const MAX_PAGES = 1000

/**
 * The files an `hf://` glob matches, as `hf://` addresses in the order of their names (numbers by
 * value: `part-2` before `part-10`), listed through the Hub's API from the folder before the
 * first wildcard — its subfolders too only where the glob goes into them. None matching is an
 * error naming what the folder holds.
 */
export async function hubGlob(
  address: string,
  o: {
    fetch?: typeof fetch
    signal?: AbortSignal
    /** After each page of the listing: the files listed so far. */
    onPage?: (listed: number) => void
  } = {},
): Promise<string[]> {
  const parsed = parseHubAddress(address)
  if (!parsed || !isHubGlob(address)) throw new ParquetSeekError('not an hf:// glob', { file: address })
  const segments = parsed.path.split('/')
  const fixed = segments.findIndex((s) => /[*?[]/.test(s))
  const folder = segments.slice(0, fixed).join('/')
  const recursive = fixed < segments.length - 1 || segments[fixed]?.includes('**')
  const doFetch = o.fetch ?? globalThis.fetch.bind(globalThis)
  const encoded = folder ? `/${folder.split('/').map(encodeURIComponent).join('/')}` : ''
  let next: string | undefined =
    `${hubEndpoint()}/api/${parsed.kind}/${parsed.owner}/${parsed.repo}/tree/${hubRevision(parsed.revision)}${encoded}${recursive ? '?recursive=true' : ''}`
  const files: string[] = []
  for (let page = 0; next !== undefined; page++) {
    if (page === MAX_PAGES)
      throw new ParquetSeekError(`lists more than ${MAX_PAGES} pages of files: give a narrower glob`, { file: address })
    const { res, entries } = await listing(next, doFetch, address, o.signal)
    if (!Array.isArray(entries)) throw new ParquetSeekError(`listing its files: ${next} answered no list of files`, { file: address })
    for (const e of entries as TreeEntry[]) if (e.type === 'file' && typeof e.path === 'string') files.push(e.path)
    o.onPage?.(files.length)
    const link = /<([^>]+)>\s*;\s*rel="?next"?/i.exec(res.headers.get('link') ?? '')?.[1]
    next = link === undefined ? undefined : new URL(link, next).href
  }
  const matches = globPattern(parsed.path)
  const found = files.filter((f) => matches.test(f)).sort(compareNames)
  if (!found.length) {
    const held = files.length
      ? `${files.length} file${files.length === 1 ? '' : 's'} there: ${files.slice(0, 3).join(', ')}${files.length > 3 ? ', …' : ''}`
      : 'no file there'
    throw new ParquetSeekError(`no file matches ${parsed.path} (${held})`, { file: address })
  }
  const repo = `hf://${parsed.kind}/${parsed.owner}/${parsed.repo}${parsed.revision === 'main' ? '' : `@${parsed.revision}`}`
  return found.map((path) => `${repo}/${path}`)
}

/** One page of a listing: retried on a network error, 429 and 5xx as reads are; a refusal said in the Hub's terms. */
async function listing(
  url: string,
  doFetch: typeof fetch,
  address: string,
  signal: AbortSignal | undefined,
): Promise<{ res: Response; entries: unknown }> {
  const attempts = 4
  let last = ''
  let retryAfter: number | undefined
  for (let attempt = 0; attempt < attempts; attempt++) {
    if (attempt > 0) await sleep(retryAfter ?? 100 * 2 ** (attempt - 1), signal)
    let res: Response
    // (a page that stalls, its body too, is given up and asked again)
    const timeout = AbortSignal.timeout(LISTING_MS)
    try {
      res = await doFetch(url, {
        headers: { Accept: 'application/json', ...hubHeaders(url) },
        // (AbortSignal.any: not in browsers before 2024, where the caller's signal alone still cancels)
        signal: signal ? (AbortSignal.any?.([signal, timeout]) ?? signal) : timeout,
      })
      if (res.ok) return { res, entries: await res.json() }
    } catch (e) {
      if (signal?.aborted) throw new AbortError()
      if (e instanceof SyntaxError)
        throw new ParquetSeekError(`listing its files: ${url} answered something other than JSON (is HF_ENDPOINT the Hub?)`, {
          file: address,
        })
      last = timeout.aborted ? `no answer in ${LISTING_MS / 1000} s` : `network error (${(e as Error).message})`
      retryAfter = undefined
      continue
    }
    await res.body?.cancel().catch(() => {})
    last = `HTTP ${res.status} ${res.statusText}`.trim()
    if (res.status !== 429 && res.status < 500) {
      throw new ParquetSeekError(`listing its files: ${last} from ${url}${hubRefusal(url, res.status)}`, { file: address })
    }
    retryAfter = retryAfterMs(res.headers.get('retry-after'))
  }
  throw new ParquetSeekError(`listing its files: ${last} from ${url}, ${attempts} times`, { file: address })
}
