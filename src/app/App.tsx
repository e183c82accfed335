import { useEffect, useRef, useState } from 'react'
import type { IndexView, PageSearchResult, QuerySpec, RecallPoint } from '../../workers/engineApi.js'
import type { FileInfo } from '../../workers/fileFacts.js'
import { SEARCH_BACKENDS, type SearchBackend } from '../compute/backend.js'
import { encoderFor } from '../encode/encoders.js'
import type { BuildSummary } from '../index/build.js'
import { BuildPanel } from './BuildPanel.js'
import { run } from './bridge.js'
import { CentroidMap, Histogram, RecallChart, StageBars } from './charts.js'

/** An opened file, as the engine worker holds it. */
interface Opened {
  id: number
  info: FileInfo
  backend?: string
  /** A File to build from (local files and built results); URLs are searched only. */
  file?: File
  /** From the demo manifest: columns to show, a first query and its nprobe. */
  columns?: string[]
  query?: string
  nprobe?: number
}

/** public/demo/manifest.json, written by the demo generator (scripts/demo.ts). */
interface DemoManifest {
  src: string
  title?: string
  columns?: string[]
  query?: string
  nprobe?: number
}

type Built = { summary: BuildSummary; url: string; name: string; file: File; saved: boolean }

export function App() {
  const [opened, setOpened] = useState<Opened>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState<string>()
  const [warning, setWarning] = useState('')
  const [built, setBuilt] = useState<Built>()
  const [backend, setBackend] = useState<SearchBackend>('auto')
  const [gpuAvailable, setGpuAvailable] = useState(false)
  useEffect(() => {
    void run(undefined, (api) => api.hasGpu()).then(setGpuAvailable)
  }, [])

  // only the latest open wins: a slow URL (or the demo) must not replace a file opened since
  const openSeq = useRef(0)
  async function open(input: File | string | undefined, demo?: DemoManifest) {
    const seq = ++openSeq.current
    setError(undefined)
    setBuilt(undefined)
    if (!input) return
    setBusy(typeof input === 'string' ? `Opening ${input}…` : `Reading ${input.name}…`)
    try {
      const {
        id,
        info,
        backend: used,
        warnings,
      } = await run(undefined, (api, job) => api.open(input, backend === 'gpu' ? 'auto' : backend, job))
      if (seq !== openSeq.current) {
        void run(undefined, (api) => Promise.resolve(api.close(id)))
        return
      }
      setWarning(warnings.join(' '))
      if (opened) void run(undefined, (api) => Promise.resolve(api.close(opened.id)))
      setOpened({
        id,
        info,
        backend: used,
        file: typeof input === 'string' ? undefined : input,
        columns: demo?.columns,
        query: demo?.query,
        nprobe: demo?.nprobe,
      })
    } catch (e) {
      if (seq !== openSeq.current) return
      setOpened(undefined)
      setError(describeOpenError(e as Error, input))
    } finally {
      if (seq === openSeq.current) setBusy(undefined)
    }
  }

  // ?src=<url> opens that file on load; otherwise the demo data, when this site has some
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, on load
  useEffect(() => {
    const src = new URLSearchParams(window.location.search).get('src')
    if (src) {
      void open(new URL(src, window.location.href).href)
      return
    }
    void fetch(new URL('demo/manifest.json', window.location.href))
      .then((r) => (r.ok ? (r.json() as Promise<DemoManifest>) : undefined))
      .then((m) => {
        if (m?.src) void open(new URL(m.src, window.location.href).href, m)
      })
      .catch(() => {}) // no demo on this site
  }, [])

  async function onBuilt(summary: BuildSummary, file: File, saved: boolean) {
    if (built) URL.revokeObjectURL(built.url)
    setBuilt({ summary, url: URL.createObjectURL(file), name: file.name, file, saved })
    // the indexed file opens for search right away (nothing is uploaded)
    const seq = ++openSeq.current
    const { id, info, backend: used } = await run(undefined, (api, job) => api.open(file, backend === 'gpu' ? 'auto' : backend, job))
    if (seq === openSeq.current) setOpened({ id, info, backend: used, file })
  }

  return (
    <main>
      <header>
        <h1>ParquetSeek</h1>
        <p className="lede">
          Vector search inside plain Parquet files. Open a file with an embedding column, index it, search it — nothing leaves this page.
        </p>
      </header>
      <OpenPanel onOpen={open} busy={busy} />
      <p className="status" aria-live="polite">
        {busy ?? warning}
      </p>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {opened && <FileDetails info={opened.info} backend={opened.backend} />}
      {opened?.file && !opened.info.index && opened.info.vectorColumns.length > 0 && (
        <BuildPanel
          file={opened.file}
          info={opened.info}
          backend={backend}
          gpuAvailable={gpuAvailable}
          onBackend={setBackend}
          onBuilt={onBuilt}
          onError={setError}
        />
      )}
      {built && <BuiltPanel built={built} />}
      {opened?.info.index && <SearchPanel key={opened.id} opened={opened} gpuAvailable={gpuAvailable} />}
    </main>
  )
}

function describeOpenError(e: Error, input: File | string): string {
  if (typeof input === 'string' && /network error/.test(e.message))
    return `${e.message}. If the file is on another site, its server must allow this page (CORS: Access-Control-Allow-Origin, and expose Content-Range).`
  return e.message
}

function OpenPanel({ onOpen, busy }: { onOpen: (input: File | string) => void; busy?: string }) {
  const [url, setUrl] = useState('')
  const [over, setOver] = useState(false)
  return (
    <section aria-label="Open" className="open">
      <section
        aria-label="Drop area for a local file"
        className={over ? 'drop over' : 'drop'}
        onDragOver={(e) => {
          e.preventDefault()
          setOver(true)
        }}
        onDragLeave={() => setOver(false)}
        onDrop={(e) => {
          e.preventDefault()
          setOver(false)
          const f = e.dataTransfer.files[0]
          if (f) onOpen(f)
        }}
      >
        <label>
          Parquet file
          <input
            type="file"
            accept=".parquet"
            aria-label="Parquet file"
            onChange={(e) => {
              const f = e.target.files?.[0]
              if (f) onOpen(f)
            }}
          />
        </label>
        <span className="hint">or drop it here — read in slices, never loaded whole</span>
      </section>
      <form
        className="url"
        onSubmit={(e) => {
          e.preventDefault()
          if (url.trim()) onOpen(url.trim())
        }}
      >
        <label>
          Parquet URL{' '}
          <input
            type="url"
            aria-label="Parquet URL"
            placeholder="https://…/file.parquet"
            value={url}
            onChange={(e) => setUrl(e.target.value)}
          />
        </label>{' '}
        <button type="submit" disabled={!!busy}>
          Open URL
        </button>
      </form>
    </section>
  )
}

export function FileDetails({ info, backend }: { info: FileInfo; backend?: string }) {
  return (
    <section aria-label="File">
      <p data-testid="file-summary">
        {info.name}: {info.rows.toLocaleString('en-US')} rows, {(info.bytes / 2 ** 20).toFixed(1)} MiB, {info.columns.length} columns
      </p>
      <p data-testid="index-status">
        {info.index
          ? `Index: ${info.index.column}, ${String(info.index.params.metric)}, ${info.index.lists} lists, ${(info.index.bytes / 1024).toFixed(0)} KiB${backend ? `; searching with ${backend}` : ''}`
          : info.vectorColumns.length
            ? 'No index in this file.'
            : 'No index in this file, and no vector column to build one from (a LIST of FLOAT/DOUBLE or a FIXED_LEN_BYTE_ARRAY of float32).'}
      </p>
      <details>
        <summary>Schema</summary>
        <table>
          <caption>Columns</caption>
          <tbody>
            {info.columns.map((c) => (
              <tr key={c.name}>
                <td>{c.name}</td>
                <td>{c.type}</td>
                <td>{info.vectorColumns.includes(c.name) ? 'vector' : ''}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </details>
    </section>
  )
}

function BuiltPanel({ built }: { built: Built }) {
  const canSave = typeof (window as { showSaveFilePicker?: unknown }).showSaveFilePicker === 'function'
  const total = Object.values(built.summary.phasesMs).reduce((a, b) => a + b, 0)
  return (
    <section aria-label="Result">
      <h2>Indexed file</h2>
      <p data-testid="built-summary">
        {built.summary.params.rows} rows, nlist {built.summary.params.nlist}, m {built.summary.params.m}; index{' '}
        {(built.summary.indexBytes / 1024).toFixed(0)} KiB of {(built.summary.outputBytes / 1024).toFixed(0)} KiB; built in{' '}
        {(total / 1000).toFixed(1)} s with {built.summary.backend} on {built.summary.threads}{' '}
        {built.summary.threads === 1 ? 'thread' : 'threads'}
      </p>
      {built.summary.gpuFallback && (
        <p role="status" className="hint">
          The GPU could not build it: {built.summary.gpuFallback}.
        </p>
      )}
      {built.saved && <p data-testid="saved">Saved to {built.name} as it was written.</p>}
      <button
        type="button"
        onClick={() => {
          const a = document.createElement('a')
          a.href = built.url
          a.download = built.name
          a.click()
        }}
      >
        Download
      </button>{' '}
      {canSave && !built.saved && (
        <button type="button" onClick={() => saveToDisk(built.file, built.name)}>
          Save to disk…
        </button>
      )}
    </section>
  )
}

/** File System Access API: the browser streams the Blob to the chosen file. */
async function saveToDisk(blob: Blob, name: string) {
  const picker = (window as unknown as { showSaveFilePicker: (o: object) => Promise<FileSystemFileHandle> }).showSaveFilePicker
  try {
    const handle = await picker({ suggestedName: name })
    const writable = await handle.createWritable()
    await blob.stream().pipeTo(writable)
  } catch (e) {
    if ((e as Error).name !== 'AbortError') throw e
  }
}

function SearchPanel({ opened, gpuAvailable }: { opened: Opened; gpuAvailable: boolean }) {
  const info = opened.info
  const params = info.index?.params ?? {}
  const others = info.columns.map((c) => c.name).filter((c) => c !== info.index?.column)
  const textModel = encoderFor(info.model) ? info.model : undefined
  const [mode, setMode] = useState<'row' | 'vector' | 'text'>(textModel ? 'text' : 'row')
  const [text, setText] = useState(opened.query ?? '')
  const [row, setRow] = useState('0')
  const [vector, setVector] = useState('')
  const [k, setK] = useState('10')
  const [nprobe, setNprobe] = useState(String(opened.nprobe ?? params.nprobe ?? ''))
  const [refine, setRefine] = useState(String(params.refine ?? ''))
  const [columns, setColumns] = useState<string[]>(opened.columns?.filter((c) => others.includes(c)) ?? others.slice(0, 3))
  const [result, setResult] = useState<PageSearchResult>()
  const [searching, setSearching] = useState(false)
  const [error, setError] = useState<string>()
  const [view, setView] = useState<IndexView>()
  const [searchBackend, setSearchBackend] = useState<string>(opened.backend ?? 'auto')
  const abort = useRef<AbortController>(undefined)

  async function changeBackend(choice: SearchBackend) {
    setError(undefined)
    try {
      setSearchBackend(await run(undefined, (api, job) => api.setSearchBackend(opened.id, choice, job)))
    } catch (e) {
      setError(`Could not switch to ${choice}: ${(e as Error).message}`)
    }
  }

  useEffect(() => {
    void run(undefined, (api) => api.indexView(opened.id)).then(setView)
  }, [opened.id])
  // the demo shows a first answer without waiting for typing
  // biome-ignore lint/correctness/useExhaustiveDependencies: once per opened file
  useEffect(() => {
    if (opened.query && textModel) void search({ text: opened.query })
  }, [opened.id])

  async function search(query: QuerySpec) {
    abort.current?.abort()
    const controller = new AbortController()
    abort.current = controller
    setSearching(true)
    setError(undefined)
    try {
      const req = { k: Number(k), nprobe: nprobe ? Number(nprobe) : undefined, refine: refine ? Number(refine) : undefined, columns }
      setResult(await run(controller.signal, (api, job) => api.search(opened.id, query, req, job)))
    } catch (e) {
      if ((e as Error).name !== 'AbortError') setError((e as Error).message)
    } finally {
      if (abort.current === controller) setSearching(false)
    }
  }

  function submit() {
    if (mode === 'row') return search({ row: Number(row) })
    if (mode === 'text') return search({ text })
    let parsed: unknown
    try {
      parsed = JSON.parse(vector)
    } catch {
      setError('The query vector is not valid JSON: paste an array of numbers, e.g. [0.1, 0.2, …]')
      return
    }
    if (!Array.isArray(parsed) || !parsed.every((v) => typeof v === 'number'))
      return setError('The query vector must be a JSON array of numbers')
    return search({ vector: parsed })
  }

  return (
    <section aria-label="Search" className="search">
      <h2>Search</h2>
      <form
        onSubmit={(e) => {
          e.preventDefault()
          void submit()
        }}
      >
        <fieldset>
          <legend>Query</legend>
          {textModel && (
            <label className="text">
              <input type="radio" name="mode" checked={mode === 'text'} onChange={() => setMode('text')} /> Text{' '}
              <input
                type="search"
                aria-label="Query text"
                placeholder="type a phrase"
                value={text}
                onChange={(e) => {
                  setText(e.target.value)
                  setMode('text')
                }}
              />
              <span className="hint"> encoded in this page with {textModel}</span>
            </label>
          )}
          <label>
            <input type="radio" name="mode" checked={mode === 'row'} onChange={() => setMode('row')} /> More like row{' '}
            <input
              type="number"
              aria-label="Row number"
              min={0}
              max={info.rows - 1}
              value={row}
              onChange={(e) => {
                setRow(e.target.value)
                setMode('row')
              }}
            />
          </label>
          <label className="vector">
            <input type="radio" name="mode" checked={mode === 'vector'} onChange={() => setMode('vector')} /> Vector (JSON)
            <textarea
              aria-label="Query vector"
              rows={2}
              placeholder={`[${Array.from({ length: 3 }, () => '0.0').join(', ')}, …] (${String(params.dim)} numbers)`}
              value={vector}
              onChange={(e) => {
                setVector(e.target.value)
                setMode('vector')
              }}
            />
          </label>
        </fieldset>
        <fieldset className="knobs">
          <legend>Parameters</legend>
          <label title="How many results">
            k <input type="number" aria-label="k" min={1} max={1000} value={k} onChange={(e) => setK(e.target.value)} />
          </label>
          <label title="Lists read per query: more = higher recall, more bytes (default: tuned at build time)">
            nprobe{' '}
            <input
              type="number"
              aria-label="nprobe"
              min={1}
              max={Number(params.nlist)}
              value={nprobe}
              placeholder="tuned"
              onChange={(e) => setNprobe(e.target.value)}
            />
            {params.nprobe !== undefined && nprobe !== String(params.nprobe) && (
              <span className="hint"> (index default {String(params.nprobe)})</span>
            )}
          </label>
          <label title="Candidates re-ranked exactly = k × refine (default: tuned at build time)">
            refine{' '}
            <input
              type="number"
              aria-label="refine"
              min={1}
              value={refine}
              placeholder="tuned"
              onChange={(e) => setRefine(e.target.value)}
            />
          </label>
          <label title="What scores the lists: WebAssembly SIMD, plain TypeScript, or the GPU (WebGPU: list scan and top-k; same results)">
            Compute{' '}
            <select aria-label="Search backend" value={searchBackend} onChange={(e) => void changeBackend(e.target.value as SearchBackend)}>
              {SEARCH_BACKENDS.filter((b) => b !== 'auto' && (b !== 'gpu' || gpuAvailable)).map((b) => (
                <option key={b}>{b}</option>
              ))}
            </select>
          </label>
          <span>metric: {String(params.metric)}</span>
        </fieldset>
        <fieldset className="columns">
          <legend>Columns shown</legend>
          {others.map((c) => (
            <label key={c}>
              <input
                type="checkbox"
                checked={columns.includes(c)}
                onChange={(e) => setColumns(e.target.checked ? [...columns, c] : columns.filter((x) => x !== c))}
              />{' '}
              {c}
            </label>
          ))}
        </fieldset>
        <button type="submit">Search</button> <span aria-live="polite">{searching ? 'Searching…' : ''}</span>
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      <div className="results-area">{result && <Results result={result} columns={columns} onMoreLike={(r) => search({ row: r })} />}</div>
      {result && <Stats result={result} />}
      {view && (
        <section aria-label="Index" className="index-view">
          <h3>The index</h3>
          <div className="charts">
            <Histogram sizes={view.sizes} />
            <CentroidMap view={view} probed={result?.probed} query={result?.queryPoint} />
          </div>
        </section>
      )}
      <RecallPanel id={opened.id} nlist={Number(params.nlist)} tuned={Number(params.nprobe)} remote={!opened.file} />
    </section>
  )
}

function Results({ result, columns, onMoreLike }: { result: PageSearchResult; columns: string[]; onMoreLike: (row: number) => void }) {
  const shown = columns.filter((c) => result.results.some((r) => c in r.values))
  return (
    <table className="results">
      <caption>Results ({result.results.length})</caption>
      <thead>
        <tr>
          <th scope="col">#</th>
          <th scope="col">row</th>
          <th scope="col">distance</th>
          {shown.map((c) => (
            <th scope="col" key={c}>
              {c}
            </th>
          ))}
          <th scope="col">
            <span className="sr-only">actions</span>
          </th>
        </tr>
      </thead>
      <tbody>
        {result.results.map((r, i) => (
          <tr key={r.row}>
            <td>{i + 1}</td>
            <td>{r.row}</td>
            <td>{r.distance.toPrecision(4)}</td>
            {shown.map((c) => (
              <td key={c}>
                <Value value={r.values[c]} />
              </td>
            ))}
            <td>
              <button type="button" aria-label={`More like row ${r.row}`} onClick={() => onMoreLike(r.row)}>
                More like this
              </button>
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  )
}

/** Any value as text (React escapes it; nothing from a file is ever HTML); long text folds. */
function Value({ value }: { value: unknown }) {
  const text = typeof value === 'string' ? value : value === undefined ? '' : JSON.stringify(value)
  if (text.length <= 140) return <>{text}</>
  return (
    <details>
      <summary>{text.slice(0, 120)}…</summary>
      {text}
    </details>
  )
}

function Stats({ result }: { result: PageSearchResult }) {
  const s = result.stats
  return (
    <section aria-label="Query stats" className="stats">
      <h3>This query</h3>
      <p data-testid="query-stats">
        {(s.bytes / 1024).toFixed(1)} KiB read in {s.requests} {s.requests === 1 ? 'request' : 'requests'}, {s.roundTrips} round{' '}
        {s.roundTrips === 1 ? 'trip' : 'trips'}; {s.listsProbed} lists probed ({s.listsFetched} fetched), {s.pagesDecoded} vector pages
        decoded; {s.ms.toFixed(1)} ms with {s.backend}
      </p>
      {s.gpuFallback && (
        <p role="status" className="hint">
          The GPU stopped working: {s.gpuFallback}.
        </p>
      )}
      <StageBars ms={s.msByStage} />
    </section>
  )
}

function RecallPanel({ id, nlist, tuned, remote }: { id: number; nlist: number; tuned: number; remote: boolean }) {
  const [points, setPoints] = useState<RecallPoint[]>()
  const [running, setRunning] = useState(false)
  const [error, setError] = useState<string>()
  const abort = useRef<AbortController>(undefined)
  async function check() {
    const controller = new AbortController()
    abort.current = controller
    setRunning(true)
    setError(undefined)
    const nprobes = [...new Set([1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024].filter((p) => p < nlist).concat(tuned || [], nlist))]
      .filter((p) => p >= 1)
      .sort((a, b) => a - b)
    try {
      setPoints(await run(controller.signal, (api, job) => api.checkRecall(id, { queries: 20, k: 10, nprobes }, job)))
    } catch (e) {
      setError((e as Error).name === 'AbortError' ? 'Recall check cancelled.' : (e as Error).message)
    } finally {
      setRunning(false)
    }
  }
  return (
    <section aria-label="Recall" className="recall">
      <h3>Recall</h3>
      <p className="hint">
        Compares the index with exact search for 20 rows of the file used as queries{remote ? ' — reads every vector of the file once' : ''}
        .
      </p>
      <button type="button" onClick={check} disabled={running}>
        Check recall
      </button>{' '}
      {running && (
        <button type="button" onClick={() => abort.current?.abort()}>
          Cancel check
        </button>
      )}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {points && (
        <div className="charts">
          <table data-testid="recall-table">
            <caption>recall@10 by nprobe</caption>
            <thead>
              <tr>
                <th scope="col">nprobe</th>
                <th scope="col">recall@10</th>
                <th scope="col">KiB / query</th>
              </tr>
            </thead>
            <tbody>
              {points.map((p) => (
                <tr key={p.nprobe}>
                  <td>
                    {p.nprobe}
                    {p.nprobe === tuned ? ' (default)' : ''}
                  </td>
                  <td>{p.recall.toFixed(3)}</td>
                  <td>{(p.bytesPerQuery / 1024).toFixed(0)}</td>
                </tr>
              ))}
            </tbody>
          </table>
          <RecallChart points={points} />
        </div>
      )}
    </section>
  )
}
