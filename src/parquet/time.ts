import type { SchemaElement } from 'hyparquet'

/**
 * TIME columns (a time of day) are read as the integers they store — milliseconds, microseconds
 * or nanoseconds since midnight — which print and compare as numbers nobody reads:
 * 43800000000 for 12:10. These helpers show them as times of day and read quoted times in
 * `--where` in the column's own unit, so `t >= '12:00'` compares as DuckDB does.
 */

/** Units a second of a TIME column's values, or undefined when it is no TIME column. */
export function timeUnits(element: SchemaElement): number | undefined {
  const logical = element.logical_type
  if (logical?.type === 'TIME') return logical.unit === 'NANOS' ? 1e9 : logical.unit === 'MICROS' ? 1e6 : 1e3
  if (element.converted_type === 'TIME_MILLIS') return 1e3
  if (element.converted_type === 'TIME_MICROS') return 1e6
  return undefined
}

/** A stored time of day as 'HH:MM:SS', with its fraction of a second when it has one ('12:10:00.25'). */
export function timeOfDay(value: number | bigint, units: number): string {
  const total = BigInt(value)
  const perSecond = BigInt(units)
  const seconds = Number(total / perSecond)
  const fraction = total % perSecond
  const two = (n: number) => String(n).padStart(2, '0')
  const clock = `${two(Math.floor(seconds / 3600))}:${two(Math.floor(seconds / 60) % 60)}:${two(seconds % 60)}`
  if (!fraction) return clock
  return `${clock}.${String(fraction)
    .padStart(String(units).length - 1, '0')
    .replace(/0+$/, '')}`
}

/**
 * A quoted time of day ('12:00', '12:00:30', '12:00:30.25') in the column's units, or undefined
 * when it is none (hours 0–23, minutes and seconds 0–59) or finer than the column stores.
 */
export function parseTimeOfDay(text: string, units: number): number | undefined {
  const m = /^(\d{2}):(\d{2})(?::(\d{2})(?:\.(\d{1,9}))?)?$/.exec(text.trim())
  if (!m) return undefined
  const [h, min, s] = [Number(m[1]), Number(m[2]), Number(m[3] ?? 0)]
  if (h > 23 || min > 59 || s > 59) return undefined
  const digits = String(units).length - 1
  const given = (m[4] ?? '').padEnd(9, '0')
  if (/[1-9]/.test(given.slice(digits))) return undefined // finer than the column stores: it would match a time it is not
  return ((h * 60 + min) * 60 + s) * units + Number(given.slice(0, digits))
}
