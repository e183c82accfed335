/**
 * Fuzz harness for every reader entry point: mutates valid files in seeded ways — an indexed
 * file (open, search with columns and a filter, read a vector), a pq-vector file, a plain file
 * searched exactly, a queries file joined against an index — and, with --server-cases /
 * --sidecar-cases, misbehaves as a server or writes hostile sidecars and manifests (hostile.ts);
 * with --cluster-cases, builds a mutated plain file with its rows stored list by list, a window
 * of row groups at a time, and searches what it wrote.
 * Every case must end in a valid result or a clear ParquetSeekError, within a time limit (cases
 * run in a worker thread that is killed and replaced on a hang), with bounded memory. The
 * oracle: when a case's edits lie in bytes the reader never read, its answer must be the
 * unmutated file's, exactly; a hostile server's valid answer must be the honest one unless a
 * response lied about the bytes.
 *   node build/scripts/fuzz/run.js [--cases 2000] [--server-cases 0] [--sidecar-cases 0] [--cluster-cases 0] [--seconds 60] [--seed 1] [--limit-ms 3000]
 *                                  [--save test/fixtures/fuzz] [--fixtures test/fixtures/fuzz] [--json]
 * Crashing or hanging inputs are written to --save (kept as regression fixtures, named for their
 * entry point: `pqvector-crash-….parquet`); --fixtures runs the kept inputs first, as they are.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { baseFiles, caseOf, ENTRIES, type Entry, mutate, type Outcome } from './harness.js'
import { hostileServer, sidecarBase } from './hostile.js'

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '2000' },
    'server-cases': { type: 'string', default: '0' },
    'sidecar-cases': { type: 'string', default: '0' },
    'cluster-cases': { type: 'string', default: '0' },
    seconds: { type: 'string', default: '60' },
    seed: { type: 'string', default: '1' },
    'limit-ms': { type: 'string', default: '3000' },
    save: { type: 'string' },
    fixtures: { type: 'string' },
    json: { type: 'boolean' },
  },
})
const cases = Number(values.cases)
const deadline = performance.now() + Number(values.seconds) * 1000
const limitMs = Number(values['limit-ms'])
const firstSeed = Number(values.seed)

const bases = await baseFiles()
const query = Float32Array.from({ length: 8 }, (_, i) => Math.sin(i))
const columns = ['title', 'body', 'tags']
const counts = { valid: 0, error: 0, crash: 0, hang: 0 }
const byMode = { files: 0, server: 0, sidecar: 0, cluster: 0 }
/** Mutated files per entry point. */
const byEntry = Object.fromEntries(ENTRIES.map((e) => [e, 0])) as Record<Entry, number>
/** Cases whose edits were never read: their answer had to be the base's (the oracle). */
let oracleCases = 0
const failures: Array<{ seed: number; outcome: Outcome }> = []
const startRss = process.memoryUsage().rss
let peakRss = startRss
const server = await hostileServer(bases.served)
const sidecar = { ...(await sidecarBase()), indexed: bases.served }
let maxSent = 0

function start(): Worker {
  return new Worker(new URL('./worker.js', import.meta.url), {
    workerData: { bases, query, columns, sidecar },
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  })
}

const fixtures = values.fixtures
  ? readdirSync(values.fixtures)
      .filter((f) => f.endsWith('.parquet'))
      .map((f) => ({
        name: f,
        bytes: new Uint8Array(readFileSync(join(values.fixtures as string, f))),
        // kept inputs of other entry points are named for them (`pqvector-crash-….parquet`)
        entry: (ENTRIES.find((e) => f.startsWith(`${e}-`)) ?? 'embedded') as Entry,
      }))
  : []

type Job = {
  kind: 'file' | 'server' | 'sidecar' | 'cluster'
  seed: number
  bytes?: Uint8Array
  url?: string
  fixture?: string
  entry?: Entry
}
/** Kept fixtures first (always), then the file, server and sidecar cases, while time lasts. */
function* jobs(): Generator<Job> {
  for (const f of fixtures) yield { kind: 'file', seed: -1, bytes: f.bytes, fixture: f.name, entry: f.entry }
  for (let i = 0; i < cases; i++) yield { kind: 'file', seed: firstSeed + i }
  for (let i = 0; i < Number(values['server-cases']); i++) yield { kind: 'server', seed: firstSeed + i, url: server.url(firstSeed + i) }
  for (let i = 0; i < Number(values['sidecar-cases']); i++) yield { kind: 'sidecar', seed: firstSeed + i }
  for (let i = 0; i < Number(values['cluster-cases']); i++) yield { kind: 'cluster', seed: firstSeed + i }
}

let worker = start()
let done = 0
let fixturesRun = 0
let sequence = 0
for (const job of jobs()) {
  if (!job.fixture && performance.now() > deadline) break
  if (job.fixture) fixturesRun++
  const id = ++sequence
  const mutationOf = (): Outcome['mutation'] =>
    job.fixture
      ? 'fixture'
      : job.kind === 'file'
        ? mutate(caseOf(bases, job.seed).base, job.seed).mutation
        : job.kind === 'cluster'
          ? mutate(bases.flat[0] as Uint8Array, job.seed).mutation
          : job.kind
  const outcome = await new Promise<Outcome & { entry?: Entry; oracle?: boolean }>((resolve) => {
    const timer = setTimeout(() => {
      void worker.terminate()
      worker = start()
      resolve({ kind: 'hang', mutation: mutationOf(), detail: `no answer in ${limitMs} ms` })
    }, limitMs)
    const onMessage = (m: { seed: number; outcome: Outcome & { entry?: Entry; oracle?: boolean } }) => {
      if (m.seed !== id) return
      clearTimeout(timer)
      worker.off('message', onMessage)
      worker.off('error', onError)
      resolve(m.outcome)
    }
    const onError = (e: Error) => {
      clearTimeout(timer)
      worker.off('message', onMessage)
      worker = start()
      resolve({ kind: 'crash', mutation: mutationOf(), detail: `worker died: ${e.message}` })
    }
    worker.on('message', onMessage)
    worker.once('error', onError)
    worker.postMessage({ ...job, id })
  })
  let final = outcome
  if (job.kind === 'server') {
    maxSent = Math.max(maxSent, server.sent(job.seed))
    // the oracle: with every answer's bytes true, a valid result is the honest one
    if (outcome.kind === 'valid') {
      const { rows, honest } = JSON.parse(outcome.detail) as { rows: number[]; honest: number[] }
      if (!server.lied(job.seed) && JSON.stringify(rows) !== JSON.stringify(honest))
        final = { kind: 'crash', mutation: 'server', detail: `wrong answer ${JSON.stringify(rows)}, honest ${JSON.stringify(honest)}` }
    }
  }
  done++
  byMode[job.kind === 'file' ? 'files' : job.kind]++
  if (job.kind === 'file' && !job.fixture) {
    const entry = caseOf(bases, job.seed).entry
    byEntry[entry]++
  }
  if (outcome.oracle) oracleCases++
  counts[final.kind]++
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  if (final.kind === 'crash' || final.kind === 'hang') {
    failures.push({
      seed: job.seed,
      outcome: job.fixture
        ? { ...final, detail: `${job.fixture}: ${final.detail}` }
        : { ...final, detail: `${job.kind} seed ${job.seed}: ${final.detail}` },
    })
    if (values.save && job.kind === 'file' && !job.fixture) {
      mkdirSync(values.save, { recursive: true })
      const picked = caseOf(bases, job.seed)
      const { bytes } = mutate(picked.base, job.seed)
      const prefix = picked.entry === 'embedded' ? '' : `${picked.entry}-`
      const name = `${prefix}${final.kind}-${createHash('sha1').update(bytes).digest('hex').slice(0, 12)}.parquet`
      writeFileSync(join(values.save, name), bytes)
    }
  }
}
await worker.terminate()
await server.close()

const summary = {
  cases: done,
  keptInputs: fixturesRun,
  ...byMode,
  byEntry,
  oracleCases,
  ...counts,
  firstSeed,
  peakRssMiB: Math.round(peakRss / 2 ** 20),
  maxServerBytesPerCaseMiB: +(maxSent / 2 ** 20).toFixed(1),
  failures: failures.slice(0, 20),
}
if (values.json) console.log(JSON.stringify(summary))
else {
  console.log(
    `fuzz: ${done} cases (${fixturesRun} kept inputs, ${byMode.files} files — ${ENTRIES.map((e) => `${byEntry[e]} ${e}`).join(', ')} — ${byMode.server} hostile-server, ${byMode.sidecar} sidecar/manifest, ${byMode.cluster} clustered builds; seeds from ${firstSeed}): ${counts.valid} valid results, ${counts.error} clear errors, ${counts.crash} crashes, ${counts.hang} hangs; ${oracleCases} answers checked against the unmutated file's (edits never read); peak RSS ${summary.peakRssMiB} MiB; at most ${summary.maxServerBytesPerCaseMiB} MiB sent by the server in one case`,
  )
  for (const f of failures.slice(0, 20))
    console.log(`  ${f.outcome.kind} (${f.outcome.mutation}): ${f.outcome.detail.split('\n').slice(0, 3).join(' | ')}`)
}
