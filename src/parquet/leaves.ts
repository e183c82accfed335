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
   * LISTs of plain values but floats (tags, ids, dates) a row holds at most once — top-level
   * columns and fields of structs — by the list's dotted name (`tags`, `meta.tags`): a row holds
   * several values. A list of floats is taken for a vector, not something to compare.
   */
  lists: Map<string, PlainLeaf>
  /** Such LISTs of floats: vectors. */
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
  /** `list`: the LIST a row holds once that this node is inside (else the top-level column). */
  const walk = (node: SchemaTree, path: string[], once: boolean, list: { node: SchemaTree; path: string[] }) => {
    const el = node.element
    const kind = el.logical_type?.type ?? el.converted_type
    const single = once && el.repetition_type !== 'REPEATED'
    const here = single && !(node.children.length && /^(LIST|MAP|MAP_KEY_VALUE)$/.test(String(kind)))
    if (!node.children.length) {
      const name = path.join('.')
      if (here && (path.length === 1 || !plain.has(name))) plain.set(name, { name, path, element: el, chunk })
      else if (!here) {
        const listName = list.path.join('.')
        nested.add(name).add(listName)
        if (listLeaf(list.node) === node) {
          const floats = el.type === 'FLOAT' || el.type === 'DOUBLE' || el.logical_type?.type === 'FLOAT16'
          if (floats) vectors.add(listName)
          else if (list.path.length === 1 || !lists.has(listName))
            lists.set(listName, { name: listName, path: list.path, element: el, chunk })
        }
      }
      chunk++
      return
    }
    // (a LIST a row holds once, at the top or a field of structs: its values compared by its name)
    const inside = single && kind === 'LIST' ? { node, path } : list
    for (const c of node.children) walk(c, [...path, c.element.name], here, inside)
  }
  for (const top of parquetSchema(metadata).children) walk(top, [top.element.name], true, { node: top, path: [top.element.name] })
  const leaves = { plain, lists, vectors, nested }
  leavesOf.set(metadata, leaves)
  return leaves
}

/** The value leaf of a LIST (3-level, or legacy 2-level where the repeated node is the value), if it has one. */
export function listLeaf(top: SchemaTree): SchemaTree | undefined {
  const isList = top.element.converted_type === 'LIST' || top.element.logical_type?.type === 'LIST'
  const repeated = top.children[0]
  if (!isList || top.children.length !== 1 || repeated?.element.repetition_type !== 'REPEATED') return undefined
  const leaf = repeated.children.length === 0 ? repeated : repeated.children.length === 1 ? repeated.children[0] : undefined
  return leaf && !leaf.children.length ? leaf : undefined
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
