import type { FileMetaData } from 'hyparquet'
import { ParquetSeekError, throwIfAborted } from '../errors.js'
import type { ByteSource } from '../io/source.js'
import { decimalScaleOf, exactDecimal } from '../parquet/decimal.js'
import { blockRanges, ROW_BLOCK_BYTES, readColumnBlocks, readColumnRange, rowBlocks, unindexed } from '../parquet/embedding.js'
import { type PlainLeaf, plainLeaves, valueAt } from '../parquet/leaves.js'
import { WALK_MIN_BYTES } from '../parquet/pageLocations.js'
import { parseTimeOfDay, timeUnits } from '../parquet/time.js'

/**
 * `--where`: a small filter language over scalar columns, applied as a row bitmap before
 * candidates are chosen. Grammar (keywords any case):
 *   expr := or;  or := and (OR and)*;  and := atom (AND atom)*
 *   atom := '(' expr ')' | NOT atom | name cmp literal | name [NOT] IN '(' literal, … ')'
 *         | name [NOT] BETWEEN literal AND literal | name [NOT] (LIKE | ILIKE) 'pattern' [ESCAPE 'c']
 *         | name IS [NOT] NULL
 *   cmp := = | != | <> | < | <= | > | >=;  literal := number | 'text' | TRUE | FALSE
 * NULL is as in SQL: a comparison with it is unknown, NOT unknown is unknown, and a row passes only
 * when the whole filter is true (`NOT score > 5` passes no row whose score is NULL, as in DuckDB).
 * LIKE's `%` is any run of characters, `_` any one; ILIKE ignores case. A list of values (not
 * floats: a vector) compares by its name, any of its values: `tags = 'ai'` passes a row one of
 * whose tags is 'ai'; `!=`, NOT IN, NOT LIKE and NOT BETWEEN pass when none is. Row groups whose
 * column statistics prove no row can match are skipped without reading them.
 */
export type Literal = number | string | boolean | bigint
export type Expr =
  | { op: 'and' | 'or'; left: Expr; right: Expr }
  | { op: 'not'; expr: Expr }
  | { op: '=' | '!=' | '<' | '<=' | '>' | '>='; column: string; value: Literal }
  | { op: 'in'; column: string; values: Literal[]; not: boolean }
  | { op: 'between'; column: string; low: Literal; high: Literal; not: boolean }
  | { op: 'like'; column: string; pattern: string; escape?: string; caseless: boolean; not: boolean }
  | { op: 'null'; column: string; not: boolean }

const TOKEN = /\s*(?:(\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|'((?:[^']|'')*)'|("(?:[^"]|"")*"|[A-Za-z_][\w.]*)|(<=|>=|!=|<>|=|<|>|\(|\)|,|-))/y

interface Token {
  kind: 'num' | 'str' | 'name' | 'sym'
  text: string
  at: number
}

function tokenize(src: string): Token[] {
  const out: Token[] = []
  TOKEN.lastIndex = 0
  while (TOKEN.lastIndex < src.length) {
    const at = TOKEN.lastIndex
    if (/^\s*$/.test(src.slice(at))) break
    const m = TOKEN.exec(src)
    if (!m) throw new ParquetSeekError(`--where: unexpected "${src.slice(at).trim().slice(0, 12)}" at character ${at + 1}`)
    const start = m.index + (m[0].length - m[0].trimStart().length)
    if (m[1] !== undefined) out.push({ kind: 'num', text: m[1], at: start })
    else if (m[2] !== undefined) out.push({ kind: 'str', text: m[2].replaceAll("''", "'"), at: start })
    else if (m[3] !== undefined)
      out.push({ kind: 'name', text: m[3].startsWith('"') ? m[3].slice(1, -1).replaceAll('""', '"') : m[3], at: start })
    else out.push({ kind: 'sym', text: m[4] as string, at: start })
  }
  return out
}

const MAX_WHERE_DEPTH = 64
const MAX_WHERE_TERMS = 1000

export function parseWhere(src: string): Expr {
  const tokens = tokenize(src)
  let i = 0
  const peek = () => tokens[i]
  const fail = (what: string): never => {
    const t = peek()
    throw new ParquetSeekError(`--where: ${what} ${t ? `at "${t.text}" (character ${t.at + 1})` : 'at the end'}`)
  }
  const keyword = (word: string) => {
    const t = peek()
    if (t?.kind === 'name' && t.text.toUpperCase() === word) {
      i++
      return true
    }
    return false
  }
  const symbol = (s: string) => {
    if (peek()?.kind === 'sym' && peek()?.text === s) {
      i++
      return true
    }
    return false
  }
  const literal = (): Literal => {
    const negative = symbol('-')
    const t = peek()
    if (t?.kind === 'num') {
      i++
      // an integer past 2^53 stays exact, as a bigint: INT64 ids (1234567890123456789) would
      // otherwise round and match their neighbours
      const n = Number(t.text)
      if (/^\d+$/.test(t.text) && !Number.isSafeInteger(n)) return negative ? -BigInt(t.text) : BigInt(t.text)
      return negative ? -n : n
    }
    if (negative) return fail('expected a number')
    if (t?.kind === 'str') {
      i++
      return t.text
    }
    if (keyword('TRUE')) return true
    if (keyword('FALSE')) return false
    return fail('expected a number, a quoted text, TRUE or FALSE')
  }
  // evaluation recurses through the tree: its depth and size are bounded (a filter nested
  // 60,000 deep used to overflow the stack)
  let depth = 0
  let conditions = 0
  const nested = <T>(inner: () => T): T => {
    if (++depth > MAX_WHERE_DEPTH) fail(`nests more than ${MAX_WHERE_DEPTH} deep`)
    const e = inner()
    depth--
    return e
  }
  const atom = (): Expr => {
    if (++conditions > MAX_WHERE_TERMS) fail(`has more than ${MAX_WHERE_TERMS} conditions`)
    if (symbol('(')) {
      const e = nested(or)
      if (!symbol(')')) fail('expected ")"')
      return e
    }
    if (keyword('NOT')) return { op: 'not', expr: nested(atom) }
    const t = peek()
    if (t?.kind !== 'name') return fail('expected a column name')
    i++
    const column = t.text
    if (keyword('IS')) {
      const not = keyword('NOT')
      if (!keyword('NULL')) fail('expected NULL')
      return { op: 'null', column, not }
    }
    const not = keyword('NOT')
    if (keyword('IN')) {
      if (!symbol('(')) fail('expected "(" after IN')
      const values = [literal()]
      while (symbol(',')) values.push(literal())
      if (!symbol(')')) fail('expected ")"')
      return { op: 'in', column, values, not }
    }
    if (keyword('BETWEEN')) {
      const low = literal()
      if (!keyword('AND')) fail('expected AND in BETWEEN … AND …')
      return { op: 'between', column, low, high: literal(), not }
    }
    const like = keyword('LIKE') ? 'LIKE' : keyword('ILIKE') ? 'ILIKE' : undefined
    if (like) {
      const p = peek()
      if (p?.kind !== 'str') return fail(`expected a quoted pattern after ${like}`)
      i++
      let escapeChar: string | undefined
      if (keyword('ESCAPE')) {
        const x = peek()
        if (x?.kind !== 'str' || [...x.text].length !== 1) return fail('expected one quoted character after ESCAPE')
        i++
        escapeChar = x.text
      }
      const e: Expr = { op: 'like', column, pattern: p.text, caseless: like === 'ILIKE', not }
      if (escapeChar !== undefined) e.escape = escapeChar
      likePattern(e) // a pattern ending in its escape character is refused here, at its place
      return e
    }
    if (not) fail('expected IN, BETWEEN, LIKE or ILIKE after NOT')
    const c = peek()
    if (c?.kind !== 'sym' || !['=', '!=', '<>', '<', '<=', '>', '>='].includes(c.text))
      return fail('expected a comparison (=, !=, <, <=, >, >=, IN, BETWEEN, LIKE, IS NULL)')
    i++
    const op = (c.text === '<>' ? '!=' : c.text) as '=' | '!=' | '<' | '<=' | '>' | '>='
    return { op, column, value: literal() }
  }
  const and = (): Expr => {
    let e = atom()
    while (keyword('AND')) e = { op: 'and', left: e, right: atom() }
    return e
  }
  const or = (): Expr => {
    let e = and()
    while (keyword('OR')) e = { op: 'or', left: e, right: and() }
    return e
  }
  const e = or()
  if (i < tokens.length) fail('unexpected')
  return e
}

export function columnsOf(e: Expr, into = new Set<string>()): Set<string> {
  if ('column' in e) into.add(e.column)
  else if (e.op === 'not') columnsOf(e.expr, into)
  else {
    columnsOf(e.left, into)
    columnsOf(e.right, into)
  }
  return into
}

/**
 * Values compare as numbers when both sides are numeric (bigint included, and a quoted number
 * against a number: '2020'), as times when the value is a date (a quoted date against it:
 * '2020-01-31'), as TRUE/FALSE, or as text (a quoted literal). With `column` (a row's value), a
 * literal its value cannot be compared with is an error naming the column — `year >= 'soon'`,
 * `day > 5` (a date), `word > 5` (text) and `id = TRUE` used to pass every row or none, silently;
 * without it (a row group's statistics) undefined: the group may match.
 */
function compare(a: unknown, b: Literal, column?: string): number | undefined {
  if (a === null || a === undefined) return undefined
  if (a instanceof Date) {
    const y = typeof b === 'string' ? instant(b) : Number.NaN
    return Number.isNaN(y)
      ? cannot(column, b, 'dates', "is not one (quote a date or time: '2020-01-31', '2020-01-31 12:00')")
      : order(a.getTime(), y)
  }
  // an INT64 past 2^53, or a literal past it, against an integer: exactly, as bigints (a value
  // within 2^53 is exact as a double, and compares below as one, allocating nothing a row)
  if (typeof a === 'bigint' && (a > SAFE || a < -SAFE || typeof b === 'bigint')) {
    const y = integerOf(b)
    if (y !== undefined) return a < y ? -1 : a > y ? 1 : 0
  }
  if (typeof a === 'number' && Number.isNaN(a)) return undefined // NaN is no number to compare: as NULL (it equalled every one)
  if (typeof a === 'bigint' || typeof a === 'number') {
    const y = typeof b === 'boolean' ? Number.NaN : typeof b !== 'string' ? Number(b) : b.trim() === '' ? Number.NaN : Number(b)
    return Number.isNaN(y) ? cannot(column, b, 'numbers') : order(Number(a), y)
  }
  if (typeof a === 'boolean') return typeof b === 'boolean' ? Number(a) - Number(b) : cannot(column, b, 'TRUE or FALSE', 'is neither')
  if (typeof a === 'string') return typeof b === 'string' ? order(a, b) : cannot(column, b, 'text', `is not text (quote it: '${b}')`)
  return cannot(column, b, 'bytes or JSON', 'cannot be compared with them')
}

const SAFE = BigInt(Number.MAX_SAFE_INTEGER)

/** Whether `v` sorts after every value, whichever way a sort goes: NULL, and NaN. */
export function nullsLast(v: unknown): boolean {
  return v === null || v === undefined || (typeof v === 'number' && Number.isNaN(v))
}

/**
 * Two values of one column in the order a sort shows them (ascending): numbers and integers by
 * value (exactly: an INT64 past 2^53 too), dates by instant, FALSE before TRUE, text by character
 * code, bytes byte by byte, anything else (a list, a struct) by its JSON text; NULL and NaN after
 * every value (`nullsLast`: a descending sort keeps them last too).
 */
export function compareValues(a: unknown, b: unknown): number {
  if (nullsLast(a) || nullsLast(b)) return nullsLast(a) === nullsLast(b) ? 0 : nullsLast(a) ? 1 : -1
  if ((typeof a === 'number' || typeof a === 'bigint') && (typeof b === 'number' || typeof b === 'bigint'))
    // (a number and a bigint compare exactly as they are)
    return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0
  if (a instanceof Date && b instanceof Date) return order(a.getTime(), b.getTime())
  if (typeof a === 'boolean' && typeof b === 'boolean') return Number(a) - Number(b)
  if (typeof a === 'string' && typeof b === 'string') return order(a, b)
  if (a instanceof Uint8Array && b instanceof Uint8Array) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number)
    return a.length - b.length
  }
  const text = (v: unknown) => JSON.stringify(v, (_, x) => (typeof x === 'bigint' ? x.toString() : x)) ?? ''
  return order(text(a), text(b))
}

const order = (x: number | string, y: number | string) => (x < y ? -1 : x > y ? 1 : 0)

/** A row's value (`column` given) cannot compare with `b`: an error naming the column; statistics (no column): undefined, the group may match. */
function cannot(column: string | undefined, b: Literal, holds: string, tail = 'is not one'): undefined {
  if (column === undefined) return undefined
  const shown = typeof b === 'string' ? `'${b}'` : typeof b === 'boolean' ? (b ? 'TRUE' : 'FALSE') : String(b)
  throw new ParquetSeekError(`--where: column "${column}" holds ${holds}; ${shown} ${tail}`)
}

/** `b` as a bigint when it is an integer (a number, a bigint, or quoted digits), else undefined. */
function integerOf(b: Literal): bigint | undefined {
  if (typeof b === 'bigint') return b
  if (typeof b === 'number') return Number.isInteger(b) ? BigInt(b) : undefined
  if (typeof b === 'string' && /^\s*-?\d+\s*$/.test(b)) return BigInt(b.trim())
  return undefined
}

/**
 * A quoted date or time as milliseconds since 1970, or NaN: ISO 8601's forms only — '2020-01-31',
 * '2020-01-31 12:00', '2020-01-31T12:00:00.5', with a zone (Z, +01:00) or without, which is UTC:
 * Parquet's timestamps are read as UTC instants, and a time without a zone used to be read in the
 * machine's own zone (the same filter passed other rows in New York than in London). Other
 * spellings ('01/02/2020': January or February?) are refused.
 */
function instant(text: string): number {
  const m = /^(\d{4}-\d{2}-\d{2})(?:[T ](\d{2}:\d{2}(?::\d{2}(?:\.\d{1,9})?)?))?\s*(Z|[+-]\d{2}:?\d{2})?$/i.exec(text.trim())
  if (!m) return Number.NaN
  const [y, month, d] = (m[1] as string).split('-').map(Number) as [number, number, number]
  const day = new Date(Date.UTC(y, month - 1, d))
  if (day.getUTCMonth() !== month - 1 || day.getUTCDate() !== d) return Number.NaN // '2020-02-30' is no day
  const zone = (m[3] ?? 'Z').toUpperCase().replace(/^([+-]\d{2})(\d{2})$/, '$1:$2')
  return Date.parse(`${m[1]}T${m[2] ?? '00:00'}${zone}`)
}

/**
 * `e` with each literal compared with a TIME column read in that column's units (it stores a time
 * of day as an integer: `t >= '12:00'` on microseconds is `t >= 43200000000`). A literal that is
 * no time of day — `t > 5`, which compared with the raw integer — is an error naming the column.
 */
function withTimes(e: Expr, times: ReadonlyMap<string, number>): Expr {
  if (!times.size) return e
  if (e.op === 'not') return { ...e, expr: withTimes(e.expr, times) }
  if (!('column' in e)) return { ...e, left: withTimes(e.left, times), right: withTimes(e.right, times) }
  const units = times.get(e.column)
  if (units === undefined || e.op === 'null') return e
  const at = (b: Literal): number => {
    const t = typeof b === 'string' ? parseTimeOfDay(b, units) : undefined
    if (t !== undefined) return t
    const finest = { 1000: 'milliseconds', 1000000: 'microseconds' }[units] ?? 'nanoseconds'
    return cannot(e.column, b, `times of day (to ${finest})`, "is not one (quote a time: '12:00', '12:00:30.5')") as never
  }
  if (e.op === 'like') return cannot(e.column, e.pattern, 'times of day', `${e.caseless ? 'ILIKE' : 'LIKE'} matches text`) as never
  if (e.op === 'between') return { ...e, low: at(e.low), high: at(e.high) }
  return e.op === 'in' ? { ...e, values: e.values.map(at) } : { ...e, value: at(e.value) }
}

/** Whether `row` passes `e`: only when it is true (a comparison with NULL is unknown, and so is its NOT). */
export function evaluate(e: Expr, row: Record<string, unknown>): boolean {
  return truth(e, row) === true
}

/** `e` for `row` in SQL's three values: true, false, or undefined (unknown: a NULL compared). */
function truth(e: Expr, row: Record<string, unknown>): boolean | undefined {
  switch (e.op) {
    case 'and': {
      const a = truth(e.left, row)
      if (a === false) return false
      const b = truth(e.right, row)
      return b === false ? false : a && b
    }
    case 'or': {
      const a = truth(e.left, row)
      if (a === true) return true
      const b = truth(e.right, row)
      return b === true ? true : a === undefined || b === undefined ? undefined : false
    }
    case 'not': {
      const a = truth(e.expr, row)
      return a === undefined ? undefined : !a
    }
    case 'null': {
      const v = row[e.column]
      return (v === null || v === undefined) !== e.not
    }
    default: {
      const v = row[e.column]
      if (v === null || v === undefined) return undefined
      // a list passes when any of its values passes (!=, NOT IN, NOT LIKE, NOT BETWEEN: when none does)
      if (Array.isArray(v)) {
        if (e.op === '!=') return !v.some((x) => compare(x, e.value, e.column) === 0)
        const negated = 'not' in e && e.not
        const any = v.some((x) => test(e, x) === !negated)
        return negated ? !any : any
      }
      return test(e, v)
    }
  }
}

/** One value against a condition on it (undefined: unknown, the value NULL or NaN). */
function test(e: Exclude<Expr, { op: 'and' | 'or' | 'not' | 'null' }>, v: unknown): boolean | undefined {
  if (v === null || v === undefined) return undefined
  switch (e.op) {
    case 'in': {
      // stops at the first equal value (this runs for every row)
      let unknown = false
      for (const x of e.values) {
        const c = compare(v, x, e.column)
        if (c === 0) return !e.not
        if (c === undefined) unknown = true
      }
      return unknown ? undefined : e.not
    }
    case 'between': {
      const lo = compare(v, e.low, e.column)
      const hi = compare(v, e.high, e.column)
      if (lo === undefined || hi === undefined) return undefined
      return (lo >= 0 && hi <= 0) !== e.not
    }
    case 'like':
      if (typeof v !== 'string') return cannot(e.column, e.pattern, kindOf(v), `${e.caseless ? 'ILIKE' : 'LIKE'} matches text`)
      return likeMatch(likePattern(e), v) !== e.not
    default: {
      const c = compare(v, e.value, e.column)
      return c === undefined ? undefined : holds(e.op, c)
    }
  }
}

/** What a value of a column is, for an error: "numbers", "dates"… */
function kindOf(v: unknown): string {
  if (typeof v === 'number' || typeof v === 'bigint') return 'numbers'
  if (v instanceof Date) return 'dates'
  if (typeof v === 'boolean') return 'TRUE or FALSE'
  return 'bytes or JSON'
}

/**
 * A LIKE pattern, compiled: the runs of characters between its `%`s, each a list of code points
 * (null: `_`, any one), and whether it starts or ends with `%`. Matched without a regular
 * expression: `.*a.*a.*a.*b` backtracks through a long text for ever, where taking each run at its
 * first place (right for `%`) costs at most the text's length times the pattern's.
 */
interface LikePattern {
  runs: Array<Array<string | null>>
  /**
   * The runs as text, where none holds `_` and the pattern is well-formed UTF-16: matched on the
   * text as it is, not on an array of its characters made for every row (a 40 MB text column
   * filtered by '%…%' spent most of its time making those arrays).
   */
  texts?: string[]
  caseless: boolean
}

const likes = new WeakMap<Expr, LikePattern>()

function likePattern(e: Extract<Expr, { op: 'like' }>): LikePattern {
  let p = likes.get(e)
  if (p) return p
  const runs: Array<Array<string | null>> = [[]]
  const chars = [...(e.caseless ? e.pattern.toLowerCase() : e.pattern)]
  const escapeChar = e.caseless ? e.escape?.toLowerCase() : e.escape
  for (let k = 0; k < chars.length; k++) {
    const c = chars[k] as string
    const run = runs.at(-1) as Array<string | null>
    if (c === '%') runs.push([])
    else if (c === '_') run.push(null)
    else {
      const literal = c === escapeChar ? chars[++k] : c
      if (literal === undefined) throw new ParquetSeekError(`--where: the pattern '${e.pattern}' ends in its escape character`)
      run.push(literal)
    }
  }
  p = { runs, caseless: e.caseless }
  if (runs.every((run) => !run.includes(null)) && !LONE_SURROGATE.test(e.pattern)) p.texts = runs.map((run) => run.join(''))
  likes.set(e, p)
  return p
}

/** Whether `text` matches the LIKE pattern: its first run at the start, its last at the end, the others each at its first place after the one before. */
function likeMatch(p: LikePattern, text: string): boolean {
  const s = p.caseless ? text.toLowerCase() : text
  if (p.texts) return likeText(p.texts, s)
  const t = [...s]
  const at = (run: Array<string | null>, i: number) => run.every((c, j) => c === null || c === t[i + j])
  const first = p.runs[0] as Array<string | null>
  if (p.runs.length === 1) return t.length === first.length && at(first, 0)
  const last = p.runs.at(-1) as Array<string | null>
  if (first.length + last.length > t.length || !at(first, 0) || !at(last, t.length - last.length)) return false
  let i = first.length
  const end = t.length - last.length
  for (const run of p.runs.slice(1, -1)) {
    while (i + run.length <= end && !at(run, i)) i++
    if (i + run.length > end) return false
    i += run.length
  }
  return true
}

/** A UTF-16 surrogate without its other half. */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/

/**
 * likeMatch for runs of plain text, on UTF-16 units: a well-formed run starts and ends on whole
 * characters, so it lies in the text where its characters do, and the first place of each run
 * after the one before is the same.
 */
function likeText(runs: string[], s: string): boolean {
  const first = runs[0] as string
  if (runs.length === 1) return s === first
  const last = runs.at(-1) as string
  const end = s.length - last.length
  if (first.length > end || !s.startsWith(first) || !s.endsWith(last)) return false
  let i = first.length
  for (let r = 1; r < runs.length - 1; r++) {
    const run = runs[r] as string
    const at = s.indexOf(run, i)
    if (at < 0 || at + run.length > end) return false
    i = at + run.length
  }
  return true
}

/** The text every match of a LIKE pattern starts with: its first run up to its first `_` ('' when it starts with % or _). */
function likePrefix(e: Extract<Expr, { op: 'like' }>): string {
  const first = likePattern(e).runs[0] ?? []
  const end = first.indexOf(null)
  return (end < 0 ? first : first.slice(0, end)).join('')
}

/** Whether an ordering (compare's; undefined: NULL) satisfies `op`. */
function holds(op: '=' | '!=' | '<' | '<=' | '>' | '>=', c: number | undefined): boolean {
  if (c === undefined) return false
  if (op === '=') return c === 0
  if (op === '!=') return c !== 0
  if (op === '<') return c < 0
  if (op === '<=') return c <= 0
  if (op === '>') return c > 0
  return c >= 0
}

interface ChunkStats {
  min?: unknown
  max?: unknown
  nulls?: number
  rows: number
}

/** False when a row group's statistics prove no row can pass; true when it might. */
function mayMatch(e: Expr, stats: Map<string, ChunkStats>): boolean {
  switch (e.op) {
    case 'and':
      return mayMatch(e.left, stats) && mayMatch(e.right, stats)
    case 'or':
      return mayMatch(e.left, stats) || mayMatch(e.right, stats)
    case 'not':
      return true
    case 'null': {
      const s = stats.get(e.column)
      if (s?.nulls === undefined) return true
      return e.not ? s.nulls < s.rows : s.nulls > 0
    }
    default: {
      const s = stats.get(e.column)
      if (!s || s.min === undefined || s.max === undefined || ('not' in e && e.not) || e.op === '!=') return true
      if (e.op === 'between') {
        const lo = compare(s.max, e.low)
        const hi = compare(s.min, e.high)
        return lo === undefined || hi === undefined || (lo >= 0 && hi <= 0)
      }
      if (e.op === 'like') {
        // every match starts with the pattern's text before its first % or _: none lies past the group's bounds
        const prefix = likePrefix(e)
        if (e.caseless || !prefix || typeof s.min !== 'string' || typeof s.max !== 'string') return true
        return s.max >= prefix && s.min.slice(0, prefix.length) <= prefix
      }
      const values = e.op === 'in' ? e.values : [e.value]
      return values.some((v) => {
        const lo = compare(s.min, v)
        const hi = compare(s.max, v)
        if (lo === undefined || hi === undefined) return true
        if (e.op === '=' || e.op === 'in') return lo <= 0 && hi >= 0
        if (e.op === '<') return lo < 0
        if (e.op === '<=') return lo <= 0
        if (e.op === '>') return hi > 0
        return hi >= 0
      })
    }
  }
}

export interface FilterResult {
  /** 1 where the row passes. */
  bitmap: Uint8Array
  passing: number
  rowGroupsSkipped: number
  /** Row groups whose filter columns were read, one dependent round trip each. */
  rowGroupsRead: number
}

/**
 * Rows a search may return: a filter's bitmap (1: passes) minus deleted rows (copied first, so a
 * cached bitmap stays whole), or undefined when every row may.
 */
export function allowedRows(rows: number, passing: Uint8Array | undefined, deleted: Iterable<number> | undefined): Uint8Array | undefined {
  if (!deleted) return passing
  const allowed = passing ? passing.slice() : new Uint8Array(rows).fill(1)
  for (const row of deleted) if (row >= 0 && row < allowed.length) allowed[row] = 0
  return allowed
}

/**
 * The rows of the file that pass `expr`, reading only its columns and skipping row groups by
 * statistics; `onProgress(rows, of)` after each row group.
 */
export async function filterRows(
  source: ByteSource,
  metadata: FileMetaData,
  expr: Expr,
  signal?: AbortSignal,
  onProgress?: (rows: number, of: number) => void,
): Promise<FilterResult> {
  const rows = Number(metadata.num_rows)
  const names = [...columnsOf(expr)]
  // the values a condition can compare: a top-level column or a struct's field (`meta.lang`), one
  // a row; a list of values by its name; a map's leaves, or a list's of structs, are named as what they are
  const { plain, lists, vectors, nested } = plainLeaves(metadata)
  for (const n of names) {
    if (plain.has(n) || lists.has(n)) continue
    const shown = [...plain.keys(), ...lists.keys()].join(', ')
    const fields = [...plain.keys()].filter((k) => k.startsWith(`${n}.`))
    throw new ParquetSeekError(
      fields.length
        ? `--where compares values, and this is a struct; compare its fields: ${fields.join(', ')}`
        : vectors.has(n)
          ? `--where compares values, and this is a list of floats (a vector); those it can compare are: ${shown}`
          : nested.has(n)
            ? `--where compares plain columns, struct fields and lists of values (by the list's name), and this one is inside a list or a map; those it can compare are: ${shown}`
            : `--where names no such column; the columns it can compare are: ${shown}`,
      { file: source.name, column: n },
    )
  }
  const leaves = names.map((n) => {
    const leaf = (plain.get(n) ?? lists.get(n)) as PlainLeaf
    return { ...leaf, list: !plain.has(n), scale: decimalScaleOf(leaf.element), units: timeUnits(leaf.element) }
  })
  // quoted times against TIME columns, in each column's units
  const times = new Map(leaves.flatMap((l) => (l.units === undefined ? [] : [[l.name, l.units] as const])))
  const bound = withTimes(expr, times)
  // each top-level column read once, for itself or for the struct fields named
  const tops = [...new Set(leaves.map((l) => l.path[0] as string))]
  const bitmap = new Uint8Array(rows)
  let passing = 0
  let skipped = 0
  let rowStart = 0
  for (const [g, group] of metadata.row_groups.entries()) {
    throwIfAborted(signal)
    const count = Number(group.num_rows)
    const stats = new Map<string, ChunkStats>()
    for (const l of leaves) {
      const s = group.columns[l.chunk]?.meta_data?.statistics
      const exact = (v: unknown) => (l.scale === undefined ? v : exactDecimal(v, l.scale))
      stats.set(l.name, {
        min: exact(s?.min_value ?? s?.min),
        max: exact(s?.max_value ?? s?.max),
        // a list's null count counts its null values too: it says nothing of null lists
        nulls: s?.null_count === undefined || l.list ? undefined : Number(s.null_count),
        rows: count,
      })
    }
    if (!mayMatch(bound, stats)) skipped++
    else
      for await (const { blockStart, blockEnd, read } of filterBlocks(source, metadata, leaves, tops, g, rowStart, signal)) {
        throwIfAborted(signal)
        const columns = new Map(tops.map((t, i) => [t, read[i] as unknown[]]))
        const values = leaves.map((l) => {
          const top = columns.get(l.path[0] as string) as unknown[]
          // a list's values as one array each (compared any-of), DECIMALs exact
          if (l.list)
            return top.map((row) => {
              // (a struct's list field: the list inside the struct read whole)
              const v = l.path.length === 1 ? row : valueAt(row, l.path, 1)
              if (v === null || v === undefined) return v
              const values = Array.isArray(v) ? v : Array.from(v as ArrayLike<unknown>) // (copied only when not an array)
              return l.scale === undefined ? values : values.map((x) => exactDecimal(x, l.scale as number))
            })
          // a top-level column's DECIMALs come exact from readColumnRange; a struct field's here
          if (l.path.length === 1) return top
          return top.map((v) => {
            const field = valueAt(v, l.path, 1)
            return l.scale === undefined ? field : exactDecimal(field, l.scale)
          })
        })
        const row: Record<string, unknown> = {}
        for (let i = 0; i < blockEnd - blockStart; i++) {
          for (const [c, n] of names.entries()) row[n] = values[c]?.[i]
          if (evaluate(bound, row)) {
            bitmap[blockStart + i] = 1
            passing++
          }
        }
      }
    rowStart += count
    onProgress?.(rowStart, rows)
  }
  return { bitmap, passing, rowGroupsSkipped: skipped, rowGroupsRead: metadata.row_groups.length - skipped }
}

/**
 * Row group `g`'s compared top-level columns (`tops`) a block of rows at a time: one block, or
 * where a compared chunk is large those of the column cut finest by rowBlocks, so no column is
 * decoded whole (a text column of a million rows) — from a local file (a large chunk's pages
 * walked as it is read: readColumnRange), or over HTTP where every compared chunk has an offset
 * index or known pages (a sidecar's). Over HTTP a large chunk without them is read once, front to
 * back, every column in the same blocks (readColumnBlocks streams it); where a compared column
 * has several leaves (a struct) the group is one block, as walking would download the chunk.
 */
async function* filterBlocks(
  source: ByteSource,
  metadata: FileMetaData,
  leaves: Array<{ chunk: number; path: string[] }>,
  tops: string[],
  g: number,
  rowStart: number,
  signal?: AbortSignal,
): AsyncGenerator<{ blockStart: number; blockEnd: number; read: unknown[][] }> {
  const group = metadata.row_groups[g]
  const large = (c: number) => Number(group?.columns[c]?.meta_data?.total_compressed_size) > WALK_MIN_BYTES
  const streamed = leaves.filter((l) => unindexed(metadata, g, l.chunk) && large(l.chunk))
  if (!source.local && streamed.length) {
    const leafOf = (t: string) => group?.columns.flatMap((c, i) => (c.meta_data?.path_in_schema[0] === t ? [i] : [])) ?? []
    if (tops.some((t) => leafOf(t).length !== 1)) {
      const end = rowStart + Number(group?.num_rows ?? 0)
      yield {
        blockStart: rowStart,
        blockEnd: end,
        read: await Promise.all(tops.map((t) => readColumnRange(source, metadata, t, rowStart, end, source.name, signal))),
      }
      return
    }
    // blocks by the largest such chunk's bytes, every column read in them (a small one read whole for each)
    const widest = streamed.reduce((a, b) =>
      Number(group?.columns[b.chunk]?.meta_data?.total_uncompressed_size) >
      Number(group?.columns[a.chunk]?.meta_data?.total_uncompressed_size)
        ? b
        : a,
    )
    const ranges = blockRanges(metadata, widest.chunk, g, rowStart, ROW_BLOCK_BYTES)
    const readers = tops.map((t) =>
      readColumnBlocks(source, metadata, t, leafOf(t)[0] as number, g, rowStart, { file: source.name, signal, ranges }),
    )
    try {
      for (const [blockStart, blockEnd] of ranges) {
        const blocks = await Promise.all(readers.map((r) => r.next()))
        // (each reader yields one block a range: a column that ended early would read as NULLs)
        const read = blocks.map((b) => {
          if (b.done) throw new Error(`a compared column ended before rows ${blockStart}…${blockEnd - 1}`)
          return b.value.values
        })
        yield { blockStart, blockEnd, read }
      }
      // each read to its end: a chunk streamed whole leaves its pages known (the result rows then read only theirs)
      await Promise.all(readers.map((r) => r.next()))
    } finally {
      // (a filter given up on stops every stream)
      await Promise.all(readers.map((r) => r.return(undefined)))
    }
    return
  }
  let finest: Array<[number, number]> = []
  for (const l of leaves) {
    const blocks = await rowBlocks(source, metadata, l.chunk, g, rowStart, source.name)
    if (blocks.length > finest.length) finest = blocks
  }
  // (each column's pages are walked as a block of it is first read: readColumnRange)
  for (const [blockStart, blockEnd] of finest)
    yield {
      blockStart,
      blockEnd,
      read: await Promise.all(tops.map((t) => readColumnRange(source, metadata, t, blockStart, blockEnd, source.name, signal))),
    }
}
