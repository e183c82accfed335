import { readdirSync, readFileSync } from 'node:fs'
import { dirname, join, relative, resolve, sep } from 'node:path'
import { describe, expect, it } from 'vitest'

/**
 * The source layout's rule: folders of src/ (and workers/) import one another in one direction
 * only. A cycle between folders — `index` needing `search` needing `index` — means a module sits
 * in the wrong place; this fails naming the cycle and the imports that make it.
 */

const root = join(import.meta.dirname, '..')

function sources(dir: string): string[] {
  const out: string[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name)
    if (e.isDirectory()) out.push(...sources(p))
    else if (/\.tsx?$/.test(e.name) && !e.name.endsWith('.d.ts')) out.push(p)
  }
  return out
}

/** `compute` for src/compute/…, `src/lib` for src/lib.ts, `workers` for workers/…. */
function folderOf(file: string): string {
  const parts = relative(root, file).split(sep)
  if (parts[0] !== 'src') return parts[0] as string
  return parts.length > 2 ? (parts[1] as string) : `src/${(parts[1] as string).replace(/\.tsx?$|\.js$/, '')}`
}

/** Folder → folder → the imports (file: specifier) behind that edge; type-only imports are erased and do not count. */
function folderGraph(files: string[]): Map<string, Map<string, string[]>> {
  const graph = new Map<string, Map<string, string[]>>()
  for (const file of files) {
    const text = readFileSync(file, 'utf8')
    const from = folderOf(file)
    for (const m of text.matchAll(/^(import|export)\s+(type\s+)?[^'"]*?from\s*['"](\.[^'"]+)['"]|import\(\s*['"](\.[^'"]+)['"]\s*\)/gm)) {
      if (m[2]) continue
      const spec = (m[3] ?? m[4]) as string
      const to = folderOf(resolve(dirname(file), spec))
      if (to === from) continue
      const edges = graph.get(from) ?? new Map<string, string[]>()
      graph.set(from, edges)
      edges.set(to, [...(edges.get(to) ?? []), `${relative(root, file)}: ${spec}`])
    }
  }
  return graph
}

/** Strongly connected components with more than one folder (Tarjan). */
function cycles(graph: Map<string, Map<string, string[]>>): string[][] {
  let next = 0
  const index = new Map<string, number>()
  const low = new Map<string, number>()
  const stack: string[] = []
  const onStack = new Set<string>()
  const found: string[][] = []
  const nodes = new Set([...graph.keys(), ...[...graph.values()].flatMap((e) => [...e.keys()])])
  const visit = (v: string) => {
    index.set(v, next)
    low.set(v, next++)
    stack.push(v)
    onStack.add(v)
    for (const w of graph.get(v)?.keys() ?? []) {
      if (!index.has(w)) {
        visit(w)
        low.set(v, Math.min(low.get(v) as number, low.get(w) as number))
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v) as number, index.get(w) as number))
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = []
      let w: string
      do {
        w = stack.pop() as string
        onStack.delete(w)
        component.push(w)
      } while (w !== v)
      if (component.length > 1) found.push(component.sort())
    }
  }
  for (const v of nodes) if (!index.has(v)) visit(v)
  return found
}

describe('source layout', () => {
  it('no import cycle between the folders of src/ and workers/', () => {
    const graph = folderGraph([...sources(join(root, 'src')), ...sources(join(root, 'workers'))])
    const found = cycles(graph)
    const explain = found.map((c) =>
      c.flatMap((a) => c.filter((b) => graph.get(a)?.has(b)).map((b) => `${a} → ${b} (${graph.get(a)?.get(b)?.[0]})`)).join('; '),
    )
    expect(explain).toEqual([])
    // the primitives stay a leaf: compute imports only errors
    expect([...(graph.get('compute')?.keys() ?? [])]).toEqual(['src/errors'])
  })

  it('the check sees a cycle when there is one', () => {
    const graph = new Map([
      ['index', new Map([['search', ['src/index/tune.ts: ../search/probe.js']]])],
      ['search', new Map([['index', ['src/search/engine.ts: ../index/blob.js']]])],
      ['cli', new Map([['search', ['src/cli/main.ts: ../search/engine.js']]])],
    ])
    expect(cycles(graph)).toEqual([['index', 'search']])
  })
})
