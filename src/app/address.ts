/**
 * The page's address is a link to what is on screen: the file (`src`), the search (`q` or `row`,
 * `where`, and `k` when not 10), and the Data view (`view=data`, its filter `rows`, its sort
 * `sort`, `-` first when largest first). Each view sets its own part, the rest kept (and `src`,
 * which the demo opened at `/` lacks until then).
 */
export function updateAddress(params: Record<string, string | undefined>): void {
  const link = new URLSearchParams(window.location.search)
  for (const [key, value] of Object.entries(params)) {
    if (value === undefined) link.delete(key)
    else link.set(key, value)
  }
  history.replaceState(null, '', `?${link}`)
}

/** A Data view sort as the address holds it: `word` smallest first, `-word` largest first. */
export function sortParam(sort: { column: string; descending: boolean } | undefined): string | undefined {
  return sort && `${sort.descending ? '-' : ''}${sort.column}`
}

export function parseSortParam(value: string | undefined): { column: string; descending: boolean } | undefined {
  if (!value) return undefined
  return value.startsWith('-') ? { column: value.slice(1), descending: true } : { column: value, descending: false }
}
