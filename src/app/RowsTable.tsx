import { useVirtualizer } from '@tanstack/react-virtual'
import { useEffect, useMemo, useRef, useState } from 'react'
import type { FileInfo } from '../../workers/fileFacts.js'
import { run } from './bridge.js'
import { asText } from './text.js'

const ROW_HEIGHT = 36
/**
 * Rows scrolled at once: a browser caps an element's height (Chrome: about 33.5 M px, 930 k rows
 * of 36 px), so a larger file scrolls through windows of this many rows, moved by Previous/Next
 * and "Go to row".
 */
const WINDOW = 500_000
/** Rows fetched per request: a screenful or two, so a jump reads one block. */
const BLOCK = 100

/**
 * Every row of the open file, scrolled virtually: only the rows in view are in the page, and
 * they are read in blocks through the engine worker (only the pages that hold them). Vector
 * columns are hidden by default; any column can be hidden. Clicking a row opens it.
 */
export function RowsTable({ id, info, onOpenRow }: { id: number; info: FileInfo; onOpenRow: (row: number) => void }) {
  const [hidden, setHidden] = useState<Set<string>>(() => new Set(info.vectorColumns))
  const shown = useMemo(() => info.columns.filter((c) => !hidden.has(c.name)), [info.columns, hidden])
  const key = shown.map((c) => c.name).join('\u0000')
  const blocks = useRef(new Map<number, Array<Record<string, unknown>>>())
  const pending = useRef(new Map<number, AbortController>())
  const [, setVersion] = useState(0)
  const [error, setError] = useState<string>()
  const [goTo, setGoTo] = useState('')
  const scroller = useRef<HTMLElement>(null)
  const [base, setBase] = useState(0)
  const count = Math.min(WINDOW, info.rows - base)
  const scrollAfterMove = useRef<number | undefined>(undefined)
  const virtual = useVirtualizer({
    count,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
    // the sticky header row sits inside the scroller, above the rows
    scrollMargin: ROW_HEIGHT,
    scrollPaddingStart: ROW_HEIGHT,
  })
  const items = virtual.getVirtualItems()
  const first = base + (items[0]?.index ?? 0)
  const last = base + (items.at(-1)?.index ?? 0)
  const goToRow = (n: number) => {
    const window = Math.floor(n / WINDOW) * WINDOW
    if (window === base) virtual.scrollToIndex(n - base, { align: 'start' })
    else {
      scrollAfterMove.current = n - window
      setBase(window)
    }
  }
  // biome-ignore lint/correctness/useExhaustiveDependencies: once the new window is laid out
  useEffect(() => {
    const at = scrollAfterMove.current
    scrollAfterMove.current = undefined
    virtual.scrollToIndex(at ?? 0, { align: 'start' })
  }, [base])

  // a new set of columns starts over
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed on the column list
  useEffect(() => {
    for (const c of pending.current.values()) c.abort()
    pending.current.clear()
    blocks.current.clear()
    setVersion((v) => v + 1)
  }, [key, id])

  // read the blocks in view once scrolling pauses; blocks scrolled past are cancelled
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed on the rows in view
  useEffect(() => {
    const want = new Set<number>()
    for (let b = Math.floor(first / BLOCK); b <= Math.floor(last / BLOCK); b++) want.add(b)
    for (const [b, c] of pending.current) {
      if (!want.has(b)) {
        c.abort()
        pending.current.delete(b)
      }
    }
    const timer = setTimeout(() => {
      for (const b of want) {
        if (blocks.current.has(b) || pending.current.has(b)) continue
        const controller = new AbortController()
        pending.current.set(b, controller)
        const columns = shown.map((c) => c.name)
        run(controller.signal, (api, job) => api.rows(id, b * BLOCK, (b + 1) * BLOCK, columns, job))
          .then((rows) => {
            if (controller.signal.aborted) return
            blocks.current.set(b, rows)
            setVersion((v) => v + 1)
          })
          .catch((e: Error) => {
            if (e.name !== 'AbortError' && !controller.signal.aborted) setError(e.message)
          })
          .finally(() => {
            if (pending.current.get(b) === controller) pending.current.delete(b)
          })
      }
    }, 40)
    return () => clearTimeout(timer)
  }, [first, last, key, id])

  // fixed widths: every row is its own grid, so its columns must not size to their content
  const widths = shown.map((c) => (/STRING|UTF8|BYTE_ARRAY/i.test(c.type) ? 14 : 8))
  const grid = {
    gridTemplateColumns: `5.5rem ${widths.map((w, i) => (i === widths.length - 1 ? `minmax(${w}rem, 1fr)` : `${w}rem`)).join(' ')}`,
    minWidth: `${5.5 + widths.reduce((a, b) => a + b, 0)}rem`,
  }
  return (
    <section aria-label="Data" className="data">
      <div className="data-tools">
        <form
          className="row"
          onSubmit={(e) => {
            e.preventDefault()
            const n = Number(goTo)
            if (Number.isInteger(n) && n >= 0 && n < info.rows) goToRow(n)
            else setError(`Row numbers go from 0 to ${(info.rows - 1).toLocaleString('en-US')}.`)
          }}
        >
          <label>
            Go to row{' '}
            <input
              type="number"
              aria-label="Go to row"
              min={0}
              max={info.rows - 1}
              value={goTo}
              onChange={(e) => setGoTo(e.target.value)}
            />
          </label>
          <button type="submit">Go</button>
        </form>
        <details className="menu">
          <summary className="button">
            Columns ({shown.length} of {info.columns.length})
          </summary>
          <fieldset className="menu-panel">
            <legend className="sr-only">Columns shown</legend>
            {info.columns.map((c) => (
              <label key={c.name} className="check">
                <input
                  type="checkbox"
                  checked={!hidden.has(c.name)}
                  onChange={(e) => {
                    const next = new Set(hidden)
                    if (e.target.checked) next.delete(c.name)
                    else next.add(c.name)
                    setHidden(next)
                  }}
                />{' '}
                {c.name}
                {info.vectorColumns.includes(c.name) ? ' (vector)' : ''}
              </label>
            ))}
          </fieldset>
        </details>
        {info.rows > WINDOW && (
          <div className="row">
            <button type="button" disabled={base === 0} onClick={() => goToRow(Math.max(0, base - WINDOW))}>
              ◂ Previous {WINDOW.toLocaleString('en-US')}
            </button>
            <button type="button" disabled={base + WINDOW >= info.rows} onClick={() => goToRow(base + WINDOW)}>
              Next {WINDOW.toLocaleString('en-US')} ▸
            </button>
          </div>
        )}
        <span className="hint">
          {info.rows.toLocaleString('en-US')} rows · rows {first.toLocaleString('en-US')}–{last.toLocaleString('en-US')} in view
        </span>
      </div>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the scroller takes keyboard scrolling */}
      <section ref={scroller} className="grid" aria-label="Rows, scrolled" tabIndex={0}>
        <table aria-label={`Rows of ${info.name}`} aria-rowcount={info.rows + 1}>
          <thead className="grid-head">
            <tr className="grid-row" style={grid} aria-rowindex={1}>
              <th scope="col">row</th>
              {shown.map((c) => (
                <th scope="col" key={c.name} title={c.type}>
                  {c.name}
                </th>
              ))}
            </tr>
          </thead>
          <tbody style={{ height: virtual.getTotalSize(), position: 'relative', minWidth: grid.minWidth }}>
            {items.map((item) => {
              const row = base + item.index
              const values = blocks.current.get(Math.floor(row / BLOCK))?.[row % BLOCK]
              return (
                <tr
                  key={item.key}
                  aria-rowindex={row + 2}
                  data-row={row}
                  className="grid-row"
                  style={{
                    ...grid,
                    position: 'absolute',
                    top: 0,
                    left: 0,
                    right: 0,
                    height: ROW_HEIGHT,
                    transform: `translateY(${item.start - ROW_HEIGHT}px)`,
                  }}
                  onClick={() => onOpenRow(row)}
                >
                  <td className="rownum">
                    <button type="button" className="link" aria-label={`Open row ${row}`}>
                      {row}
                    </button>
                  </td>
                  {shown.map((c) =>
                    values ? (
                      <td key={c.name} title={asText(values[c.name]).slice(0, 500)}>
                        {asText(values[c.name]).slice(0, 300)}
                      </td>
                    ) : (
                      <td key={c.name}>
                        <span className="skeleton-line" />
                      </td>
                    ),
                  )}
                </tr>
              )
            })}
          </tbody>
        </table>
      </section>
    </section>
  )
}
