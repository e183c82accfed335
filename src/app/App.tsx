import { useRef, useState } from 'react'
import type { BuildProgress, BuildSummary } from '../index/build.js'
import { BUILD_PHASES } from '../index/build.js'
import type { Metric } from '../index/model.js'
import { blobSource } from '../io/blobSource.js'
import { buildInWorker } from './bridge.js'
import { type FileInfo, inspect } from './inspect.js'

type Built = { summary: BuildSummary; url: string; name: string; info: FileInfo }

export function App() {
  const [file, setFile] = useState<File>()
  const [info, setInfo] = useState<FileInfo>()
  const [error, setError] = useState<string>()
  const [column, setColumn] = useState('')
  const [metric, setMetric] = useState<Metric>('l2')
  const [progress, setProgress] = useState<BuildProgress>()
  const [building, setBuilding] = useState(false)
  const [built, setBuilt] = useState<Built>()
  const abort = useRef<AbortController>(undefined)

  async function open(f: File | undefined) {
    setError(undefined)
    setInfo(undefined)
    setBuilt(undefined)
    setFile(f)
    if (!f) return
    try {
      const i = await inspect(blobSource(f), f.name)
      setInfo(i)
      setColumn(i.vectorColumns[0] ?? '')
    } catch (e) {
      setError((e as Error).message)
    }
  }

  async function build() {
    if (!file || !column) return
    const controller = new AbortController()
    abort.current = controller
    setBuilding(true)
    setError(undefined)
    setBuilt(undefined)
    try {
      const { summary, bytes } = await buildInWorker(
        file,
        { column, metric, skipInvalid: true },
        { signal: controller.signal, onProgress: setProgress },
      )
      const name = file.name.replace(/\.parquet$/i, '') + '.indexed.parquet'
      const blob = new Blob([bytes as Uint8Array<ArrayBuffer>], { type: 'application/vnd.apache.parquet' })
      setBuilt({ summary, url: URL.createObjectURL(blob), name, info: await inspect(blobSource(blob), name) })
    } catch (e) {
      setError((e as Error).name === 'AbortError' ? 'Build cancelled.' : (e as Error).message)
    } finally {
      setBuilding(false)
      setProgress(undefined)
    }
  }

  const step = progress ? BUILD_PHASES.indexOf(progress.phase) : 0
  return (
    <main>
      <h1>ParquetSeek</h1>
      <p className="lede">
        Vector search inside plain Parquet files. Open a file with an embedding column to index it — nothing leaves this page.
      </p>
      <label className="picker">
        Parquet file
        <input type="file" accept=".parquet" aria-label="Parquet file" onChange={(e) => open(e.target.files?.[0])} />
      </label>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {info && <FileDetails info={info} />}
      {info && info.vectorColumns.length > 0 && (
        <section aria-label="Build">
          <h2>Build an index</h2>
          <label>
            Embedding column{' '}
            <select value={column} onChange={(e) => setColumn(e.target.value)}>
              {info.vectorColumns.map((c) => (
                <option key={c}>{c}</option>
              ))}
            </select>
          </label>{' '}
          <label>
            Metric{' '}
            <select value={metric} onChange={(e) => setMetric(e.target.value as Metric)}>
              <option value="l2">L2 (Euclidean)</option>
              <option value="cosine">cosine</option>
              <option value="dot">inner product</option>
            </select>
          </label>{' '}
          <button type="button" onClick={build} disabled={building}>
            Build index
          </button>
          {building && (
            <button type="button" onClick={() => abort.current?.abort()}>
              Cancel
            </button>
          )}
          {building && (
            <p>
              <progress
                aria-label="Build progress"
                max={BUILD_PHASES.length}
                value={step + (progress ? progress.done / Math.max(1, progress.total) : 0)}
              />{' '}
              <span data-testid="phase">{progress ? `${progress.phase} ${progress.done}/${progress.total}` : 'starting…'}</span>
            </p>
          )}
        </section>
      )}
      {built && (
        <section aria-label="Result">
          <h2>Indexed file</h2>
          <p data-testid="built-summary">
            {built.summary.params.rows} rows, nlist {built.summary.params.nlist}, m {built.summary.params.m}; index{' '}
            {(built.summary.indexBytes / 1024).toFixed(0)} KiB of {(built.summary.outputBytes / 1024).toFixed(0)} KiB; built in{' '}
            {(Object.values(built.summary.phasesMs).reduce((a, b) => a + b, 0) / 1000).toFixed(1)} s with {built.summary.backend} on{' '}
            {built.summary.threads} {built.summary.threads === 1 ? 'thread' : 'threads'}
          </p>
          <button type="button" onClick={() => download(built.url, built.name)}>
            Download
          </button>
          <FileDetails info={built.info} />
        </section>
      )}
    </main>
  )
}

function download(url: string, name: string) {
  const a = document.createElement('a')
  a.href = url
  a.download = name
  a.click()
}

function FileDetails({ info }: { info: FileInfo }) {
  return (
    <section aria-label="File details">
      <p data-testid="file-summary">
        {info.name}: {info.rows.toLocaleString('en')} rows, {(info.bytes / 1024).toFixed(0)} KiB
      </p>
      <table>
        <caption>Columns</caption>
        <tbody>
          {info.columns.map((c) => (
            <tr key={c.name}>
              <td>{c.name}</td>
              <td>{c.type}</td>
              <td>{info.vectorColumns.includes(c.name) ? 'vectors' : ''}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <p data-testid="index-status">
        {info.index
          ? `Index: ${info.index.column}, ${String(info.index.params.metric)}, nlist ${String(info.index.params.nlist)}, m ${String(info.index.params.m)}, ${(info.index.bytes / 1024).toFixed(0)} KiB`
          : 'No index in this file.'}
      </p>
    </section>
  )
}
