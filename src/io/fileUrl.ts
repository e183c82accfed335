import { hubEndpoint, hubRepoPath, hubRevision, onHub, parseHubAddress } from './hub.js'

/**
 * The URL of a file's bytes, from the address people copy: a Hugging Face file page
 * (`https://huggingface.co/datasets/o/r/blob/main/x.parquet`, whose bytes are at `…/resolve/…`),
 * DuckDB's `hf://datasets/o/r[@revision]/path` (`@~parquet`: the converted-Parquet branch; on
 * `HF_ENDPOINT` where Node sets it), or a GitHub file page (`https://github.com/o/r/blob/ref/path`,
 * whose bytes are on raw.githubusercontent.com). Any other address is returned as it is.
 */
export function fileUrl(address: string): string {
  const hf = parseHubAddress(address)
  if (hf) return `${hubEndpoint()}/${hubRepoPath(hf)}/resolve/${hubRevision(hf.revision)}/${hf.path}`
  let url: URL
  try {
    url = new URL(address)
  } catch {
    return address
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') return address
  if (onHub(url.href)) {
    // /datasets/o/r/blob/…, /spaces/o/r/blob/…, /o/r/blob/… (a model)
    const page = /^(\/(?:datasets\/|spaces\/)?[^/]+\/[^/]+)\/blob\/(.+)$/.exec(url.pathname)
    if (page) return `${url.origin}${page[1]}/resolve/${page[2]}${url.search}`
  }
  const host = url.hostname.toLowerCase()
  if (host === 'github.com' || host === 'www.github.com') {
    const page = /^\/([^/]+)\/([^/]+)\/(?:blob|raw)\/(.+)$/.exec(url.pathname)
    if (page) return `https://raw.githubusercontent.com/${page[1]}/${page[2]}/${page[3]}`
  }
  return address
}

/**
 * The scheme of an address that is a URL (`scheme://…`, lower case), else undefined: a file
 * called `data:2020.parquet` is a path, and so is `C:\data\x.parquet` (a scheme has two letters
 * or more).
 */
export function schemeOf(address: string): string | undefined {
  return /^([a-z][a-z0-9+.-]+):\/\//i.exec(address)?.[1]?.toLowerCase()
}

/**
 * Why `address` cannot be read, when it names a scheme ParquetSeek does not read (it reads
 * http(s) with Range requests, hf:// and, in Node, local paths and file: URLs): an object store's
 * own scheme gets the https address to give instead. Undefined for any address it reads.
 */
export function unreadableScheme(address: string): string | undefined {
  const scheme = schemeOf(address)
  if (scheme === undefined || ['http', 'https', 'hf', 'file'].includes(scheme)) return undefined
  const https: Record<string, string> = {
    s3: 'https://BUCKET.s3.amazonaws.com/KEY for a public bucket, or a presigned URL',
    s3a: 'https://BUCKET.s3.amazonaws.com/KEY for a public bucket, or a presigned URL',
    gs: 'https://storage.googleapis.com/BUCKET/KEY for a public bucket, or a signed URL',
    gcs: 'https://storage.googleapis.com/BUCKET/KEY for a public bucket, or a signed URL',
    r2: "the bucket's public r2.dev or custom-domain URL, or a presigned URL",
    az: 'https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB, with a SAS token if it is private',
    azure: 'https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB, with a SAS token if it is private',
    abfss: 'https://ACCOUNT.blob.core.windows.net/CONTAINER/BLOB, with a SAS token if it is private',
  }
  const instead = https[scheme] ?? "the file's https:// URL"
  return `${scheme}:// addresses are not read directly: files are read over HTTP(S) with Range requests, so give ${instead}`
}

/** The address a page reads relative URLs against (a document's base, a worker's location); undefined outside a page (Node). */
export function pageBase(): string | undefined {
  const g = globalThis as { document?: { baseURI?: string }; location?: { href?: string } }
  return g.document?.baseURI ?? g.location?.href
}

/**
 * `address` made absolute against the page, as fetch would read it — so that the files a sidecar
 * or a manifest at a relative address names resolve against where it is. As it is outside a page.
 */
export function againstPage(address: string): string {
  const base = pageBase()
  if (base === undefined) return address
  try {
    return new URL(address, base).href
  } catch {
    return address
  }
}

/** Whether an address names a remote file (http, https, or DuckDB's hf://) rather than a local path. */
export const isRemote = (address: string): boolean => /^(https?|hf):\/\//i.test(address)

/** Whether an address or file name ends in `ext` (`.pqseek`): a URL's path, whatever its query string says. */
export function addressEndsWith(address: string, ext: string): boolean {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(address)) return address.toLowerCase().endsWith(ext)
  try {
    return new URL(address).pathname.toLowerCase().endsWith(ext)
  } catch {
    return false
  }
}

/** Names in order, numbers by value (`part-2` before `part-10`), as people number a dataset's files. */
export const compareNames = new Intl.Collator('en', { numeric: true }).compare
