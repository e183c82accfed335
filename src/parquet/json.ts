import type { FileMetaData } from 'hyparquet'
import { toJson } from 'hyparquet'
import { decimalScaleOf, exactDecimal } from './decimal.js'
import { plainLeaves, valueAt } from './leaves.js'
import { timeOfDay, timeUnits } from './time.js'

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
 * How a file's values are shown that JSON would show badly: DATE and TIME columns, and such
 * fields of structs, by path.
 */
export interface ShownColumns {
  dates: ReadonlyArray<readonly string[]>
  /** TIME columns and fields, with their units a second. */
  times: ReadonlyArray<readonly [readonly string[], number]>
  /** DECIMAL fields of structs, with their scales (top-level columns are read exact: decimal.ts). */
  decimals: ReadonlyArray<readonly [readonly string[], number]>
  /** Top-level lists of DATE, TIME or DECIMAL values, by name: each value shown as such a column's. */
  lists: ReadonlyArray<ListShown>
}

interface ListShown {
  name: string
  /** The list's path: a top-level column, or a field of structs. */
  path: readonly string[]
  date?: boolean
  /** TIME: units a second. */
  units?: number
  /** DECIMAL: its scale. */
  scale?: number
}

/**
 * A row's values as JSON values (jsonValues), its DATEs as the day they hold, 2020-01-31, instead
 * of that day's midnight as a timestamp, 2020-01-31T00:00:00.000Z, and its TIMEs as a time of day,
 * 12:10:00, instead of the integer stored (43800000000 microseconds) — top-level columns and
 * fields of structs (`meta.day`); a null struct as null (it was left out).
 */
export function jsonRow(row: Record<string, unknown>, shown: ShownColumns): Record<string, unknown> {
  const out = jsonValues(row) as Record<string, unknown>
  // a null struct is read as undefined, which JSON leaves out: the column is there, and null
  for (const [key, v] of Object.entries(row)) if (v === undefined) out[key] = null
  const show = (path: readonly string[], how: Omit<ListShown, 'name' | 'path'>) => {
    const v = shownValue(valueAt(row, path), how)
    if (v !== undefined) setAt(out, path, v)
  }
  for (const path of shown.dates) show(path, { date: true })
  for (const [path, units] of shown.times) show(path, { units })
  for (const [path, scale] of shown.decimals) show(path, { scale })
  for (const list of shown.lists) {
    const v = valueAt(row, list.path)
    const json = valueAt(out, list.path) as unknown[]
    if (Array.isArray(v))
      setAt(
        out,
        list.path,
        v.map((x, i) => shownValue(x, list) ?? json[i]),
      )
  }
  return out
}

/** One value as shown (a day, a time of day, an exact decimal), or undefined to keep its JSON. */
function shownValue(v: unknown, how: Omit<ListShown, 'name' | 'path'>): unknown {
  if (how.date) return v instanceof Date && !Number.isNaN(v.getTime()) ? v.toISOString().slice(0, 10) : undefined
  if (how.units !== undefined)
    return typeof v === 'bigint' || (typeof v === 'number' && Number.isInteger(v)) ? timeOfDay(v, how.units) : undefined
  if (how.scale !== undefined) return typeof v === 'number' ? exactDecimal(v, how.scale) : undefined
  return undefined
}

/** Sets the value at `path` in a JSON row (its objects are the row's own copies, made by jsonValues). */
function setAt(out: Record<string, unknown>, path: readonly string[], value: unknown): void {
  let at = out
  for (const key of path.slice(0, -1)) at = at[key] as Record<string, unknown>
  at[path.at(-1) as string] = value
}

const shownOf = new WeakMap<FileMetaData, ShownColumns>()

/** The file's DATE and TIME columns and struct fields (once per footer: the Data view asks on every scroll). */
export function shownColumnsOf(metadata: FileMetaData): ShownColumns {
  let shown = shownOf.get(metadata)
  if (!shown) {
    const { plain, lists } = plainLeaves(metadata)
    const leaves = [...plain.values()]
    shown = {
      dates: leaves.filter((l) => (l.element.logical_type?.type ?? l.element.converted_type) === 'DATE').map((l) => l.path),
      times: leaves.flatMap((l) => {
        const units = timeUnits(l.element)
        return units === undefined ? [] : [[l.path, units] as const]
      }),
      decimals: leaves.flatMap((l) => {
        const scale = l.path.length > 1 ? decimalScaleOf(l.element) : undefined
        return scale === undefined ? [] : [[l.path, scale] as const]
      }),
      lists: [...lists.values()].flatMap((l): ListShown[] => {
        const date = (l.element.logical_type?.type ?? l.element.converted_type) === 'DATE'
        const units = timeUnits(l.element)
        const scale = decimalScaleOf(l.element)
        return date || units !== undefined || scale !== undefined ? [{ name: l.name, path: l.path, date, units, scale }] : []
      }),
    }
    shownOf.set(metadata, shown)
  }
  return shown
}

/** The DATE and TIME columns and fields of any of these files (search results of a sidecar or a manifest). */
export function shownColumnsIn(files: FileMetaData[]): ShownColumns {
  const all = files.map(shownColumnsOf)
  const once = <T>(items: T[], key: (t: T) => readonly string[]) => [...new Map(items.map((t) => [key(t).join('\u0000'), t])).values()]
  return {
    dates: once(
      all.flatMap((s) => s.dates),
      (p) => p,
    ),
    times: once(
      all.flatMap((s) => s.times),
      ([p]) => p,
    ),
    decimals: once(
      all.flatMap((s) => s.decimals),
      ([p]) => p,
    ),
    lists: once(
      all.flatMap((s) => s.lists),
      (l) => [l.name],
    ),
  }
}

function exactIntegers(value: unknown): unknown {
  if (typeof value === 'bigint') return Number.isSafeInteger(Number(value)) ? value : value.toString()
  if (Array.isArray(value)) return value.map(exactIntegers)
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype)
    return Object.fromEntries(Object.entries(value).map(([k, v]) => [k, exactIntegers(v)]))
  return value
}

/**
 * A value as a link's address: a string naming an http(s) address — absolute, or relative to
 * `base` when given — else undefined. Never `javascript:` or `data:`: a value from a file would
 * run or show what the file chose.
 */
export function webAddress(value: unknown, base?: string): string | undefined {
  if (typeof value !== 'string') return undefined
  const text = value.trim()
  if (!text || /\s/.test(text)) return undefined
  try {
    const url = new URL(text, base)
    return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined
  } catch {
    return undefined
  }
}

/**
 * A distance as a person reads it, to `digits` significant digits: a cosine distance under 10⁻⁶
 * reads 0. Computed in float32, a row's cosine distance to itself comes out as ±1e-7 (it showed
 * as "-5.960e-8"), where L2's is exactly 0; a cosine distance lies in [0, 2], so 10⁻⁶ is below
 * anything it tells apart. Other metrics' distances are shown as they are (a dot product has no
 * zero of its own, and L2 distances can be small for small vectors).
 */
export function shownDistance(distance: number, metric: string, digits: number): string {
  return (metric === 'cosine' && Math.abs(distance) < 1e-6 ? 0 : distance).toPrecision(digits)
}
