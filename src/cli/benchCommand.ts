import { readFile } from 'node:fs/promises'
import { loadKernels } from '../compute/backend.js'
import { ParquetSeekError } from '../errors.js'
import { parseNpy } from '../io/npy.js'
import { readColumnRange } from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { defaultNprobe, MAX_K, MAX_NPROBE, MAX_REFINE, openIndex, type SearchResult } from '../search/engine.js'
import { flatSearch } from '../search/flat.js'
import { choice, intOption, parse, UsageError } from './args.js'
import { fmtBytes } from './indexCommand.js'
import { HOST_PROFILES, serveFile } from './rangeServer.js'
import { anySource, isUrl, readQueryVectors, searchBackend } from './sources.js'

export const benchUsage = `parquetseek bench <indexed file|url> --queries <q.parquet> [options]
  --queries FILE       Parquet with the same embedding column (held-out queries)
  --truth FILE.npy     ground-truth neighbour ids [queries × ≥k]; without it, exact search is run
  --truth-dist FILE.npy  ground-truth distances: a result within the k-th true distance counts as
                       a hit (ties are real in integer data such as SIFT)
  --id-column NAME     column whose values the truth file holds (default: row numbers)
  --k K                (default 10)     --refine R   (default: the index's tuned value)
  --nprobe P[,P…]      one value or a sweep (default: the engine's default)
  --rtt-ms MS          delay the local range server adds to each request (default 20)
  --host s3|nginx|static   how the local range server answers ranges (default s3: single and suffix
                       ranges, multi-range answered 200 with the whole object, as S3, R2 and GCS do;
                       nginx: multipart; static: like vite preview / sirv)
  --connections N      requests in flight at once (default 6, as a browser per host on HTTP/1.1)
  --limit N            use the first N queries
  --backend auto|wasm|js|gpu   kernels (default auto: WebAssembly SIMD where available; gpu: list scan
                       and top-k on WebGPU, same rows)
  --json               one JSON object with the DESIGN.md §6 fields`

interface Row {
  nprobe: number
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
  /** Body bytes the local server sent per warm query (read or not): over bytesPerQuery when answers were cancelled. */
  serverBytesPerQuery: number | undefined
}

export async function benchCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals } = parse(argv, {
    queries: { type: 'string' },
    truth: { type: 'string' },
    'truth-dist': { type: 'string' },
    'id-column': { type: 'string' },
    k: { type: 'string' },
    nprobe: { type: 'string' },
    refine: { type: 'string' },
    'rtt-ms': { type: 'string' },
    host: { type: 'string' },
    connections: { type: 'string' },
    limit: { type: 'string' },
    backend: { type: 'string' },
    json: { type: 'boolean' },
    debug: { type: 'boolean' },
  })
  const [target, ...extra] = positionals
  if (!target || extra.length || !values.queries) throw new UsageError(`expected a file and --queries\n${benchUsage}`)
  const k = intOption(values.k, 'k', 1, MAX_K) ?? 10
  const refineOption = intOption(values.refine, 'refine', 1, MAX_REFINE)
  const rtt = intOption(values['rtt-ms'], 'rtt-ms', 0) ?? 20
  const compute = await searchBackend(values.backend)
  const host = choice(values.host, 'host', HOST_PROFILES) ?? 's3'
  const connections = intOption(values.connections, 'connections', 1, 256) ?? 6
  const server = isUrl(target) ? undefined : await serveFile(target, { delayMs: rtt, host })
  const url = server?.url ?? target
  try {
    const probeIndex = await openIndex(url, { signal, connections, ...compute })
    const { metric, nlist } = probeIndex.params
    const refine = refineOption ?? probeIndex.params.refine ?? 10
    const column = probeIndex.opened.column.name
    const sweep = values.nprobe
      ? values.nprobe.split(',').map((p) => intOption(p.trim(), 'nprobe', 1, MAX_NPROBE) as number)
      : [probeIndex.params.nprobe ?? defaultNprobe(nlist)]
    const queries = await readQueryVectors(values.queries, column, intOption(values.limit, 'limit', 1))
    if (!queries.length) throw new ParquetSeekError('no query vectors', { file: values.queries })
    const truth = await groundTruth(target, values.truth, values['id-column'], queries, column, metric, k)
    const kthDistance = values['truth-dist'] ? await kthDistances(values['truth-dist'], queries.length, k) : undefined
    const rows: Row[] = []
    for (const nprobe of sweep) {
      process.stderr.write(`nprobe ${nprobe}: ${queries.length} queries…\n`)
      const coldStart = performance.now()
      const cold = await openIndex(url, { signal, connections, ...compute })
      const first = await cold.search(queries[0] as Float32Array, { k, nprobe, refine, signal })
      const coldMs = performance.now() - coldStart
      const results: SearchResult[] = []
      const sentBefore = server?.bytesSent ?? 0
      for (const q of queries) {
        cold.clearCache() // each query pays for its own lists: per-query cost without cross-query caching
        results.push(await cold.search(q, { k, nprobe, refine, signal }))
      }
      const ms = results.map((r) => r.stats.ms).sort((a, b) => a - b)
      const bytes = results.map((r) => r.stats.bytes).sort((a, b) => a - b)
      rows.push({
        nprobe,
        recall: recall(results, truth, k, kthDistance),
        bytesPerQuery: mean(bytes),
        bytesP95: pct(bytes, 0.95),
        requestsPerQuery: mean(results.map((r) => r.stats.requests)),
        roundTripsPerQuery: mean(results.map((r) => r.stats.roundTrips)),
        p50Ms: pct(ms, 0.5),
        p95Ms: pct(ms, 0.95),
        coldMs,
        coldRoundTrips: cold.opened.open.roundTrips + first.stats.roundTrips,
        coldBytes: cold.opened.open.bytes + first.stats.bytes,
        serverBytesPerQuery: server ? (server.bytesSent - sentBefore) / queries.length : undefined,
      })
    }
    const fileBytes = probeIndex.opened.raw.byteLength
    const best = rows[rows.length - 1] as Row
    const summary = {
      queries: queries.length,
      k,
      refine,
      ...best,
      fileBytes,
      rttMs: server ? rtt : undefined,
      host: server ? host : undefined,
      connections,
      backend: probeIndex.backend,
      nlist,
      metric,
      sweep: rows,
    }
    if (values.json) process.stdout.write(`${JSON.stringify(summary)}\n`)
    else {
      process.stdout.write(
        `${target}: ${fmtBytes(fileBytes)}, ${metric}, nlist ${nlist}; ${queries.length} queries, k ${k}, refine ${refine}; ${server ? `${host}-style host, ${rtt} ms per request, ` : ''}${connections} connections\n`,
      )
      process.stdout.write(
        '| nprobe | recall@k | bytes/query (p95) | % of file | sent by the host | requests | round trips | p50 ms | p95 ms | cold ms (RTs, bytes) |\n|---|---|---|---|---|---|---|---|---|---|\n',
      )
      for (const r of rows) {
        process.stdout.write(
          `| ${r.nprobe} | ${r.recall.toFixed(3)} | ${fmtBytes(Math.round(r.bytesPerQuery))} (${fmtBytes(Math.round(r.bytesP95))}) | ${((100 * r.bytesPerQuery) / fileBytes).toFixed(2)}% | ${r.serverBytesPerQuery === undefined ? '–' : fmtBytes(Math.round(r.serverBytesPerQuery))} | ${r.requestsPerQuery.toFixed(1)} | ${r.roundTripsPerQuery.toFixed(1)} | ${r.p50Ms.toFixed(0)} | ${r.p95Ms.toFixed(0)} | ${r.coldMs.toFixed(0)} (${r.coldRoundTrips}, ${fmtBytes(r.coldBytes)}) |\n`,
        )
      }
    }
  } finally {
    await server?.close()
  }
}

/** Neighbour ids per query: from the truth file (mapped through the id column) or exact search. */
async function groundTruth(
  target: string,
  truthFile: string | undefined,
  idColumn: string | undefined,
  queries: Float32Array[],
  column: string,
  metric: 'l2' | 'cosine' | 'dot',
  k: number,
): Promise<number[][]> {
  const source = await anySource(target)
  try {
    const metadata = await readMetadata(source, source.name)
    if (truthFile) {
      const npy = parseNpy(new Uint8Array(await readFile(truthFile)), truthFile)
      const width = npy.shape[1] ?? 0
      if (npy.shape[0] !== undefined && npy.shape[0] < queries.length)
        throw new ParquetSeekError(`has ${npy.shape[0]} rows for ${queries.length} queries`, { file: truthFile })
      if (width < k) throw new ParquetSeekError(`holds ${width} neighbours per query, fewer than k = ${k}`, { file: truthFile })
      const ids = Array.from(npy.data as ArrayLike<number | bigint>, Number)
      const rowToId = idColumn
        ? ((await readColumnRange(source, metadata, idColumn, 0, Number(metadata.num_rows), source.name)) as unknown[]).map(Number)
        : undefined
      return queries.map((_, q) => {
        const want = ids.slice(q * width, q * width + k)
        // translate truth ids to rows so results (rows) compare directly
        if (!rowToId) return want
        const idToRow = new Map(rowToId.map((id, row) => [id, row]))
        return want.map((id) => idToRow.get(id) ?? -1)
      })
    }
    process.stderr.write('computing exact neighbours (no --truth given)…\n')
    const exact = await flatSearch(source, metadata, queries, { column, metric, k, kernels: await loadKernels('auto') })
    return exact.map((hits) => hits.map((h) => h.row))
  } finally {
    await source.close()
  }
}

/**
 * Mean recall@k. With true k-th distances, a result no farther than the k-th true neighbour
 * (relative tolerance 1e-5) is a hit too, so an equally near row with another id is not a miss.
 */
export function recall(results: SearchResult[], truth: number[][], k: number, kth?: Float64Array): number {
  let hits = 0
  results.forEach((r, q) => {
    const want = new Set((truth[q] ?? []).slice(0, k))
    const limit = kth ? (kth[q] as number) * (1 + 1e-5) + 1e-6 : Number.NEGATIVE_INFINITY
    let found = 0
    for (const h of r.results.slice(0, k)) if (want.has(h.row) || h.distance <= limit) found++
    hits += Math.min(k, found)
  })
  return hits / (results.length * k)
}

async function kthDistances(file: string, queries: number, k: number): Promise<Float64Array> {
  const npy = parseNpy(new Uint8Array(await readFile(file)), file)
  const width = npy.shape[1] ?? 0
  if (width < k || (npy.shape[0] ?? 0) < queries)
    throw new ParquetSeekError(`shape ${npy.shape.join('×')} does not cover ${queries} queries × k ${k}`, { file })
  return Float64Array.from({ length: queries }, (_, q) => Number(npy.data[q * width + k - 1]))
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length)
const pct = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor(p * sorted.length))] ?? 0
