import type { FileMetaData } from 'hyparquet'
import { parquetSchema, toJson } from 'hyparquet'

/**
 * Values read from Parquet as JSON values: hyparquet's `toJson` (dates as ISO text, bytes as arrays
 * of numbers, bigints as numbers), except 64-bit integers past 2^53, which as numbers round —
 * INT64 id 1234567890123456789 printed as 1234567890123456800, another row's id — and become their
 * digits as text instead.
 */
export function jsonValues(value: unknown): unknown {
  return toJson(exactIntegers(value))
}

/**
 * A row's values as JSON values (jsonValues), its DATE columns (`dateColumnsOf`) as the day they
 * hold, 2020-01-31, instead of that day's midnight as a timestamp, 2020-01-31T00:00:00.000Z.
 */
export function jsonRow(row: Record<string, unknown>, dates: ReadonlySet<string>): Record<string, unknown> {
  const out = jsonValues(row) as Record<string, unknown>
  for (const name of dates) {
    const v = row[name]
    if (v instanceof Date && !Number.isNaN(v.getTime())) out[name] = v.toISOString().slice(0, 10)
  }
  return out
}

const datesOf = new WeakMap<FileMetaData, Set<string>>()

/** The file's top-level DATE columns, by name (once per footer: the Data view asks on every scroll). */
export function dateColumnsOf(metadata: FileMetaData): Set<string> {
  let dates = datesOf.get(metadata)
  if (!dates) {
    dates = new Set(
      parquetSchema(metadata)
        .children.filter((c) => !c.children.length && (c.element.logical_type?.type ?? c.element.converted_type) === 'DATE')
        .map((c) => c.element.name),
    )
    datesOf.set(metadata, dates)
  }
  return dates
}

function exactIntegers(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? value : value.toString()
  if (Array.isArray(value)) return value.map(exactIntegers)
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, exactIntegers(v)]))
  return value
}
