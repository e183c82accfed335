/**
 * The Hugging Face Hub as ParquetSeek reads it: DuckDB's `hf://` addresses taken apart, the
 * host they point to (`HF_ENDPOINT` in Node — a mirror — as huggingface_hub reads it, else
 * huggingface.co) and the token sent there (`HF_TOKEN`: private and gated repositories), never to
 * the CDN its downloads redirect to.
 */

/** An `hf://` address's parts: `hf://datasets/owner/repo[@revision]/path`. */
export interface HubAddress {
  /** `datasets`, `models` or `spaces`. */
  kind: string
  owner: string
  repo: string
  /** As given after `@` (`main` when none; `~parquet`, the converted-Parquet branch, kept so). */
  revision: string
  path: string
}

/** An `hf://` address taken apart; undefined for any other. */
export function parseHubAddress(address: string): HubAddress | undefined {
  const hf = /^hf:\/\/(datasets|models|spaces)\/([^/@]+)\/([^/@]+)(?:@([^/]+))?\/(.+)$/i.exec(address)
  if (!hf) return undefined
  const [, kind, owner, repo, revision = 'main', path] = hf as unknown as [string, string, string, string, string | undefined, string]
  return { kind: kind.toLowerCase(), owner, repo, revision, path }
}

/**
 * A Hub folder page's address (`https://huggingface.co/datasets/o/r/tree/main/data`, what its file
 * browser shows) as the folder's `hf://` address, ending in `/` (`hf://datasets/o/r/data/`);
 * undefined for any other address.
 */
export function hubFolderPage(address: string): string | undefined {
  let url: URL
  try {
    url = new URL(address)
  } catch {
    return undefined
  }
  if (!/^https?:$/.test(url.protocol) || !onHub(url.href)) return undefined
  const page = /^\/(datasets\/|spaces\/)?([^/]+)\/([^/]+)\/tree\/([^/]+)(\/.*)?$/.exec(url.pathname)
  if (!page) return undefined
  const [, kind = 'models/', owner, repo, revision, path = '/'] = page as unknown as [
    string,
    string | undefined,
    string,
    string,
    string,
    string,
  ]
  let folder: string
  try {
    folder = decodeURIComponent(path).replace(/\/*$/, '/')
  } catch {
    return undefined
  }
  const rev = revision === 'refs%2Fconvert%2Fparquet' ? '~parquet' : revision
  return `hf://${kind}${owner}/${repo}${rev === 'main' ? '' : `@${rev}`}${folder}`
}

/** Whether `address` is an `hf://` glob (`hf://datasets/o/r/data/*.parquet`): its path has `*`, `?` or `[`. */
export function isHubGlob(address: string): boolean {
  return /[*?[]/.test(parseHubAddress(address)?.path ?? '')
}

/** The revision as the Hub's URLs take it: `~parquet` is `refs/convert/parquet`, as one path segment. */
export const hubRevision = (revision: string): string => (revision === '~parquet' ? 'refs%2Fconvert%2Fparquet' : revision)

/** The repository's part of the Hub's URLs: `datasets/o/r`, `spaces/o/r`, or a model's `o/r`. */
export const hubRepoPath = (a: HubAddress): string => `${a.kind === 'models' ? '' : `${a.kind}/`}${a.owner}/${a.repo}`

const env = (name: string): string | undefined =>
  (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env?.[name]?.trim() || undefined

/** Where `hf://` addresses and Hub pages lead: `HF_ENDPOINT` (Node; a mirror), else https://huggingface.co. */
export function hubEndpoint(): string {
  return (env('HF_ENDPOINT') ?? 'https://huggingface.co').replace(/\/+$/, '')
}

/** Whether `url` is on the Hub (the endpoint's origin; huggingface.co too, whatever the endpoint). */
export function onHub(url: string): boolean {
  try {
    const { origin, hostname } = new URL(url)
    return origin === new URL(hubEndpoint()).origin || /^(www\.)?huggingface\.co$/i.test(hostname)
  } catch {
    return false
  }
}

/** The token the Hub is sent (Node: `HF_TOKEN`, or huggingface_hub's older `HUGGING_FACE_HUB_TOKEN`). */
export const hubToken = (): string | undefined => env('HF_TOKEN') ?? env('HUGGING_FACE_HUB_TOKEN')

/**
 * The headers a request to `url` carries for the Hub: the token where there is one and `url` is on
 * the Hub — not on the CDN a download redirects to, which the signed URL lets in.
 */
export function hubHeaders(url: string): Record<string, string> {
  const token = hubToken()
  return token && onHub(url) ? { Authorization: `Bearer ${token}` } : {}
}

/**
 * What an HTTP status from `url` means for the person asking, where `url` is on the Hub (private,
 * gated, or no such file): `: …`, to end an error's message; empty for any other host or status.
 */
export function hubRefusal(url: string, status: number): string {
  if (!onHub(url)) return ''
  const token = hubToken()
  if (status === 401 || status === 403)
    return token
      ? ': HF_TOKEN does not give access to it: a gated repository must be accepted on its page, a private one shared with you'
      : ': a private or gated repository: set HF_TOKEN to a token that can read it'
  if (status === 404) return `: no such repository, revision or file${token ? '' : ' (a private repository answers so without HF_TOKEN)'}`
  return ''
}
