import { useRef, useState } from 'react'
import type { FileInfo } from '../../workers/fileFacts.js'
import { SEARCH_BACKENDS, type SearchBackend } from '../compute/backend.js'
import { BUILD_PHASES, type BuildPhase, type BuildProgress, type BuildSummary } from '../index/build.js'
import type { Metric } from '../index/model.js'
import { buildInWorker } from './bridge.js'

const PHASE_LABEL: Record<BuildPhase, string> = {
  read: 'reading vectors',
  'train-coarse': 'training coarse clusters',
  'train-pq': 'training PQ codebooks',
  encode: 'encoding rows',
  tune: 'measuring recall for the default nprobe',
  write: 'writing the indexed file',
}

interface Props {
  file: File
  info: FileInfo
  backend: SearchBackend
  /** Whether the page has a WebGPU adapter (the gpu choice is offered only then). */
  gpuAvailable: boolean
  onBackend: (b: SearchBackend) => void
  /** `file`: the indexed file, in memory (a Blob-backed File) or as saved to disk. */
  onBuilt: (summary: BuildSummary, file: File, saved: boolean) => Promise<void>
  onError: (message: string | undefined) => void
}

/** Build parameters (defaults explained), per-phase progress with an ETA, cancel. */
export function BuildPanel({ file, info, backend, gpuAvailable, onBackend, onBuilt, onError }: Props) {
  const [column, setColumn] = useState(info.vectorColumns[0] ?? '')
  const [metric, setMetric] = useState<Metric>('l2')
  const [nlist, setNlist] = useState('')
  const [m, setM] = useState('')
  const canStream = typeof (window as { showSaveFilePicker?: unknown }).showSaveFilePicker === 'function'
  const [toDisk, setToDisk] = useState(false)
  const [progress, setProgress] = useState<BuildProgress>()
  const [building, setBuilding] = useState(false)
  const abort = useRef<AbortController>(undefined)
  const phaseStart = useRef({ phase: '' as string, at: 0 })

  async function build() {
    const controller = new AbortController()
    abort.current = controller
    const name = file.name.replace(/\.parquet$/i, '') + '.indexed.parquet'
    let target: FileSystemFileHandle | undefined
    if (toDisk) {
      try {
        target = await (window as unknown as { showSaveFilePicker: (o: object) => Promise<FileSystemFileHandle> }).showSaveFilePicker({
          suggestedName: name,
        })
      } catch {
        return // the user closed the picker
      }
    }
    setBuilding(true)
    onError(undefined)
    try {
      const { summary, blob } = await buildInWorker(
        file,
        {
          column,
          metric,
          skipInvalid: true,
          backend,
          nlist: nlist ? Number(nlist) : undefined,
          m: m ? Number(m) : undefined,
        },
        {
          signal: controller.signal,
          target,
          onProgress: (p) => {
            if (p.phase !== phaseStart.current.phase) phaseStart.current = { phase: p.phase, at: performance.now() }
            setProgress(p)
          },
        },
      )
      if (target) await onBuilt(summary, await target.getFile(), true)
      else await onBuilt(summary, new File([blob as Blob], name, { type: 'application/vnd.apache.parquet' }), false)
    } catch (e) {
      onError((e as Error).name === 'AbortError' ? 'Build cancelled.' : (e as Error).message)
    } finally {
      setBuilding(false)
      setProgress(undefined)
    }
  }

  const step = progress ? BUILD_PHASES.indexOf(progress.phase) : 0
  const eta = (() => {
    if (!progress || progress.done === 0 || progress.total === 0) return ''
    const elapsed = performance.now() - phaseStart.current.at
    const left = (elapsed / progress.done) * (progress.total - progress.done)
    return left > 1500 ? `, about ${Math.ceil(left / 1000)} s left in this phase` : ''
  })()
  return (
    <section aria-label="Build">
      <h2>Build an index</h2>
      <div className="knobs">
        <label>
          Embedding column{' '}
          <select value={column} onChange={(e) => setColumn(e.target.value)}>
            {info.vectorColumns.map((c) => (
              <option key={c}>{c}</option>
            ))}
          </select>
        </label>
        <label>
          Metric{' '}
          <select value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
            <option value="l2">L2 (Euclidean)</option>
            <option value="cosine">cosine</option>
            <option value="dot">inner product</option>
          </select>
        </label>
        <label title="Coarse clusters. Default 2·√rows (at least 32 rows each): more lists = fewer bytes per query, slower build">
          Lists (nlist){' '}
          <input type="number" aria-label="nlist" min={1} placeholder="auto" value={nlist} onChange={(e) => setNlist(e.target.value)} />
        </label>
        <label title="PQ bytes per vector. Default dim/4 up to 256-d, dim/8 above: more = better ranking, bigger index">
          Code bytes (m) <input type="number" aria-label="m" min={1} placeholder="auto" value={m} onChange={(e) => setM(e.target.value)} />
        </label>
        <label title="WebAssembly SIMD (default where available) or the plain TypeScript reference — both give the same index — or the GPU (WebGPU: an index of the same quality)">
          Compute{' '}
          <select aria-label="Compute backend" value={backend} onChange={(e) => onBackend(e.target.value as SearchBackend)}>
            {SEARCH_BACKENDS.filter((b) => b !== 'gpu' || gpuAvailable).map((b) => (
              <option key={b}>{b}</option>
            ))}
          </select>
        </label>
      </div>
      {canStream && (
        <label className="hint">
          <input type="checkbox" checked={toDisk} onChange={(e) => setToDisk(e.target.checked)} /> Write the indexed file straight to disk
          (asks where first; needs no memory for the output)
        </label>
      )}
      <p className="hint">Defaults suit most files; the default nprobe is measured on your data at the end of the build.</p>
      <button type="button" onClick={build} disabled={building || !column}>
        Build index
      </button>{' '}
      {building && (
        <button type="button" onClick={() => abort.current?.abort()}>
          Cancel
        </button>
      )}
      {building && (
        <div className="progress">
          <progress
            aria-label="Build progress"
            max={BUILD_PHASES.length}
            value={step + (progress ? progress.done / Math.max(1, progress.total) : 0)}
          />{' '}
          <span data-testid="phase">
            {progress
              ? `${progress.phase}: ${PHASE_LABEL[progress.phase]} ${progress.done.toLocaleString('en-US')}/${progress.total.toLocaleString('en-US')}${eta}`
              : 'starting…'}
          </span>
          <ol className="phases">
            {BUILD_PHASES.map((p, i) => (
              <li key={p} className={i < step ? 'done' : i === step ? 'current' : ''}>
                {p}
              </li>
            ))}
          </ol>
        </div>
      )}
    </section>
  )
}
