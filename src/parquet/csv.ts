/**
 * One CSV record (RFC 4180) of JSON values (parquet/json.ts), ending in CRLF: a field quoted when
 * it holds a comma, a quote or a line break, quotes doubled; text as it is, empty text as `""`,
 * NULL an empty field, numbers and booleans as JSON writes them, lists and structs as JSON.
 * Nothing is altered for spreadsheets, as DuckDB's `COPY … (FORMAT csv)` alters nothing.
 */
export function csvLine(values: readonly unknown[]): string {
  return `${values.map(csvField).join(',')}\r\n`
}

function csvField(value: unknown): string {
  if (value === '') return '""' // empty text, told from NULL as DuckDB tells them
  const text = value === undefined || value === null ? '' : typeof value === 'string' ? value : JSON.stringify(value)
  return /[",\r\n]/.test(text) ? `"${text.replaceAll('"', '""')}"` : text
}
