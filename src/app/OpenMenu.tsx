import { type RefObject, useRef, useState } from 'react'
import { type FolderInput, pickedFolder } from './folders.js'
import { recentUrls } from './prefs.js'

/** public/demo/manifest.json, written by the demo generator (scripts/demo.ts). */
export interface DemoManifest {
  src: string
  title?: string
  columns?: string[]
  query?: string
  nprobe?: number
}

interface OpenProps {
  onOpen: (input: File | File[] | string | FolderInput) => void
  onDemo?: () => void
  demo?: DemoManifest
  busy?: string
}

/**
 * The header's open actions: a local file (the page's one file input; the empty state and drops
 * reuse it), a folder, a URL with the recently opened ones, and the demo.
 */
export function OpenMenu({
  onOpen,
  onDemo,
  demo,
  busy,
  fileInput,
  urlMenu,
}: OpenProps & {
  fileInput: RefObject<HTMLInputElement | null>
  urlMenu: RefObject<HTMLDetailsElement | null>
}) {
  const [url, setUrl] = useState('')
  const [recent, setRecent] = useState<string[]>([])
  const close = () => urlMenu.current?.removeAttribute('open')
  return (
    <div className="open-actions">
      <label className="button primary">
        Open file
        <input
          ref={fileInput}
          className="sr-only"
          type="file"
          accept=".parquet,.pqseek,.json"
          // (several: a sidecar index or a manifest with the files it names, or indexed files searched as one)
          multiple
          aria-label="Parquet file"
          onChange={(e) => {
            const files = [...(e.target.files ?? [])]
            if (files.length) onOpen(files.length === 1 ? (files[0] as File) : files)
            e.target.value = '' // the same file can be picked again
          }}
        />
      </label>
      {/* a folder (what `parquetseek index … --out-dir` writes: a manifest and its files); not on phones */}
      <label className="button wide-only">
        Open folder
        <input
          className="sr-only"
          type="file"
          // @ts-expect-error: React's types lack the attribute every browser takes for a folder pick
          webkitdirectory=""
          aria-label="Parquet folder"
          onChange={(e) => {
            const folder = pickedFolder([...(e.target.files ?? [])])
            if (folder) onOpen(folder)
            e.target.value = ''
          }}
        />
      </label>
      <details className="menu" ref={urlMenu} onToggle={(e) => (e.currentTarget.open ? setRecent(recentUrls()) : undefined)}>
        <summary className="button">From URL</summary>
        <div className="menu-panel">
          <form
            onSubmit={(e) => {
              e.preventDefault()
              if (!url.trim()) return
              close()
              onOpen(url.trim())
            }}
          >
            <label className="stack">
              Parquet URL
              <input
                type="url"
                placeholder="https://…/file.parquet or hf://datasets/…"
                value={url}
                onChange={(e) => setUrl(e.target.value)}
              />
            </label>
            <p className="hint">
              Any host that answers HTTP Range requests with CORS: S3, R2, GCS, a CDN, Hugging Face (a file, a folder page, or an hf:// glob
              of indexed files).
            </p>
            <button type="submit" className="primary" disabled={!!busy}>
              Open URL
            </button>
          </form>
          {recent.length > 0 && (
            <nav aria-label="Recent URLs">
              <h3>Recent</h3>
              <ul className="plain">
                {recent.map((u) => (
                  <li key={u}>
                    <button
                      type="button"
                      className="link"
                      onClick={() => {
                        close()
                        onOpen(u)
                      }}
                    >
                      {u}
                    </button>
                  </li>
                ))}
              </ul>
            </nav>
          )}
          {demo && onDemo && (
            <button
              type="button"
              onClick={() => {
                close()
                onDemo()
              }}
            >
              Open the demo{demo.title ? `: ${demo.title}` : ''}
            </button>
          )}
        </div>
      </details>
    </div>
  )
}

/** The three ways in: the empty state offers them, and so does an error opening a file. */
export function OpenChoices({
  demo,
  onDemo,
  onChooseFile,
  onChooseUrl,
  file = 'Choose a file…',
}: {
  demo?: DemoManifest
  onDemo: () => void
  onChooseFile: () => void
  onChooseUrl: () => void
  file?: string
}) {
  return (
    <div className="row">
      <button type="button" className="primary" onClick={onChooseFile}>
        {file}
      </button>
      <button type="button" onClick={onChooseUrl}>
        Open a URL…
      </button>
      {demo && (
        <button type="button" onClick={onDemo}>
          Try the demo{demo.title ? `: ${demo.title}` : ''}
        </button>
      )}
    </div>
  )
}

/** What the page says before any file is open: what it is for and the three ways in. */
export function EmptyState(props: Parameters<typeof OpenChoices>[0]) {
  return (
    <section className="empty" aria-labelledby="empty-title">
      <h2 id="empty-title">Vector search over your Parquet data</h2>
      <p className="lede">
        Open a Parquet file with an embedding column, or with text only: ParquetSeek builds a vector index inside a copy of it (embedding
        the text first), then searches it here or from any static host — reading only the bytes a query needs. Nothing leaves this page.
      </p>
      <div className="dropzone">
        <p>Drop a .parquet file (or a folder of them) anywhere on this page</p>
        <OpenChoices {...props} />
      </div>
    </section>
  )
}

/** Loading placeholders of a fixed shape, so nothing jumps when the content arrives. */
export function Skeleton({ lines = 3, label }: { lines?: number; label: string }) {
  const keys = useRef(Array.from({ length: lines }, (_, i) => `s${i}`))
  return (
    <div className="skeleton" role="status" aria-label={label}>
      {keys.current.map((k) => (
        <div key={k} className="skeleton-line" />
      ))}
    </div>
  )
}
