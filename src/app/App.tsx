import { lazy, Suspense, useEffect, useRef, useState } from 'react'
import type { SearchBackend } from '../compute/backend.js'
import type { BuildSummary } from '../index/build.js'
import type { EmbedSummary } from '../index/embed.js'
import type { Metric } from '../index/model.js'
import { updateAddress } from './address.js'
import { run } from './bridge.js'
import type { BuiltDataset } from './datasetBuild.js'
import { type Built, BuiltDatasetPanel, BuiltPanel, FileDetails } from './FilePanel.js'
import { dropped, type FolderInput } from './folders.js'
import { type DemoManifest, EmptyState, OpenChoices, OpenMenu, Skeleton } from './OpenMenu.js'
import { newInputs, type Parts, partsInfo } from './parts.js'
import { rememberUrl, useMedia, useTheme } from './prefs.js'
import { RowDialog } from './RowDialog.js'
import { MAX_PAGE_K, type Opened, SearchView } from './SearchView.js'

// not on the first screen: loaded when a file without an index, or the Data view, needs them
// (the first screen's JS and CSS stay within 100 KiB gzipped: e2e/ui.spec.ts)
const BuildPanel = lazy(() => import('./BuildPanel.js').then((m) => ({ default: m.BuildPanel })))
const RowsTable = lazy(() => import('./RowsTable.js').then((m) => ({ default: m.RowsTable })))

type Tab = 'search' | 'data'

/** Where the side panel lays over the page instead of beside it (style.css's narrow-screen rule). */
const NARROW = '(max-width: 900px)'

/** What a shared link (?src=…&q=…&row=…&where=…, &view=data&rows=…&sort=…: address.ts) asks for: `src` as written in it, relative or not. */
interface Linked {
  src?: string
  q?: string
  row?: number
  where?: string
  k?: number
  view?: 'data'
  rows?: string
  sort?: string
}

export function App() {
  const [opened, setOpened] = useState<Opened>()
  const [error, setError] = useState<string>()
  const [busy, setBusy] = useState<string>()
  const [warning, setWarning] = useState('')
  const [built, setBuilt] = useState<Built>()
  /** Several files opened of which none is indexed: the page offers to index them as one dataset. */
  const [parts, setParts] = useState<Parts>()
  const [builtDataset, setBuiltDataset] = useState<BuiltDataset>()
  const [backend, setBackend] = useState<SearchBackend>('auto')
  const [gpuAvailable, setGpuAvailable] = useState(false)
  const [demo, setDemo] = useState<DemoManifest>()
  const [tab, setTab] = useState<Tab>('search')
  /** The file whose Data view has been shown: it stays (hidden) while the Search tab is, keeping its filter, sort and place. */
  const [dataShown, setDataShown] = useState<number>()
  const [sideOpen, setSideOpen] = useState(() => !window.matchMedia?.(NARROW).matches)
  /** The panel lies over the page: Escape, or a tap beside it, closes it. */
  const overlaid = useMedia(NARROW) && sideOpen
  const sideButton = useRef<HTMLButtonElement>(null)
  const [rowOpen, setRowOpen] = useState<number>()
  const [similar, setSimilar] = useState<{ row: number; seq: number }>()
  const [dragging, setDragging] = useState(false)
  const [theme, toggleTheme] = useTheme()
  const fileInput = useRef<HTMLInputElement>(null)
  const urlMenu = useRef<HTMLDetailsElement>(null)
  const searchInput = useRef<HTMLInputElement>(null)
  useEffect(() => {
    void run(undefined, (api) => api.hasGpu()).then(setGpuAvailable)
  }, [])
  useEffect(() => {
    if (tab === 'data' && opened) setDataShown(opened.id)
    // the address says which view is shown (for a file it names)
    if (opened?.src) updateAddress({ src: opened.src, view: tab === 'data' ? 'data' : undefined })
  }, [tab, opened])

  // only the latest open wins: a slow URL (or the demo) must not replace a file opened since
  const openSeq = useRef(0)
  /** Cancels the open in progress (its Cancel button, or a newer open). */
  const openAbort = useRef<AbortController>(undefined)
  /** A sidecar whose files are on another site, refused until the person allows that site. */
  const [elsewhere, setElsewhere] = useState<{ input: string; origin: string; linked?: Linked }>()
  /**
   * Opens `input` in the page, replacing what is open once it is (an error is shown; with
   * `rethrow`, thrown instead, what was open staying — the dataset a build made). Whether it is
   * what the page shows now (not when cancelled, failed, or replaced by a newer open).
   */
  async function open(
    input: File | File[] | string | FolderInput | undefined,
    fromDemo?: DemoManifest,
    linked?: Linked,
    allow?: string[],
    rethrow = false,
  ): Promise<boolean> {
    const seq = ++openSeq.current
    // a newer open replaces the one in progress: that one stops reading
    openAbort.current?.abort()
    const cancel = new AbortController()
    openAbort.current = cancel
    setError(undefined)
    setElsewhere(undefined)
    setBuilt(undefined)
    setBuiltDataset(undefined)
    if (!input) return false
    const what =
      typeof input === 'string'
        ? `Opening ${input}`
        : Array.isArray(input)
          ? `Reading ${input.length} files`
          : 'folder' in input
            ? `Reading folder ${input.folder}`
            : `Reading ${input.name}`
    setBusy(`${what}…`)
    try {
      const answer = await run(cancel.signal, async (api, job) => {
        // a sidecar opens every file it names: how many so far, as they come
        const timer = setInterval(async () => {
          const p = await api.openProgress(job)
          if (p && seq === openSeq.current && !cancel.signal.aborted)
            setBusy(`${what}: ${p.opened.toLocaleString('en-US')} of ${p.files.toLocaleString('en-US')} files opened…`)
        }, 200)
        try {
          // several files none of which is indexed: offered to be indexed as one dataset
          const parts = typeof input === 'object' && !(input instanceof File) ? await api.unindexedParts(input, job) : undefined
          return parts ?? (await api.open(input, backend === 'gpu' ? 'auto' : backend, job, allow))
        } finally {
          clearInterval(timer)
        }
      })
      if (seq !== openSeq.current) {
        if ('id' in answer) void run(undefined, (api) => Promise.resolve(api.close(answer.id)))
        return false
      }
      if (opened) void run(undefined, (api) => Promise.resolve(api.close(opened.id)))
      if ('infos' in answer) {
        setOpened(undefined)
        setWarning('')
        setRowOpen(undefined)
        history.replaceState(null, '', window.location.pathname)
        setParts({ ...answer, folder: typeof input === 'object' && 'folder' in input ? input.folder : undefined })
        setSideOpen(true)
        return true
      }
      const { id, info, backend: used, warnings } = answer
      setParts(undefined)
      if (typeof input === 'string' && !fromDemo) rememberUrl(input)
      setWarning(warnings.join(' '))
      setRowOpen(undefined)
      setTab(info.index && linked?.view !== 'data' ? 'search' : 'data')
      // the page's address names the file opened (its searches are added as they come), or none
      // for a file from disk, which has no address to share
      const src = typeof input === 'string' ? (linked?.src ?? fromDemo?.src ?? input) : undefined
      if (!linked) history.replaceState(null, '', src ? `?${new URLSearchParams({ src })}` : window.location.pathname)
      setOpened({
        id,
        info,
        backend: used,
        file: input instanceof File ? input : undefined,
        folder: typeof input === 'object' && 'folder' in input ? { name: input.folder, files: input.files } : undefined,
        src,
        columns: fromDemo?.columns,
        query: linked?.q ?? fromDemo?.query,
        nprobe: fromDemo?.nprobe,
        row: linked?.row,
        where: linked?.where,
        k: linked?.k,
        rows: linked?.rows,
        sort: linked?.sort,
      })
      return true
    } catch (e) {
      if (seq !== openSeq.current) return false
      if (cancel.signal.aborted) {
        // (cancelled: the file open before, if any, stays)
        setWarning(`${what}: cancelled.`)
        return false
      }
      if (rethrow) throw e
      setOpened(undefined)
      setParts(undefined)
      setError(describeOpenError(e as Error, input))
      // (a sidecar naming files on another site: read them only if the person says so)
      const origin = /is on another origin \((https?:\/\/[^)\s]+)\)/.exec((e as Error).message)?.[1]
      if (typeof input === 'string' && origin) setElsewhere({ input, origin, linked })
      return false
    } finally {
      if (seq === openSeq.current) setBusy(undefined)
    }
  }
  const openDemo = () => (demo ? open(new URL(demo.src, window.location.href).href, demo) : undefined)

  // ?src=<url> opens that file on load; otherwise the demo data, when this site has some
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, on load
  useEffect(() => {
    const page = new URLSearchParams(window.location.search)
    const src = page.get('src')
    const manifest = fetch(new URL('demo/manifest.json', window.location.href))
      .then((r) => (r.ok ? (r.json() as Promise<DemoManifest>) : undefined))
      .catch(() => undefined) // no demo on this site
    // a shared link: ?src=…&q=… (or &row=N), &where=… and &k=… search as they say once the file is open
    const row = Number(page.get('row') ?? Number.NaN)
    const k = Number(page.get('k') ?? Number.NaN)
    const linked: Linked = {
      q: page.get('q') ?? undefined,
      row: Number.isInteger(row) && row >= 0 ? row : undefined,
      where: page.get('where') ?? undefined,
      k: Number.isInteger(k) && k >= 1 && k <= MAX_PAGE_K ? k : undefined,
      view: page.get('view') === 'data' ? 'data' : undefined,
      rows: page.get('rows') ?? undefined,
      sort: page.get('sort') ?? undefined,
    }
    const resolve = (url: string) => new URL(url, window.location.href).href
    void manifest.then((m) => {
      if (m?.src) setDemo(m)
      // the demo, by default or by a link to it (which keeps its columns and nprobe)
      if (m?.src && (!src || resolve(src) === resolve(m.src))) void open(resolve(m.src), m, { ...linked, src: src ?? undefined })
      else if (src) void open(resolve(src), undefined, { ...linked, src })
    })
  }, [])

  // `/` jumps to the search box from anywhere but a text field
  useEffect(() => {
    const onKey = (e: KeyboardEvent) => {
      const t = e.target as HTMLElement
      if (e.key !== '/' || e.ctrlKey || e.metaKey || e.altKey || t.closest('input, textarea, select, [contenteditable], dialog')) return
      e.preventDefault()
      setTab('search')
      requestAnimationFrame(() => searchInput.current?.focus())
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [])
  useEffect(() => {
    if (!overlaid) return
    const onKey = (e: KeyboardEvent) => {
      // a row's dialog takes its own Escape
      if (e.key !== 'Escape' || document.querySelector('dialog[open]')) return
      setSideOpen(false)
      sideButton.current?.focus()
    }
    window.addEventListener('keydown', onKey)
    return () => window.removeEventListener('keydown', onKey)
  }, [overlaid])

  async function onBuilt(summary: BuildSummary, file: File, saved: boolean, embedded?: EmbedSummary) {
    setBuilt({ summary, name: file.name, file, saved, embedded })
    // the indexed file opens for search right away (nothing is uploaded)
    const seq = ++openSeq.current
    const { id, info, backend: used } = await run(undefined, (api, job) => api.open(file, backend === 'gpu' ? 'auto' : backend, job))
    if (seq === openSeq.current) {
      setTab('search')
      setOpened({ id, info, backend: used, file })
    }
  }

  /**
   * `files`, of the folder the dataset open came from with its manifest, offered to the build
   * panel to index into that dataset (each alone, then listed after its files).
   */
  async function addToDataset(files: File[]) {
    const folder = opened?.folder
    const manifest = folder?.files.find((f) => f.name === opened?.info.name)
    if (!folder || !manifest) return
    try {
      const answer = await run(undefined, (api, job) => api.unindexedParts(files, job, 1))
      if (!answer) {
        setError(
          `Of ${files.map((f) => f.name).join(', ')}, one is indexed already: open it alone, or list it in ${manifest.name} yourself.`,
        )
        return
      }
      setParts({ ...answer, folder: folder.name, into: { manifest, files: folder.files } })
      setSideOpen(true)
    } catch (e) {
      setError((e as Error).message)
    }
  }

  /**
   * A dataset a build wrote (or made in memory) opened for search from its files, or an error
   * thrown (its manifest is then not written); the build's Cancel (`signal`) cancels the open.
   */
  async function openDataset(manifest: File, files: File[], signal?: AbortSignal) {
    const opening = open([manifest, ...files], undefined, undefined, undefined, true)
    // (open() has made its own controller by now: the build's Cancel aborts it)
    const controller = openAbort.current
    const onAbort = () => controller?.abort()
    signal?.addEventListener('abort', onAbort)
    if (signal?.aborted) onAbort()
    try {
      if (!(await opening)) throw new Error('The files were built, but another open replaced or cancelled theirs.')
    } finally {
      signal?.removeEventListener('abort', onAbort)
    }
  }

  const chooseUrl = () => {
    urlMenu.current?.setAttribute('open', '')
    requestAnimationFrame(() => urlMenu.current?.querySelector('input')?.focus())
  }
  const hasIndex = Boolean(opened?.info.index)
  // vectors to index, or text to embed first
  const canBuild = Boolean(opened && (opened.info.vectorColumns.length > 0 || opened.info.textColumns.length > 0))
  const partsShown = parts && partsInfo(parts)
  // a folder opened with its manifest: its Parquet files no build has added to it, or changed since
  const pending =
    opened?.folder && opened.info.kind === 'manifest'
      ? newInputs(opened.folder.files, opened.info.sources?.map((s) => s.name) ?? [])
      : { added: [], changed: [] }
  const additions = [...pending.added, ...pending.changed]
  const openedIndex = opened?.info.index
  // what the build panel indexes: the file open (a copy of it, indexed), or the files to index as one dataset (or to add to the one open)
  const toBuild =
    opened?.file && !opened.info.index && canBuild
      ? { files: [opened.file], info: opened.info }
      : parts && partsShown && !partsShown.problem
        ? {
            files: parts.files,
            info: partsShown.info,
            beside: parts.into?.files ?? parts.earlier,
            into: parts.into && {
              manifest: parts.into.manifest,
              metric: openedIndex?.params.metric as Metric | undefined,
              column: openedIndex?.column,
              model: opened?.info.model,
              clustered: openedIndex?.params.clustered === true,
            },
          }
        : undefined
  return (
    // biome-ignore lint/a11y/noStaticElementInteractions: a file dropped anywhere on the page opens
    <div
      className={dragging ? 'app dragging' : 'app'}
      onDragOver={(e) => {
        if (!e.dataTransfer.types.includes('Files')) return
        e.preventDefault()
        setDragging(true)
      }}
      onDragLeave={(e) => {
        if (e.relatedTarget === null) setDragging(false)
      }}
      onDrop={(e) => {
        e.preventDefault()
        setDragging(false)
        // several: a sidecar index or a manifest with the files it names, or indexed files searched as
        // one; or a folder of them (its entries are taken now: they are gone once the event ends)
        const entries = [...e.dataTransfer.items].map((item) => item.webkitGetAsEntry())
        dropped([...e.dataTransfer.files], entries).then(
          (input) => (input ? void open(input) : undefined),
          (err: Error) => setError(err.message),
        )
      }}
    >
      <header className="topbar">
        <button
          ref={sideButton}
          type="button"
          className="icon"
          aria-label="File details"
          aria-expanded={sideOpen}
          aria-controls="side"
          onClick={() => setSideOpen(!sideOpen)}
        >
          ☰
        </button>
        <h1 className="brand">ParquetSeek</h1>
        <OpenMenu onOpen={open} onDemo={openDemo} demo={demo} busy={busy} fileInput={fileInput} urlMenu={urlMenu} />
        <span className="current" title={(opened ?? partsShown)?.info.name}>
          {(opened ?? partsShown)?.info.name ?? ''}
        </span>
        <button
          type="button"
          className="icon"
          aria-label={theme === 'dark' ? 'Switch to light theme' : 'Switch to dark theme'}
          onClick={toggleTheme}
        >
          {theme === 'dark' ? '☀' : '☾'}
        </button>
      </header>
      <div className={sideOpen ? 'layout side-open' : 'layout'}>
        <aside id="side" className="side" aria-label="File and index" hidden={!sideOpen}>
          {opened ? (
            <FileDetails info={opened.info} backend={opened.backend} />
          ) : partsShown ? (
            <FileDetails info={partsShown.info} />
          ) : (
            <p className="hint">{busy ? 'Opening…' : 'No file open. Its rows, columns and index appear here.'}</p>
          )}
          {toBuild && (
            <Suspense fallback={<Skeleton lines={4} label="Loading the build panel" />}>
              <BuildPanel
                key={toBuild.files.map((f) => f.name).join('/')}
                files={toBuild.files}
                beside={'beside' in toBuild ? toBuild.beside : undefined}
                into={'into' in toBuild ? toBuild.into : undefined}
                info={toBuild.info}
                backend={backend}
                gpuAvailable={gpuAvailable}
                onBackend={setBackend}
                onBuilt={onBuilt}
                openDataset={openDataset}
                onBuiltDataset={setBuiltDataset}
                onError={setError}
              />
            </Suspense>
          )}
          {opened && !opened.file && !opened.info.index && canBuild && (
            <p className="hint">
              To build an index, download this file and open it from disk: the index is written into a new copy of the file.
            </p>
          )}
          {built && <BuiltPanel built={built} />}
          {builtDataset && <BuiltDatasetPanel built={builtDataset} />}
        </aside>
        {/* a tap beside the laid-over panel closes it, and reaches nothing under it (Escape does the same from the keyboard) */}
        {overlaid && <div className="scrim" aria-hidden="true" onClick={() => setSideOpen(false)} />}
        <main>
          <p className="status" aria-live="polite">
            {busy ?? warning}
            {busy && (
              <button type="button" className="link" onClick={() => openAbort.current?.abort()}>
                Cancel
              </button>
            )}
          </p>
          {error && (
            <div role="alert" className="error">
              <p>{error}</p>
              {elsewhere && (
                <p>
                  <button type="button" onClick={() => void open(elsewhere.input, undefined, elsewhere.linked, [`${elsewhere.origin}/`])}>
                    Read its files from {elsewhere.origin}
                  </button>
                </p>
              )}
              {!opened && !parts && (
                <OpenChoices
                  demo={demo}
                  onDemo={openDemo}
                  onChooseFile={() => fileInput.current?.click()}
                  onChooseUrl={chooseUrl}
                  file="Choose another file…"
                />
              )}
            </div>
          )}
          {!opened && busy && <Skeleton lines={6} label="Opening the file" />}
          {!opened && partsShown && (
            <div className="notice" data-testid="parts">
              <p>
                {partsShown.info.sources?.length} Parquet files{parts?.folder ? ` in ${parts.folder}` : ''},{' '}
                {partsShown.info.rows.toLocaleString('en-US')} rows, none of them indexed yet
                {parts.earlier.length
                  ? `, beside ${parts.earlier.length === 1 ? parts.earlier[0]?.name : `${parts.earlier.length} indexed files`} an earlier build wrote`
                  : ''}
                .{' '}
                {partsShown.problem ??
                  'Index them as one dataset from the side panel: each file gets its index, and a manifest.json lists them, to search them here as one, host them anywhere, or search them with the CLI.'}
                {!partsShown.problem && parts.earlier.length > 0 && ' A file indexed before with the settings you pick is kept as it is.'}
              </p>
              {!sideOpen && !partsShown.problem && (
                <button type="button" onClick={() => setSideOpen(true)}>
                  Show the build panel
                </button>
              )}
            </div>
          )}
          {!opened && !busy && !error && !parts && (
            <EmptyState demo={demo} onDemo={openDemo} onChooseFile={() => fileInput.current?.click()} onChooseUrl={chooseUrl} />
          )}
          {opened && additions.length > 0 && !parts && (
            <div className="notice additions" data-testid="additions">
              <p>
                {[
                  pending.added.length &&
                    `${pending.added.length === 1 ? pending.added[0]?.name : `${pending.added.length} Parquet files`} in ${opened.folder?.name} ${pending.added.length === 1 ? 'is' : 'are'} not in its ${opened.info.name} yet.`,
                  pending.changed.length &&
                    `${pending.changed.length === 1 ? pending.changed[0]?.name : `${pending.changed.length} Parquet files`} in ${opened.folder?.name} changed since ${pending.changed.length === 1 ? 'its index was' : 'their indexes were'} built.`,
                ]
                  .filter(Boolean)
                  .join(' ')}
              </p>
              <button type="button" onClick={() => void addToDataset(additions)}>
                Index {additions.length === 1 ? 'it' : 'them'} into the dataset
              </button>
            </div>
          )}
          {opened && (
            <>
              <div role="tablist" aria-label="Views" className="tabs">
                <button
                  type="button"
                  role="tab"
                  id="tab-search"
                  aria-controls="panel-search"
                  aria-selected={tab === 'search'}
                  onClick={() => setTab('search')}
                >
                  Search
                </button>
                <button
                  type="button"
                  role="tab"
                  id="tab-data"
                  aria-controls="panel-data"
                  aria-selected={tab === 'data'}
                  onClick={() => setTab('data')}
                >
                  Data
                </button>
              </div>
              <div role="tabpanel" id="panel-search" aria-labelledby="tab-search" hidden={tab !== 'search'}>
                {hasIndex ? (
                  <SearchView
                    key={opened.id}
                    opened={opened}
                    gpuAvailable={gpuAvailable}
                    similar={similar}
                    onOpenRow={setRowOpen}
                    searchInput={searchInput}
                  />
                ) : (
                  <div className="notice">
                    <p>
                      {opened.info.vectorColumns.length
                        ? 'This file has no index yet. Build one from the side panel: it is written into a new copy of the file, which you can download and host anywhere.'
                        : opened.info.textColumns.length
                          ? `This file has text but no vectors. Embed a text column (${opened.info.textColumns.join(', ')}) from the side panel: the vectors go into a new column and the index is built on them, in one new copy of the file.`
                          : 'This file has no index, no vector column and no text column to build one from. Its rows are under Data.'}
                    </p>
                    {!sideOpen && canBuild && (
                      <button type="button" onClick={() => setSideOpen(true)}>
                        Show the build panel
                      </button>
                    )}
                  </div>
                )}
              </div>
              <div role="tabpanel" id="panel-data" aria-labelledby="tab-data" hidden={tab !== 'data'}>
                {(tab === 'data' || dataShown === opened.id) && (
                  <Suspense fallback={<Skeleton lines={8} label="Loading the rows" />}>
                    <RowsTable
                      key={opened.id}
                      id={opened.id}
                      info={opened.info}
                      onOpenRow={setRowOpen}
                      linked={opened.src ? { src: opened.src, rows: opened.rows, sort: opened.sort } : undefined}
                    />
                  </Suspense>
                )}
              </div>
              {rowOpen !== undefined && (
                <RowDialog
                  key={`${opened.id}:${rowOpen}`}
                  id={opened.id}
                  info={opened.info}
                  row={rowOpen}
                  onClose={() => setRowOpen(undefined)}
                  onSimilar={
                    hasIndex
                      ? (row) => {
                          setTab('search')
                          setSimilar({ row, seq: (similar?.seq ?? 0) + 1 })
                        }
                      : undefined
                  }
                />
              )}
            </>
          )}
        </main>
      </div>
      {dragging && (
        <div className="drop-overlay" aria-hidden="true">
          Drop the Parquet file to open it
        </div>
      )}
    </div>
  )
}

function describeOpenError(e: Error, input: File | File[] | string | FolderInput): string {
  if (typeof input === 'string' && /network error/.test(e.message))
    return `${e.message}. If the file is on another site, its server must allow this page (CORS: Access-Control-Allow-Origin, and expose Content-Range).`
  return e.message
}
