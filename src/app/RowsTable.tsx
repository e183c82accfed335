import { useVirtualizer } from '@tanstack/react-virtual'
import type { Remote } from 'comlink'
import { useEffect, useMemo, useRef, useState } from 'react'
import type { EngineApi } from '../../workers/engineApi.js'
import type { FileInfo } from '../../workers/fileFacts.js'
import type { ColumnSummary } from '../parquet/embedding.js'
import { partitionPoint } from '../sorted.js'
import { parseSortParam, sortParam, updateAddress } from './address.js'
import { run } from './bridge.js'
import { fileStem, saveAs } from './download.js'
import { asText, withLink } from './text.js'

const ROW_HEIGHT = 36
/**
 * Rows scrolled at once: a browser caps an element's height (Chrome: about 33.5 M px, 930 k rows
 * of 36 px), so a larger file scrolls through windows of this many rows, moved by Previous/Next
 * and "Go to row".
 */
const WINDOW = 500_000
/** Rows fetched per request: a screenful or two, so a jump reads one block. */
const BLOCK = 100

/** The Data view's filter once applied: the rows passing it, in order. */
interface Filtered {
  where: string
  rows: Uint32Array
  rowGroupsSkipped: number
}

/** The Data view's sort: by a column's values, and the rows (every row, or a filter's) in that order. */
interface Sorted {
  column: string
  descending: boolean
  rows: Uint32Array
}

/** A column's values can be sorted: a plain value a row (not a list, a map or a struct). */
const sortable = (c: ColumnSummary) => !c.element && !['GROUP', 'MAP', 'LIST', 'STRUCT'].includes(c.type)

/** A column's width (rem) until it is resized: text wider than numbers. */
const defaultWidth = (c: ColumnSummary) => (/STRING|UTF8|BYTE_ARRAY/i.test(c.type) ? 14 : 8)
/** The narrowest and widest a column may be made (rem). */
const MIN_WIDTH = 3
const MAX_WIDTH = 80
const clampWidth = (rem: number) => Math.min(MAX_WIDTH, Math.max(MIN_WIDTH, Math.round(rem * 4) / 4))

/**
 * A column header's right edge: dragged, it resizes the column; focused, ← and → narrow and
 * widen it by 1 rem; a double click (or Delete) gives it its first width again.
 */
function ColumnEdge({
  column,
  rem,
  onResize,
  onReset,
}: {
  column: string
  rem: number
  onResize: (rem: number) => void
  onReset: () => void
}) {
  const drag = useRef<{ x: number; rem: number; px: number }>(undefined)
  return (
    // biome-ignore lint/a11y/useSemanticElements: a focusable separator is the ARIA pattern for a splitter; <hr> takes no focus or value
    <div
      role="separator"
      aria-orientation="vertical"
      aria-label={`Width of ${column}`}
      aria-valuenow={rem}
      aria-valuemin={MIN_WIDTH}
      aria-valuemax={MAX_WIDTH}
      aria-valuetext={`${rem} rem`}
      tabIndex={0}
      className="column-edge"
      title="Drag to resize; double-click for the first width"
      onClick={(e) => e.stopPropagation()}
      onDoubleClick={onReset}
      onKeyDown={(e) => {
        if (e.key === 'ArrowLeft' || e.key === 'ArrowRight') {
          e.preventDefault()
          onResize(rem + (e.key === 'ArrowRight' ? 1 : -1))
        } else if (e.key === 'Delete' || e.key === 'Backspace') onReset()
      }}
      onPointerDown={(e) => {
        if (e.button !== 0) return
        e.preventDefault()
        e.currentTarget.setPointerCapture(e.pointerId)
        drag.current = { x: e.clientX, rem, px: Number.parseFloat(getComputedStyle(document.documentElement).fontSize) || 16 }
      }}
      onPointerMove={(e) => {
        const d = drag.current
        if (d) onResize(d.rem + (e.clientX - d.x) / d.px)
      }}
      onPointerUp={() => {
        drag.current = undefined
      }}
      onPointerCancel={() => {
        drag.current = undefined
      }}
    />
  )
}

/** The first position in `rows` (ascending) holding `row` or a later one; rows.length if none. */
const firstFrom = (rows: Uint32Array, row: number) => partitionPoint(0, rows.length, (i) => (rows[i] as number) >= row)

/**
 * Every row of the open file, scrolled virtually: only the rows in view are in the page, and
 * they are read in blocks through the engine worker (only the pages that hold them). Vector
 * columns are hidden by default; any column can be hidden. "Only rows where" keeps the rows
 * passing a filter (the search's language; only its columns read, row groups ruled out by their
 * statistics skipped), and a column's header sorts them by its values (the engine's orderRows);
 * either is scrolled the same way. Clicking a row opens it.
 */
export function RowsTable({
  id,
  info,
  onOpenRow,
  linked,
}: {
  id: number
  info: FileInfo
  onOpenRow: (row: number) => void
  /**
   * A file with an address (`src`): the filter and sort it names (`rows=`, `sort=`) are applied
   * first, and the address follows the view's; undefined: a file from disk, which has none.
   */
  linked?: { src: string; rows?: string; sort?: string }
}) {
  const [hidden, setHidden] = useState<Set<string>>(() => new Set(info.vectorColumns))
  /** Columns' widths (rem) set by their header's edge. */
  const [resized, setResized] = useState<Record<string, number>>({})
  const resize = (column: string, rem: number | undefined) =>
    setResized(({ [column]: _, ...rest }) => (rem === undefined ? rest : { ...rest, [column]: clampWidth(rem) }))
  const shown = useMemo(() => info.columns.filter((c) => !hidden.has(c.name)), [info.columns, hidden])
  const key = shown.map((c) => c.name).join('\u0000')
  const blocks = useRef(new Map<number, Array<Record<string, unknown>>>())
  const pending = useRef(new Map<number, AbortController>())
  const [, setVersion] = useState(0)
  const [error, setError] = useState<string>()
  const [goTo, setGoTo] = useState('')
  const [where, setWhere] = useState('')
  const [filtered, setFiltered] = useState<Filtered>()
  const [sorted, setSorted] = useState<Sorted>()
  /** A filter or a sort under way: what, and rows looked at of all. */
  const [working, setWorking] = useState<{ what: string; rows: number; of: number }>()
  const workAbort = useRef<AbortController>(undefined)
  const scroller = useRef<HTMLElement>(null)
  const [base, setBase] = useState(0)
  /** The rows scrolled, in order (every row; those passing the filter; sorted), and the file's row at each position. */
  const view = sorted?.rows ?? filtered?.rows
  const total = view ? view.length : info.rows
  const rowAt = (at: number) => (view ? (view[at] as number) : at)
  const count = Math.max(0, Math.min(WINDOW, total - base))
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
  // positions in what is scrolled (the file's rows, or those passing the filter, sorted or not)
  // (those read: in view and a few beyond; those said to be in view: below the sticky header,
  // whose row a row's start is counted from, and above the scroller's bottom)
  const first = base + (items[0]?.index ?? 0)
  const last = base + (items.at(-1)?.index ?? 0)
  const top = virtual.scrollOffset ?? 0
  const onScreen = items.filter((it) => it.start >= top + ROW_HEIGHT - 1 && it.start < top + (virtual.scrollRect?.height ?? 0))
  const seenFirst = base + (onScreen[0]?.index ?? items[0]?.index ?? 0)
  const seenLast = base + (onScreen.at(-1)?.index ?? items.at(-1)?.index ?? 0)
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

  // a new set of columns, or of rows, starts over
  // biome-ignore lint/correctness/useExhaustiveDependencies: keyed on the column list and the rows
  useEffect(() => {
    for (const c of pending.current.values()) c.abort()
    pending.current.clear()
    blocks.current.clear()
    setVersion((v) => v + 1)
  }, [key, id, view])

  /** Shows these rows (a filter's, or none: every row; sorted or not), from the first. */
  function showRows(rows: Filtered | undefined, order: Sorted | undefined) {
    setFiltered(rows)
    setSorted(order)
    setBase(0)
    virtual.scrollToIndex(0, { align: 'start' })
  }

  /**
   * Runs a filter or a sort in the engine worker, its rows looked at shown as it goes, Cancel
   * stopping it (a newer one cancels it too); undefined when it failed (the error shown) or was cancelled.
   */
  async function rowsJob<T>(what: string, of: number, call: (api: Remote<EngineApi>, job: number) => Promise<T>): Promise<T | undefined> {
    workAbort.current?.abort()
    const controller = new AbortController()
    workAbort.current = controller
    setWorking({ what, rows: 0, of })
    let poll: ReturnType<typeof setInterval> | undefined
    /** Until this job ends: a poll answered after that must not show it running again. */
    let live = true
    try {
      return await run(controller.signal, (api, job) => {
        poll = setInterval(() => {
          void api.rowsProgress(job).then((p) => {
            if (p && live && !controller.signal.aborted) setWorking({ what, ...p })
          })
        }, 250)
        return call(api, job)
      })
    } catch (e) {
      if ((e as Error).name !== 'AbortError' && !controller.signal.aborted) setError((e as Error).message)
      return undefined
    } finally {
      live = false
      clearInterval(poll)
      if (workAbort.current === controller) setWorking(undefined)
    }
  }

  /** The sort `by` over `rows` (a filter's; undefined: every row). */
  async function sortRows(by: Omit<Sorted, 'rows'>, rows: Uint32Array | undefined): Promise<Sorted | undefined> {
    const order = await rowsJob(`Sorting by ${by.column}`, rows ? rows.length : info.rows, (api, job) =>
      api.orderRows(id, by.column, by.descending, rows, job),
    )
    return order && { ...by, rows: order }
  }

  /** Applies a filter (empty: every row again), from the first row passing it; the sort `by` (the one shown) stays. */
  async function applyFilter(text: string, by: Omit<Sorted, 'rows'> | undefined = sorted) {
    setError(undefined)
    const found = text ? await rowsJob('Filtering', info.rows, (api, job) => api.filterRows(id, text, job)) : undefined
    if (text && !found) return
    const rows = found && { where: text, ...found }
    const order = by && (await sortRows(by, rows?.rows))
    if (by && !order) return
    showRows(rows, order)
  }

  /** The rows in view (every row, a filter's; sorted or not) and the columns shown, as a CSV download. */
  async function downloadCsv() {
    setError(undefined)
    const columns = shown.map((c) => c.name)
    const csv = await rowsJob('Writing CSV', total, (api, job) => api.rowsCsv(id, view, columns, job))
    if (csv) saveAs(csv, `${fileStem(info.name)}-rows.csv`)
  }

  // a link's filter and sort, applied once; then the address follows the view's (not before:
  // a reload while the link's filter runs keeps it)
  const linkApplied = useRef(!linked?.rows && !linked?.sort)
  // biome-ignore lint/correctness/useExhaustiveDependencies: once, as the view opens
  useEffect(() => {
    if (linkApplied.current || !linked) return
    const by = parseSortParam(linked.sort)
    const column = by && info.columns.find((c) => c.name === by.column)
    if (by && !(column && sortable(column))) {
      setError(`The address sorts by "${by.column}", which is no column of this file the Data view can sort by.`)
    }
    setWhere(linked.rows ?? '')
    void applyFilter(linked.rows?.trim() ?? '', column && sortable(column) ? by : undefined).finally(() => {
      linkApplied.current = true
    })
  }, [])
  // biome-ignore lint/correctness/useExhaustiveDependencies: the view's filter and sort
  useEffect(() => {
    if (linked && linkApplied.current) updateAddress({ src: linked.src, rows: filtered?.where, sort: sortParam(sorted) })
  }, [filtered, sorted])

  /** A column's header: sorts by it ascending, then descending, then not. */
  async function sortBy(column: string) {
    setError(undefined)
    const descending = sorted?.column === column && !sorted.descending
    if (sorted?.column === column && sorted.descending) return showRows(filtered, undefined)
    const order = await sortRows({ column, descending }, filtered?.rows)
    if (order) showRows(filtered, order)
  }

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
        const rows = view
        run(controller.signal, (api, job) =>
          rows
            ? api.rowsAt(id, Array.from(rows.subarray(b * BLOCK, (b + 1) * BLOCK)), columns, job)
            : api.rows(id, b * BLOCK, (b + 1) * BLOCK, columns, job),
        )
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
  }, [first, last, key, id, view])

  // fixed widths: every row is its own grid, so its columns must not size to their content; a
  // column's header edge resizes it (dragged, or ←/→ on it; a double click puts it back)
  const widths = shown.map((c) => resized[c.name] ?? defaultWidth(c))
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
            if (!Number.isInteger(n) || n < 0 || n >= info.rows)
              setError(`Row numbers go from 0 to ${(info.rows - 1).toLocaleString('en-US')}.`)
            else if (sorted) {
              // where the row is in the sorted rows
              const at = sorted.rows.indexOf(n)
              if (at >= 0) goToRow(at)
              else setError(`Row ${n.toLocaleString('en-US')} does not pass the filter.`)
            } else if (!filtered) goToRow(n)
            else {
              // the first row from n on that passes the filter
              const at = firstFrom(filtered.rows, n)
              if (at < filtered.rows.length) goToRow(at)
              else setError(`No row from ${n.toLocaleString('en-US')} on passes the filter.`)
            }
          }}
        >
          <label className="go-to-row">
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
        <button
          type="button"
          disabled={working !== undefined || total === 0}
          title={`The ${total.toLocaleString('en-US')} rows in view, in this order, with the columns shown`}
          onClick={() => void downloadCsv()}
        >
          Download CSV
        </button>
        {total > WINDOW && (
          <div className="row">
            <button type="button" disabled={base === 0} onClick={() => goToRow(Math.max(0, base - WINDOW))}>
              ◂ Previous {WINDOW.toLocaleString('en-US')}
            </button>
            <button type="button" disabled={base + WINDOW >= total} onClick={() => goToRow(base + WINDOW)}>
              Next {WINDOW.toLocaleString('en-US')} ▸
            </button>
          </div>
        )}
        <span className="hint" data-testid="rows-in-view">
          {filtered
            ? `${total.toLocaleString('en-US')} of ${info.rows.toLocaleString('en-US')} rows pass` +
              (filtered.rowGroupsSkipped
                ? ` (${filtered.rowGroupsSkipped.toLocaleString('en-US')} row group${filtered.rowGroupsSkipped === 1 ? '' : 's'} skipped by their statistics)`
                : '')
            : `${info.rows.toLocaleString('en-US')} rows`}
          {sorted
            ? ` · sorted by ${sorted.column}, ${sorted.descending ? 'largest' : 'smallest'} first`
            : count > 0 && ` · rows ${rowAt(seenFirst).toLocaleString('en-US')}–${rowAt(seenLast).toLocaleString('en-US')} in view`}
        </span>
      </div>
      <form
        className="row data-filter"
        onSubmit={(e) => {
          e.preventDefault()
          void applyFilter(where.trim())
        }}
      >
        <label className="data-filter-field">
          <span>Only rows where</span>
          <input
            className="data-filter-input"
            type="text"
            aria-label="Filter the rows shown"
            placeholder="e.g. year >= 2020 AND lang = 'en' (the search filter's language)"
            value={where}
            onChange={(e) => setWhere(e.target.value)}
          />
        </label>
        <button type="submit" disabled={working !== undefined}>
          Filter
        </button>
        {filtered && !working && (
          <button
            type="button"
            onClick={() => {
              setWhere('')
              void applyFilter('')
            }}
          >
            Every row
          </button>
        )}
        {working && (
          <span role="status" className="hint">
            {working.what}… {working.rows.toLocaleString('en-US')} of {working.of.toLocaleString('en-US')} rows{' '}
            <button type="button" onClick={() => workAbort.current?.abort()}>
              Cancel
            </button>
          </span>
        )}
      </form>
      {error && (
        <p role="alert" className="error">
          {error}
        </p>
      )}
      {/* biome-ignore lint/a11y/noNoninteractiveTabindex: the scroller takes keyboard scrolling */}
      <section ref={scroller} className="grid" aria-label="Rows, scrolled" tabIndex={0}>
        <table aria-label={`Rows of ${info.name}`} aria-rowcount={total + 1}>
          <thead className="grid-head">
            <tr className="grid-row" style={grid} aria-rowindex={1}>
              <th scope="col">row</th>
              {shown.map((c, i) => {
                const by = sorted?.column === c.name ? (sorted.descending ? 'descending' : 'ascending') : undefined
                return (
                  // named by the column alone: its width edge is not part of its name
                  <th scope="col" key={c.name} title={c.type} aria-sort={by ?? 'none'} aria-label={c.name}>
                    {sortable(c) ? (
                      <button
                        type="button"
                        className="sort"
                        disabled={working !== undefined}
                        title={`Sort by ${c.name}: smallest first, then largest first, then file order`}
                        onClick={() => void sortBy(c.name)}
                      >
                        {c.name}
                        <span aria-hidden="true">{by === 'ascending' ? ' ▲' : by === 'descending' ? ' ▼' : ''}</span>
                      </button>
                    ) : (
                      c.name
                    )}
                    <ColumnEdge
                      column={c.name}
                      rem={widths[i] as number}
                      onResize={(rem) => resize(c.name, rem)}
                      onReset={() => resize(c.name, undefined)}
                    />
                  </th>
                )
              })}
            </tr>
          </thead>
          <tbody style={{ height: virtual.getTotalSize(), position: 'relative', minWidth: grid.minWidth }}>
            {items.map((item) => {
              const at = base + item.index
              const row = rowAt(at)
              const values = blocks.current.get(Math.floor(at / BLOCK))?.[at % BLOCK]
              return (
                <tr
                  key={item.key}
                  aria-rowindex={at + 2}
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
                        {withLink(values[c.name], asText(values[c.name]).slice(0, 300))}
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
