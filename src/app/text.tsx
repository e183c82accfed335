import { type ReactNode, useState } from 'react'
import { webAddress } from '../parquet/json.js'

/** How values and matched words are shown. Nothing from a file is ever HTML: React escapes it. */

export function asText(value: unknown): string {
  if (typeof value === 'string') return value
  if (value === undefined || value === null) return ''
  return JSON.stringify(value)
}

/**
 * `content` as a link to `value` when that is an absolute http(s) address (a file's `url`
 * column), opened in a new tab; else `content` as it is.
 */
export function withLink(value: unknown, content: ReactNode): ReactNode {
  const href = webAddress(value)
  return href ? (
    // (inside a table row that opens on a click: the link alone)
    <a href={href} target="_blank" rel="noopener noreferrer" onClick={(e) => e.stopPropagation()}>
      {content}
    </a>
  ) : (
    content
  )
}

const STOP = new Set([
  'a',
  'an',
  'and',
  'are',
  'as',
  'at',
  'be',
  'by',
  'for',
  'from',
  'in',
  'is',
  'it',
  'of',
  'on',
  'or',
  'that',
  'the',
  'to',
  'with',
])

/**
 * The words of a typed query worth marking in results: no stop words, no single letters; a
 * plural's final s is dropped so "mountains" marks "mountain" too.
 */
export function queryTerms(query: string): string[] {
  const words = query.toLowerCase().match(/[\p{L}\p{N}]+/gu) ?? []
  return [...new Set(words.filter((w) => w.length > 1 && !STOP.has(w)).map((w) => (w.length > 3 && /[^s]s$/.test(w) ? w.slice(0, -1) : w)))]
}

/**
 * `text` with each occurrence of a term (case-insensitive, at a word start, so "water" marks
 * "waterfall" but not "backwater") wrapped in <mark>.
 */
export function highlight(text: string, terms: string[]): ReactNode {
  if (!terms.length || !text) return text
  const escaped = terms.map((t) => t.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  const re = new RegExp(`(?<![\\p{L}\\p{N}])(${escaped.join('|')})`, 'giu')
  const out: ReactNode[] = []
  let last = 0
  for (const m of text.matchAll(re)) {
    const at = m.index ?? 0
    if (at > last) out.push(text.slice(last, at))
    out.push(<mark key={at}>{m[0]}</mark>)
    last = at + m[0].length
  }
  if (last < text.length) out.push(text.slice(last))
  return out
}

/** Long text folds: the first `fold` characters, and a button for the rest. */
export function Folded({ text, terms, fold = 280 }: { text: string; terms: string[]; fold?: number }) {
  const [open, setOpen] = useState(false)
  if (text.length <= fold) return <>{highlight(text, terms)}</>
  return (
    <>
      {highlight(open ? text : `${text.slice(0, fold - 20)}…`, terms)}{' '}
      <button type="button" className="link" aria-expanded={open} onClick={() => setOpen(!open)}>
        {open ? 'less' : 'more'}
      </button>
    </>
  )
}

/** A setting over a manifest's files: "16", or "16–24" where they differ. */
export function spanText([least, most]: readonly [number, number]): string {
  return least === most ? least.toLocaleString('en-US') : `${least.toLocaleString('en-US')}–${most.toLocaleString('en-US')}`
}

/** A URL's file name (the whole URL is the heading's title); a local file's name as it is. */
export function shortName(name: string): string {
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(name)) return name
  try {
    const last = new URL(name).pathname.split('/').filter(Boolean).at(-1)
    return last ? decodeURIComponent(last) : name
  } catch {
    return name
  }
}
