import { useRef } from 'react'
import type { PageHit, PageSearchResult } from '../../workers/engineApi.js'
import { shownDistance, webAddress } from '../parquet/json.js'
import { asText, Folded, highlight, shortName, withLink } from './text.js'

interface Props {
  result: PageSearchResult
  columns: string[]
  /** Words of a text query, marked where they occur. */
  terms: string[]
  /** The index's metric (how a distance reads: shownDistance). */
  metric: string
  onOpenRow: (row: number) => void
  onSimilar: (row: number) => void
}

/**
 * One layout for the whole list, so every card reads the same way: the string column with the
 * longest values (when they are sentences, ≥ 20 characters on average) is the body; the other
 * strings make the title line; the rest is secondary.
 */
function layout(hits: PageHit[], columns: string[]) {
  const shown = columns.filter((c) => hits.some((h) => c in h.values))
  const strings = shown.filter((c) =>
    hits.every((h) => h.values[c] === undefined || h.values[c] === null || typeof h.values[c] === 'string'),
  )
  const avg = (c: string) => hits.reduce((n, h) => n + asText(h.values[c]).length, 0) / Math.max(1, hits.length)
  const longest = strings.reduce<string | undefined>((best, c) => (best === undefined || avg(c) > avg(best) ? c : best), undefined)
  const body = longest !== undefined && avg(longest) >= 20 ? longest : undefined
  return { title: strings.filter((c) => c !== body), body, rest: shown.filter((c) => !strings.includes(c)) }
}

/**
 * Results as a list a person reads: the text first (query words marked), distance as a bar and a
 * number, the row number and other columns after. ↑/↓ move between results, Enter opens one,
 * `s` finds rows similar to it.
 */
export function Results({ result, columns, terms, metric, onOpenRow, onSimilar }: Props) {
  const list = useRef<HTMLOListElement>(null)
  const hits = result.results
  const max = Math.max(1e-12, ...hits.map((h) => h.distance))
  const shape = layout(hits, columns)
  const focusAt = (i: number) => list.current?.querySelectorAll<HTMLElement>(':scope > li')[i]?.focus()
  if (!hits.length)
    return (
      <p className="notice">
        {result.stats.filter?.rowsPassing === 0
          ? 'No row passes the filter: check its column names and values (text is compared exactly, case included).'
          : 'No rows matched. Try other words, or raise nprobe under Advanced.'}
      </p>
    )
  return (
    <ol
      ref={list}
      className="hits"
      aria-label={`Results (${hits.length})`}
      onKeyDown={(e) => {
        const items = [...(list.current?.querySelectorAll<HTMLElement>(':scope > li') ?? [])]
        const at = items.indexOf(document.activeElement as HTMLElement)
        if (at < 0) return // keys inside a result's buttons keep their meaning
        const row = hits[at]?.row
        if (e.key === 'ArrowDown' || e.key === 'ArrowUp') {
          e.preventDefault()
          focusAt(Math.max(0, Math.min(items.length - 1, at + (e.key === 'ArrowDown' ? 1 : -1))))
        } else if (e.key === 'Enter' && row !== undefined) {
          e.preventDefault()
          onOpenRow(row)
        } else if (e.key === 's' && row !== undefined && !e.ctrlKey && !e.metaKey && !e.altKey) {
          e.preventDefault()
          onSimilar(row)
        }
      }}
    >
      {hits.map((hit, i) => {
        const title = shape.title.filter((c) => asText(hit.values[c]))
        const { body, rest } = shape
        return (
          <li key={hit.row} className="hit" tabIndex={i === 0 ? 0 : -1} data-row={hit.row}>
            <div className="hit-main">
              {title.length > 0 && (
                <p className="hit-title">
                  {title.map((c, j) =>
                    j === 0 ? (
                      <strong key={c}>{withLink(hit.values[c], highlight(asText(hit.values[c]), terms))}</strong>
                    ) : (
                      <span key={c} className="tag">
                        {withLink(hit.values[c], highlight(asText(hit.values[c]), terms))}
                      </span>
                    ),
                  )}
                </p>
              )}
              {!title.length && !(body && asText(hit.values[body])) && (
                <p className="hit-title">
                  <strong>Row {hit.row.toLocaleString('en-US')}</strong>
                </p>
              )}
              {body && asText(hit.values[body]) && (
                <p className="hit-text">
                  {webAddress(hit.values[body]) ? (
                    withLink(hit.values[body], highlight(asText(hit.values[body]), terms))
                  ) : (
                    <Folded text={asText(hit.values[body])} terms={terms} />
                  )}
                </p>
              )}
              <p className="hit-meta">
                <span className="hit-row">row {hit.row}</span>
                {hit.file !== undefined && (
                  <span className="hit-file" title={hit.file}>
                    {' · '}
                    {shortName(hit.file)} row {hit.fileRow}
                  </span>
                )}
                {rest.map((c) => (
                  <span key={c}>
                    {' · '}
                    {c}: {withLink(hit.values[c], asText(hit.values[c]).slice(0, 120))}
                  </span>
                ))}
              </p>
            </div>
            <div className="hit-side">
              <div className="distance" title="Distance to the query: shorter is closer">
                <span className="bar" aria-hidden="true">
                  <span style={{ width: `${Math.max(2, (100 * hit.distance) / max)}%` }} />
                </span>
                <span className="hit-distance">{shownDistance(hit.distance, metric, 4)}</span>
              </div>
              <div className="row">
                <button type="button" className="small" aria-label={`Open row ${hit.row}`} onClick={() => onOpenRow(hit.row)}>
                  Open
                </button>
                <button type="button" className="small" aria-label={`Similar to row ${hit.row}`} onClick={() => onSimilar(hit.row)}>
                  Similar
                </button>
              </div>
            </div>
          </li>
        )
      })}
    </ol>
  )
}
