import type { FileMetaData, SchemaElement } from 'hyparquet'
import { parquetSchema } from 'hyparquet'

/**
 * hyparquet reads a DECIMAL as unscaled × 10^−scale, a product often one unit off in the last
 * place: DECIMAL(10,3) 143 reads as 0.14300000000000002, so `--where "price = 0.143"` passed no
 * row and results printed the noise. `exactDecimal` puts a value back to the double nearest its
 * decimal (unscaled / 10^scale, correctly rounded): what the literal 0.143 parses to.
 */

const scalesOf = new WeakMap<FileMetaData, Map<string, number>>()

/** Scale of each top-level DECIMAL column with a fractional part, by name (once per footer). */
export function decimalScales(metadata: FileMetaData): Map<string, number> {
  const known = scalesOf.get(metadata)
  if (known) return known
  const scales = new Map<string, number>()
  scalesOf.set(metadata, scales)
  for (const top of parquetSchema(metadata).children) {
    const el = top.element
    if (top.children.length || el.repetition_type === 'REPEATED') continue
    const scale = decimalScaleOf(el)
    if (scale !== undefined) scales.set(el.name, scale)
  }
  return scales
}

/** The scale of a DECIMAL leaf with a fractional part (1…22), else undefined. */
export function decimalScaleOf(el: SchemaElement): number | undefined {
  const logical = el.logical_type?.type === 'DECIMAL' ? el.logical_type.scale : undefined
  const scale = logical ?? (el.converted_type === 'DECIMAL' ? el.scale : undefined)
  return scale !== undefined && scale > 0 && scale <= 22 ? scale : undefined
}

/**
 * `value` (a number read from a DECIMAL of this scale) as the double nearest its decimal. Values of
 * 15 or more significant digits, which a double cannot hold exactly anyway, stay as read.
 */
export function exactDecimal(value: unknown, scale: number): unknown {
  if (typeof value !== 'number') return value
  const f = 10 ** scale
  const unscaled = Math.round(value * f)
  return Math.abs(unscaled) < 1e15 ? unscaled / f : value
}

/** `rows` (objects by column name) with their DECIMAL columns' values made exact, in place. */
export function exactDecimals<T extends Record<string, unknown>>(rows: T[], scales: Map<string, number>, columns: readonly string[]): T[] {
  for (const name of columns) {
    const scale = scales.get(name)
    if (scale === undefined) continue
    for (const row of rows) (row as Record<string, unknown>)[name] = exactDecimal(row[name], scale)
  }
  return rows
}
