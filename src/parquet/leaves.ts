import type { FileMetaData, SchemaElement, SchemaTree } from 'hyparquet'
import { parquetSchema } from 'hyparquet'

/** A value a row holds at most once: a top-level column or a field of structs, by its path. */
export interface PlainLeaf {
  /** The path joined by dots: `price`, `meta.lang`. */
  name: string
  path: string[]
  element: SchemaElement
  /** Its column chunk's index in each row group. */
  chunk: number
}

const leavesOf = new WeakMap<FileMetaData, { plain: Map<string, PlainLeaf>; nested: Set<string> }>()

/**
 * The file's leaves a row holds at most once — top-level columns and fields of structs, not
 * inside a list or a map — by dotted name (a top-level column first where a name repeats), and
 * the names of the others with their top-level columns'. Once per footer.
 */
export function plainLeaves(metadata: FileMetaData): { plain: Map<string, PlainLeaf>; nested: Set<string> } {
  const known = leavesOf.get(metadata)
  if (known) return known
  const plain = new Map<string, PlainLeaf>()
  const nested = new Set<string>()
  let chunk = 0
  const walk = (node: SchemaTree, path: string[], once: boolean) => {
    const el = node.element
    const kind = el.logical_type?.type ?? el.converted_type
    const here = once && el.repetition_type !== 'REPEATED' && !(node.children.length && /^(LIST|MAP|MAP_KEY_VALUE)$/.test(String(kind)))
    if (!node.children.length) {
      const name = path.join('.')
      if (here && (path.length === 1 || !plain.has(name))) plain.set(name, { name, path, element: el, chunk })
      else if (!here) nested.add(name).add(path[0] as string)
      chunk++
      return
    }
    for (const c of node.children) walk(c, [...path, c.element.name], here)
  }
  for (const top of parquetSchema(metadata).children) walk(top, [top.element.name], true)
  const leaves = { plain, nested }
  leavesOf.set(metadata, leaves)
  return leaves
}

/**
 * The value at `path` inside `value` (a row, or a struct read whole): undefined where a struct on
 * the way is null or a key is missing.
 */
export function valueAt(value: unknown, path: readonly string[], from = 0): unknown {
  let v = value
  for (let i = from; i < path.length; i++) {
    if (v === null || typeof v !== 'object') return undefined
    v = (v as Record<string, unknown>)[path[i] as string]
  }
  return v
}
