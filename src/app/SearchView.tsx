import { type RefObject, useEffect, useRef, useState } from 'react'
import type { IndexView, PageSearchResult, QuerySpec, RecallPoint } from '../../workers/engineApi.js'
import type { FileInfo } from '../../workers/fileFacts.js'
import { SEARCH_BACKENDS, type SearchBackend } from '../compute/backend.js'
import { encoderFor } from '../encode/encoders.js'
import type { ModelLoad } from '../encode/useLite.js'
import { PASSAGE_ROW } from '../index/keys.js'
import { updateAddress } from './address.js'
import { engineWorker, run } from './bridge.js'
import { CentroidMap, Histogram, RecallChart, StageBars } from './charts.js'
import { resultsCsv } from './csv.js'
import { fileStem, saveAs } from './download.js'
import { Skeleton } from './OpenMenu.js'
import { Results } from './Results.js'
import { queryTerms, spanText } from './text.js'

/** An opened file, as the engine worker holds it. */
export interface Opened {
  id: number
  info: FileInfo
  backend?: string
  /** A File to build from (local files and built results); URLs are searched only. */
  file?: File
  /** The folder it was opened from (Open folder, or dropped): its name and every file of it. */
  folder?: { name: string; files: File[] }
  /** The URL it was opened from: searches are kept in the page's address (?src=…&q=…) to share or reload. */
  src?: string
  /** From the demo manifest: columns to show, a first query and its nprobe. */
  columns?: string[]
  query?: string
  nprobe?: number
  /** From the page's address: a first search by row (`row=`), its filter (`where=`) and how many results (`k=`). */
  row?: number
  where?: string
  k?: number
  /** From the page's address: the Data view's filter (`rows=`) and sort (`sort=`, address.ts). */
  rows?: string
  sort?: string
}

type Mode = 'text' | 'row' | 'vector'

/** Results "Show more" adds to those on screen. */
const MORE = 10
/** The most results the page asks for (the k field's largest value). */
export const MAX_PAGE_K = 1000

/** One answered query; "Back" returns to the one before. */
interface Answer {
  query: QuerySpec
  /** The filter it was searched with. */
  where?: string
  /** The results asked for. */
  k: number
  result: PageSearchResult
}

interface Props {
  opened: Opened
  gpuAvailable: boolean
  /** Set from outside (the Data view, a row's details): search for rows like this one. */
  similar?: { row: number; seq: number }
  onOpenRow: (row: number) => void
  searchInput: RefObject<HTMLInputElement | null>
}

/** The search bar, its advanced parameters, the results and why they are these. */
export function SearchView({ opened, gpuAvailable, similar, onOpenRow, searchInput }: Props) {
  const info = opened.info
  const params = info.index?.params ?? {}
  const others = info.columns.map((c) => c.name).filter((c) => c !== info.index?.column && !info.vectorColumns.includes(c))
  const textModel = encoderFor(info.model) ? info.model : undefined
  const [mode, setMode] = useState<Mode>(textModel ? 'text' : 'row')
  const [text, setText] = useState(opened.query ?? '')
  const [row, setRow] = useState(String(opened.row ?? 0))
  const [vector, setVector] = useState('')
  const [k, setK] = useState(String(opened.k ?? 10))
  // empty: the index's tuned default (nprobe, cut per query by its slack when it has one)
  const [nprobe, setNprobe] = useState(String(opened.nprobe ?? ''))
  const adaptive = params.slack !== undefined ? ', adaptive' : ''
  // a manifest's files are each their own index: nprobe is each file's, and their nlists may differ
  const eachFile = info.index?.eachFile
  const tunedNprobe = eachFile ? (eachFile.nprobe ? `${spanText(eachFile.nprobe)} a file` : "each file's") : String(params.nprobe)
  const maxNprobe = eachFile ? eachFile.nlist[1] : Number(params.nlist)
  // empty: the index's tuned refine (and its tuned cut of the candidates, when it has one)
  const [refine, setRefine] = useState('')
  /** A `where` filter (empty: every row). */
  const [filter, setFilter] = useState(opened.where ?? '')
  // a file of passages (embed --passages): one result a document unless asked for every passage
  const passages = info.columns.some((c) => c.name === PASSAGE_ROW)
  const [perDocument, setPerDocument] = useState(true)
  const [columns, setColumns] = useState<string[]>(opened.columns?.filter((c) => others.includes(c)) ?? others.slice(0, 3))
  const [answers, setAnswers] = useState<Answer[]>([])
  const [searching, setSearching] = useState(false)
  /** The text encoder's model download, while a text query waits for it. */
  const [loading, setLoading] = useState<ModelLoad>()
  const [error, setError] = useState<string>()
  const [view, setView] = useState<IndexView>()
  const [searchBackend, setSearchBackend] = useState<string>(opened.backend ?? 'auto')
  /** On the GPU: the adapter and its tunables, in words. */
  const [device, setDevice] = useState<string>()
  const abort = useRef<AbortController>(undefined)
  const answer = answers.at(-1)
  const resultsArea = useRef<HTMLDivElement>(null)
  /** The result to focus once the answer on screen has rendered ("Show more": the first one added). */
  const focusAt = useRef<number>(undefined)
  // biome-ignore lint/correctness/useExhaustiveDependencies: after each answer is shown
  useEffect(() => {
    if (focusAt.current === undefined) return
    resultsArea.current?.querySelectorAll<HTMLElement>('.hits > li')[focusAt.current]?.focus()
    focusAt.current = undefined
  }, [answer])

  async function changeBackend(choice: SearchBackend) {
    setError(undefined)
    try {
      const now = await run(undefined, (api, job) => api.setSearchBackend(opened.id, choice, job))
      setSearchBackend(now.backend)
      setDevice(now.device)
    } catch (e) {
      setError(`Could not switch to ${choice}: ${(e as Error).message}`)
    }
  }

  useEffect(() => {
    void run(undefined, (api) => api.indexView(opened.id)).then(setView)
  }, [opened.id])
  // the demo, or a shared link, shows a first answer without waiting for typing
  // biome-ignore lint/correctness/useExhaustiveDependencies: once per opened file
  useEffect(() => {
    if (opened.query && textModel) void search({ text: opened.query })
    else if (opened.row !== undefined && opened.row < info.rows) {
      setMode('row')
      void search({ row: opened.row })
    }
  }, [opened.id])
  // the answer on screen is in the page's address, to share or reload (a file opened from disk has none)
  useEffect(() => {
    if (opened.src && answer) updateAddress({ src: opened.src, ...searchParams(answer) })
  }, [answer, opened.src])
  // biome-ignore lint/correctness/useExhaustiveDependencies: each new request from outside
  useEffect(() => {
    if (!similar) return
    setMode('row')
    setRow(String(similar.row))
    void search({ row: similar.row })
  }, [similar?.seq])

  /** Polls the model's download into `loading` while `until` runs. */
  async function showModelLoad<T>(until: Promise<T>): Promise<T> {
    const poll = setInterval(() => {
      void engineWorker()
        .modelLoad()
        .then((m) => setLoading(m && !m.done ? m : undefined))
    }, 250)
    try {
      return await until
    } finally {
      clearInterval(poll)
      setLoading(undefined)
    }
  }

  // the first keystroke of a text query starts the model's download (shown as it goes), so the
  // query typed meanwhile does not wait for all of it
  const prepared = useRef(false)
  function prepareEncoder() {
    if (prepared.current || !textModel) return
    prepared.current = true
    // (a failed load is the query's to report: it tries again)
    void showModelLoad(run(undefined, (api) => api.prepareEncoder(opened.id))).catch(() => {})
  }

  /**
   * Searches with the parameters on screen, or the `k` and filter given (`more`: those of the
   * answer it extends, which it replaces; `focus`: the result focused once it is shown).
   */
  async function search(query: QuerySpec, o: { replace?: boolean; k?: number; where?: string; focus?: number } = {}) {
    abort.current?.abort()
    const controller = new AbortController()
    abort.current = controller
    setSearching(true)
    setError(undefined)
    try {
      const req = {
        k: o.k ?? Number(k),
        nprobe: nprobe ? Number(nprobe) : undefined,
        refine: refine ? Number(refine) : undefined,
        columns,
        where: (o.where ?? filter).trim() || undefined,
        distinct: passages && perDocument ? PASSAGE_ROW : undefined,
      }
      const answer = run(controller.signal, (api, job) => api.search(opened.id, query, req, job))
      // the first text query loads the model (unless typing did): its download is shown as it goes
      const result = await ('text' in query ? showModelLoad(answer) : answer)
      focusAt.current = o.focus
      setAnswers((a) => [...(o.replace ? a.slice(0, -1) : a), { query, where: req.where, k: req.k, result }].slice(-20))
    } catch (e) {
      if ((e as Error).name !== 'AbortError') setError((e as Error).message)
    } finally {
      if (abort.current === controller) setSearching(false)
    }
  }

  /**
   * The same search for MORE results than on screen. Its first rows are those shown, unless its
   * larger share of candidates held nearer rows.
   */
  function more() {
    if (!answer) return
    const next = Math.min(MAX_PAGE_K, answer.k + MORE)
    setK(String(next))
    void search(answer.query, { replace: true, k: next, where: answer.where ?? '', focus: answer.result.results.length })
  }
  const moreToShow = answer !== undefined && answer.result.results.length >= answer.k && answer.k < MAX_PAGE_K

  function similarTo(r: number) {
    setMode('row')
    setRow(String(r))
    void search({ row: r })
  }

  function back() {
    const previous = answers.at(-2)
    if (!previous) return
    abort.current?.abort() // a search still running would land on top of the one returned to
    setSearching(false)
    setAnswers(answers.slice(0, -1))
    setFilter(previous.where ?? '')
    setK(String(previous.k))
    const q = previous.query
    if ('text' in q) {
      setMode('text')
      setText(q.text)
    } else if ('row' in q) {
      setMode('row')
      setRow(String(q.row))
    } else setMode('vector')
  }

  function submit() {
    if (mode === 'row') {
      const r = Number(row)
      if (row.trim() === '' || !Number.isInteger(r) || r < 0 || r >= info.rows)
        return setError(`The row number must be a whole number from 0 to ${(info.rows - 1).toLocaleString('en-US')}.`)
      return search({ row: r })
    }
    if (mode === 'text') {
      if (!text.trim()) return setError('Type a few words to search for.')
      return search({ text })
    }
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

  const modes: Array<[Mode, string]> = [
    ...(textModel ? [['text', 'Text'] as [Mode, string]] : []),
    ['row', 'Similar to row'],
    ['vector', 'Vector'],
  ]
  const terms = answer && 'text' in answer.query ? queryTerms(answer.query.text) : []
  return (
    <section aria-label="Search" className="search">
      <search>
        <form
          aria-label="Search this file"
          className="searchbar"
          onSubmit={(e) => {
            e.preventDefault()
            void submit()
          }}
        >
          <fieldset className="modes">
            <legend className="sr-only">Search by</legend>
            {modes.map(([m, label]) => (
              <label key={m} className={mode === m ? 'seg on' : 'seg'}>
                <input type="radio" name="mode" className="sr-only" checked={mode === m} onChange={() => setMode(m)} />
                {label}
              </label>
            ))}
          </fieldset>
          <div className="query">
            {mode === 'text' && (
              <input
                ref={searchInput}
                type="search"
                aria-label="Query text"
                placeholder="Describe what you are looking for…"
                value={text}
                onChange={(e) => {
                  setText(e.target.value)
                  prepareEncoder()
                }}
              />
            )}
            {mode === 'row' && (
              <input
                ref={searchInput}
                type="number"
                aria-label="Row number"
                min={0}
                max={info.rows - 1}
                value={row}
                onChange={(e) => setRow(e.target.value)}
              />
            )}
            {mode === 'vector' && (
              <textarea
                aria-label="Query vector"
                rows={2}
                placeholder={`[0.0, 0.0, 0.0, …] (${String(params.dim)} numbers)`}
                value={vector}
                onChange={(e) => setVector(e.target.value)}
              />
            )}
            <button type="submit" className="primary">
              Search
            </button>
          </div>
          {passages && (
            <label
              className="per-document"
              title="This file holds passages of longer texts (embed --passages): show the nearest passage of each text, or every passage"
            >
              <input type="checkbox" checked={perDocument} onChange={(e) => setPerDocument(e.target.checked)} /> One passage per text
            </label>
          )}
          <label className="filter">
            <span>Only rows where</span>
            <input
              type="text"
              aria-label="Filter rows"
              placeholder={`${filterExample(info.columns.filter((c) => columns.includes(c.name)))} (optional)`}
              value={filter}
              onChange={(e) => setFilter(e.target.value)}
              spellCheck={false}
            />
          </label>
          <p className="hint search-hint">
            {mode === 'text'
              ? `Encoded in this page with ${textModel}. Press / to search, ↑ ↓ to move through results, Enter to open one, s for similar rows.`
              : mode === 'row'
                ? `Rows nearest to row ${row || '…'} of ${info.rows.toLocaleString('en-US')}. Press / to search, ↑ ↓ to move, Enter to open, s for similar.`
                : `A JSON array of ${String(params.dim)} numbers, compared by ${String(params.metric)} distance.`}
            {mode !== 'text' && info.modelProblem && ` No text search: ${info.modelProblem}.`}
          </p>
          <details className="advanced">
            <summary>
              Advanced{' '}
              <span className="hint">
                k {k || '10'} · nprobe {nprobe || `${tunedNprobe} (tuned${adaptive})`} · refine {refine || 'tuned'} · {searchBackend}
              </span>
            </summary>
            <div className="knobs">
              <label title="How many results">
                k <input type="number" aria-label="k" min={1} max={1000} value={k} onChange={(e) => setK(e.target.value)} />
              </label>
              <label title="Lists read per query: more = higher recall, more bytes (default: tuned at build time)">
                nprobe{' '}
                <input
                  type="number"
                  aria-label="nprobe"
                  min={1}
                  max={maxNprobe}
                  value={nprobe}
                  placeholder="tuned"
                  onChange={(e) => setNprobe(e.target.value)}
                />
                <span className="hint">
                  {' '}
                  {eachFile
                    ? `of ${spanText(eachFile.nlist)} in each file; each file's default ${eachFile.nprobe ? spanText(eachFile.nprobe) : 'its own'}`
                    : `of ${String(params.nlist)}; index default ${String(params.nprobe)}`}
                  {adaptive
                    ? ' at most: each query probes only the lists about as near as its nearest (a number here probes exactly that many)'
                    : ''}
                </span>
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
                <span className="hint"> default {String(params.refine ?? 'tuned')}</span>
              </label>
              <label title="What scores the lists: WebAssembly SIMD, plain TypeScript, or the GPU (WebGPU: list scan and top-k; same results)">
                Compute{' '}
                <select
                  aria-label="Search backend"
                  value={searchBackend}
                  onChange={(e) => void changeBackend(e.target.value as SearchBackend)}
                >
                  {SEARCH_BACKENDS.filter((b) => b !== 'auto' && (b !== 'gpu' || gpuAvailable)).map((b) => (
                    <option key={b}>{b}</option>
                  ))}
                </select>
              </label>
              {searchBackend === 'gpu' && device && (
                <span className="hint" data-testid="gpu-device">
                  on {device}
                </span>
              )}
              {gpuAvailable && (
                <a className="hint" href="./bench.html" target="_blank" rel="noreferrer">
                  GPU benchmark
                </a>
              )}
              <span className="hint">metric: {String(params.metric)}</span>
            </div>
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
          </details>
        </form>
      </search>
      <div className="result-bar">
        {/* there from the first answer, so the second does not push the bar's title aside */}
        {answer && (
          <button type="button" onClick={back} disabled={answers.length < 2}>
            ← Back
          </button>
        )}
        {answer && (
          <span className="answer-for" data-testid="answer-for">
            {'text' in answer.query
              ? `Results for “${answer.query.text}”`
              : 'row' in answer.query
                ? `Rows like row ${answer.query.row}`
                : 'Rows nearest the pasted vector'}
            {answer.where && ` where ${answer.where}`}
          </span>
        )}
        <span aria-live="polite" className="searching">
          {searching ? (loading ? 'Loading the sentence encoder…' : 'Searching…') : ''}
        </span>
        {searching && (
          // a slow host, a large manifest, or the encoder's first download: the answer on screen stays
          <button type="button" className="small" onClick={() => abort.current?.abort()}>
            Cancel
          </button>
        )}
        {answer && (
          <button
            type="button"
            className="small"
            disabled={!answer.result.results.length}
            aria-label="Download CSV"
            title="The rows on screen, their distances and columns, as a CSV file"
            onClick={() => saveAs(resultsCsv(answer.result.results, columns), `${fileStem(info.name)}-results.csv`)}
          >
            {/* a phone shows "CSV" alone, so the answer's title keeps its room */}
            <span className="wide-only">Download </span>CSV
          </button>
        )}
      </div>
      {loading && <ModelProgress load={loading} />}
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {answer && (
        <WhyPanel
          result={answer.result}
          view={view}
          id={opened.id}
          lists={info.index?.lists ?? 0}
          nlist={maxNprobe}
          tuned={eachFile && eachFile.nprobe?.[0] !== eachFile.nprobe?.[1] ? Number.NaN : Number(params.nprobe)}
          adaptive={params.slack !== undefined}
          manifest={eachFile !== undefined}
          remote={!opened.file}
        />
      )}
      <div ref={resultsArea} className={searching ? 'results-area busy' : 'results-area'} aria-busy={searching}>
        {answer ? (
          <>
            <Results
              result={answer.result}
              columns={columns}
              terms={terms}
              metric={String(params.metric)}
              onOpenRow={onOpenRow}
              onSimilar={similarTo}
            />
            {moreToShow && (
              <button type="button" className="more" disabled={searching} onClick={more}>
                Show {Math.min(MORE, MAX_PAGE_K - answer.k)} more
              </button>
            )}
          </>
        ) : searching ? (
          <Skeleton lines={5} label="Loading results" />
        ) : (
          <p className="hint">
            {textModel ? 'Type what you are looking for and press Enter.' : 'Pick a row to find the rows most like it, or paste a vector.'}
          </p>
        )}
      </div>
    </section>
  )
}

const MB = (n: number) => (n / 1e6).toFixed(1)

/** An answer's part of the page's address: the text (q=) or row (row=), the filter (where=); a pasted vector is not kept. */
function searchParams(answer: Answer): Record<string, string | undefined> {
  return {
    q: 'text' in answer.query ? answer.query.text : undefined,
    row: 'row' in answer.query ? String(answer.query.row) : undefined,
    where: answer.where,
    k: answer.k === 10 ? undefined : String(answer.k),
  }
}

/** A filter this file's columns could take, as the filter box's example: its first text column, else its first number. */
function filterExample(columns: Array<{ name: string; type: string }>): string {
  const text = columns.find((c) => c.type === 'BYTE_ARRAY')
  if (text) return `e.g. ${/^[A-Za-z_]\w*$/.test(text.name) ? text.name : `"${text.name}"`} = '…'`
  const number = columns.find((c) => /^(INT32|INT64|FLOAT|DOUBLE)$/.test(c.type))
  return number ? `e.g. ${number.name} >= 10` : "e.g. category = 'news' AND year >= 2020"
}

/** The encoder's first download: bytes so far of those announced; the browser keeps it after. */
function ModelProgress({ load }: { load: ModelLoad }) {
  return (
    <div className="model-progress" role="status">
      <label>
        Loading the sentence encoder ({load.model}) for text queries: {MB(load.loaded)}
        {load.total >= load.loaded ? ` of ${MB(load.total)}` : ''} MB, once (the browser keeps it)
        <progress value={load.loaded} max={Math.max(load.total, load.loaded, 1)} />
      </label>
    </div>
  )
}

/** "Why these results": what the query read, where its time went, where it probed, and recall. */
function WhyPanel(p: {
  result: PageSearchResult
  view?: IndexView
  id: number
  /** Every list (a manifest: all of its files'). */
  lists: number
  /** The most lists a query can probe in one index (the recall check's last nprobe). */
  nlist: number
  /** The index's tuned nprobe (NaN where a manifest's files differ). */
  tuned: number
  /** The tuned nprobe is a most: each query probes the lists about as near as its nearest. */
  adaptive: boolean
  /** A manifest's files, each its own index searched at its own nprobe. */
  manifest: boolean
  remote: boolean
}) {
  const s = p.result.stats
  const kib = (s.bytes / 1024).toFixed(1)
  return (
    <details className="why">
      <summary>
        <span className="why-title">Why these results</span>
        <span className="hint">
          {kib} KiB · {s.requests} {s.requests === 1 ? 'request' : 'requests'} · {s.listsProbed} of {p.lists.toLocaleString('en-US')} lists
          · {s.ms.toFixed(0)} ms
          {p.result.encodeMs !== undefined && ` · encoded in ${p.result.encodeMs.toFixed(0)} ms`}
        </span>
      </summary>
      <div className="why-body">
        <p data-testid="query-stats">
          {kib} KiB read in {s.requests} {s.requests === 1 ? 'request' : 'requests'}, {s.roundTrips} round{' '}
          {s.roundTrips === 1 ? 'trip' : 'trips'}; {s.listsProbed} lists probed
          {s.listsAdjacent ? ` and ${s.listsAdjacent} stored between them` : ''} ({s.listsFetched} fetched), {s.pagesDecoded} vector pages
          decoded; {s.ms.toFixed(1)} ms with {s.backend}
          {p.result.encodeMs !== undefined && (
            <span data-testid="encode-stats">
              ; the text encoded in {p.result.encodeMs.toFixed(1)} ms
              {p.result.model && ` (${p.result.model.model}: ${MB(p.result.model.loaded)} MB loaded in ${p.result.model.ms.toFixed(0)} ms)`}
            </span>
          )}
          {s.filter && (
            <span data-testid="filter-stats">
              ; the filter passed {s.filter.rowsPassing.toLocaleString('en-US')} rows
              {s.filter.rowGroupsSkipped ? ` (${s.filter.rowGroupsSkipped} row groups skipped by their statistics)` : ''}
              {s.filter.direct ? ', few enough to rank them all exactly' : `, so ${s.filter.nprobe} lists were probed`}
            </span>
          )}
        </p>
        {s.gpuFallback && (
          <p role="status" className="hint">
            The GPU stopped working: {s.gpuFallback}.
          </p>
        )}
        <div className="charts">
          <figure>
            <StageBars ms={s.msByStage} />
            <figcaption>Milliseconds by stage</figcaption>
          </figure>
          {p.view && <CentroidMap view={p.view} probed={p.result.probed} query={p.result.queryPoint} />}
          {p.view && <Histogram sizes={p.view.sizes} />}
        </div>
        <RecallPanel id={p.id} nlist={p.nlist} tuned={p.tuned} adaptive={p.adaptive} manifest={p.manifest} remote={p.remote} />
      </div>
    </details>
  )
}

function RecallPanel({
  id,
  nlist,
  tuned,
  adaptive,
  manifest,
  remote,
}: {
  id: number
  nlist: number
  tuned: number
  adaptive: boolean
  manifest: boolean
  remote: boolean
}) {
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
    <section aria-labelledby="recall-title" className="recall">
      <h3 id="recall-title">Recall</h3>
      <p className="hint">
        Compares the index with exact search for 20 rows of the file used as queries{remote ? ' — reads every vector of the file once' : ''}
        .
      </p>
      <div className="row">
        <button type="button" onClick={check} disabled={running}>
          Check recall
        </button>
        {running && (
          <button type="button" onClick={() => abort.current?.abort()}>
            Cancel check
          </button>
        )}
      </div>
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
                <tr key={`${p.nprobe}${p.default ? ' default' : ''}`}>
                  <td>
                    {p.nprobe}
                    {p.default
                      ? manifest && Number.isNaN(tuned)
                        ? " a file on average (default: each file's own)"
                        : ` (default)${adaptive ? ' at most: adaptive' : ''}`
                      : ''}
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
