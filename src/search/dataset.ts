import { type Query, queryVectors } from '../encode/encoders.js'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import type { FileInput } from '../io/blobSource.js'
import { isUrlReference, resolvedAddress, resolveSourceName } from '../io/confine.js'
import { addressEndsWith, againstPage, fileUrl } from '../io/fileUrl.js'
import { readBody } from '../io/httpSource.js'
import { hubFolderPage, hubHeaders, hubRefusal } from '../io/hub.js'
import { localFile } from '../io/local.js'
import { DEFAULT_CONCURRENCY } from '../io/ranges.js'
import { ConnectionLimiter, RoundTripClock } from '../io/source.js'
import { parquetNote } from '../parquet/footer.js'
import { JointSearches } from '../query/joint.js'
import { checkColumnNames, DISTINCT_POOL, distinctKey, firstOfEach, MAX_K } from '../query/pipeline.js'
import { openIndex, type SearchOptions, type SearchResult, type SearchStats, type SeekIndex } from './engine.js'
import { cacheShare, type OpenOptions, tailShare } from './open.js'
import { distinctPerFile, oneModel, partAt, type RowPart, readRowSpanAcross, searchExactAcross } from './parts.js'

/**
 * Many indexed files searched as one: each shard is an indexed Parquet file with its own index;
 * a query runs on every shard, their PQ candidates shortlisted together (searchBatch), and the
 * per-shard top-k are merged (ties: the earlier shard, then the lower row). A static host lists
 * its shards in a manifest: `{ "files": ["part-0.parquet", …] }`, paths relative to the manifest's URL.
 */
export interface DatasetHit {
  file: string
  shard: number
  row: number
  distance: number
  values: Record<string, unknown>
}

export interface DatasetResult {
  results: DatasetHit[]
  /** Lists probed for this query, numbered across the shards (`listBases`), each shard's nearest first. */
  probed: number[]
  /**
   * roundTrips: counted as the requests of every shard went out (shards are searched at once,
   * so they cost about the round trips of the slowest); bytes and requests: every shard's,
   * result columns included; perShard: each shard's search, without the result columns read after the merge.
   */
  stats: { bytes: number; requests: number; roundTrips: number; shards: number; ms: number; perShard: SearchStats[] }
}

export interface DatasetOpenOptions extends OpenOptions {
  /**
   * Bytes kept of what the shards read, all of them together (cacheShare: by default 256 MiB,
   * 64 MiB a shard up to four shards), so a manifest of many large files keeps no more than a few.
   */
  cacheBytes?: number
  /**
   * Shards opened at once (default 16: their requests wait for the connections anyway, and their
   * first reads share tailShare's 4 MiB), and searched at once with `distinct` (other searches
   * search them all at once).
   */
  concurrency?: number
  /** Shards opened so far, of all: (0, n) first, then as each opens. */
  onProgress?: (opened: number, files: number) => void
}

export class SeekDataset {
  /** The first row of each shard, numbering rows across the dataset in shard order. */
  readonly rowBases: number[]
  /** The columns of any shard (by their top-level names). */
  readonly columnNames: ReadonlySet<string>
  /** The first list of each shard, numbering the shards' lists one after another in shard order. */
  readonly listBases: number[]
  /** Each shard as a part of the whole: its rows numbered after the shards before it (search/parts.ts reads across them). */
  readonly parts: RowPart[]

  private constructor(
    readonly shards: SeekIndex[],
    readonly names: string[],
    /** Shared by every shard: a search's round trips are counted across them, as they go out. */
    private readonly clock: RoundTripClock,
  ) {
    const before = (size: (s: SeekIndex) => number) => {
      let n = 0
      return shards.map((s) => {
        const base = n
        n += size(s)
        return base
      })
    }
    this.rowBases = before((s) => s.rows)
    this.listBases = before((s) => s.params.nlist)
    this.columnNames = new Set(shards.flatMap((s) => [...s.columnNames]))
    this.parts = shards.map((s, i) => ({
      name: names[i] as string,
      cached: s.opened.cached,
      metadata: s.opened.metadata,
      column: s.opened.column,
      rowBase: this.rowBases[i] as number,
      rows: s.rows,
    }))
  }

  /**
   * Opens every shard (`concurrency` at a time); all must share dimension and metric.
   * `onProgress(opened, files)`: (0, n) first, then as each shard opens; once cancelled no more open.
   */
  static async open(inputs: Array<FileInput | string>, o: DatasetOpenOptions = {}): Promise<SeekDataset> {
    if (!inputs.length) throw new ParquetSeekError('a dataset needs at least one file')
    // (a file named twice would answer every query twice: by its path or URL, resolved)
    checkDistinct(inputs.map((input, i) => (typeof input === 'string' ? addressKey(input) : `(source ${i})`)))
    const concurrency = Math.max(1, o.concurrency ?? 16)
    const clock = new RoundTripClock()
    // a manifest's shards live on one host: its connections are shared, as a browser shares them
    const limiter = new ConnectionLimiter(o.connections ?? DEFAULT_CONCURRENCY)
    const cacheBytes = cacheShare(inputs.length, o.cacheBytes)
    const tailBytes = o.tailBytes ?? tailShare(inputs.length)
    let opened = 0
    o.onProgress?.(0, inputs.length)
    const held: SeekIndex[] = []
    const shards = await mapLimit(inputs, concurrency, async (input) => {
      throwIfAborted(o.signal)
      const shard = await openIndex(input, { ...o, cacheBytes, tailBytes, clock, limiter })
      held.push(shard)
      o.onProgress?.(++opened, inputs.length)
      return shard
    }).catch((e) => {
      // (the shards that did open let their files go)
      for (const shard of held) shard.close()
      throw e
    })
    // a shard by its URL, else (a local path in Node, a ByteSource, a File) by the name its source gives itself
    const names = inputs.map((input, i) =>
      typeof input === 'string' && !localFile(input) ? input : (shards[i] as SeekIndex).opened.raw.name,
    )
    const first = shards[0] as SeekIndex
    for (const [i, s] of shards.entries()) {
      if (s.params.dim !== first.params.dim || s.metric !== first.metric) {
        for (const shard of shards) shard.close()
        throw new ParquetSeekError(
          `shard ${i} is ${s.params.dim}-d ${s.metric}, the first shard ${first.params.dim}-d ${first.metric}: one dataset needs one kind of vector`,
          { file: names[i] },
        )
      }
    }
    return new SeekDataset(shards, names, clock)
  }

  /**
   * Reads a manifest (`{ "files": [...] }`) and opens its shards, resolved against its URL — in
   * Node, against its folder when `address` is a local path.
   */
  static async fromManifest(
    address: string,
    o: DatasetOpenOptions & { fetch?: typeof fetch; allowSources?: string[] } = {},
  ): Promise<SeekDataset> {
    const local = localFile(address)
    if (local) {
      // a local path (Node): its files resolve beside it, or in an `allowSources` folder
      const { path, files } = local
      const list = manifestFiles(await files.read(path, MAX_MANIFEST_BYTES), path)
      const base = { kind: 'path' as const, dir: files.paths.dirname(files.paths.resolve(path)) }
      // (entries are URL references, as on a host: `part%201.parquet` is the file `part 1.parquet`)
      const addresses = list.map((f) => resolvedAddress(resolveSourceName(manifestName(f), base, o.allowSources, files.paths)))
      checkDistinct(addresses, path)
      return SeekDataset.open(addresses, o)
    }
    const url = fileUrl(againstPage(address))
    const res = await (o.fetch ?? fetch)(url, { signal: o.signal, headers: hubHeaders(url) })
    if (!res.ok) throw new ParquetSeekError(`HTTP ${res.status} reading the manifest${hubRefusal(url, res.status)}`, { file: url })
    const bytes = await readBody(res, () => {}, MAX_MANIFEST_BYTES)
    if (!bytes) throw new ParquetSeekError(`the manifest is over ${MAX_MANIFEST_BYTES} bytes`, { file: url })
    const files = manifestFiles(bytes, url)
    // shards resolve on the manifest's own origin only, unless `allowSources` lists a prefix
    const base = { kind: 'url' as const, url }
    const urls = files.map((f) => (resolveSourceName(f, base, o.allowSources) as { url: string }).url)
    checkDistinct(urls, url)
    return SeekDataset.open(urls, o)
  }

  /**
   * A page's pick of a manifest's File with the files it lists, found by their file names (a pick
   * has no folders) and opened in the manifest's order, so rows are numbered as on its host. A file
   * it lists and the pick lacks, or one picked that it does not list, is an error naming it.
   */
  static async openFiles(
    files: readonly File[],
    o: DatasetOpenOptions & {
      /** Picked files the manifest does not list: refused (default), or left aside (a folder's: its other files). */
      unlisted?: 'refuse' | 'leave'
    } = {},
  ): Promise<SeekDataset> {
    const manifests = files.filter((f) => isManifestAddress(f.name))
    if (manifests.length !== 1)
      throw new ParquetSeekError(
        manifests.length
          ? `pick one manifest at a time (${manifests.map((f) => f.name).join(', ')})`
          : 'none of these files is a manifest (.json): SeekDataset.open searches indexed files as one',
      )
    const manifest = manifests[0] as File
    if (manifest.size > MAX_MANIFEST_BYTES)
      throw new ParquetSeekError(`the manifest is over ${MAX_MANIFEST_BYTES} bytes`, { file: manifest.name })
    const entries = manifestFiles(new Uint8Array(await manifest.arrayBuffer()), manifest.name)
    const byName = new Map(files.filter((f) => f !== manifest).map((f) => [f.name, f]))
    const names = entries.map((entry) => {
      if (isUrlReference(entry))
        throw new ParquetSeekError(`lists ${entry}, a URL: open the manifest by its URL instead`, { file: manifest.name })
      const name = manifestName(entry).split(/[\\/]/).pop() as string
      if (!byName.has(name))
        throw new ParquetSeekError(`lists ${name}: pick it together with the manifest (every file it lists)`, { file: manifest.name })
      return name
    })
    checkDistinct(names, manifest.name)
    const extra = [...byName.keys()].filter((name) => !names.includes(name))
    if (extra.length && o.unlisted !== 'leave')
      throw new ParquetSeekError(
        `does not list ${extra.join(', ')}: pick only its files, or pick the files without it to search every one`,
        { file: manifest.name },
      )
    const { unlisted: _, ...rest } = o
    return SeekDataset.open(
      names.map((name) => byName.get(name) as File),
      rest,
    )
  }

  /** Forgets what every shard kept of its reads (each search then pays for its own, as a first one does). */
  clearCache(): void {
    for (const shard of this.shards) shard.clearCache()
  }

  /** Each shard's close(): GPU buffers, page workers and local files let go (searches go on, opening them again). */
  close(): void {
    for (const shard of this.shards) shard.close()
  }

  get rows(): number {
    return this.shards.reduce((n, s) => n + s.rows, 0)
  }

  /** The shards in a message: the first file's name, and how many more. */
  private get label(): string {
    return this.names.length === 1 ? (this.names[0] as string) : `${this.names[0]} and ${this.names.length - 1} more files`
  }

  /** The model a text query is embedded with: `encoder`; shards naming different models are an error naming them. */
  textModel(): string | undefined {
    return oneModel(
      this.shards.map((s, i) => ({ name: this.names[i] as string, model: s.encoder })),
      this.label,
    )
  }

  /** The model the shards' vectors came from (text queries), when every shard names the same one. */
  get encoder(): string | undefined {
    const first = this.shards[0]?.encoder
    return this.shards.every((s) => s.encoder === first) ? first : undefined
  }

  /** Row `row` of the dataset (rows numbered across the shards, in order): its shard, and its row there. */
  shardOf(row: number): { shard: number; row: number } {
    const at = Number.isInteger(row) ? partAt(this.parts, row) : undefined
    if (!at) throw new ParquetSeekError(`row ${row} is not in the dataset (${this.rows} rows in ${this.shards.length} files)`)
    return { shard: at.index, row: at.row }
  }

  /** Rows of the dataset (numbered across the shards) as each shard's own rows; rows past the last are none. */
  private byShard(rows: Iterable<number>): Array<number[] | undefined> {
    const out: Array<number[] | undefined> = this.shards.map(() => undefined)
    for (const global of rows) {
      const at = partAt(this.parts, global)
      if (!at) continue
      const list = out[at.index] ?? []
      list.push(at.row)
      out[at.index] = list
    }
    return out
  }

  /** The stored vector of row `row` of the dataset (numbered across the shards), to search for more like it. */
  vectorOf(row: number, signal?: AbortSignal): Promise<Float32Array> {
    const where = this.shardOf(row)
    return (this.shards[where.shard] as SeekIndex).vectorOf(where.row, signal)
  }

  /** The k nearest rows of all shards to a vector, or to a text embedded with their model (textModel()). */
  async search(query: Query, o: SearchOptions = {}): Promise<DatasetResult> {
    const [result] = await this.searchBatch([query], o)
    return result as DatasetResult
  }

  /**
   * Many queries: each shard searches them as one batch, all shards at once (their requests
   * share the connections); the shards' PQ candidates are shortlisted together (query/joint.ts),
   * so they re-rank about the candidates one index would, not k × refine each; each query's hits
   * are merged across shards, and only the merged top k's columns are read. With `distinct`, the
   * same joint search finds a pool of rows whose values of the column are read, and the nearest
   * row of each value is kept (a passage's text: of each shard's own), as one index keeps them.
   */
  async searchBatch(given: Query[], o: SearchOptions = {}): Promise<DatasetResult[]> {
    // (columns of any shard, as a sidecar's of any file: checked before anything is read)
    checkColumnNames(this.columnNames, o, this.label)
    const queries = await queryVectors(given, () => this.textModel(), this.label, o.signal)
    const t0 = performance.now()
    const k = o.k ?? 10
    const trips = this.clock.deepest
    const counts = () => this.shards.map((s) => ({ ...s.opened.counting.counts }))
    const before = counts()
    let per: SearchResult[][]
    const { distinct } = o
    const asked = o.columns ?? []
    // each shard's own rows of those never to return (numbered across the shards)
    const deleted = o.deleted === undefined ? undefined : this.byShard(o.deleted)
    // every shard at once, their PQ candidates shortlisted together (query/joint.ts)
    const jointly = (qs: ArrayLike<number>[], options: SearchOptions) => {
      const joint = new JointSearches(this.shards.length)
      return Promise.all(
        this.shards.map((s, i) =>
          s.searchBatch(qs, { ...options, deleted: deleted?.[i] }, joint.member(i)).catch((e: unknown) => {
            joint.fail(e)
            throw e
          }),
        ),
      )
    }
    let merged: DatasetHit[][]
    if (distinct === undefined) {
      per = await jointly(queries, o)
      merged = queries.map((_, qi) => this.merge(per, qi, k))
    } else {
      // as one index finds them (QueryPipeline.runDistinct): the nearest DISTINCT_POOL × k rows of
      // all shards, jointly, their values of the column read, the nearest of each value kept; a
      // query left short of k values while its pool was full, again with a pool DISTINCT_POOL
      // times larger (its lists and pages mostly cached by then). Each shard searching for its
      // own k values read about 3× the requests and 5× the bytes of one file.
      const perFile = distinctPerFile(distinct)
      const keyOf = (h: DatasetHit) => distinctKey(h.values[distinct], perFile ? h.shard : undefined)
      merged = new Array(queries.length)
      let todo = queries.map((_, qi) => qi)
      let pool = Math.min(MAX_K, k * DISTINCT_POOL)
      per = []
      while (todo.length) {
        const found = await jointly(
          todo.map((qi) => queries[qi] as ArrayLike<number>),
          { ...o, k: pool, columns: [], distinct: undefined },
        )
        if (!per.length) per = found
        const pools = todo.map((_, j) => this.merge(found, j, pool))
        await this.readColumns(pools, [distinct], o.signal)
        const short: number[] = []
        for (const [j, qi] of todo.entries()) {
          const hits = pools[j] as DatasetHit[]
          merged[qi] = firstOfEach(hits, keyOf, k)
          if ((merged[qi] as DatasetHit[]).length < k && hits.length === pool && pool < MAX_K) short.push(qi)
        }
        todo = short
        pool = Math.min(MAX_K, pool * DISTINCT_POOL)
      }
    }
    if (asked.length) await this.readColumns(merged, asked, o.signal)
    else for (const hits of merged) for (const h of hits) h.values = {}
    const after = counts()
    const stats = {
      bytes: after.reduce((n, c, i) => n + c.bytes - (before[i]?.bytes ?? 0), 0),
      requests: after.reduce((n, c, i) => n + c.requests - (before[i]?.requests ?? 0), 0),
      roundTrips: this.clock.deepest - trips,
      shards: this.shards.length,
      ms: performance.now() - t0,
      perShard: per.map((r) => r[0]?.stats as SearchStats),
    }
    const { listBases } = this
    return merged.map((results, qi) => {
      const probed = per.flatMap((r, shard) => (r[qi]?.probed ?? []).map((l) => (listBases[shard] as number) + l))
      return { results, probed, stats }
    })
  }

  /** Query `qi`'s k nearest of every shard's hits (ties: the earlier shard, then the lower row). */
  private merge(per: SearchResult[][], qi: number, k: number): DatasetHit[] {
    const all = per.flatMap((r, shard) => (r[qi]?.results ?? []).map((h) => ({ ...h, shard, file: this.names[shard] as string })))
    all.sort((a, b) => a.distance - b.distance || a.shard - b.shard || a.row - b.row)
    return all.slice(0, k)
  }

  /** The hits' values of `columns`: each shard reads its own hits' rows, every shard at once. */
  private async readColumns(hits: DatasetHit[][], columns: string[], signal?: AbortSignal): Promise<void> {
    if (!columns.length) return
    const byShard = this.shards.map(() => new Set<number>())
    for (const list of hits) for (const h of list) byShard[h.shard]?.add(h.row)
    const values = await Promise.all(
      this.shards.map((s, i) => {
        const rows = [...(byShard[i] as Set<number>)].sort((a, b) => a - b)
        return rows.length ? s.readColumns(rows, columns, signal) : new Map<number, Record<string, unknown>>()
      }),
    )
    for (const list of hits) for (const h of list) h.values = values[h.shard]?.get(h.row) ?? {}
  }

  /** Rows [start, end), numbered across the shards, of `columns`: only the pages holding them. */
  readRowSpan(start: number, end: number, columns: string[], o: { signal?: AbortSignal } = {}): Promise<Array<Record<string, unknown>>> {
    return readRowSpanAcross(this.parts, start, end, columns, (p) => p, o)
  }

  /**
   * Exact search over every shard's vectors (each read once): the k nearest rows of each query,
   * numbered across the shards, nearest first (ties: the lower row). What recall is measured against.
   */
  searchExact(queries: Float32Array[], o: { k: number; signal?: AbortSignal }): Promise<Array<Array<{ row: number; distance: number }>>> {
    const first = this.shards[0] as SeekIndex
    return searchExactAcross(this.parts, queries, { ...o, metric: first.metric, kernels: first.kernels })
  }
}

/** What a string names, to tell one file given twice: a local path resolved, else the URL read. */
function addressKey(address: string): string {
  const local = localFile(address)
  if (local) return local.files.paths.resolve(local.path)
  try {
    return fileUrl(againstPage(address))
  } catch {
    return address
  }
}

/** The manifest a folder of indexed files holds (`parquetseek index … --out-dir` writes it). */
export const MANIFEST = 'manifest.json'

/**
 * What a folder names: the dataset its manifest lists, so `open('indexed/')` and `parquetseek
 * search indexed/` open `indexed/manifest.json` — a local folder (Node), or a URL whose path ends
 * in `/` (`https://cdn.example/indexed/`, in a page `data/`), or a Hub folder page
 * (`https://huggingface.co/datasets/o/r/tree/main/indexed`); any other address as it is.
 */
export async function folderManifest(address: string): Promise<string> {
  const hubFolder = hubFolderPage(address)
  if (hubFolder) return `${hubFolder}${MANIFEST}`
  const local = localFile(address)
  if (!local) {
    // (a folder's URL: its query or fragment names no file in it)
    const path = address.split(/[?#]/)[0] as string
    return path.endsWith('/') ? `${path}${MANIFEST}` : address
  }
  if ((await local.files.kind(local.path)) !== 'folder') return address
  // (a path as given stays one, relative or not, in what is printed; a file: URL's path is absolute)
  const manifest =
    local.path === address ? `${address.replace(/[\\/]+$/, '')}/${MANIFEST}` : local.files.paths.resolve(local.path, MANIFEST)
  if ((await local.files.kind(manifest)) === 'file') return manifest
  throw new ParquetSeekError(
    `is a folder with no ${MANIFEST}: name its indexed files (…/*.indexed.parquet), or index them into it with parquetseek index … --out-dir`,
    { file: address },
  )
}

/** A manifest's address or file name: a `.json` file (a URL's path, whatever its query string says). */
export function isManifestAddress(address: string): boolean {
  return addressEndsWith(address, '.json')
}

/** A manifest lists shard names: 4 MiB holds tens of thousands. */
export const MAX_MANIFEST_BYTES = 4 << 20

/** The shard names of a manifest's bytes (`{ "files": [...] }`), checked. */
export function manifestFiles(bytes: Uint8Array, file: string): string[] {
  let manifest: unknown
  try {
    manifest = JSON.parse(new TextDecoder().decode(bytes))
  } catch {
    throw new ParquetSeekError(`the manifest is not JSON${parquetNote(bytes)}`, { file })
  }
  const files = (manifest as { files?: unknown } | null)?.files
  if (!Array.isArray(files) || !files.length || !files.every((f) => typeof f === 'string'))
    throw new ParquetSeekError('the manifest needs "files": a non-empty list of paths or URLs', { file })
  return files
}

/**
 * A file's name as a manifest entry: a URL reference relative to the manifest, so one manifest
 * serves from a folder and from a host (`part 1.parquet` → `part%201.parquet`, `#` and `?` escaped).
 */
export function manifestEntry(fileName: string): string {
  return encodeURIComponent(fileName)
}

/** The file a Parquet file is indexed into: `part-0.parquet` → `part-0.indexed.parquet` (`index --out-dir`, the page's builds). */
export function indexedName(fileName: string): string {
  return `${fileName.replace(/\.parquet$/i, '')}.indexed.parquet`
}

/**
 * A manifest's entries once the files `names` are indexed into its folder: those it listed, in
 * their order, then each name not among them — a file indexed again keeps its place, so rows
 * already numbered keep their numbers.
 */
export function manifestWith(listed: readonly string[], names: readonly string[]): string[] {
  const files = [...listed]
  for (const name of names) if (!listed.some((entry) => manifestName(entry) === name)) files.push(manifestEntry(name))
  return files
}

/**
 * What indexing listed files again did to the numbers of the rows after them, in words, or
 * undefined where it did nothing to them. A dataset numbers its rows across its files in the
 * manifest's order, so a file indexed again that now holds more or fewer rows moves every row
 * of the files listed after it: a row number saved or linked before names another row.
 * `listed`: the manifest's entries before the build; `rows`: each of its files indexed again (by
 * name), its rows then and now.
 */
export function renumbered(listed: readonly string[], rows: ReadonlyMap<string, { before: number; now: number }>): string | undefined {
  const names = listed.map(manifestName)
  const changed = names.flatMap((name, i) => {
    const r = rows.get(name)
    return r && r.before !== r.now ? [{ name, i, ...r }] : []
  })
  const first = changed[0]
  const after = first ? names.length - 1 - first.i : 0
  if (!first || !after) return undefined
  const n = (v: number) => v.toLocaleString('en-US')
  const counts = changed.slice(0, 3).map((c) => `${c.name} ${n(c.now)}, not ${n(c.before)}`)
  if (changed.length > 3) counts.push(`and ${changed.length - 3} more`)
  const shift = first.now - first.before
  const how = changed.length > 1 ? 'differently' : `${n(Math.abs(shift))} ${shift > 0 ? 'higher' : 'lower'}`
  return (
    `the rows of ${after === 1 ? 'the file' : `the ${after} files`} after ${first.name} in the manifest are numbered ${how} than before ` +
    `(${changed.length > 1 ? `rows now: ${counts.join('; ')}` : `it now holds ${n(first.now)} rows, not ${n(first.before)}`}), ` +
    'so a row number saved or linked before names another row now'
  )
}

/** A manifest's text, as `index --out-dir` and the page write it. */
export function manifestText(files: readonly string[]): string {
  return `${JSON.stringify({ files }, null, 2)}\n`
}

/**
 * The path a manifest entry names beside the manifest on a disk: its escapes decoded, as a host
 * decodes them (an entry that is a URL, or whose `%` escapes nothing, as it is).
 */
export function manifestName(entry: string): string {
  if (isUrlReference(entry)) return entry
  try {
    return decodeURIComponent(entry)
  } catch {
    return entry
  }
}

/**
 * Files, resolved (URLs, paths), each once: a manifest's shard listed twice would answer every
 * query twice, an input given twice to `train` or `index --sidecar` be sampled and indexed twice.
 * `file`: the list's own file, for the message.
 */
export function checkDistinct(resolved: string[], file?: string): void {
  const seen = new Map<string, number>()
  for (const [i, name] of resolved.entries()) {
    const first = seen.get(name)
    if (first !== undefined)
      throw new ParquetSeekError(`${name} is listed twice (files ${first} and ${i}): its rows would count twice`, { file })
    seen.set(name, i)
  }
}

/**
 * `fn` over `items` with at most `limit` running at once; results in input order. The first
 * failure starts no more, and is thrown once those running have ended: nothing is left running
 * (or holding a file) behind a rejected call.
 */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T, i: number) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length)
  let next = 0
  let failure: { error: unknown } | undefined
  const worker = async () => {
    while (next < items.length && !failure) {
      const i = next++
      try {
        out[i] = await fn(items[i] as T, i)
      } catch (error) {
        failure ??= { error }
      }
    }
  }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
  if (failure) throw failure.error
  return out
}
