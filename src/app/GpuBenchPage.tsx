import { useEffect, useMemo, useRef, useState } from 'react'
import type { BenchProgress } from '../../workers/gpuBench.worker.js'
import type { BatchFigures, PageBench } from '../bench/gpuBench.js'
import { STAGES } from '../query/pipeline.js'
import { gpuBenchInWorker } from './benchBridge.js'

/**
 * The sizes offered: fractions of bench:gpu's (1 M × 768 rows, 10,000 queries). Scale 1 holds
 * ~4 GB of arrays at once (the PQ scan's codes and their interleaved copy) — more than a tab may
 * have — so a page stops at 0.25 (~1 GB).
 */
const SCALES = [0.01, 0.1, 0.25] as const

/**
 * bench.html: the GPU benchmark bench:gpu runs in Node, in this browser's WebGPU — what a laptop
 * can expect (src/bench/gpuBench.ts) — in a worker, so that this page keeps drawing and cancels
 * at once. Its targets are a data-centre GPU's: a laptop is not expected to meet them. `?scale=`
 * and `?reps=` preset the sizes (tests run it tiny, for correctness only: a software adapter's
 * times say nothing of a GPU).
 */
export function GpuBenchPage() {
  const params = new URLSearchParams(location.search)
  // `?scale=` within (0, 0.25] and `?reps=` ≥ 1, else the defaults (a typo must not become NaN sizes)
  const asked = Number(params.get('scale'))
  const [scale, setScale] = useState(asked > 0 && asked <= 0.25 ? asked : 0.1)
  const askedReps = Math.floor(Number(params.get('reps')))
  const reps = askedReps >= 1 ? askedReps : 10
  const [running, setRunning] = useState(false)
  const [progress, setProgress] = useState<BenchProgress>()
  const [outcome, setOutcome] = useState<PageBench>()
  const [error, setError] = useState<string>()
  const abort = useRef<AbortController>(undefined)

  async function run() {
    setError(undefined)
    setOutcome(undefined)
    setRunning(true)
    const controller = new AbortController()
    abort.current = controller
    const signal = controller.signal
    try {
      setProgress({ done: 0, total: 1, what: 'starting' })
      setOutcome(await gpuBenchInWorker({ scale, reps }, { signal, onProgress: setProgress }))
    } catch (e) {
      setError(signal.aborted ? 'Cancelled.' : `The benchmark stopped: ${(e as Error).message}`)
    } finally {
      setRunning(false)
      setProgress(undefined)
    }
  }

  // the figures as a file to download, its URL revoked when replaced
  const json = useMemo(
    () => outcome && URL.createObjectURL(new Blob([JSON.stringify(outcome.report, null, 2)], { type: 'application/json' })),
    [outcome],
  )
  useEffect(
    () => () => {
      if (json) URL.revokeObjectURL(json)
    },
    [json],
  )
  const [head, ...body] = outcome?.rows ?? []
  return (
    <main className="bench">
      <h1>ParquetSeek GPU benchmark</h1>
      <p className="hint">
        The GPU kernels of a search, measured in this browser: a plain copy (the bandwidth ceiling), exact L2 and re-ranking, the PQ list
        scan, then a batch of queries end to end from memory — each beside the same work in TypeScript on the CPU. The same figures as{' '}
        <code>npm run bench:gpu</code>, whose scale 1 (a 1 M × 768 index, 10,000 queries) needs more memory than a tab has: here at most
        0.25. <a href="./">Back to the app</a>
      </p>
      <div className="knobs">
        <label>
          Scale{' '}
          <select aria-label="Scale" value={scale} disabled={running} onChange={(e) => setScale(Number(e.target.value))}>
            {[...new Set([...SCALES, scale])].map((s) => (
              <option key={s} value={s}>
                {s}
              </option>
            ))}
          </select>
        </label>
        <button type="button" disabled={running} onClick={() => void run()}>
          Run
        </button>
        {running && (
          <button type="button" onClick={() => abort.current?.abort()}>
            Cancel
          </button>
        )}
      </div>
      {progress && (
        <div className="progress">
          <progress aria-label="Benchmark progress" max={progress.total} value={progress.done} />{' '}
          <span className="hint">{progress.what}</span>
        </div>
      )}
      {error && (
        <p role="alert" className="notice">
          {error}
        </p>
      )}
      {outcome && head && (
        <section aria-label="Results" data-testid="bench-results">
          <p data-testid="bench-adapter">
            {outcome.report.adapter} — {outcome.tuning.split('\n')[0]}
          </p>
          <table data-testid="bench-kernels">
            <thead>
              <tr>
                {head.map((h) => (
                  <th key={h} scope="col">
                    {h}
                  </th>
                ))}
              </tr>
            </thead>
            <tbody>
              {body.map((r) => (
                <tr key={r.slice(0, 3).join('|')}>
                  {r.map((c, i) => (
                    // biome-ignore lint/suspicious/noArrayIndexKey: a row's cells are fixed columns
                    <td key={i}>{c}</td>
                  ))}
                </tr>
              ))}
            </tbody>
          </table>
          {outcome.report.batchSearch && <BatchStages batch={outcome.report.batchSearch} />}
          <p data-testid="bench-batch" className="hint">
            {outcome.batch}
          </p>
          <h2>Against the targets set for a data-centre GPU (H100/H200)</h2>
          <ul data-testid="bench-targets">
            {outcome.report.targets?.map((t) => (
              <li key={t}>{t}</li>
            ))}
          </ul>
          {json && (
            <a href={json} download="parquetseek-gpu-bench.json">
              Download the figures (JSON)
            </a>
          )}
        </section>
      )}
    </main>
  )
}

/**
 * The batch search as the search pipeline ran it, stage by stage (SearchStats.msByStage) and
 * where each runs, then decoding the candidates' pages (the pipeline copied them from memory).
 */
function BatchStages({ batch: b }: { batch: BatchFigures }) {
  const p = b.pipelineStages
  const staged = STAGES.reduce((sum, s) => sum + p[s], 0)
  const stages: Array<[string, string, number]> = [
    [`probe: ${b.nlist.toLocaleString('en')} centroids, nprobe ${b.nprobe}; the cut by distance`, 'GPU, CPU', p.probe],
    ['lists (held in memory)', 'CPU', p.lists],
    ['scan: tables, scan, top-k, read back; candidates checked and shortlisted', 'GPU, CPU', p.scan],
    [
      `refinement, ${b.candidatesPerQuery} candidates a query: ${b.refineRows.toLocaleString('en')} pages decoded (${b.decodeThreads} thread${b.decodeThreads > 1 ? 's' : ''}), distances, ranking`,
      'CPU, GPU',
      p.refine,
    ],
    ['results: rows and their values', 'CPU', p.project + (b.pipelineMs - staged)],
  ]
  return (
    <table data-testid="bench-batch-stages">
      <caption>
        Batch search: {b.queries.toLocaleString('en')} queries over {b.rows.toLocaleString('en')} × {b.dim}, end to end from memory
      </caption>
      <thead>
        <tr>
          <th scope="col">stage</th>
          <th scope="col">on</th>
          <th scope="col">ms</th>
        </tr>
      </thead>
      <tbody>
        {stages.map(([stage, on, ms]) => (
          <tr key={stage}>
            <td>{stage}</td>
            <td>{on}</td>
            <td>{ms.toFixed(1)}</td>
          </tr>
        ))}
      </tbody>
      <tfoot>
        <tr>
          <th scope="row" colSpan={2}>
            end to end
          </th>
          <td>{b.totalMs.toFixed(1)}</td>
        </tr>
      </tfoot>
    </table>
  )
}
