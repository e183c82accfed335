import { ParquetSeekError } from '../errors.js'

/**
 * Where a sidecar or a manifest may send the reader. Their source names are data from a file,
 * so they resolve only next to that file: relative paths inside its own directory (local), or
 * URLs of its own origin (HTTP). Anything else — `../../etc/passwd`, an absolute path, another
 * host, a protocol-relative `//host/…` — is refused unless the caller lists it in `allow`
 * (URL prefixes, or directories for local paths).
 */
export type Resolved = { kind: 'url'; url: string } | { kind: 'path'; path: string }

/**
 * Where names resolve. `names: 'paths'` (a sidecar's: the files' paths relative to it, as the
 * writer records them) makes a name that is not a URL a path against a URL too: each segment
 * percent-encoded, so a file called `a#1.parquet`, `b?.parquet` or `100%.parquet` is asked for
 * by its name rather than cut at `#` or `?`. Without it (a manifest, written by hand) a name is a
 * URL reference, as a browser reads one.
 */
export type SourceBase = { kind: 'url'; url: string; names?: 'paths' } | { kind: 'path'; dir: string }

const SCHEME = /^[a-z][a-z0-9+.-]*:/i

export function resolveSourceName(
  name: string,
  base: SourceBase,
  allow: readonly string[] = [],
  paths?: { resolve(...p: string[]): string; relative(from: string, to: string): string; isAbsolute(p: string): boolean },
): Resolved {
  const refuse = (why: string): never => {
    throw new ParquetSeekError(`source "${name}" ${why}; list it in the allowed sources to read it anyway`, {
      file: base.kind === 'url' ? base.url : base.dir,
    })
  }
  if (typeof name !== 'string' || !name || name.includes('\0')) refuse('is not a usable name')
  const looksLikeUrl = isUrlReference(name)
  if (base.kind === 'url') {
    let url: URL
    // (a path's separators, `/` or a Windows writer's `\`, stay separators)
    const reference = base.names === 'paths' && !looksLikeUrl ? name.split(/[\\/]/).map(encodeURIComponent).join('/') : name
    try {
      url = new URL(reference, base.url)
    } catch {
      return refuse('is not a valid URL')
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') refuse(`uses ${url.protocol}, not http(s)`)
    if (url.origin !== new URL(base.url).origin && !allowed(url.href, allow)) refuse(`is on another origin (${url.origin})`)
    return { kind: 'url', url: url.href }
  }
  if (looksLikeUrl) {
    if (/^https?:\/\//i.test(name) && allowed(name, allow)) return { kind: 'url', url: name }
    return refuse('is a URL, and this index is a local file')
  }
  if (!paths) return refuse('is a path, and no file system is available here')
  const path = paths.resolve(base.dir, name)
  const inside = (dir: string) => {
    const rel = paths.relative(paths.resolve(dir), path)
    return rel !== '' && !rel.startsWith('..') && !paths.isAbsolute(rel)
  }
  if (!inside(base.dir) && !allow.some(inside)) refuse(`is outside the index's own directory (${base.dir})`)
  return { kind: 'path', path }
}

/** A name with a scheme (`https:`, `file:`) or a network path (`//host/…`): a URL, not a path. */
export function isUrlReference(name: string): boolean {
  return SCHEME.test(name) || name.startsWith('//')
}

/** Where a resolved name points, as the string the library opens (a URL, or a path where there are local files). */
export function resolvedAddress(where: Resolved): string {
  return where.kind === 'url' ? where.url : where.path
}

function allowed(href: string, allow: readonly string[]): boolean {
  return allow.some((prefix) => SCHEME.test(prefix) && href.startsWith(prefix))
}
