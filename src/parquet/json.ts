import type { FileMetaData } from 'hyparquet'
import { parquetSchema, toJson } from 'hyparquet'
import { timeColumnsOf, timeOfDay } from './time.js'

/**
 * Values read from Parquet as JSON values: hyparquet's `toJson` (dates as ISO text, bytes as arrays
 * of numbers, bigints as numbers), except 64-bit integers past 2^53, which as numbers round —
 * INT64 id 1234567890123456789 printed as 1234567890123456800, another row's id — and become their
 * digits as text instead.
 */
export function jsonValues(value: unknown): unknown {
  return toJson(exactIntegers(value))
}

/** How a file's plain columns are shown that JSON would show badly: DATE and TIME columns by name. */
export interface ShownColumns {
  dates: ReadonlySet<string>
  /** TIME columns, with their units a second. */
  times: ReadonlyMap<string, number>
}

/**
 * A row's values as JSON values (jsonValues), its DATE columns as the day they hold, 2020-01-31,
 * instead of that day's midnight as a timestamp, 2020-01-31T00:00:00.000Z, and its TIME columns
 * as a time of day, 12:10:00, instead of the integer stored (43800000000 microseconds).
 */
export function jsonRow(row: Record<string, unknown>, shown: ShownColumns): Record<string, unknown> {
  const out = jsonValues(row) as Record<string, unknown>
  for (const name of shown.dates) {
    const v = row[name]
    if (v instanceof Date && !Number.isNaN(v.getTime())) out[name] = v.toISOString().slice(0, 10)
  }
  for (const [name, units] of shown.times) {
    const v = row[name]
    if (typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v))) out[name] = timeOfDay(v, units)
  }
  return out
}

const shownOf = new WeakMap<FileMetaData, ShownColumns>()

/** The file's top-level DATE and TIME columns (once per footer: the Data view asks on every scroll). */
export function shownColumnsOf(metadata: FileMetaData): ShownColumns {
  let shown = shownOf.get(metadata)
  if (!shown) {
    const dates = new Set(
      parquetSchema(metadata)
        .children.filter((c) => !c.children.length && (c.element.logical_type?.type ?? c.element.converted_type) === 'DATE')
        .map((c) => c.element.name),
    )
    shown = { dates, times: timeColumnsOf(metadata) }
    shownOf.set(metadata, shown)
  }
  return shown
}

/** The DATE and TIME columns of any of these files (search results of a sidecar or a manifest). */
export function shownColumnsIn(files: FileMetaData[]): ShownColumns {
  const all = files.map(shownColumnsOf)
  return { dates: new Set(all.flatMap((s) => [...s.dates])), times: new Map(all.flatMap((s) => [...s.times])) }
}

function exactIntegers(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? value : value.toString()
  if (Array.isArray(value)) return value.map(exactIntegers)
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, exactIntegers(v)]))
  return value
}
