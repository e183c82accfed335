import { parquetWriteBuffer } from 'hyparquet-writer'
import { ParquetSeekError } from '../errors.js'
import { fileSink } from '../io/nodeFile.js'
import { describeEmbeddingColumn, readVectors } from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { MAX_K, MAX_NPROBE, MAX_REFINE, openIndex } from '../search/engine.js'
import { intOption, parse, UsageError } from './args.js'
import { fmtBytes } from './indexCommand.js'
import { anySource, isUrl, searchBackend } from './sources.js'

export const joinUsage = `parquetseek join <queries.parquet> <indexed file|url> --out <result.parquet> [options]
  kNN join: for each query row, its k nearest rows of the indexed file, as a Parquet table
  (query, rank, row, distance). Queries go in batches that share list fetches and page reads.
  --k K                neighbours per query (default 10)
  --column NAME        the queries' vector column (default: the index's column name)
  --nprobe P, --refine R   as for search (default: the index's tuned values)
  --exclude-self       leave a query's own row out of its neighbours (a file joined with itself)
  --batch N            queries per batch (default 256)
  --backend auto|wasm|js|gpu   kernels (gpu: list scan and top-k on WebGPU, same rows)
  --json               one JSON summary on stdout`

export async function joinCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals } = parse(argv, {
    out: { type: 'string' },
    k: { type: 'string' },
    column: { type: 'string' },
    nprobe: { type: 'string' },
    refine: { type: 'string' },
    'exclude-self': { type: 'boolean' },
    batch: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
    debug: { type: 'boolean' },
  })
  const [queriesPath, target, ...extra] = positionals
  if (!queriesPath || !target || extra.length || !values.out)
    throw new UsageError(`expected <queries.parquet> <indexed file|url> --out <file>\n${joinUsage}`)
  const k = intOption(values.k, 'k', 1, MAX_K - 1) ?? 10
  const batchSize = intOption(values.batch, 'batch', 1, 100_000) ?? 256
  const nprobe = intOption(values.nprobe, 'nprobe', 1, MAX_NPROBE)
  const refine = intOption(values.refine, 'refine', 1, MAX_REFINE)
  const compute = await searchBackend(values.backend)
  const excludeSelf = values['exclude-self'] === true
  const t0 = performance.now()
  // refuses an output that is an input before any work; written atomically at the end
  const sink = await fileSink(values.out, isUrl(target) ? [queriesPath] : [queriesPath, target])
  const source = isUrl(target) ? target : await anySource(target)
  try {
    const index = await openIndex(source, { signal, ...compute })
    const column = values.column ?? index.opened.column.name
    const qs = await anySource(queriesPath)
    let queries: Awaited<ReturnType<typeof readVectors>>
    try {
      const metadata = await readMetadata(qs, qs.name)
      queries = await readVectors(qs, metadata, describeEmbeddingColumn(metadata, column, qs.name), {
        file: qs.name,
        skipInvalid: true,
        signal,
      })
    } finally {
      await qs.close()
    }
    const n = queries.rowIds.length
    const dim = queries.dim
    if (dim !== index.params.dim)
      throw new ParquetSeekError(`the queries are ${dim}-d; the index is ${index.params.dim}-d`, { file: queriesPath })
    const out = { query: [] as number[], rank: [] as number[], row: [] as number[], distance: [] as number[] }
    let bytes = 0
    let requests = 0
    for (let start = 0; start < n; start += batchSize) {
      const end = Math.min(n, start + batchSize)
      const batch = Array.from({ length: end - start }, (_, i) => queries.data.subarray((start + i) * dim, (start + i + 1) * dim))
      const results = await index.searchBatch(batch, {
        k: excludeSelf ? k + 1 : k,
        nprobe,
        refine,
        signal,
      })
      bytes += results[0]?.stats.bytes ?? 0
      requests += results[0]?.stats.requests ?? 0
      for (const [i, r] of results.entries()) {
        const queryRow = queries.rowIds[start + i] as number
        const hits = (excludeSelf ? r.results.filter((h) => h.row !== queryRow) : r.results).slice(0, k)
        for (const [rank, h] of hits.entries()) {
          out.query.push(queryRow)
          out.rank.push(rank + 1)
          out.row.push(h.row)
          out.distance.push(h.distance)
        }
      }
      if (!values.json) process.stderr.write(`\rjoin ${end}/${n}`)
    }
    if (!values.json) process.stderr.write('\n')
    const buf = parquetWriteBuffer({
      columnData: [
        { name: 'query', data: Int32Array.from(out.query), type: 'INT32' },
        { name: 'rank', data: Int32Array.from(out.rank), type: 'INT32' },
        { name: 'row', data: Int32Array.from(out.row), type: 'INT32' },
        { name: 'distance', data: Float64Array.from(out.distance), type: 'DOUBLE' },
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
    }
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
    else
      process.stdout.write(
        `${n} queries × ${k} neighbours → ${values.out} in ${(ms / 1000).toFixed(1)} s (${summary.queriesPerSecond} queries/s; read ${fmtBytes(bytes)} in ${requests} requests)\n`,
      )
  } catch (e) {
    await sink.abort()
    throw e
  } finally {
    if (typeof source !== 'string') await source.close()
  }
}
