import { parentPort, workerData } from 'node:worker_threads'
import { fromBytes } from '../../src/io/source.js'
import { openIndex } from '../../src/search/engine.js'
import { type Outcome, outcomeOf, runCase } from './harness.js'
import { exerciseServer, exerciseSidecar } from './hostile.js'

/** Runs fuzz cases handed over by run.ts, one at a time, posting each outcome. */
const { bases, query, columns, sidecar } = workerData as {
  bases: Uint8Array[]
  query: Float32Array
  columns: string[]
  sidecar: { sidecar: Uint8Array; source: Uint8Array; indexed: Uint8Array }
}

// the honest answer a server case must give when no response lied about the bytes
const honest = openIndex(fromBytes(bases[0] as Uint8Array, 'base.parquet'), { backend: 'wasm' }).then(async (index) =>
  (await index.search(query, { k: 5, columns, nprobe: 4 })).results.map((r) => r.row),
)

parentPort?.on(
  'message',
  async (job: { id: number; kind: 'file' | 'server' | 'sidecar'; seed: number; bytes?: Uint8Array; url?: string }) => {
    let outcome: Outcome
    if (job.kind === 'server')
      outcome = await outcomeOf('server', async () => {
        const rows = await exerciseServer(job.url as string, query, columns)
        return JSON.stringify({ rows, honest: await honest })
      })
    else if (job.kind === 'sidecar') outcome = await outcomeOf('sidecar', () => exerciseSidecar(job.seed, sidecar, query))
    else outcome = await runCase(bases, job.seed, query, columns, 60_000, job.bytes)
    parentPort?.postMessage({ seed: job.id, outcome })
  },
)
