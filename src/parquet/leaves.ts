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

interface Leaves {
  plain: Map<string, PlainLeaf>
  /**
   * Top-level LISTs of plain values but floats (tags, ids, dates), by the list's name: a row holds
   * several. A list of floats is taken for a vector, not something to compare.
   */
  lists: Map<string, PlainLeaf>
  /** Top-level LISTs of floats: vectors. */
  vectors: Set<string>
  nested: Set<string>
}

const leavesOf = new WeakMap<FileMetaData, Leaves>()

/**
 * The file's leaves a row holds at most once — top-level columns and fields of structs, not
 * inside a list or a map — by dotted name (a top-level column first where a name repeats); the
 * top-level lists of plain values, by the list's name; and the names of the others with their
 * top-level columns'. Once per footer.
 */
export function plainLeaves(metadata: FileMetaData): Leaves {
  const known = leavesOf.get(metadata)
  if (known) return known
  const plain = new Map<string, PlainLeaf>()
  const lists = new Map<string, PlainLeaf>()
  const vectors = new Set<string>()
  const nested = new Set<string>()
  let chunk = 0
  const walk = (node: SchemaTree, path: string[], once: boolean) => {
    const el = node.element
    const kind = el.logical_type?.type ?? el.converted_type
    const here = once && el.repetition_type !== 'REPEATED' && !(node.children.length && /^(LIST|MAP|MAP_KEY_VALUE)$/.test(String(kind)))
    if (!node.children.length) {
      const name = path.join('.')
      if (here && (path.length === 1 || !plain.has(name))) plain.set(name, { name, path, element: el, chunk })
      else if (!here) {
        nested.add(name).add(path[0] as string)
        const top = path[0] as string
        const floats = el.type === 'FLOAT' || el.type === 'DOUBLE' || el.logical_type?.type === 'FLOAT16'
        if (listOfValues(metadata, top, path)) {
          if (floats) vectors.add(top)
          else lists.set(top, { name: top, path: [top], element: el, chunk })
        }
      }
      chunk++
      return
    }
    for (const c of node.children) walk(c, [...path, c.element.name], here)
  }
  for (const top of parquetSchema(metadata).children) walk(top, [top.element.name], true)
  const leaves = { plain, lists, vectors, nested }
  leavesOf.set(metadata, leaves)
  return leaves
}

/** Whether `path` is the value leaf of top-level LIST `top` (3-level, or legacy 2-level). */
function listOfValues(metadata: FileMetaData, top: string, path: string[]): boolean {
  const node = parquetSchema(metadata).children.find((c) => c.element.name === top)
  const el = node?.element
  if (!node || !el || !(el.converted_type === 'LIST' || el.logical_type?.type === 'LIST') || node.children.length !== 1) return false
  const repeated = node.children[0] as SchemaTree
  if (repeated.element.repetition_type !== 'REPEATED') return false
  if (!repeated.children.length) return path.length === 2 // legacy: the repeated node is the value
  return repeated.children.length === 1 && !repeated.children[0]?.children.length && path.length === 3
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
