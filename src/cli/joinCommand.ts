import { parquetWriteBuffer } from 'hyparquet-writer'
import { defaultThreads } from '../compute/nodePool.js'
import { encoderFor } from '../encode/encoders.js'
import { NoIndexError, ParquetSeekError } from '../errors.js'
import { fileSink } from '../io/nodeFile.js'
import { readMetadata } from '../parquet/footer.js'
import { isManifestAddress } from '../search/dataset.js'
import { MAX_K, MAX_NPROBE, MAX_REFINE, openIndex, type SeekIndex } from '../search/engine.js'
import { type JoinTarget, knnJoin } from '../search/join.js'
import { PqVectorFile } from '../search/pqVector.js'
import { isSidecarAddress } from '../search/sidecarIndex.js'
import { intOption, parse, UsageError } from './args.js'
import { textEncoder } from './embedCommand.js'
import { count, fmtBytes } from './progress.js'
import { anySource, folderTargets, isUrl, openFiles, openManifest, openSidecar, searchBackend, targetsLabel } from './sources.js'

export const joinUsage = `parquetseek join <queries.parquet> <indexed file|pq-vector file|sidecar.pqseek|manifest.json|url …> --out <result.parquet> [options]
  kNN join: for each query row, its k nearest rows of the index (of a sidecar, a manifest or several
  indexed files (parts/*.indexed.parquet): rows numbered across the files, in order), as a Parquet
  table (query, rank, row, distance). Queries go in batches that share list fetches and page reads.
  --k K                neighbours per query (default 10)
  --column NAME        the queries' vector column (default: the index's column name)
  --text NAME          instead: the queries' text column, each text embedded with the model the index
                       names (as search --text), e.g. a file of questions against indexed documents
  --where EXPR         only neighbours passing EXPR (as for search)
  --distinct COL       at most one neighbour per value of COL (as for search: passages, one a text)
  --nprobe P, --refine R   as for search (default: the index's tuned values)
  --exclude-self       leave a query's own row out of its neighbours (a file joined with itself; not
                       with a sidecar or a manifest of several files, whose rows are numbered across them)
  --batch N            queries per batch (default 256)
  --backend auto|wasm|js|gpu   kernels (gpu: list scan, top-k and refinement on WebGPU, same rows)
  --allow-source DIR|URL   a sidecar's files may also come from there
  --json               one JSON summary on stdout`

export async function joinCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals } = parse(argv, {
    out: { type: 'string' },
    k: { type: 'string' },
    column: { type: 'string' },
    text: { type: 'string' },
    where: { type: 'string' },
    distinct: { type: 'string' },
    nprobe: { type: 'string' },
    refine: { type: 'string' },
    'exclude-self': { type: 'boolean' },
    batch: { type: 'string' },
    backend: { type: 'string' },
    'allow-source': { type: 'string', multiple: true },
    json: { type: 'boolean' },
    debug: { type: 'boolean' },
  })
  const [queriesPath, ...named] = positionals
  // (a folder: the dataset its manifest.json lists)
  const targets = await folderTargets(named, signal)
  const [first] = targets
  if (!queriesPath || !first || !values.out)
    throw new UsageError(`expected <queries.parquet> <indexed file|url> --out <file>\n${joinUsage}`)
  // (several indexed files, a shell glob's: joined against as one, as a manifest of them)
  const target = targetsLabel(targets, 'join')
  const k = intOption(values.k, 'k', 1, MAX_K - 1) ?? 10
  const batchSize = intOption(values.batch, 'batch', 1, 100_000) ?? 256
  const nprobe = intOption(values.nprobe, 'nprobe', 1, MAX_NPROBE)
  const refine = intOption(values.refine, 'refine', 1, MAX_REFINE)
  if (values.text !== undefined && values.column !== undefined)
    throw new UsageError('give --column (the queries are vectors) or --text (the queries are text), not both')
  const compute = await searchBackend(values.backend)
  const excludeSelf = values['exclude-self'] === true
  const t0 = performance.now()
  // refuses an output that is an input before any work; written atomically at the end
  const sink = await fileSink(values.out, [queriesPath, ...targets.filter((t) => !isUrl(t))])
  const opened: Array<{ close(): Promise<void> }> = []
  try {
    const index = await openTarget(targets, values, compute, signal, opened)
    // a query's own row is its file's row; the rows of several files are numbered across them
    if (excludeSelf && index.files > 1)
      throw new UsageError(
        `--exclude-self: ${target} numbers the rows of its ${index.files} files across them, so a query's own row is none of them; join one file against its own index instead`,
      )
    const column = values.text ?? values.column ?? index.column
    const qs = await anySource(queriesPath)
    opened.push(qs)
    // text queries: embedded with the model the index names (on worker threads for use-lite-512)
    const encoder = values.text === undefined ? undefined : queryEncoderOf(index.encoder, target)
    if (encoder) opened.push({ close: async () => encoder.close?.() })
    const joined = await knnJoin(qs, await readMetadata(qs, qs.name), index, {
      column,
      encoder,
      where: values.where,
      distinct: values.distinct,
      k,
      nprobe,
      refine,
      excludeSelf,
      batch: batchSize,
      signal,
      onProgress: (done, total) => {
        if (!values.json) process.stderr.write(`\rjoin ${done}/${total}`)
      },
    })
    if (!values.json) process.stderr.write('\n')
    const n = joined.queries
    const { bytes, requests } = joined
    const out = joined
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'query', data: out.query, type: 'INT32' },
        { name: 'rank', data: out.rank, type: 'INT32' },
        { name: 'row', data: out.row, type: 'INT32' },
        { name: 'distance', data: out.distance, type: 'DOUBLE' },
      ],
    })
    await sink.write(new Uint8Array(buf))
    await sink.commit()
    const ms = performance.now() - t0
    const summary = {
      queries: n,
      k,
      pairs: out.row.length,
      ms: Math.round(ms),
      queriesPerSecond: Math.round(n / (ms / 1000)),
      bytes,
      requests,
      backend: index.backend,
      out: values.out,
      skippedRows: joined.skipped.rows,
    }
    const first = joined.skipped.first
    const skipped = first ? `; ${joined.skipped.rows} rows without a usable vector skipped (first: row ${first.row}, ${first.reason})` : ''
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
    else
      process.stdout.write(
        `${n} queries × ${k} neighbours → ${values.out} in ${(ms / 1000).toFixed(1)} s (${summary.queriesPerSecond} queries/s; read ${fmtBytes(bytes)} in ${count(requests, 'request')})${skipped}\n`,
      )
  } catch (e) {
    await sink.abort()
    throw e
  } finally {
    for (const f of opened) await f.close()
  }
}

/**
 * The index to join against: an indexed file, a file indexed by pq-vector, a sidecar (`.pqseek`),
 * a manifest of indexed shards (`.json`) or several indexed files — rows of the last three
 * numbered across their files, in order, as `bench` numbers them.
 */
async function openTarget(
  targets: string[],
  values: { 'allow-source'?: string[]; text?: string },
  compute: Awaited<ReturnType<typeof searchBackend>>,
  signal: AbortSignal,
  opened: Array<{ close(): Promise<void> }>,
): Promise<JoinTarget & { column: string; encoder: string | undefined; backend: string; files: number }> {
  const c = { signal, allow: values['allow-source'], compute }
  const target = targets[0] as string
  if (targets.length === 1 && isSidecarAddress(target)) {
    const index = await openSidecar(target, c)
    opened.push({ close: async () => index.close() })
    return {
      params: index.model.params,
      column: index.header.column,
      encoder: values.text === undefined ? undefined : index.textModel(),
      backend: index.backend,
      files: index.sources.length,
      searchBatch: (q, o) => index.searchBatchGlobal(q, o),
    }
  }
  if (targets.length > 1 || isManifestAddress(target)) {
    const dataset = targets.length > 1 ? await openFiles(targets, c) : await openManifest(target, c)
    opened.push({ close: async () => dataset.close() })
    const first = dataset.shards[0] as SeekIndex
    const bases = dataset.rowBases
    return {
      params: first.params,
      column: first.opened.column.name,
      encoder: values.text === undefined ? undefined : dataset.textModel(),
      backend: first.backend,
      files: dataset.shards.length,
      searchBatch: async (q, o) =>
        (await dataset.searchBatch(q, o)).map((r) => ({
          stats: r.stats,
          results: r.results.map((h) => ({ row: (bases[h.shard] as number) + h.row, distance: h.distance })),
        })),
    }
  }
  const source = isUrl(target) ? undefined : await anySource(target)
  if (source) opened.push(source)
  const index = await openIndex(source ?? target, { signal, ...compute }).catch((e) => {
    if (e instanceof NoIndexError) return undefined
    throw e
  })
  if (index)
    return {
      params: index.params,
      column: index.opened.column.name,
      encoder: index.encoder,
      backend: index.backend,
      files: 1,
      searchBatch: (q, o) => index.searchBatch(q, o),
    }
  const pqv = await PqVectorFile.open(source ?? target, { signal })
  return {
    params: pqv.params,
    column: pqv.column.name,
    encoder: undefined,
    backend: 'js',
    files: 1,
    searchBatch: (q, o) => pqv.searchBatch(q, o),
  }
}

/** The encoder for text queries against an index: the model it names, or an error saying it names none or this build has none. */
function queryEncoderOf(model: string | undefined, target: string): ReturnType<typeof textEncoder> {
  if (!model)
    throw new ParquetSeekError(
      'the index does not name the model that made its vectors (footer key parquetseek.model); join by a vector column (--column) instead',
      { file: target },
    )
  if (!encoderFor(model)) throw new ParquetSeekError(`no query encoder for the index's model "${model}" in this build`, { file: target })
  return textEncoder(model, defaultThreads())
}
