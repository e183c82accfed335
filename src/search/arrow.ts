import { type Table, tableFromArrays } from 'apache-arrow'
import type { SearchHit } from './engine.js'

/**
 * Search results as an Apache Arrow Table: `row` (Int32), `distance` (Float64), then one column
 * per returned column, its type inferred from the values (strings → Utf8, bigint → Int64, lists
 * and structs nested). Columns a hit lacks are null.
 */
export function toArrowTable(hits: SearchHit[]): Table {
  const names = [...new Set(hits.flatMap((h) => Object.keys(h.values)))]
  const columns: Record<string, unknown> = {
    row: Int32Array.from(hits, (h) => h.row),
    distance: Float64Array.from(hits, (h) => h.distance),
  }
  for (const name of names) columns[name] = hits.map((h) => h.values[name] ?? null)
  return tableFromArrays(columns as Parameters<typeof tableFromArrays>[0])
}
