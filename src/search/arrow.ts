import { type Table, tableFromArrays } from 'apache-arrow'
import type { SearchHit } from './engine.js'

/** A hit of any index: a sidecar's and a dataset's also name the file (a dataset's its shard) the row is in. */
type AnyHit = SearchHit & { file?: string; shard?: number }

/**
 * Search results as an Apache Arrow Table: `file` (Utf8) and `shard` (Int32) where the hits have
 * them (a sidecar's, a dataset's: a row number means nothing without its file), `row` (Int32),
 * `distance` (Float64), then one column per returned column, its type inferred from the values
 * (strings → Utf8, bigint → Int64, lists and structs nested). Columns a hit lacks are null. A
 * returned column named like one of the first (a file's own `distance` or `row` column) is
 * `values.<name>`, never in their place.
 */
export function toArrowTable(hits: AnyHit[]): Table {
  const columns: Record<string, unknown> = {}
  if (hits.some((h) => h.file !== undefined)) columns.file = hits.map((h) => h.file ?? null)
  if (hits.some((h) => h.shard !== undefined)) columns.shard = Int32Array.from(hits, (h) => h.shard ?? -1)
  columns.row = Int32Array.from(hits, (h) => h.row)
  columns.distance = Float64Array.from(hits, (h) => h.distance)
  for (const name of new Set(hits.flatMap((h) => Object.keys(h.values))))
    columns[Object.hasOwn(columns, name) ? `values.${name}` : name] = hits.map((h) => h.values[name] ?? null)
  return tableFromArrays(columns as Parameters<typeof tableFromArrays>[0])
}
