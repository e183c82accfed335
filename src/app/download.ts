import { shortName } from './text.js'

/** Hands `csv` (a CSV's text, or any file) to the browser as a download named `name`. */
export function saveAs(csv: string | Blob, name: string) {
  const a = document.createElement('a')
  a.href = URL.createObjectURL(typeof csv === 'string' ? new Blob([csv], { type: 'text/csv' }) : csv)
  a.download = name
  a.click()
  // the download has its bytes once it starts; the URL is let go a minute after, not at once
  setTimeout(() => URL.revokeObjectURL(a.href), 60_000)
}

/** A file's name without its folders, site or extension (`.parquet`, a manifest's `.json`): `papers.indexed` for `…/papers.indexed.parquet`. */
export function fileStem(name: string): string {
  return (shortName(name).split(/[\\/]/).at(-1) ?? name).replace(/\.(parquet|json)$/i, '') || 'parquetseek'
}
