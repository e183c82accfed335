import type { PageHit } from '../../workers/engineApi.js'

/**
 * A search's results as CSV (RFC 4180: commas, CRLF, a field quoted when it holds a comma, a
 * quote or a line break, quotes doubled): `row`, then `file` and `file_row` when the hits come
 * from several files, `distance` in full, then each of `columns` some hit has a value of. Values
 * are the JSON values the engine hands the page (parquet/json.ts): text as it is (empty text as `""`), NULL as
 * an empty field, lists and structs as JSON. Nothing is altered for spreadsheets, as DuckDB's
 * `COPY … (FORMAT csv)` alters nothing.
 */
export function resultsCsv(hits: PageHit[], columns: string[]): string {
  const files = hits.some((h) => h.file !== undefined)
  const shown = columns.filter((c) => hits.some((h) => c in h.values))
  const header = ['row', ...(files ? ['file', 'file_row'] : []), 'distance', ...shown]
  const lines = hits.map((h) =>
    [h.row, ...(files ? [h.file, h.fileRow] : []), h.distance, ...shown.map((c) => h.values[c])].map(csvField).join(','),
  )
  return `${[header.map(csvField).join(','), ...lines].join('\r\n')}\r\n`
}

function csvField(value: unknown): string {
  if (value === '') return '""' // empty text, told from NULL as DuckDB tells them
  const text = value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value)
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}
