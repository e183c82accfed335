/**
 * Fuzz harness for the reader (issue 8): mutates a valid indexed file in seeded ways (and, with
 * --server-cases / --sidecar-cases, misbehaves as a server or writes hostile sidecars and
 * manifests: hostile.ts) and checks
 * every case ends in a valid result or a clear ParquetSeekError, within a time limit (cases run
 * in a worker thread that is killed and replaced on a hang), with bounded memory.
 *   node build/scripts/fuzz/run.js [--cases 2000] [--server-cases 0] [--sidecar-cases 0] [--seconds 60] [--seed 1] [--limit-ms 3000]
 *                                  [--save test/fixtures/fuzz] [--fixtures test/fixtures/fuzz] [--json]
 * Crashing or hanging inputs are written to --save (kept as regression fixtures); --fixtures
 * runs the kept inputs first, as they are.
 */
import { createHash } from 'node:crypto'
import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { parseArgs } from 'node:util'
import { Worker } from 'node:worker_threads'
import { baseFiles, baseFor, mutate, type Outcome } from './harness.js'
import { hostileServer, sidecarBase } from './hostile.js'

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '2000' },
    'server-cases': { type: 'string', default: '0' },
    'sidecar-cases': { type: 'string', default: '0' },
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
const columns = ['title', 'body']
const counts = { valid: 0, error: 0, crash: 0, hang: 0 }
const byMode = { files: 0, server: 0, sidecar: 0 }
const failures: Array<{ seed: number; outcome: Outcome }> = []
const startRss = process.memoryUsage().rss
let peakRss = startRss
const server = await hostileServer(bases[0] as Uint8Array)
const sidecar = { ...(await sidecarBase()), indexed: bases[0] as Uint8Array }
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
      .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(values.fixtures as string, f))) }))
  : []

type Job = { kind: 'file' | 'server' | 'sidecar'; seed: number; bytes?: Uint8Array; url?: string; fixture?: string }
/** Kept fixtures first (always), then the file, server and sidecar cases, while time lasts. */
function* jobs(): Generator<Job> {
  for (const f of fixtures) yield { kind: 'file', seed: -1, bytes: f.bytes, fixture: f.name }
  for (let i = 0; i < cases; i++) yield { kind: 'file', seed: firstSeed + i }
  for (let i = 0; i < Number(values['server-cases']); i++) yield { kind: 'server', seed: firstSeed + i, url: server.url(firstSeed + i) }
  for (let i = 0; i < Number(values['sidecar-cases']); i++) yield { kind: 'sidecar', seed: firstSeed + i }
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
    job.fixture ? 'fixture' : job.kind === 'file' ? mutate(baseFor(bases, job.seed), job.seed).mutation : job.kind
  const outcome = await new Promise<Outcome>((resolve) => {
    const timer = setTimeout(() => {
      void worker.terminate()
      worker = start()
      resolve({ kind: 'hang', mutation: mutationOf(), detail: `no answer in ${limitMs} ms` })
    }, limitMs)
    const onMessage = (m: { seed: number; outcome: Outcome }) => {
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
      const { bytes } = mutate(baseFor(bases, job.seed), job.seed)
      const name = `${final.kind}-${createHash('sha1').update(bytes).digest('hex').slice(0, 12)}.parquet`
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
  ...counts,
  firstSeed,
  peakRssMiB: Math.round(peakRss / 2 ** 20),
  maxServerBytesPerCaseMiB: +(maxSent / 2 ** 20).toFixed(1),
  failures: failures.slice(0, 20),
}
if (values.json) console.log(JSON.stringify(summary))
else {
  console.log(
    `fuzz: ${done} cases (${fixturesRun} kept inputs, ${byMode.files} files, ${byMode.server} hostile-server, ${byMode.sidecar} sidecar/manifest; seeds from ${firstSeed}): ${counts.valid} valid results, ${counts.error} clear errors, ${counts.crash} crashes, ${counts.hang} hangs; peak RSS ${summary.peakRssMiB} MiB; at most ${summary.maxServerBytesPerCaseMiB} MiB sent by the server in one case`,
  )
  for (const f of failures.slice(0, 20))
    console.log(`  ${f.outcome.kind} (${f.outcome.mutation}): ${f.outcome.detail.split('\n').slice(0, 3).join(' | ')}`)
}
