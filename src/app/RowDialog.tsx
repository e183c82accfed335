import { useEffect, useRef, useState } from 'react'
import type { FileInfo } from '../../workers/fileFacts.js'
import { run } from './bridge.js'
import { asText, shortName, withLink } from './text.js'

/**
 * One row, every column but the vectors, in a modal dialog (Escape or Back closes it; focus
 * returns where it was). "Find similar" searches for rows like it when the file has an index.
 */
export function RowDialog({
  id,
  info,
  row,
  onClose,
  onSimilar,
}: {
  id: number
  info: FileInfo
  row: number
  onClose: () => void
  onSimilar?: (row: number) => void
}) {
  const dialog = useRef<HTMLDialogElement>(null)
  const [values, setValues] = useState<Record<string, unknown>>()
  const [error, setError] = useState<string>()
  const columns = info.columns.map((c) => c.name).filter((c) => !info.vectorColumns.includes(c))
  const from = info.sources && fileOf(info.sources, row)
  useEffect(() => {
    const d = dialog.current
    if (d && !d.open) d.showModal()
  }, [])
  // biome-ignore lint/correctness/useExhaustiveDependencies: one read per row
  useEffect(() => {
    const controller = new AbortController()
    setValues(undefined)
    run(controller.signal, (api, job) => api.rows(id, row, row + 1, columns, job))
      .then(([v]) => setValues(v ?? {}))
      .catch((e: Error) => {
        if (e.name !== 'AbortError') setError(e.message)
      })
    return () => controller.abort()
  }, [id, row])
  return (
    <dialog ref={dialog} className="row-dialog" aria-labelledby="row-title" onClose={onClose}>
      <header>
        <h2 id="row-title">
          Row {row.toLocaleString('en-US')}
          {from && (
            <span className="hint" title={from.name}>
              {' '}
              · {shortName(from.name)} row {from.row.toLocaleString('en-US')}
            </span>
          )}
        </h2>
        <button type="button" onClick={() => dialog.current?.close()}>
          Back
        </button>
      </header>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {values ? (
        <dl className="row-values">
          {columns.map((c) => (
            <div key={c}>
              <dt>{c}</dt>
              <dd>{withLink(values[c], asText(values[c]))}</dd>
            </div>
          ))}
          {info.vectorColumns.map((c) => (
            <div key={c}>
              <dt>{c}</dt>
              <dd className="hint">vector (not shown)</dd>
            </div>
          ))}
        </dl>
      ) : (
        !error && <p className="hint">Reading row {row}…</p>
      )}
      {onSimilar && (
        <button
          type="button"
          className="primary"
          onClick={() => {
            dialog.current?.close()
            onSimilar(row)
          }}
        >
          Find similar
        </button>
      )}
    </dialog>
  )
}

/** A sidecar's row (numbered across its files): the file holding it and its row there. */
function fileOf(sources: Array<{ name: string; rows: number }>, row: number): { name: string; row: number } | undefined {
  let base = 0
  for (const s of sources) {
    if (row < base + s.rows) return { name: s.name, row: row - base }
    base += s.rows
  }
  return undefined
}
