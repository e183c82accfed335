import { loadKernels } from '../compute/backend.js'
import { encodeText } from '../encode/encoders.js'
import { NoIndexError } from '../errors.js'
import { footerValue, KV } from '../index/keys.js'
import { METRICS } from '../index/model.js'
import { CachedSource } from '../io/cache.js'
import { readLocalFile } from '../io/nodeFile.js'
import { readMetadata } from '../parquet/footer.js'
import { jsonRow, type ShownColumns, shownColumnsIn, shownColumnsOf, shownDistance } from '../parquet/json.js'
import { allowedRows, filterRows, parseWhere } from '../query/filter.js'
import { readRows } from '../search/columns.js'
import { isManifestAddress, type SeekDataset } from '../search/dataset.js'
import { MAX_K, MAX_NPROBE, MAX_REFINE, openIndex, type SeekIndex } from '../search/engine.js'
import { flatSearch } from '../search/flat.js'
import { openPqVector, pqVectorOffset, searchPqVector } from '../search/pqVector.js'
import { isSidecarAddress } from '../search/sidecarIndex.js'
import { adjacentOption, choice, columnList, intOption, parse, slackOption, UsageError } from './args.js'
import { count, fmtBytes } from './progress.js'
import {
  anySource,
  folderTargets,
  isUrl,
  openFiles,
  openManifest,
  openSidecar,
  readQueryRow,
  searchBackend,
  soleVectorColumn,
  targetsLabel,
} from './sources.js'

export const searchUsage = `parquetseek search <file|url|sidecar.pqseek|manifest.json> (--query '[…]' | --query-row N [--query-file q.parquet] | --text '…') [options]
  a file: through its index (ParquetSeek's or pq-vector's), else exactly; a sidecar or a manifest: over all its files;
  several indexed files (parts/*.indexed.parquet): searched as one, as a manifest of them, rows numbered across them in order
  --query JSON         the query vector as a JSON array
  --text TEXT          a text query, encoded with the model the file names (parquetseek.model)
  --query-row N        use row N's vector: of --query-file if given, else of the searched file (of a
                       sidecar or a manifest: rows numbered across its files, as join and bench number them)
  --k K                results (default 10)
  --nprobe P           lists probed (default: tuned at build time for recall@10 ≥ 0.98, cut per
                       query by the index's tuned slack when it has one)
  --slack S|none       adaptive probing: of its nprobe nearest lists the query probes those at most
                       (1 + S) × as far (squared L2) as its nearest (default: the index's, with no --nprobe)
  --refine R           candidates re-ranked exactly = k × R (default: tuned at build time)
  --adjacent on|off    also scan the lists and rank the rows stored between those read (default: on
                       where the reads bring them anyway — no multi-range host — else off)
  --columns a,b        columns to return for each result
  manifest.json        { "files": [...] }: every listed indexed file searched, top-k merged
  --where EXPR         only rows passing EXPR, e.g. "lang = 'en' AND year >= 2020" (=, !=, <, <=, >, >=,
                       IN (…), BETWEEN … AND …, LIKE/ILIKE '%text%', IS [NOT] NULL, AND, OR, NOT);
                       nprobe grows as the filter narrows
  --distinct COL       at most one result per value of COL (a file of passages: --distinct parquetseek_doc,
                       one a document): the nearest of each, from the nearest 5 × k rows (25 × k, …
                       when those hold fewer than k values); over many files a value is one value in
                       all of them, but a passage's text (parquetseek_doc) is its own file's
  --deleted ROWS       row ids never to return: 3,17,42 or @file (ids separated by spaces, commas or lines;
                       a sidecar's or a manifest's rows numbered across its files)
  --column NAME, --metric l2|cosine|dot   for a file without an index: searched exactly (with an
                       index: refused unless they are the ones it was built with)
  --backend auto|wasm|js|gpu   kernels (default auto: WebAssembly SIMD where available; gpu: list scan,
                       top-k and refinement on WebGPU: same rows, distances to float rounding)
  --allow-source P     a sidecar or manifest may also name sources under P (a directory or URL prefix);
                       by default only files beside it (local) or on its own origin (HTTP)
  --json               one JSON object: { results: [{ row, distance, values }], stats }`

export async function searchCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals: given } = parse(argv, {
    query: { type: 'string' },
    text: { type: 'string' },
    where: { type: 'string' },
    deleted: { type: 'string' },
    distinct: { type: 'string' },
    'query-row': { type: 'string' },
    'query-file': { type: 'string' },
    k: { type: 'string' },
    nprobe: { type: 'string' },
    slack: { type: 'string' },
    refine: { type: 'string' },
    adjacent: { type: 'string' },
    columns: { type: 'string' },
    column: { type: 'string' },
    metric: { type: 'string' },
    backend: { type: 'string' },
    'allow-source': { type: 'string', multiple: true },
    json: { type: 'boolean' },
    debug: { type: 'boolean' },
  })
  // (a folder: the dataset its manifest.json lists)
  const positionals = await folderTargets(given, signal)
  const [target, ...extra] = positionals
  if (!target) throw new UsageError(`expected a file or URL\n${searchUsage}`)
  if ([values.query, values['query-row'], values.text].filter((v) => v !== undefined).length !== 1)
    throw new UsageError(`give exactly one of --query, --query-row or --text\n${searchUsage}`)
  if (extra.length) return searchFiles(positionals, values, signal)
  if (isManifestAddress(target)) return searchDataset(target, values, signal)
  if (isSidecarAddress(target)) return searchSidecar(target, values, signal)
  const source = isUrl(target) ? target : await anySource(target)
  // the file handle is closed on every way out (an unclosed handle makes Node print warnings)
  const close = async () => {
    if (typeof source !== 'string') await source.close()
  }
  let index: SeekIndex
  try {
    index = await openIndex(source, { signal, ...(await searchBackend(values.backend)) })
  } catch (e) {
    await close()
    if (!(e instanceof NoIndexError)) throw e
    return exactSearch(target, values, signal)
  }
  try {
    await searchIndexed(index, target, values, signal)
  } finally {
    await close()
  }
}

/**
 * --metric and --column choose how a file without an index is searched exactly; an index ranks by
 * the metric and column it was built with, so asking for others is an error, not ignored.
 */
function checkBuiltWith(values: SearchValues, built: { metric: string; column: string }, what: string): void {
  const exact = 'for exact search of a file without an index'
  if (values.metric !== undefined && values.metric !== built.metric)
    throw new UsageError(`--metric ${values.metric}: ${what} ranks by ${built.metric}, chosen when it was built (--metric is ${exact})`)
  if (values.column !== undefined && values.column !== built.column)
    throw new UsageError(`--column ${values.column}: ${what} is on column "${built.column}" (--column is ${exact})`)
}

async function searchIndexed(index: SeekIndex, target: string, values: SearchValues, signal: AbortSignal): Promise<void> {
  checkBuiltWith(values, { metric: index.metric, column: index.opened.column.name }, 'this index')
  const query = await queryOf(values, target, {
    encoder: index.encoder,
    column: index.opened.column.name,
    ownRow: (row) => index.vectorOf(row, signal),
  })
  const columns = columnList(values.columns)
  const result = await index.search(query, {
    ...searchParams(values),
    columns,
    where: values.where,
    deleted: values.deleted === undefined ? undefined : await deletedRows(values.deleted),
    signal,
  })
  const open = index.opened.open
  if (result.stats.gpuFallback) process.stderr.write(`warning: ${result.stats.gpuFallback}\n`)
  // on the GPU: which adapter, with which tunables
  const device = result.stats.backend === 'gpu' ? index.device : undefined
  const shown = shownColumnsOf(index.opened.metadata)
  if (values.json) return printJson(result.results, { ...result.stats, open, device }, shown)
  const s = result.stats
  printTable(result.results, columns, shown, index.metric, [
    ...noResults(result.results, values, s.filter?.rowsPassing),
    `open: ${fmtBytes(open.bytes)} in ${count(open.requests, 'request')}, ${open.ms.toFixed(0)} ms`,
    `search: ${fmtBytes(s.bytes)} in ${count(s.requests, 'request')}, ${count(s.roundTrips, 'round trip')}, ${count(s.pagesDecoded, 'page')} decoded, ${s.ms.toFixed(0)} ms ` +
      `(${Object.entries(s.msByStage)
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(', ')}) [${s.backend}]`,
    ...(device ? [`gpu: ${device}`] : []),
  ])
}

/**
 * The query vector: --query, --text (encoded with the model the searched files name), or
 * --query-row N of --query-file — or, without one, of what is searched (`ownRow`: a sidecar's or
 * a manifest's rows numbered across its files).
 */
async function queryOf(
  values: SearchValues,
  target: string,
  o: { encoder: string | undefined; column: string; ownRow: (row: number) => Promise<Float32Array> },
): Promise<ArrayLike<number>> {
  if (values.query !== undefined) return parseQuery(values.query)
  if (values.text !== undefined) return encodeText(o.encoder, values.text, target)
  const row = intOption(values['query-row'], 'query-row', 0) as number
  if (values['query-file']) return readQueryRow(values['query-file'], o.column, row)
  return o.ownRow(row)
}

/** A manifest (`{ "files": [...] }`, a URL or a local path): every shard searched, top-k merged. */
async function searchDataset(target: string, values: SearchValues, signal: AbortSignal): Promise<void> {
  // local manifests list local paths: shards open as files (closed at the end), not over HTTP
  const compute = await searchBackend(values.backend)
  const dataset = await openManifest(target, { signal, allow: values['allow-source'], compute })
  try {
    await searchShards(dataset, target, values, signal)
  } finally {
    dataset.close()
  }
}

/** Indexed files named one by one (a shell glob's): searched as a manifest of them would be. */
async function searchFiles(targets: string[], values: SearchValues, signal: AbortSignal): Promise<void> {
  const label = targetsLabel(targets, 'search')
  const dataset = await openFiles(targets, { signal, compute: await searchBackend(values.backend) })
  try {
    await searchShards(dataset, label, values, signal)
  } finally {
    dataset.close()
  }
}

async function searchShards(dataset: SeekDataset, target: string, values: SearchValues, signal: AbortSignal): Promise<void> {
  const first = dataset.shards[0]
  if (first) checkBuiltWith(values, { metric: first.metric, column: first.opened.column.name }, "this dataset's index")
  const query = await queryOf(values, target, {
    encoder: values.text === undefined ? undefined : dataset.textModel(),
    column: first?.opened.column.name ?? 'embedding',
    ownRow: (row) => dataset.vectorOf(row, signal),
  })
  const columns = columnList(values.columns)
  const result = await dataset.search(query, {
    ...searchParams(values),
    columns,
    where: values.where,
    deleted: values.deleted === undefined ? undefined : await deletedRows(values.deleted),
    signal,
  })
  const { perShard, ...stats } = result.stats
  const fallback = perShard.find((p) => p?.gpuFallback)?.gpuFallback
  if (fallback) process.stderr.write(`warning: ${fallback}\n`)
  // the shards search with one backend (on the GPU: one adapter, with one set of tunables)
  const backend = perShard[0]?.backend
  const device = backend === 'gpu' ? first?.device : undefined
  const shown = shownColumnsIn(dataset.shards.map((s) => s.opened.metadata))
  if (values.json) return printJson(result.results, { ...stats, backend, device, perShard }, shown)
  const passing = perShard.every((p) => p.filter) ? perShard.reduce((n, p) => n + (p.filter?.rowsPassing ?? 0), 0) : undefined
  printTable(result.results, columns, shown, first?.metric ?? '', [
    ...noResults(result.results, values, passing),
    `${count(stats.shards, 'shard')}: ${fmtBytes(stats.bytes)} in ${count(stats.requests, 'request')}, ${stats.ms.toFixed(0)} ms [${backend}]`,
    ...(device ? [`gpu: ${device}`] : []),
  ])
}

/** A sidecar index: its sources are found relative to it (paths) or its URL. */
async function searchSidecar(target: string, values: SearchValues, signal: AbortSignal): Promise<void> {
  // the sidecar names its sources: they resolve next to it, never elsewhere (--allow-source widens that)
  const index = await openSidecar(target, { signal, allow: values['allow-source'], compute: await searchBackend(values.backend) })
  try {
    for (const w of index.warnings) process.stderr.write(`warning: ${w}\n`)
    checkBuiltWith(values, { metric: index.model.params.metric, column: index.header.column }, 'this sidecar index')
    const query = await queryOf(values, target, {
      encoder: values.text === undefined ? undefined : index.textModel(),
      column: index.header.column,
      ownRow: (row) => index.vectorOf(row, signal),
    })
    const columns = columnList(values.columns)
    const { results, stats } = await index.search(query, {
      ...searchParams(values),
      columns,
      where: values.where,
      deleted: values.deleted === undefined ? undefined : await deletedRows(values.deleted),
      signal,
    })
    if (stats.gpuFallback) process.stderr.write(`warning: ${stats.gpuFallback}\n`)
    const device = stats.backend === 'gpu' ? index.device : undefined
    const shown = shownColumnsIn(index.opened().map((s) => s.metadata))
    const open = index.opening
    if (values.json) return printJson(results, { ...stats, mode: 'sidecar', open, device }, shown)
    printTable(results, columns, shown, index.model.params.metric, [
      ...noResults(results, values, stats.filter?.rowsPassing),
      `open: ${fmtBytes(open.bytes)} in ${count(open.requests, 'request')}, ${count(open.roundTrips, 'round trip')}, ${open.ms.toFixed(0)} ms`,
      `sidecar over ${count(index.sources.length, 'file')}: ${fmtBytes(stats.bytes)} in ${count(stats.requests, 'request')}, ${count(stats.roundTrips, 'round trip')}, ${stats.ms.toFixed(0)} ms (${stats.backend})`,
      ...(device ? [`gpu: ${device}`] : []),
    ])
  } finally {
    index.close()
  }
}

/** `3,17,42` or `@path` (ids separated by spaces, commas or newlines). */
async function deletedRows(spec: string): Promise<number[]> {
  const text = spec.startsWith('@') ? new TextDecoder().decode(await readLocalFile(spec.slice(1), 1 << 30)) : spec
  const ids = text.split(/[\s,]+/).filter(Boolean)
  return ids.map((t) => {
    const n = Number(t)
    if (!Number.isInteger(n) || n < 0) throw new UsageError(`--deleted: "${t}" is not a row number`)
    return n
  })
}

/** Results as one JSON object on stdout (DESIGN §6); a DATE as its day, 2020-01-31, a TIME as 12:10:00, as DuckDB and the app show them. */
function printJson(results: Array<{ values: Record<string, unknown> }>, stats: object, shown: ShownColumns): void {
  process.stdout.write(`${JSON.stringify({ results: results.map((r) => ({ ...r, values: jsonRow(r.values, shown) })), stats })}\n`)
}

/**
 * The table's line for a search that found nothing (as the app says, Results.tsx): whether any
 * row passed --where and --deleted (`passing`, where known). None when there are results.
 */
function noResults(results: readonly unknown[], values: SearchValues, passing: number | undefined): string[] {
  if (results.length) return []
  const limits = [values.where !== undefined && '--where', values.deleted !== undefined && '--deleted'].filter(Boolean).join(' and ')
  if (!limits) return ['no results']
  if (passing === 0)
    return [`no results: no row passes ${limits}${values.where !== undefined ? ' (text is compared exactly, case included)' : ''}`]
  return [`no results: no row passing ${limits} was among the rows searched${passing === undefined ? '' : ` (${passing} pass)`}`]
}

/** Results as a tab-separated table (with a file column when they come from several files), then summary lines. */
function printTable(
  results: Array<{ row: number; distance: number; values: Record<string, unknown>; file?: string }>,
  columns: string[],
  shown: ShownColumns,
  metric: string,
  summary: string[],
) {
  const files = results.some((r) => r.file !== undefined)
  const lines = [['rank', ...(files ? ['file'] : []), 'row', 'distance', ...columns].join('\t')]
  for (const [i, r] of results.entries()) {
    const values = jsonRow(r.values, shown)
    lines.push(
      [
        i + 1,
        ...(files ? [r.file] : []),
        r.row,
        // (as the page shows it: float32's rounding of a row's distance to itself reads 0; --json keeps it)
        String(Number(shownDistance(r.distance, metric, 6))),
        ...columns.map((c) => clip(JSON.stringify(values[c]))),
      ].join('\t'),
    )
  }
  process.stdout.write(`${[...lines, '', ...summary].join('\n')}\n`)
}

/** k, nprobe, slack, refine, adjacent, distinct as every search form through an index takes them. */
function searchParams(values: SearchValues) {
  return {
    distinct: values.distinct,
    k: intOption(values.k, 'k', 1, MAX_K),
    nprobe: intOption(values.nprobe, 'nprobe', 1, MAX_NPROBE),
    slack: slackOption(values.slack),
    refine: intOption(values.refine, 'refine', 1, MAX_REFINE),
    adjacent: adjacentOption(values.adjacent),
  }
}

function parseQuery(text: string): number[] {
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch {
    throw new UsageError('--query must be a JSON array of numbers')
  }
  if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'number')) throw new UsageError('--query must be a JSON array of numbers')
  return parsed
}

interface SearchValues {
  'allow-source'?: string[]
  query?: string
  'query-row'?: string
  'query-file'?: string
  k?: string
  columns?: string
  column?: string
  metric?: string
  backend?: string
  text?: string
  nprobe?: string
  slack?: string
  refine?: string
  adjacent?: string
  where?: string
  deleted?: string
  distinct?: string
  json?: boolean
}

/**
 * A file without an index is searched exactly, one row group at a time: fine for small files
 * and as ground truth. The vector column is --column, or the file's only vector column.
 */
async function exactSearch(target: string, values: SearchValues, signal: AbortSignal): Promise<void> {
  if (values.distinct !== undefined)
    throw new UsageError('--distinct works through an index; this file has none (build one with parquetseek index)')
  const t0 = performance.now()
  const source = await anySource(target)
  try {
    const metadata = await readMetadata(source, source.name)
    const column = values.column ?? soleVectorColumn(metadata, source.name, 'for exact search (the file has no index)')
    const metric = choice(values.metric, 'metric', METRICS) ?? 'l2'
    const query = Float32Array.from(
      await queryOf(values, source.name, {
        encoder: footerValue(metadata, KV.model),
        column,
        ownRow: (row) => readQueryRow(target, column, row),
      }),
    )
    const k = intOption(values.k, 'k', 1, MAX_K) ?? 10
    const compute = await searchBackend(values.backend)
    const kernels = await loadKernels(compute.backend)
    const gpu = compute.gpu ? await (await import('../compute/gpu/open.js')).openGpuExact(compute.gpu, signal) : undefined
    // a file indexed by the Rust pq-vector: its clusters, then exact ranking of their rows
    const pqv = pqVectorOffset(metadata) !== undefined ? await openPqVector(source, metadata) : undefined
    const columns = columnList(values.columns)
    const deleted = values.deleted === undefined ? undefined : await deletedRows(values.deleted)
    const searched = pqv
      ? await searchPqVector(source, metadata, pqv, query, {
          k,
          nprobe: intOption(values.nprobe, 'nprobe', 1, MAX_NPROBE),
          metric,
          column,
          columns,
          where: values.where,
          deleted,
          kernels,
        })
      : undefined
    let results: Array<{ row: number; distance: number; values: Record<string, unknown> }>
    /** Rows exact search considered: every row, or those --where and --deleted allow. */
    let rowsScanned = Number(metadata.num_rows)
    if (searched) results = searched.hits
    else {
      // --where and --deleted as an index's search takes them (they were ignored here)
      const passing = values.where === undefined ? undefined : (await filterRows(source, metadata, parseWhere(values.where), signal)).bitmap
      const allowed = allowedRows(Number(metadata.num_rows), passing, deleted)
      if (allowed) rowsScanned = allowed.reduce((n, a) => n + a, 0)
      const [hits = []] = await flatSearch(source, metadata, [query], { column, metric, k, kernels, gpu, signal, allowed })
      const target = { cached: new CachedSource(source), metadata, name: source.name }
      const found = await readRows(
        target,
        hits.map((h) => h.row).sort((a, b) => a - b),
        columns,
      )
      results = hits.map((h) => ({ row: h.row, distance: h.distance, values: found.get(h.row) ?? {} }))
    }
    const stats = {
      mode: searched ? 'pq-vector' : 'exact',
      rowsScanned: searched ? searched.rowsScored : rowsScanned,
      clustersProbed: searched?.clustersProbed,
      ms: performance.now() - t0,
      backend: gpu && !searched ? 'gpu' : kernels.name,
    }
    const shown = shownColumnsOf(metadata)
    if (values.json) printJson(results, stats, shown)
    else
      printTable(results, columns, shown, metric, [
        ...noResults(results, values, searched ? undefined : rowsScanned),
        searched
          ? `pq-vector index: ${stats.clustersProbed} clusters probed, ${stats.rowsScanned} rows ranked exactly in ${stats.ms.toFixed(0)} ms`
          : `exact search (no index in this file): ${stats.rowsScanned} rows scanned in ${stats.ms.toFixed(0)} ms`,
      ])
  } finally {
    await source.close()
  }
}

function clip(s: string | undefined, n = 60): string {
  if (s === undefined) return ''
  return s.length > n ? `${s.slice(0, n - 1)}…` : s
}
