import { rm, stat } from 'node:fs/promises'
import { basename } from 'node:path'
import { defaultThreads, spawnNodeKernelWorker } from '../compute/nodePool.js'
import { KeptWorkers } from '../compute/pool.js'
import { buildIndex } from '../index/build.js'
import type { EmbedSummary } from '../index/embed.js'
import { PASSAGE_ROW } from '../index/keys.js'
import { builtOtherwise as differs } from '../index/model.js'
import { checkOutputPath, fileSink, fileSource } from '../io/nodeFile.js'
import { readMetadata } from '../parquet/footer.js'
import { openIndex } from '../search/engine.js'
import { intOption, parse, recallOption, UsageError } from './args.js'
import { describeEmbed, embedFile, passagesOption, textEncoder } from './embedCommand.js'
import { type Built, folderInputs, indexEach } from './outDir.js'
import { count, fmtBytes, progressPrinter } from './progress.js'
import { PARAM_FLAGS, paramOptions, sidecarIndexCommand } from './sharedCommands.js'
import { readQueryVectors, searchBackend, soleVectorColumn, withLocalInput } from './sources.js'

export const indexUsage = `parquetseek index <in.parquet|url> <out.parquet> [--column <name>] [options]
parquetseek index <in.parquet|url>… --out-dir DIR [options]   (each into DIR/<name>.indexed.parquet, and DIR/manifest.json of them)
  --column NAME        embedding column (LIST of FLOAT/DOUBLE/FLOAT16/8- or 16-bit integers, or
                       FIXED_LEN_BYTE_ARRAY of float32); default: the file's only vector column
  --embed-text NAME    instead: a file with text and no vectors — embed this text column first
                       (--encoder, --as, --float16, --passages as for \`embed\`; metric cosine unless given), then index it
  --metric l2|cosine|dot   distance the index serves (default l2)
  --tune-queries FILE  held-out queries (Parquet; the column named as --column, or its only vector
                       column): the default nprobe and refine are measured on them instead of on
                       rows of the data, with no floor (--tune-limit N: the first N, default 200)
  --target-recall R    the recall@10 those defaults are tuned to reach (default 0.98; with
                       --tune-queries, 0.96 where 0.98 reads over 1.25 times as much a query)
  --cluster-rows       store rows list by list (every column rewritten in that order, each row's input
                       number kept in column parquetseek_row): a query's candidates lie together, so
                       hosts without multi-range (S3, R2, GCS, CDNs) serve them in a few requests
  --spill, --no-spill  store rows near a list boundary in a second list too (a query then finds them in
                       fewer lists; the index grows by their codes), or never (default: from 2,048 lists)
  --nlist N            coarse clusters (default 4·√rows, ≥ 32 rows a list, centroids ≤ 1 MiB at one byte a value
                       or 0.1 % of the vectors)
  --m M                PQ bytes per vector (default ⌈dim/4⌉ up to 256-d, ⌈dim/8⌉ above)
  --nbits B            bits per PQ code, 1…8 (default 8)
  --sample N           training sample size (default 32·nlist, within 16k…64k)
  --seed S             random seed (default 1); same input + seed → same file
  --skip-invalid       leave null, ragged or non-finite vectors out of the index (rows stay in the file)
  --backend auto|wasm|js|gpu   kernels (default auto: WebAssembly SIMD where available; gpu: k-means,
                       assignment and encoding on WebGPU, an index of the same quality)
  --threads N          threads for training, encoding and the tune (default: the cores, ≤ 8); same output
  --memory-mb N        budget for holding all vectors (default 1024); above it the build streams
                       row groups in two passes (sample, then encode), memory ≈ sample + n·(m+8) bytes (n·(2m+12) spilling);
                       with --sidecar, within it the vectors read to train are encoded as they are (each file read once);
                       with --cluster-rows, the rows held decoded at once while moved (a window of row groups a pass)
  --out-dir DIR        several inputs (parts/*.parquet, or a folder: its .parquet files): each indexed alone into DIR, then DIR/manifest.json
                       lists them, searched as one (the files it listed before kept first, in order; one
                       indexed again keeps its place); the manifest is written last, once all its files open
  --update             with --out-dir: an input whose output is there, newer (a URL's: there) and built with
                       these options is kept, not indexed again (a run cut short, or new parts added:
                       run the same command again)
  --sidecar OUT        instead: one index in its own file over the inputs, left unmodified
                       (parquetseek index --sidecar all.pqseek a.parquet b.parquet --column …);
                       the train, encode and merge steps below in one process
  --sidecar-vectors    with --sidecar: copy the vectors into it, list by list (~rows × dim × 4 bytes more),
                       so a query refines its candidates from a few KiB there, not their pages in the
                       files (pyarrow's ~1 MiB, DuckDB's a row group); within --memory-mb from the
                       vectors kept to encode, over it the inputs read once more (a budget's worth at a time)
  --json               print one JSON summary on stdout`

export async function indexCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals } = parse(argv, {
    ...PARAM_FLAGS,
    'memory-mb': { type: 'string' },
    sidecar: { type: 'string' },
    'out-dir': { type: 'string' },
    update: { type: 'boolean' },
    'sidecar-vectors': { type: 'boolean' },
    'embed-text': { type: 'string' },
    'tune-queries': { type: 'string' },
    'tune-limit': { type: 'string' },
    'target-recall': { type: 'string' },
    'cluster-rows': { type: 'boolean' },
    spill: { type: 'boolean' },
    'no-spill': { type: 'boolean' },
    encoder: { type: 'string' },
    as: { type: 'string' },
    float16: { type: 'boolean' },
    passages: { type: 'boolean' },
    'passage-words': { type: 'string' },
  })
  if (values.spill && values['no-spill']) throw new UsageError('--spill and --no-spill contradict each other: give one')
  const embedText = values['embed-text']
  if (embedText !== undefined && values.column !== undefined)
    throw new UsageError('--embed-text makes the embedding column; give --as to name it, not --column')
  if (values.float16 && embedText === undefined)
    throw new UsageError('--float16 says how --embed-text stores the vectors it makes; an embedding column keeps its own type')
  const passages = passagesOption(values)
  if (passages && embedText === undefined) throw new UsageError('--passages cuts the text --embed-text embeds; give --embed-text')
  const memoryBytes = (intOption(values['memory-mb'], 'memory-mb', 1, 1 << 24) ?? 1024) * 2 ** 20
  const outDir = values['out-dir']
  if (values.update && outDir === undefined)
    throw new UsageError('--update keeps the files --out-dir indexed before that are newer than their inputs; give --out-dir')
  if (values.sidecar !== undefined) {
    if (embedText !== undefined) throw new UsageError('--embed-text writes a new file; it cannot be combined with --sidecar')
    if (values['tune-queries'] !== undefined)
      throw new UsageError('--tune-queries works on one indexed file; a sidecar is tuned on rows of its files')
    if (values['target-recall'] !== undefined)
      throw new UsageError('--target-recall works on one indexed file; a sidecar is tuned at the default target')
    if (values['cluster-rows'])
      throw new UsageError('--cluster-rows rewrites the rows of one file; a sidecar leaves its inputs as they are')
    if (outDir !== undefined)
      throw new UsageError('--out-dir writes an indexed copy of each input; --sidecar leaves them as they are: give one')
    // (a folder: its Parquet files)
    const inputs = (await Promise.all(positionals.map((p) => folderInputs(p, signal)))).flat()
    return sidecarIndexCommand(values.sidecar, inputs, values, signal, memoryBytes, !!values['sidecar-vectors'])
  }
  if (values['sidecar-vectors'])
    throw new UsageError(
      '--sidecar-vectors copies the vectors into a sidecar; give --sidecar (an indexed file has one vector a page already)',
    )
  const [input, output, ...extra] = positionals
  if (outDir === undefined && (!input || !output || extra.length)) {
    const several =
      positionals.length > 2
        ? '; several inputs: --out-dir DIR indexes each into DIR with a manifest.json of them (searched as one), --sidecar OUT makes one index over them, the files left as they are'
        : ''
    throw new UsageError(`expected <in.parquet> <out.parquet>${several}\n${indexUsage}`)
  }
  if (outDir !== undefined && !positionals.length) throw new UsageError('--out-dir needs the input files')
  // every option checked, and the output path, before any file is opened or written
  const params = paramOptions(values, values.column ?? values.as ?? 'embedding')
  if (embedText !== undefined) params.metric ??= 'cosine'
  const threads = intOption(values.threads, 'threads', 1, 256) ?? defaultThreads()
  const encoder = embedText !== undefined ? textEncoder(values.encoder, threads) : undefined
  const compute = await searchBackend(values.backend)
  const targetRecall = recallOption(values['target-recall'], 'target-recall')
  const tuneLimit = intOption(values['tune-limit'], 'tune-limit', 1) ?? 200
  const tuneQueries = new Map<string, Float32Array[]>()
  // (one set of kernel workers for every file of --out-dir, started once)
  const workers = new KeptWorkers()
  try {
    if (outDir !== undefined)
      await indexEach(positionals, outDir, {
        signal,
        json: values.json === true,
        // each file's own vector column (one name in all), unless --column names it
        column: values.column,
        vectors: embedText === undefined,
        update: values.update === true,
        builtOtherwise,
        index: (input, output, progress) =>
          withLocalInput(input, output, signal, (local) => indexLocal(local, output, basename(input), progress)),
      })
    else {
      if ((await stat(input as string).catch(() => undefined))?.isDirectory())
        throw new UsageError(`${input} is a folder: --out-dir DIR indexes each of its Parquet files into DIR, with a manifest.json of them`)
      const [one, ...more] = await folderInputs(input as string, signal)
      if (more.length)
        throw new UsageError(
          `${input} matches ${count(more.length + 1, 'file')}: --out-dir DIR indexes each into DIR, with a manifest.json of them; --sidecar OUT makes one index over them`,
        )
      await checkOutputPath(output as string)
      // a URL: read whole into a file beside the output first (every column is copied anyway)
      await withLocalInput(one as string, output as string, signal, (local) => indexLocal(local, output as string, basename(one as string)))
    }
  } finally {
    // (one encoder for every file: a model's workers started once)
    encoder?.close?.()
    workers.close()
  }

  /**
   * --update: how the indexed file `output` differs from what these options build — what they
   * set (metric, column, nlist, m, nbits, seed, rows stored list by list, the text's model,
   * passages and half floats) — or undefined; a file that does not open as indexed differs.
   */
  async function builtOtherwise(output: string): Promise<string | undefined> {
    const index = await openIndex(output).catch(() => undefined)
    if (!index) return 'does not open as an indexed file'
    try {
      return differs(
        {
          params: index.params,
          column: index.opened.column.name,
          model: index.encoder,
          passages: index.opened.metadata.schema.some((s) => s.name === PASSAGE_ROW),
          float16: index.opened.column.element === 'FLOAT16',
        },
        {
          metric: params.metric ?? 'l2',
          column: values.column ?? (embedText !== undefined ? params.column : undefined),
          nlist: params.nlist,
          m: params.m,
          nbits: params.nbits,
          seed: params.seed,
          model: encoder?.id,
          passages: embedText !== undefined ? passages !== undefined : undefined,
          float16: embedText !== undefined ? values.float16 === true : undefined,
          clustered: values['cluster-rows'] === true,
        },
      )
    } finally {
      index.close()
    }
  }

  /** `input`, a local file (`name` in messages), indexed into `output`; `progress`: what a progress line ends with. */
  async function indexLocal(input: string, output: string, name: string, progress = ''): Promise<Built> {
    // no --column: the input's only vector column
    if (values.column === undefined && embedText === undefined) params.column = await soleColumnOf(input, name)
    const column = params.column
    const tuneFile = values['tune-queries']
    let tune = tuneQueries.get(column)
    if (tuneFile && !tune) {
      tune = await readQueryVectors(tuneFile, column, tuneLimit)
      tuneQueries.set(column, tune)
    }
    const started = performance.now()
    // text only: embed into a file beside the output first (removed after), then index that
    const embedded = encoder ? `${output}.embedding-${process.pid}.tmp.parquet` : undefined
    let embedSummary: EmbedSummary | undefined
    if (embedded && encoder && embedText !== undefined) {
      try {
        embedSummary = await embedFile(input, embedded, { text: embedText, as: column, float16: values.float16, passages, encoder, signal })
      } catch (e) {
        await rm(embedded, { force: true })
        throw e
      }
      process.stderr.write(`${describeEmbed(embedSummary)}\n`)
    }
    const source = await fileSource(embedded ?? input)
    const printer = progressPrinter()
    try {
      const sink = await fileSink(output, input)
      const summary = await buildIndex(source, sink, {
        ...params,
        ...compute,
        threads,
        spawnWorker: spawnNodeKernelWorker,
        workers,
        memoryBytes,
        tuneQueries: tune,
        targetRecall,
        clusterRows: values['cluster-rows'] === true,
        ...(values.spill || values['no-spill'] ? { spill: values['no-spill'] !== true } : {}),
        file: name,
        // rows without text have no vector: left out of the index, still in the file
        skipInvalid: params.skipInvalid || embedded !== undefined,
        signal,
        onProgress: ({ phase, done, total }) => printer.update(`${phase} ${done}/${total}${progress}`),
      })
      printer.done()
      const buildMs = performance.now() - started
      const p = summary.params
      if (summary.gpuFallback) process.stderr.write(`warning: ${summary.gpuFallback}\n`)
      if (summary.skippedRows.length && !embedSummary) {
        const first = summary.skippedRows[0]
        process.stderr.write(
          `skipped ${summary.skippedRows.length} rows with invalid vectors (first: row ${first?.row}, ${first?.reason})\n`,
        )
      }
      const result = {
        rows: p.rows,
        indexedRows: p.indexedRows,
        skippedRows: summary.skippedRows.length,
        dim: p.dim,
        metric: p.metric,
        nlist: p.nlist,
        m: p.m,
        nbits: p.nbits,
        nprobe: p.nprobe,
        refine: p.refine,
        ...(p.slack !== undefined ? { slack: p.slack } : {}),
        tunedRecall: p.tunedRecall,
        clustered: p.clustered === true,
        column: summary.column,
        inputBytes: summary.inputBytes,
        outputBytes: summary.outputBytes,
        indexBytes: summary.indexBytes,
        buildMs: Math.round(buildMs),
        ...(embedSummary
          ? {
              embedded: {
                text: embedSummary.text,
                encoder: embedSummary.encoder,
                rows: embedSummary.embedded,
                empty: embedSummary.empty,
                ...(embedSummary.passages ? { passages: embedSummary.passages } : {}),
                ms: Math.round(embedSummary.ms),
              },
            }
          : {}),
        phasesMs: Object.fromEntries(Object.entries(summary.phasesMs).map(([k, v]) => [k, Math.round(v)])),
        peakRssBytes: process.resourceUsage().maxRSS * 1024,
        backend: summary.backend,
        ...(summary.device ? { device: summary.device } : {}),
        threads: summary.threads,
        streamed: summary.streamed,
        output,
      }
      if (values.json) process.stdout.write(`${JSON.stringify(result)}\n`)
      else {
        process.stdout.write(
          `${output}: ${count(p.rows, 'row')}, dim ${p.dim}, ${p.metric}, nlist ${p.nlist}, m ${p.m}×${p.nbits} bits, ` +
            `default nprobe ${p.nprobe}${p.slack !== undefined ? ` (adaptive, slack ${p.slack.toPrecision(3)})` : ''}, refine ${p.refine} (recall@10 ${p.tunedRecall} measured); ` +
            `index ${fmtBytes(summary.indexBytes)} of ${fmtBytes(summary.outputBytes)} ` +
            `(${((100 * summary.indexBytes) / summary.outputBytes).toFixed(1)}%); built in ${(buildMs / 1000).toFixed(1)} s, ` +
            `peak memory ${fmtBytes(result.peakRssBytes)}` +
            `${p.clustered ? '; rows stored list by list (input row numbers in column parquetseek_row)' : ''}\n` +
            (summary.device ? `gpu: ${summary.device}\n` : ''),
        )
      }
      return { rows: p.rows, dim: p.dim, metric: p.metric, column: summary.column }
    } finally {
      printer.done()
      await source.close()
      if (embedded) await rm(embedded, { force: true })
    }
  }
}

/** The only vector column of a local input (soleVectorColumn). */
async function soleColumnOf(path: string, name: string): Promise<string> {
  const source = await fileSource(path)
  try {
    return soleVectorColumn(await readMetadata(source, name), name, 'to index')
  } finally {
    await source.close()
  }
}
