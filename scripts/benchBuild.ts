/**
 * Index-build benchmark: prints build time per phase, peak memory and index overhead for the
 * shared datasets (when ../shared/data exists) and for a generated 100k × 768 file.
 *   npm run bench:build [-- --rows 100000 --dim 768 --only generated --backend js --threads 1]
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, statSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { DuckDBInstance } from '@duckdb/node-api'

const root = resolve(import.meta.dirname, '../..')
const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '100000' },
    dim: { type: 'string', default: '768' },
    only: { type: 'string' },
    backend: { type: 'string' },
    threads: { type: 'string' },
    'memory-mb': { type: 'string' },
    // generate unseen query rows (numbered from here) for the generated data, print the path, stop
    'queries-from': { type: 'string' },
  },
})
const out = join(root, '.bench')
mkdirSync(out, { recursive: true })

/** Base file of `rows` vectors (or, with `queriesFrom`, rows numbered from there: unseen queries). */
async function generated(rows: number, dim: number, queriesFrom?: number): Promise<string> {
  const path = join(out, queriesFrom === undefined ? `generated-${rows}x${dim}.parquet` : `generated-queries-${rows}x${dim}.parquet`)
  if (existsSync(path)) return path
  process.stderr.write(`generating ${path} with DuckDB…\n`)
  const db = await DuckDBInstance.create(':memory:')
  const conn = await db.connect()
  // 64 Gaussian-ish clusters: centre + noise, so the IVF has real structure to learn
  await conn.run('SELECT setseed(0.42)')
  await conn.run(`CREATE TABLE centres AS SELECT c, list_transform(range(${dim}), j -> (random() * 2 - 1)::FLOAT) AS v FROM range(64) t(c)`)
  await conn.run(`COPY (
      SELECT i AS id, 'item ' || i AS title,
        list_transform(range(${dim}), j -> (centres.v[j + 1] + (random() + random() + random() - 1.5) * 0.3)::FLOAT)::FLOAT[${dim}] AS embedding
      FROM range(${queriesFrom ?? 0}, ${(queriesFrom ?? 0) + rows}) t(i) JOIN centres ON centres.c = hash(i) % 64 ORDER BY i
    ) TO '${path}' (FORMAT parquet, ROW_GROUP_SIZE 8192)`)
  conn.closeSync()
  db.closeSync()
  return path
}

if (values['queries-from'] !== undefined) {
  console.log(await generated(Number(values.rows), Number(values.dim), Number(values['queries-from'])))
  process.exit(0)
}

interface Case {
  name: string
  input: string
  args: string[]
}

const cases: Case[] = []
const shared = join(root, '../shared/data')
if (values.only !== 'generated') {
  if (existsSync(shared)) {
    cases.push({ name: 'wordnet-fasttext-words-100d', input: join(shared, 'wordnet-fasttext-words-100d/base.parquet'), args: [] })
  } else process.stderr.write('../shared/data absent: skipping the wordnet case\n')
}
if (values.only !== 'wordnet') {
  const rows = Number(values.rows)
  const dim = Number(values.dim)
  cases.push({ name: `generated ${rows}×${dim}`, input: await generated(rows, dim), args: [] })
}

console.log(
  '| data | rows × dim | nlist | m | backend, threads, streamed | build s | read | train-coarse | train-pq | encode | tune | write | peak RSS | output | index | index share |',
)
console.log('|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|')
for (const c of cases) {
  const target = join(out, `${c.name.replace(/\W+/g, '_')}.indexed.parquet`)
  const r = spawnSync(
    process.execPath,
    [
      '--max-old-space-size=16384',
      join(root, 'bin/parquetseek.js'),
      'index',
      c.input,
      target,
      '--column',
      'embedding',
      '--json',
      ...c.args,
      ...(values.backend ? ['--backend', values.backend] : []),
      ...(values.threads ? ['--threads', values.threads] : []),
      ...(values['memory-mb'] ? ['--memory-mb', values['memory-mb']] : []),
    ],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], maxBuffer: 1 << 24 },
  )
  if (r.status !== 0) {
    console.log(`| ${c.name} | failed (exit ${r.status}) |`)
    continue
  }
  const s = JSON.parse(r.stdout)
  const sec = (ms: number) => (ms / 1000).toFixed(1)
  const mib = (b: number) => `${(b / 2 ** 20).toFixed(0)} MiB`
  console.log(
    `| ${c.name} | ${s.rows} × ${s.dim} | ${s.nlist} | ${s.m} | ${s.backend}, ${s.threads}${s.streamed ? ', streamed' : ''} | ${sec(s.buildMs)} | ${sec(s.phasesMs.read)} | ${sec(s.phasesMs['train-coarse'])} | ${sec(s.phasesMs['train-pq'])} | ${sec(s.phasesMs.encode)} | ${sec(s.phasesMs.tune)} | ${sec(s.phasesMs.write)} | ${mib(s.peakRssBytes)} | ${mib(s.outputBytes)} | ${mib(s.indexBytes)} | ${((100 * s.indexBytes) / s.outputBytes).toFixed(1)}% |`,
  )
  if (statSync(target).size !== s.outputBytes) throw new Error('output size mismatch')
}
