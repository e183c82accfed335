import { readFile } from 'node:fs/promises'
import * as nodePaths from 'node:path'
import { basename, dirname, resolve } from 'node:path'
import type { FileMetaData } from 'hyparquet'
import { loadKernels } from '../compute/backend.js'
import { recallAtK } from '../compute/metric.js'
import { NoIndexError, ParquetSeekError } from '../errors.js'
import type { Metric } from '../index/model.js'
import { resolveSourceName, type SourceBase } from '../io/confine.js'
import { fileSource, readLocalFile } from '../io/nodeFile.js'
import { parseNpy } from '../io/npy.js'
import { readColumnRange } from '../parquet/embedding.js'
import { ROW_COLUMN } from '../parquet/permute.js'
import { checkDistinct, isManifestAddress, manifestFiles, SeekDataset } from '../search/dataset.js'
import { defaultNprobe, MAX_K, MAX_NPROBE, MAX_REFINE, openIndex, type SeekIndex } from '../search/engine.js'
import { flatSearch } from '../search/flat.js'
import { PqVectorFile } from '../search/pqVector.js'
import { isSidecarAddress, readSidecarHeader, SidecarIndex } from '../search/sidecarIndex.js'
import { adjacentOption, choice, columnList, intOption, parse, slackOption, UsageError } from './args.js'
import { fmtBytes } from './progress.js'
import { HOST_PROFILES, type RangeServer, serveDir, serveFile } from './rangeServer.js'
import { folderTargets, isUrl, readQueryVectors, type Source, searchBackend, targetsLabel, withFile } from './sources.js'

export const benchUsage = `parquetseek bench <indexed file|pq-vector file|sidecar.pqseek|manifest.json|url …> --queries <q.parquet> [options]
  rows of a sidecar, a manifest or several indexed files (parts/*.indexed.parquet: benched as a
  manifest of them) are numbered across the files, in order (as ground truth numbers them)
  --queries FILE       Parquet with the same embedding column (held-out queries)
  --truth FILE.npy     ground-truth neighbour ids [queries × ≥k]; without it, exact search is run
                       (and a result as near as the k-th exact one counts, as with --truth-dist)
  --truth-dist FILE.npy  ground-truth distances: a result within the k-th true distance counts as
                       a hit (ties are real in integer data such as SIFT)
  --id-column NAME     column whose values the truth file holds (default: input row numbers — a file
                       stored list by list maps them through its parquetseek_row column)
  --k K                (default 10)     --refine R   (default: the index's tuned value)
  --nprobe P[,P…]      one value or a sweep, each query probing exactly P lists (default: the
                       index's tuned nprobe, cut per query by its tuned slack when it has one)
  --slack S|none       adaptive probing: of its nprobe nearest lists a query probes those at most
                       (1 + S) × as far (squared L2) as its nearest (default: the index's, with no --nprobe)
  --adjacent on|off    also scan the lists and rank the rows stored between those read (default: on
                       where the reads bring them anyway — no multi-range host — else off)
  --rtt-ms MS          delay the local range server adds to each request (default 20)
  --mbps N             the local range server's downlink, shared by all requests as one link is
                       (default: no limit; bytes then cost no time)
  --host s3|nginx|static|hub   how the local range server answers ranges (default s3: single and
                       suffix ranges, multi-range answered 200 with the whole object, as S3, R2 and
                       GCS do; nginx: multipart; static: like vite preview / sirv; hub: as s3 behind
                       a redirect on every request, as Hugging Face's resolve/main URLs are)
  --connections N      requests in flight at once (default 6, as a browser per host on HTTP/1.1)
  --tail-bytes N       bytes of a file's end the open reads first (default 1 MiB; a manifest's shards
                       4 MiB shared out, 64 KiB to 1 MiB each); reads inside them
                       cost nothing later, so a small file's lists come free — a smaller tail
                       measures such a file as a large one would be read
  --columns a,b        also read these columns of each query's k results, as the app and
                       the widget do (default: none; the results' rows then cost no read)
  --distinct COL       at most one result per value of COL, as search --distinct (its cost
                       measured; recall still counts the k nearest rows, so it reads true only
                       where COL's values are each one row's)
  --limit N            use the first N queries
  --offset N           skip the first N queries (e.g. those the build tuned on: index --tune-queries)
  --backend auto|wasm|js|gpu   kernels (default auto: WebAssembly SIMD where available; gpu: list scan,
                       top-k and refinement on WebGPU: same rows, distances to float rounding)
  --json               one JSON object with the DESIGN.md §6 fields`

/** Cold first queries measured, each a fresh open and one query. */
const COLD_RUNS = 5

/** The queries measured cold: COLD_RUNS of them (all when fewer), spread evenly from the first. */
export function coldQueries<T>(queries: readonly T[]): T[] {
  const n = Math.min(COLD_RUNS, queries.length)
  return Array.from({ length: n }, (_, i) => queries[Math.floor((i * queries.length) / n)] as T)
}

interface Row {
  nprobe: number
  /** Adaptive probing's slack, when a query's lists were cut by it. */
  slack: number | undefined
  /** Lists a query probed, on average (nprobe, or fewer with slack). */
  listsPerQuery: number | undefined
  recall: number
  bytesPerQuery: number
  bytesP95: number
  requestsPerQuery: number
  roundTripsPerQuery: number
  p50Ms: number
  p95Ms: number
  coldMs: number
  coldRoundTrips: number
  coldBytes: number
  /** The slowest of the cold first queries measured (coldMs and the rest are their median). */
  coldWorst: { ms: number; roundTrips: number; bytes: number }
  /** Body bytes the local server sent per warm query (read or not): over bytesPerQuery when answers were cancelled. */
  serverBytesPerQuery: number | undefined
}

export async function benchCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals: given } = parse(argv, {
    queries: { type: 'string' },
    truth: { type: 'string' },
    'truth-dist': { type: 'string' },
    'id-column': { type: 'string' },
    k: { type: 'string' },
    nprobe: { type: 'string' },
    slack: { type: 'string' },
    refine: { type: 'string' },
    adjacent: { type: 'string' },
    'rtt-ms': { type: 'string' },
    mbps: { type: 'string' },
    host: { type: 'string' },
    connections: { type: 'string' },
    'tail-bytes': { type: 'string' },
    columns: { type: 'string' },
    distinct: { type: 'string' },
    limit: { type: 'string' },
    offset: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
    debug: { type: 'boolean' },
  })
  // (a folder: the dataset its manifest.json lists)
  const positionals = await folderTargets(given, signal)
  const [target] = positionals
  if (!target || !values.queries) throw new UsageError(`expected a file and --queries\n${benchUsage}`)
  const label = targetsLabel(positionals, 'bench')
  const k = intOption(values.k, 'k', 1, MAX_K) ?? 10
  const refineOption = intOption(values.refine, 'refine', 1, MAX_REFINE)
  const rtt = intOption(values['rtt-ms'], 'rtt-ms', 0) ?? 20
  const mbps = intOption(values.mbps, 'mbps', 1)
  const compute = await searchBackend(values.backend)
  const host = choice(values.host, 'host', HOST_PROFILES) ?? 's3'
  const adjacent = adjacentOption(values.adjacent)
  const connections = intOption(values.connections, 'connections', 1, 256) ?? 6
  const tailBytes = intOption(values['tail-bytes'], 'tail-bytes', 1024)
  const columns = columnList(values.columns)
  const { distinct } = values
  // a local target is served by the built-in range server (one per file it needs), as a host would
  const servers: RangeServer[] = []
  const serve = async (path: string) => {
    const s = await serveFile(path, { delayMs: rtt, host, mbps })
    servers.push(s)
    return s.url
  }
  const serveDirectory = async (dir: string) => {
    const s = await serveDir(dir, { delayMs: rtt, host, mbps })
    servers.push(s)
    return s.url
  }
  const local = !isUrl(target)
  const sent = () => servers.reduce((n, s) => n + s.bytesSent, 0)
  try {
    const open = () => openTarget(positionals, { signal, connections, tailBytes, compute, serve, serveDirectory })
    const probe = await open()
    const { metric, nlist } = probe
    // no --refine: the index's (with its tuned cut of the candidates, when it has one)
    const refine = refineOption ?? probe.refine ?? 10
    // no --nprobe: the index decides (its nprobe, and its slack when it has one)
    const sweep: Array<number | undefined> = values.nprobe
      ? values.nprobe.split(',').map((p) => intOption(p.trim(), 'nprobe', 1, MAX_NPROBE) as number)
      : [undefined]
    const slack = slackOption(values.slack)
    const offset = intOption(values.offset, 'offset', 0) ?? 0
    const queries = await readQueryVectors(values.queries, probe.column, intOption(values.limit, 'limit', 1), offset)
    if (!queries.length) throw new ParquetSeekError('no query vectors', { file: values.queries })
    // a truth file with more rows than the query file has queries is another query file's
    const queryRows = values.truth ? await withFile(values.queries, async (_, metadata) => Number(metadata.num_rows)) : 0
    const truth = await groundTruth(probe.files, values.truth, values['id-column'], queries, offset, probe.column, metric, k, queryRows)
    const kthDistance = values['truth-dist'] ? await kthDistances(values['truth-dist'], queries.length, offset, k) : truth.kth
    const rows: Row[] = []
    for (const nprobe of sweep) {
      const shown = nprobe ?? probe.nprobe ?? defaultNprobe(nlist)
      const cut = slack ?? (nprobe === undefined ? probe.slack : undefined)
      process.stderr.write(`nprobe ${shown}${cut === undefined ? '' : ` (slack ${cut})`}: ${queries.length} queries…\n`)
      // the cold first query: a fresh open and one query, for each of COLD_RUNS queries spread
      // evenly over the file (query files are often sorted — by frequency, by id — so its first
      // few are no sample of it); the median by time is reported (one query alone describes that
      // query more than the file: with adaptive probing a hard first query reads several times
      // what a typical one does), and the slowest
      const colds: Array<{ ms: number; roundTrips: number; bytes: number }> = []
      let cold: BenchTarget | undefined
      for (const q of coldQueries(queries)) {
        const coldStart = performance.now()
        cold = await open()
        const first = await cold.search(q, { k, nprobe, refine: refineOption, slack, adjacent, columns, distinct, signal })
        colds.push({
          ms: performance.now() - coldStart,
          roundTrips: cold.open.roundTrips + first.stats.roundTrips,
          bytes: cold.open.bytes + first.stats.bytes,
        })
      }
      if (!cold) throw new ParquetSeekError('no query vectors', { file: values.queries })
      colds.sort((a, b) => a.ms - b.ms)
      const coldMedian = colds[colds.length >> 1] as (typeof colds)[number]
      const results: Found[] = []
      const sentBefore = sent()
      for (const q of queries) {
        cold.clearCache() // each query pays for its own lists: per-query cost without cross-query caching
        results.push(await cold.search(q, { k, nprobe, refine: refineOption, slack, adjacent, columns, distinct, signal }))
      }
      const ms = results.map((r) => r.stats.ms).sort((a, b) => a - b)
      const bytes = results.map((r) => r.stats.bytes).sort((a, b) => a - b)
      const lists = results.map((r) => r.stats.listsProbed)
      rows.push({
        nprobe: shown,
        slack: cut === Number.POSITIVE_INFINITY ? undefined : cut,
        listsPerQuery: lists.every((n) => n !== undefined) ? mean(lists as number[]) : undefined,
        recall: recallAtK(results, truth.rows, k, kthDistance),
        bytesPerQuery: mean(bytes),
        bytesP95: pct(bytes, 0.95),
        requestsPerQuery: mean(results.map((r) => r.stats.requests)),
        roundTripsPerQuery: mean(results.map((r) => r.stats.roundTrips)),
        p50Ms: pct(ms, 0.5),
        p95Ms: pct(ms, 0.95),
        coldMs: coldMedian.ms,
        coldRoundTrips: coldMedian.roundTrips,
        coldBytes: coldMedian.bytes,
        coldWorst: colds.at(-1) as (typeof colds)[number],
        serverBytesPerQuery: local ? (sent() - sentBefore) / queries.length : undefined,
      })
    }
    const fileBytes = probe.fileBytes
    const best = rows[rows.length - 1] as Row
    const summary = {
      queries: queries.length,
      k,
      refine,
      columns,
      distinct,
      ...best,
      kind: probe.kind,
      fileBytes,
      rttMs: local ? rtt : undefined,
      mbps: local ? mbps : undefined,
      host: local ? host : undefined,
      connections,
      backend: probe.backend,
      nlist,
      metric,
      sweep: rows,
    }
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
    else {
      process.stdout.write(
        `${label} (${probe.kind}): ${fmtBytes(fileBytes)}, ${metric}, nlist ${nlist}; ${queries.length} queries, k ${k}, refine ${refine}${columns.length ? `, columns ${columns.join(', ')}` : ''}${distinct === undefined ? '' : `, distinct ${distinct}`}; ${local ? `${host}-style host, ${rtt} ms per request, ${mbps ? `${mbps} Mbit/s, ` : ''}` : ''}${connections} connections\n`,
      )
      process.stdout.write(
        '| nprobe | lists/query | recall@k | bytes/query (p95) | % of file | sent by the host | requests | round trips | p50 ms | p95 ms | cold ms (RTs, bytes) |\n|---|---|---|---|---|---|---|---|---|---|---|\n',
      )
      for (const r of rows) {
        process.stdout.write(
          `| ${r.nprobe}${r.slack === undefined ? '' : ` (slack ${r.slack.toPrecision(3)})`} | ${r.listsPerQuery === undefined ? '–' : r.listsPerQuery.toFixed(1)} | ${r.recall.toFixed(3)} | ${fmtBytes(Math.round(r.bytesPerQuery))} (${fmtBytes(Math.round(r.bytesP95))}) | ${((100 * r.bytesPerQuery) / fileBytes).toFixed(2)}% | ${r.serverBytesPerQuery === undefined ? '–' : fmtBytes(Math.round(r.serverBytesPerQuery))} | ${r.requestsPerQuery.toFixed(1)} | ${r.roundTripsPerQuery.toFixed(1)} | ${r.p50Ms.toFixed(0)} | ${r.p95Ms.toFixed(0)} | ${r.coldMs.toFixed(0)} (${r.coldRoundTrips}, ${fmtBytes(r.coldBytes)}) |\n`,
        )
      }
    }
  } finally {
    for (const s of servers) await s.close()
  }
}

/** One query's answer as bench scores it: rows numbered across all the target's files. */
interface Found {
  rows: number[]
  distances: number[]
  stats: { bytes: number; requests: number; roundTrips: number; ms: number; listsProbed?: number }
}

/**
 * What bench measures, whatever the kind: one indexed file, a file indexed by pq-vector, a sidecar
 * over unmodified files, or a manifest's indexed shards. Rows are numbered across files in order (a sidecar's row bases, or
 * the shards one after another), as ground truth files number them.
 */
interface BenchTarget {
  kind: 'indexed file' | 'sidecar' | 'manifest' | 'indexed files' | 'pq-vector file'
  metric: Metric
  nlist: number
  nprobe?: number
  slack?: number
  refine?: number
  column: string
  fileBytes: number
  backend: string
  open: { bytes: number; roundTrips: number }
  /** The files exact neighbours are computed over, each with its first row's number. */
  files: Array<{ path: string; rowBase: number }>
  search(
    q: Float32Array,
    o: {
      k: number
      nprobe?: number
      refine?: number
      slack?: number
      adjacent: boolean | undefined
      columns: string[]
      distinct: string | undefined
      signal: AbortSignal
    },
  ): Promise<Found>
  clearCache(): void
}

interface OpenTargetOptions {
  signal: AbortSignal
  connections: number
  /** Bytes of each indexed file's end read at open (default: the library's). */
  tailBytes: number | undefined
  compute: Awaited<ReturnType<typeof searchBackend>>
  /** Serves a local file; returns its URL. */
  serve: (path: string) => Promise<string>
  /** Serves a local directory's files by their paths in it; returns its URL. */
  serveDirectory: (dir: string) => Promise<string>
}

async function openTarget(targets: string[], o: OpenTargetOptions): Promise<BenchTarget> {
  const target = targets[0] as string
  const timed = async <T>(run: () => Promise<T>) => {
    const t0 = performance.now()
    return { value: await run(), ms: performance.now() - t0 }
  }
  const local = !isUrl(target)
  // where a sidecar's or manifest's file names lead: beside it, as `search` resolves them
  // (a sidecar records its files' paths; a manifest's names are URL references: resolveSourceName)
  const base: SourceBase = local
    ? { kind: 'path', dir: dirname(resolve(target)) }
    : { kind: 'url', url: target, ...(isSidecarAddress(target) ? { names: 'paths' as const } : {}) }
  const place = (name: string) => {
    const where = resolveSourceName(name, base, [], nodePaths)
    return where.kind === 'url' ? where.url : where.path
  }
  const url = async (pathOrUrl: string) => (isUrl(pathOrUrl) ? pathOrUrl : o.serve(pathOrUrl))
  if (isSidecarAddress(target)) {
    // as a host holds one: the sidecar beside its files on one origin, opened as the app, the
    // widget and `search` open a sidecar's URL (a local sidecar's directory served as it is; a
    // file it names outside that directory is refused before, as `search` refuses it)
    let address = target
    if (local) {
      const path = resolve(target)
      const file = await fileSource(path)
      const header = await readSidecarHeader(file, { signal: o.signal }).finally(() => file.close())
      for (const s of header.sources) place(s.name)
      address = (await o.serveDirectory(dirname(path))) + encodeURIComponent(basename(path))
    }
    const index = await SidecarIndex.openUrl(address, { ...o.compute, connections: o.connections, signal: o.signal })
    const bases = new Map(index.sources.map((s) => [s.name, s.rowBase]))
    const { params } = index.model
    return {
      kind: 'sidecar',
      metric: params.metric,
      nlist: params.nlist,
      nprobe: params.nprobe,
      slack: params.slack,
      refine: params.refine,
      column: index.header.column,
      fileBytes: index.sources.reduce((n, s) => n + s.size, 0),
      backend: index.backend,
      open: { bytes: index.opening.bytes, roundTrips: index.opening.roundTrips },
      files: index.sources.map((s) => ({ path: place(s.name), rowBase: s.rowBase })),
      search: async (q, so) => {
        const { value, ms } = await timed(() => index.search(q, so))
        return {
          rows: value.results.map((h) => (bases.get(h.file) as number) + h.row),
          distances: value.results.map((h) => h.distance),
          stats: { ...value.stats, ms },
        }
      },
      clearCache: () => index.clearCache(),
    }
  }
  if (targets.length > 1 || isManifestAddress(target)) {
    // several indexed files named one by one (a shell glob's), or a local manifest's files beside it
    const several = targets.length > 1 ? targets.map((t) => (isUrl(t) ? t : resolve(t))) : undefined
    if (several) checkDistinct(several)
    const names = several ?? (local ? manifestFiles(await readLocalFile(target, 4 << 20), target).map(place) : undefined)
    const dataset = names
      ? await SeekDataset.open(await Promise.all(names.map(url)), {
          signal: o.signal,
          connections: o.connections,
          tailBytes: o.tailBytes,
          ...o.compute,
        })
      : await SeekDataset.fromManifest(target, { signal: o.signal, connections: o.connections, tailBytes: o.tailBytes, ...o.compute })
    const first = dataset.shards[0] as SeekIndex
    const bases = dataset.rowBases
    return {
      kind: several ? 'indexed files' : 'manifest',
      metric: first.metric,
      nlist: first.params.nlist,
      nprobe: first.params.nprobe,
      slack: first.params.slack,
      refine: first.params.refine,
      column: first.opened.column.name,
      fileBytes: dataset.shards.reduce((n, s) => n + s.opened.raw.byteLength, 0),
      backend: first.backend,
      open: dataset.shards.reduce(
        (a, s) => ({ bytes: a.bytes + s.opened.open.bytes, roundTrips: Math.max(a.roundTrips, s.opened.open.roundTrips) }),
        { bytes: 0, roundTrips: 0 },
      ),
      files: (names ?? dataset.names).map((path, i) => ({ path, rowBase: bases[i] as number })),
      search: async (q, so) => {
        const r = await dataset.search(q, so)
        return {
          rows: r.results.map((h) => (bases[h.shard] as number) + h.row),
          distances: r.results.map((h) => h.distance),
          stats: r.stats,
        }
      },
      clearCache: () => dataset.clearCache(),
    }
  }
  const at = await url(target)
  const index = await openIndex(at, { signal: o.signal, connections: o.connections, tailBytes: o.tailBytes, ...o.compute }).catch(
    async (e) => {
      if (!(e instanceof NoIndexError)) throw e
      return undefined
    },
  )
  if (!index) {
    // a file indexed by pq-vector (IVF-flat; it records no metric: l2)
    const pqv = await PqVectorFile.open(at, { connections: o.connections, signal: o.signal })
    return {
      kind: 'pq-vector file',
      metric: 'l2',
      nlist: pqv.params.nlist,
      nprobe: 8,
      refine: 1,
      column: pqv.column.name,
      fileBytes: pqv.byteLength,
      backend: 'js',
      open: { bytes: 0, roundTrips: 0 },
      files: [{ path: target, rowBase: 0 }],
      search: async (q, so) => {
        const r = await pqv.search(q, so)
        return { rows: r.results.map((h) => h.row), distances: r.results.map((h) => h.distance), stats: r.stats }
      },
      clearCache: () => pqv.clearCache(),
    }
  }
  return {
    kind: 'indexed file',
    metric: index.metric,
    nlist: index.params.nlist,
    nprobe: index.params.nprobe,
    slack: index.params.slack,
    refine: index.params.refine,
    column: index.opened.column.name,
    fileBytes: index.opened.raw.byteLength,
    backend: index.backend,
    open: index.opened.open,
    files: [{ path: target, rowBase: 0 }],
    search: async (q, so) => {
      const r = await index.search(q, so)
      return { rows: r.results.map((h) => h.row), distances: r.results.map((h) => h.distance), stats: r.stats }
    },
    clearCache: () => index.clearCache(),
  }
}

/**
 * Neighbour ids per query: from the truth file (mapped through the id column of the first file)
 * or exact search over every file, merged in file order (ties to the lower row).
 */
async function groundTruth(
  files: Array<{ path: string; rowBase: number }>,
  truthFile: string | undefined,
  idColumn: string | undefined,
  queries: Float32Array[],
  offset: number,
  column: string,
  metric: Metric,
  k: number,
  /** Rows of the query file (with a truth file). */
  queryRows = 0,
): Promise<{ rows: number[][]; kth?: Float64Array }> {
  if (truthFile) {
    const npy = parseNpy(new Uint8Array(await readFile(truthFile)), truthFile)
    const width = npy.shape[1] ?? 0
    if (npy.shape[0] !== undefined && npy.shape[0] > queryRows)
      throw new ParquetSeekError(
        `has ${npy.shape[0]} rows, more than the ${queryRows} queries of the query file: ground truth for other queries?`,
        { file: truthFile },
      )
    if (npy.shape[0] !== undefined && npy.shape[0] < offset + queries.length)
      throw new ParquetSeekError(`has ${npy.shape[0]} rows for queries ${offset}…${offset + queries.length - 1}`, { file: truthFile })
    if (width < k) throw new ParquetSeekError(`holds ${width} neighbours per query, fewer than k = ${k}`, { file: truthFile })
    const ids = Array.from(npy.data as ArrayLike<number | bigint>, Number)
    let rowToId: number[] | undefined
    if (idColumn) {
      if (files.length !== 1)
        throw new UsageError('--id-column works with one indexed file; with several, truth ids must be rows numbered across files')
      rowToId = await withFile((files[0] as { path: string }).path, (source, metadata) => columnValues(source, metadata, idColumn))
    } else rowToId = await inputRows(files)
    const idToRow = rowToId && new Map(rowToId.map((id, row) => [id, row]))
    const rows = queries.map((_, q) => {
      const want = ids.slice((offset + q) * width, (offset + q) * width + k)
      // translate truth ids to rows so results (rows) compare directly
      return idToRow ? want.map((id) => idToRow.get(id) ?? -1) : want
    })
    return { rows }
  }
  process.stderr.write('computing exact neighbours (no --truth given)…\n')
  const merged: Array<Array<{ row: number; distance: number }>> = queries.map(() => [])
  for (const file of files) {
    const exact = await withFile(file.path, async (source, metadata) =>
      flatSearch(source, metadata, queries, { column, metric, k, kernels: await loadKernels('auto') }),
    )
    for (const [q, hits] of exact.entries()) for (const h of hits) merged[q]?.push({ row: file.rowBase + h.row, distance: h.distance })
  }
  const nearest = merged.map((hits) => hits.sort((a, b) => a.distance - b.distance || a.row - b.row).slice(0, k))
  // the k-th distance too: a result as near as it is as right as the row the sort put first
  return {
    rows: nearest.map((hits) => hits.map((h) => h.row)),
    kth: Float64Array.from(nearest, (hits) => hits.at(-1)?.distance ?? Number.NEGATIVE_INFINITY),
  }
}

/** Every value of one column of a file, as numbers. */
async function columnValues(source: Source, metadata: FileMetaData, column: string): Promise<number[]> {
  return ((await readColumnRange(source, metadata, column, 0, Number(metadata.num_rows), source.name)) as unknown[]).map(Number)
}

/**
 * Ground truth numbers the input's rows. A file written with rows stored list by list (`index
 * --cluster-rows`) keeps each row's input number in ROW_COLUMN: the input row numbers (across
 * files, from each file's rowBase) of the files' rows, or undefined when no file was reordered.
 * Without it a clustered file's results would be compared with the wrong rows (recall 0).
 */
async function inputRows(files: Array<{ path: string; rowBase: number }>): Promise<number[] | undefined> {
  const rows: number[] = []
  let reordered = false
  for (const file of files) {
    const stored = await withFile(file.path, async (source, metadata) =>
      metadata.schema.some((e) => e.name === ROW_COLUMN) ? columnValues(source, metadata, ROW_COLUMN) : Number(metadata.num_rows),
    )
    if (typeof stored === 'number') for (let r = 0; r < stored; r++) rows.push(file.rowBase + r)
    else {
      reordered = true
      for (const r of stored) rows.push(file.rowBase + r)
    }
  }
  return reordered ? rows : undefined
}

async function kthDistances(file: string, queries: number, offset: number, k: number): Promise<Float64Array> {
  const npy = parseNpy(new Uint8Array(await readFile(file)), file)
  const width = npy.shape[1] ?? 0
  if (width < k || (npy.shape[0] ?? 0) < offset + queries)
    throw new ParquetSeekError(`shape ${npy.shape.join('×')} does not cover queries ${offset}…${offset + queries - 1} × k ${k}`, { file })
  return Float64Array.from({ length: queries }, (_, q) => Number(npy.data[(offset + q) * width + k - 1]))
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0
