import { parentPort, workerData } from 'node:worker_threads'
import { runCase } from './harness.js'

/** Runs fuzz cases handed over by run.ts, one at a time, posting each outcome. */
const { bases, query, columns } = workerData as { bases: Uint8Array[]; query: Float32Array; columns: string[] }
parentPort?.on('message', async (job: { seed: number; bytes?: Uint8Array }) => {
  const outcome = await runCase(bases, job.seed, query, columns, 60_000, job.bytes)
  parentPort?.postMessage({ seed: job.seed, outcome })
})
