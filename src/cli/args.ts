import { parseArgs } from 'node:util'

/** Bad usage (exit 2), as opposed to bad input (exit 1). */
export class UsageError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'UsageError'
  }
}

type Spec = Record<string, { type: 'string' | 'boolean'; short?: string; multiple?: boolean }>

export function parse<S extends Spec>(argv: string[], options: S) {
  // `--k -5`: a value that starts with a dash is taken as the option's value when it is a
  // number (parseArgs would call it ambiguous), so the range check below can name the problem
  const args: string[] = []
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string
    const next = argv[i + 1]
    const spec = arg.startsWith('--') ? options[arg.slice(2)] : undefined
    if (spec?.type === 'string' && next !== undefined && /^-[\d.]/.test(next)) {
      args.push(`${arg}=${next}`)
      i++
    } else args.push(arg)
  }
  try {
    return parseArgs({ args, options, allowPositionals: true, strict: true })
  } catch (e) {
    throw new UsageError((e as Error).message)
  }
}

export function intOption(value: string | undefined, name: string, min = 0, max = Number.MAX_SAFE_INTEGER): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (!Number.isInteger(n) || n < min || n > max)
    throw new UsageError(`--${name} must be an integer from ${min} to ${max.toLocaleString('en-US')}, got "${value}"`)
  return n
}

/** --slack: a number ≥ 0, or `none` (Infinity: every one of nprobe lists probed). */
export function slackOption(value: string | undefined): number | undefined {
  if (value === undefined) return undefined
  if (value === 'none') return Number.POSITIVE_INFINITY
  const n = Number(value)
  if (value.trim() === '' || !Number.isFinite(n) || n < 0) throw new UsageError(`--slack must be a number ≥ 0 or "none", got "${value}"`)
  return n
}

/** --target-recall: a recall@10 in (0, 1]. */
export function recallOption(value: string | undefined, name: string): number | undefined {
  if (value === undefined) return undefined
  const n = Number(value)
  if (value.trim() === '' || !(n > 0 && n <= 1))
    throw new UsageError(`--${name} must be a recall above 0 and at most 1 (e.g. 0.95), got "${value}"`)
  return n
}

export function choice<T extends string>(value: string | undefined, name: string, allowed: readonly T[]): T | undefined {
  if (value === undefined) return undefined
  if (!allowed.includes(value as T)) throw new UsageError(`--${name} must be one of ${allowed.join(', ')}, got "${value}"`)
  return value as T
}

/** `--columns a,b`: the names, trimmed, empty ones left out (none when absent). */
export const columnList = (value: string | undefined): string[] =>
  value
    ? value
        .split(',')
        .map((c) => c.trim())
        .filter(Boolean)
    : []

/** `--adjacent on|off` (search option `adjacent`; absent: on where the host's reads bring those bytes anyway). */
export function adjacentOption(value: string | undefined): boolean | undefined {
  const chosen = choice(value, 'adjacent', ['on', 'off'] as const)
  return chosen === undefined ? undefined : chosen === 'on'
}
