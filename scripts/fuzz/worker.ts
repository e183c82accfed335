import { parentPort, workerData } from 'node:worker_threads'
import { fromBytes } from '../../src/io/source.js'
import { openIndex } from '../../src/search/engine.js'
import { type Bases, type Entry, exercise, exerciseCluster, judge, mutate, type Outcome, outcomeOf, runCase } from './harness.js'
import { exerciseServer, exerciseSidecar, sidecarOf } from './hostile.js'

/** Runs fuzz cases handed over by run.ts, one at a time, posting each outcome. */
const { bases, query, columns, sidecar } = workerData as {
  bases: Bases
  query: Float32Array
  columns: string[]
  sidecar: { sidecar: Uint8Array; vectors: Uint8Array; source: Uint8Array; indexed: Uint8Array }
}

// the honest answer a server case must give when no response lied about the bytes
const honest = openIndex(fromBytes(bases.served, 'base.parquet'), { backend: 'wasm' }).then(async (index) =>
  (await index.search(query, { k: 5, columns, nprobe: 4 })).results.map((r) => r.row),
)

// each base's own answer, for the oracle (computed once)
const answers = new Map<string, Promise<Outcome>>()
const expected = (entry: Entry, baseIndex: number): Promise<Outcome> => {
  const key = `${entry}:${baseIndex}`
  let answer = answers.get(key)
  if (!answer) {
    const bytes = bases[entry][baseIndex] as Uint8Array
    answer = outcomeOf('fixture', () => exercise(entry, fromBytes(bytes, 'fuzz.parquet'), bases, query, columns))
    answers.set(key, answer)
  }
  return answer
}
// (seeds 1 and 3: the unmutated sidecar without, and with, its vectors copied in)
const sidecarAnswers = [1, 3].map((seed) => outcomeOf('sidecar', () => exerciseSidecar(seed, sidecar, query, [], true)))

parentPort?.on(
  'message',
  async (job: {
    id: number
    kind: 'file' | 'server' | 'sidecar' | 'cluster'
    seed: number
    bytes?: Uint8Array
    url?: string
    entry?: Entry
  }) => {
    let outcome: Outcome & { entry?: Entry; oracle?: boolean }
    if (job.kind === 'server')
      outcome = await outcomeOf('server', async () => {
        const rows = await exerciseServer(job.url as string, query, columns)
        return JSON.stringify({ rows, honest: await honest })
      })
    else if (job.kind === 'cluster') {
      const { bytes, mutation } = mutate(bases.flat[0] as Uint8Array, job.seed)
      outcome = await outcomeOf(mutation, () => exerciseCluster(bytes, query))
    } else if (job.kind === 'sidecar') {
      const reads: Array<[number, number]> = []
      outcome = await outcomeOf('sidecar', () => exerciseSidecar(job.seed, sidecar, query, reads))
      // odd seeds mutate the sidecar: bytes it never read cannot change the answer
      if (job.seed % 2)
        outcome = judge(
          outcome,
          mutate(sidecarOf(sidecar, job.seed), job.seed).changed,
          reads,
          await (sidecarAnswers[job.seed % 4 === 3 ? 1 : 0] as Promise<Outcome>),
        )
    } else outcome = await runCase(bases, job.seed, query, columns, expected, 60_000, job.bytes, job.entry)
    parentPort?.postMessage({ seed: job.id, outcome })
  },
)
