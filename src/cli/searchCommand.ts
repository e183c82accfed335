import { toJson } from 'hyparquet'
import { openIndex, type SearchResult } from '../search/engine.js'
import { intOption, parse, UsageError } from './args.js'
import { fmtBytes } from './indexCommand.js'
import { anySource, isUrl, readQueryVectors } from './sources.js'

export const searchUsage = `parquetseek search <file|url> (--query '[…]' | --query-row N [--query-file q.parquet]) [options]
  --query JSON         the query vector as a JSON array
  --query-row N        use row N's vector: of --query-file if given, else of the searched file
  --k K                results (default 10)
  --nprobe P           lists probed (default: tuned at build time for recall@10 ≥ 0.96)
  --refine R           candidates re-ranked exactly = k × R (default: tuned at build time)
  --columns a,b        columns to return for each result
  --json               one JSON object: { results: [{ row, distance, values }], stats }`

export async function searchCommand(argv: string[], signal: AbortSignal): Promise<void> {
  const { values, positionals } = parse(argv, {
    query: { type: 'string' },
    'query-row': { type: 'string' },
    'query-file': { type: 'string' },
    k: { type: 'string' },
    nprobe: { type: 'string' },
    refine: { type: 'string' },
    columns: { type: 'string' },
    json: { type: 'boolean' },
    debug: { type: 'boolean' },
  })
  const [target, ...extra] = positionals
  if (!target || extra.length) throw new UsageError(`expected one file or URL\n${searchUsage}`)
  if ((values.query === undefined) === (values['query-row'] === undefined))
    throw new UsageError(`give exactly one of --query or --query-row\n${searchUsage}`)
  const source = isUrl(target) ? target : await anySource(target)
  const index = await openIndex(source, { signal })
  let query: ArrayLike<number>
  if (values.query !== undefined) {
    let parsed: unknown
    try {
      parsed = JSON.parse(values.query)
    } catch {
      throw new UsageError('--query must be a JSON array of numbers')
    }
    if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'number'))
      throw new UsageError('--query must be a JSON array of numbers')
    query = parsed
  } else {
    const row = intOption(values['query-row'], 'query-row', 0) as number
    if (values['query-file']) {
      const all = await readQueryVectors(values['query-file'], index.opened.column.name, row + 1)
      const q = all[row]
      if (!q) throw new UsageError(`--query-row ${row} is past the ${all.length} vectors of ${values['query-file']}`)
      query = q
    } else query = await index.vectorOf(row, signal)
  }
  const columns = values.columns
    ? values.columns
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean)
    : []
  const result = await index.search(query, {
    k: intOption(values.k, 'k', 1),
    nprobe: intOption(values.nprobe, 'nprobe', 1),
    refine: intOption(values.refine, 'refine', 1),
    columns,
    signal,
  })
  if (typeof source !== 'string') await (source as { close(): Promise<void> }).close()
  const open = index.opened.open
  if (values.json) {
    const stats = { ...result.stats, open }
    process.stdout.write(`${JSON.stringify({ results: result.results.map((r) => ({ ...r, values: toJson(r.values) })), stats })}\n`)
    return
  }
  printResults(result, columns, open)
}

function printResults(result: SearchResult, columns: string[], open: { bytes: number; requests: number; ms: number }) {
  const lines = [['rank', 'row', 'distance', ...columns].join('\t')]
  result.results.forEach((r, i) => {
    lines.push([i + 1, r.row, r.distance.toPrecision(6), ...columns.map((c) => clip(JSON.stringify(toJson(r.values[c]))))].join('\t'))
  })
  const s = result.stats
  lines.push(
    '',
    `open: ${fmtBytes(open.bytes)} in ${open.requests} requests, ${open.ms.toFixed(0)} ms`,
    `search: ${fmtBytes(s.bytes)} in ${s.requests} requests, ${s.roundTrips} round trips, ${s.pagesDecoded} pages decoded, ${s.ms.toFixed(0)} ms ` +
      `(${Object.entries(s.msByStage)
        .map(([k, v]) => `${k} ${v.toFixed(0)}`)
        .join(', ')}) [${s.backend}]`,
  )
  process.stdout.write(`${lines.join('\n')}\n`)
}

function clip(s: string | undefined, n = 60): string {
  if (s === undefined) return ''
  return s.length > n ? `${s.slice(0, n - 1)}…` : s
}
