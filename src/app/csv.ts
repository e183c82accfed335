import type { PageHit } from '../../workers/engineApi.js'
import { csvLine } from '../parquet/csv.js'

/**
 * A search's results as CSV (`csvLine`): `row`, then `file` and `file_row` when the hits come
 * from several files, `distance` in full, then each of `columns` some hit has a value of.
 */
export function resultsCsv(hits: PageHit[], columns: string[]): string {
  const files = hits.some((h) => h.file !== undefined)
  const shown = columns.filter((c) => hits.some((h) => c in h.values))
  const header = ['row', ...(files ? ['file', 'file_row'] : []), 'distance', ...shown]
  const lines = hits.map((h) => csvLine([h.row, ...(files ? [h.file, h.fileRow] : []), h.distance, ...shown.map((c) => h.values[c])]))
  return [csvLine(header), ...lines].join('')
}
