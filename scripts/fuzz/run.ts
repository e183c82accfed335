/**
 * Fuzz harness for the reader (issue 8): mutates a valid indexed file in seeded ways and checks
 * every case ends in a valid result or a clear ParquetSeekError, within a time limit (cases run
 * in a worker thread that is killed and replaced on a hang), with bounded memory.
 *   node build/scripts/fuzz/run.js [--cases 2000] [--seconds 60] [--seed 1] [--limit-ms 3000]
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

const { values } = parseArgs({
  options: {
    cases: { type: 'string', default: '2000' },
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
const failures: Array<{ seed: number; outcome: Outcome }> = []
const startRss = process.memoryUsage().rss
let peakRss = startRss

function start(): Worker {
  return new Worker(new URL('./worker.js', import.meta.url), {
    workerData: { bases, query, columns },
    resourceLimits: { maxOldGenerationSizeMb: 512 },
  })
}

const fixtures = values.fixtures
  ? readdirSync(values.fixtures)
      .filter((f) => f.endsWith('.parquet'))
      .map((f) => ({ name: f, bytes: new Uint8Array(readFileSync(join(values.fixtures as string, f))) }))
  : []
let worker = start()
let done = 0
let fixturesRun = 0
// negative seeds stand for the kept fixtures, run first and always
for (
  let seed = fixtures.length ? -fixtures.length : firstSeed;
  seed < 0 || (done < cases + fixtures.length && performance.now() < deadline);
  seed = seed === -1 ? firstSeed : seed + 1
) {
  const fixture = seed < 0 ? fixtures[fixtures.length + seed] : undefined
  if (fixture) fixturesRun++
  const outcome = await new Promise<Outcome>((resolve) => {
    const timer = setTimeout(() => {
      void worker.terminate()
      worker = start()
      resolve({
        kind: 'hang',
        mutation: fixture ? 'fixture' : mutate(baseFor(bases, seed), seed).mutation,
        detail: `no answer in ${limitMs} ms`,
      })
    }, limitMs)
    const onMessage = (m: { seed: number; outcome: Outcome }) => {
      if (m.seed !== seed) return
      clearTimeout(timer)
      worker.off('message', onMessage)
      worker.off('error', onError)
      resolve(m.outcome)
    }
    const onError = (e: Error) => {
      clearTimeout(timer)
      worker.off('message', onMessage)
      worker = start()
      resolve({
        kind: 'crash',
        mutation: fixture ? 'fixture' : mutate(baseFor(bases, seed), seed).mutation,
        detail: `worker died: ${e.message}`,
      })
    }
    worker.on('message', onMessage)
    worker.once('error', onError)
    worker.postMessage({ seed, bytes: fixture?.bytes })
  })
  done++
  counts[outcome.kind]++
  peakRss = Math.max(peakRss, process.memoryUsage().rss)
  if (outcome.kind === 'crash' || outcome.kind === 'hang') {
    failures.push({ seed, outcome: fixture ? { ...outcome, detail: `${fixture.name}: ${outcome.detail}` } : outcome })
    if (values.save && !fixture) {
      mkdirSync(values.save, { recursive: true })
      const { bytes } = mutate(baseFor(bases, seed), seed)
      const name = `${outcome.kind}-${createHash('sha1').update(bytes).digest('hex').slice(0, 12)}.parquet`
      writeFileSync(join(values.save, name), bytes)
    }
  }
}
await worker.terminate()

const mutated = done - fixturesRun
const summary = {
  cases: done,
  keptInputs: fixturesRun,
  ...counts,
  firstSeed,
  lastSeed: firstSeed + mutated - 1,
  peakRssMiB: Math.round(peakRss / 2 ** 20),
  failures: failures.slice(0, 20),
}
if (values.json) console.log(JSON.stringify(summary))
else {
  console.log(
    `fuzz: ${done} cases (${fixturesRun} kept inputs + seeds ${firstSeed}…${firstSeed + mutated - 1}): ${counts.valid} valid results, ${counts.error} clear errors, ${counts.crash} crashes, ${counts.hang} hangs; peak RSS ${summary.peakRssMiB} MiB`,
  )
  for (const f of failures.slice(0, 20))
    console.log(`  seed ${f.seed} ${f.outcome.kind} (${f.outcome.mutation}): ${f.outcome.detail.split('\n').slice(0, 3).join(' | ')}`)
}
