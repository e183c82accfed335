import { toJson } from 'hyparquet'

/**
 * Values read from Parquet as JSON values: hyparquet's `toJson` (dates as ISO text, bytes as arrays
 * of numbers, bigints as numbers), except 64-bit integers past 2^53, which as numbers round —
 * INT64 id 1234567890123456789 printed as 1234567890123456800, another row's id — and become their
 * digits as text instead.
 */
export function jsonValues(value: unknown): unknown {
  return toJson(exactIntegers(value))
}

function exactIntegers(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? value : value.toString()
  if (Array.isArray(value)) return value.map(exactIntegers)
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, exactIntegers(v)]))
  return value
}
