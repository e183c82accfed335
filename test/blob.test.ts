import { beforeAll, describe, expect, it } from 'vitest'
import { loadKernels } from '../src/compute/backend.js'
import { l2sq } from '../src/compute/js.js'
import { probe } from '../src/compute/probe.js'
import { mulberry32 } from '../src/compute/random.js'
import type { SectionName } from '../src/index/blob.js'
import {
  checkSection,
  parseDirectory,
  parseList,
  parseTrailer,
  readCentroids,
  readCodebooks,
  storageOrder,
  writeBlob,
} from '../src/index/blob.js'
import { onGrid, quantizeCentroids, snapCentroids } from '../src/index/centroids.js'
import { encodeAll, groupByList, resolveParams, trainModel } from '../src/index/train.js'
import { clusteredVectors } from './helpers/fixtures.js'

async function smallIndex() {
  const n = 600
  const dim = 10
  const data = clusteredVectors(n, dim, 3)
  const rowIds = Uint32Array.from({ length: n }, (_, i) => i * 2) // rows need not be dense
  const params = resolveParams(2 * n, n, dim, { nlist: 8, m: 5, coarseIterations: 4, pqIterations: 4 })
  const model = await trainModel(data, n, params)
  const lists = await encodeAll(model, data, n, rowIds)
  const pages = {
    offsets: Float64Array.from(lists.rowIds, (r) => 4 + r * 1000 + 2 ** 40), // past 2^32 on purpose
    lengths: Uint32Array.from(lists.rowIds, (r) => 60 + (r % 7)),
  }
  return { model, lists, pages, blob: writeBlob({ params, centroids: model.centroids, codebooks: model.codebooks, lists, pages }) }
}

function parseAll(blob: Uint8Array) {
  const trailer = parseTrailer(blob, blob.length)
  const section = (name: SectionName) => {
    const s = trailer.sections[name]
    const bytes = blob.subarray(s.offset, s.offset + s.length)
    checkSection(bytes, s)
    return bytes
  }
  const centroids = readCentroids(section('centroids'), trailer)
  const codebooks = readCodebooks(section('codebooks'), trailer)
  const directory = parseDirectory(section('directory'), trailer)
  const lists = section('lists')
  const parsed = directory.map((entry, l) => {
    const start = lists.byteOffset + entry.offset
    return parseList(new Uint8Array(lists.buffer, start, entry.length), entry, trailer.params.m, l)
  })
  return { trailer, centroids, codebooks, directory, parsed }
}

describe('index blob', () => {
  let model: Awaited<ReturnType<typeof smallIndex>>['model']
  let lists: Awaited<ReturnType<typeof smallIndex>>['lists']
  let pages: Awaited<ReturnType<typeof smallIndex>>['pages']
  let blob: Uint8Array
  beforeAll(async () => {
    ;({ model, lists, pages, blob } = await smallIndex())
  })

  it('parses back to the trained model, lists and page locations', () => {
    const { trailer, centroids, codebooks, parsed } = parseAll(blob)
    expect(trailer.params).toMatchObject({ metric: 'l2', dim: 10, nlist: 8, m: 5, nbits: 8, rows: 1200, indexedRows: 600 })
    expect(centroids).toEqual(model.centroids)
    expect(codebooks).toEqual(model.codebooks)
    for (let l = 0; l < 8; l++) {
      const start = lists.listStart[l] as number
      const end = lists.listStart[l + 1] as number
      const view = parsed[l]
      expect(Array.from(view?.rowIds ?? [])).toEqual(Array.from(lists.rowIds.subarray(start, end)))
      expect(view?.codes).toEqual(lists.codes.subarray(start * 5, end * 5))
      expect(Array.from(view?.pageOffsets ?? [], Number)).toEqual(Array.from(pages.offsets.subarray(start, end)))
      expect(Array.from(view?.pageLengths ?? [])).toEqual(Array.from(pages.lengths.subarray(start, end)))
    }
  })

  it('aligns every section to 64 bytes, keeps the small sections at the end, packs list entries', () => {
    const { trailer } = parseAll(blob)
    // codes + delta varints: well under the 16 bytes an entry that fixed-width fields would take
    expect(trailer.sections.lists.length).toBeLessThan(600 * (5 + 12))
    for (const s of Object.values(trailer.sections)) expect(s.offset % 64).toBe(0)
    expect(trailer.sections.lists.offset).toBe(0)
    expect(trailer.headBytes).toBeLessThan(blob.length)
  })

  it('stores a list of rows stored list by list as its codes and a few bytes (format v3), anything else per entry', () => {
    // rows and pages as index --cluster-rows writes them: list by list, each page right after the last
    const n = lists.rowIds.length
    const rowIds = Uint32Array.from({ length: n }, (_, i) => i)
    const lengths = new Uint32Array(n).fill(443)
    const odd = (lists.listStart[2] as number) + 1 // list 2: one page longer than the others
    lengths[odd] = 445
    const offsets = new Float64Array(n)
    for (let i = 1; i < n; i++) offsets[i] = (offsets[i - 1] as number) + (lengths[i - 1] as number)
    // list 5 spans a row-group boundary: its pages jump after its first entry
    const jump = (lists.listStart[5] as number) + 1
    for (let i = jump; i < n; i++) offsets[i] = (offsets[i] as number) + 5000
    // list 6 holds rows 0, 2, 4, … of its stretch (rows need not follow one another)
    const l6 = [lists.listStart[6] as number, lists.listStart[7] as number] as const
    for (let i = l6[0]; i < l6[1]; i++) rowIds[i] = l6[0] + 2 * (i - l6[0])
    for (let i = l6[1]; i < n; i++) rowIds[i] = (rowIds[i - 1] as number) + 1
    const clustered = { ...lists, rowIds }
    const params = { ...model.params, rows: 2 * n }
    const blob = writeBlob({
      params,
      centroids: model.centroids,
      codebooks: model.codebooks,
      lists: clustered,
      pages: { offsets, lengths },
    })
    const { trailer, directory, parsed } = parseAll(blob)
    expect(trailer.version).toBe(5)
    for (let l = 0; l < 8; l++) {
      const [start, end] = [lists.listStart[l] as number, lists.listStart[l + 1] as number]
      expect(Array.from(parsed[l]?.rowIds ?? []), `list ${l}`).toEqual(Array.from(rowIds.subarray(start, end)))
      expect(Array.from(parsed[l]?.pageOffsets ?? []), `list ${l}`).toEqual(Array.from(offsets.subarray(start, end)))
      expect(Array.from(parsed[l]?.pageLengths ?? []), `list ${l}`).toEqual(Array.from(lengths.subarray(start, end)))
      const entries = end - start
      const varint = (v: number) => Math.max(1, Math.ceil(Math.log2(v + 1) / 7))
      // flags, first row, first offset, base length (443); then per entry what the flags do not imply
      const head = 1 + varint(start) + varint(offsets[start] as number) + 2
      const perEntry = { 2: entries, 5: entries, 6: entries - 1 }[l] ?? 0 // list 5: its 5000-byte gap takes 2
      expect((directory[l]?.length as number) - entries * 5, `list ${l}: bytes after the codes`).toBe(head + perEntry)
    }
  })

  it("keeps spilled entries after a list's own, each run ascending by row, and refuses a directory claiming more spilled entries than it has", () => {
    // the same 600 rows (ids 0, 2, 4, …), each spilled into the list after its own, codes marked
    const n = 600
    const m = model.params.m
    const own = new Uint32Array(n)
    for (const [l, start] of Array.from(lists.listStart.subarray(0, 8)).entries())
      for (let e = start; e < (lists.listStart[l + 1] as number); e++) own[(lists.rowIds[e] as number) / 2] = l
    const second = Uint32Array.from(own, (l) => (l + 1) % 8)
    const rowIds = Uint32Array.from({ length: n }, (_, i) => i * 2)
    const codes = new Uint8Array(n * m).fill(1)
    const spill = { assign: second, codes: new Uint8Array(n * m).fill(2) }
    const spilled = groupByList({ assign: own, codes, spill }, rowIds, 8, m)
    const at = (rows: Uint32Array) => ({
      offsets: Float64Array.from(rows, (r) => 4 + r * 1000),
      lengths: Uint32Array.from(rows, (r) => 60 + (r % 7)),
    })
    const params = { ...model.params, rows: 2 * n }
    const written = writeBlob({ params, centroids: model.centroids, codebooks: model.codebooks, lists: spilled, pages: at(spilled.rowIds) })
    const { directory, parsed } = parseAll(written)
    for (let l = 0; l < 8; l++) {
      const mine = Array.from(rowIds).filter((_, i) => own[i] === l)
      const theirs = Array.from(rowIds).filter((_, i) => second[i] === l)
      expect(directory[l]?.count).toBe(mine.length + theirs.length)
      expect(directory[l]?.spilled).toBe(theirs.length)
      const view = parsed[l]
      expect(Array.from(view?.rowIds ?? [])).toEqual([...mine, ...theirs])
      expect(Array.from(view?.pageOffsets ?? [])).toEqual([...mine, ...theirs].map((r) => 4 + r * 1000))
      expect(Array.from(view?.codes ?? [])).toEqual([...mine.map(() => Array(m).fill(1)), ...theirs.map(() => Array(m).fill(2))].flat())
    }
    // a directory entry saying more spilled entries than entries
    const { trailer } = parseAll(written)
    const bad = written.slice()
    const entry = trailer.sections.directory.offset + 20
    new DataView(bad.buffer).setUint32(entry, (directory[0]?.count as number) + 1, true)
    const section = bad.subarray(trailer.sections.directory.offset, trailer.sections.directory.offset + trailer.sections.directory.length)
    expect(() => parseDirectory(section, trailer)).toThrow(/list 0: \d+ spilled entries of \d+/)
  })

  it('reports a flipped byte in any section by that section name', () => {
    const { trailer } = parseAll(blob)
    const probes: Array<[string, number]> = [
      ['trailer', blob.length - 30],
      ['section-table', blob.length - 64 - 10],
      ...(['centroids', 'codebooks', 'directory'] as const).map((n): [string, number] => [n, trailer.sections[n].offset + 5]),
    ]
    for (const [name, at] of probes) {
      const bad = blob.slice()
      bad[at] = (bad[at] ?? 0) ^ 0x10
      expect(() => parseAll(bad), name).toThrow(new RegExp(`section ${name}`))
    }
    // a flip inside a list's bytes fails that list's own CRC
    const bad = blob.slice()
    bad[trailer.sections.lists.offset + 3] = (bad[trailer.sections.lists.offset + 3] ?? 0) ^ 1
    expect(() => parseAll(bad)).toThrow(/section lists/)
  })

  it('rejects a truncated blob and lengths pointing outside it', () => {
    expect(() => parseTrailer(blob.subarray(0, 40), 40)).toThrow(/shorter than its trailer/)
    expect(() => parseTrailer(blob.subarray(8), blob.length - 8)).toThrow(/section (lists|centroids|codebooks|directory|section-table)/)
  })
})

describe('centroids at one byte a value (format v2)', () => {
  const nlist = 300
  const dim = 7
  // dimensions of different scales: unit-vector-like, pixel-like, one offset far from zero, one
  // constant, one with a single distinct value
  const raw = new Float32Array(nlist * dim)
  const rand = mulberry32(5)
  for (let l = 0; l < nlist; l++) {
    raw[l * dim] = rand() - 0.5
    raw[l * dim + 1] = rand() * 255
    raw[l * dim + 2] = 1000 + rand() * 1e-3
    raw[l * dim + 3] = -0.3
    raw[l * dim + 4] = l === 7 ? 2.5 : 0
    raw[l * dim + 5] = (rand() - 0.5) * 1e-30
    raw[l * dim + 6] = -(rand() ** 3) * 40
  }

  it('snaps each value to within a step of 2^⌈log2(range / 255)⌉ of its dimension, exactly once', () => {
    const snapped = snapCentroids(raw, nlist, dim)
    const q = quantizeCentroids(snapped, nlist, dim)
    for (let j = 0; j < dim; j++) {
      let lo = Number.POSITIVE_INFINITY
      let hi = Number.NEGATIVE_INFINITY
      for (let l = 0; l < nlist; l++) {
        lo = Math.min(lo, raw[l * dim + j] as number)
        hi = Math.max(hi, raw[l * dim + j] as number)
      }
      const step = 2 ** (q.exps[j] as number)
      for (let l = 0; l < nlist; l++) {
        const err = Math.abs((snapped[l * dim + j] as number) - (raw[l * dim + j] as number))
        // half a step of the grid, which is at most twice the ideal (range / 255) unless the
        // values' own float32 precision is coarser (the dimension offset from zero)
        expect(err, `list ${l} dim ${j}`).toBeLessThanOrEqual(Math.max(step / 2, Math.abs(raw[l * dim + j] as number) * 2 ** -23))
      }
      if (hi > lo && j !== 2) expect(step).toBeLessThanOrEqual((2 * (hi - lo)) / 255)
    }
    // constant dimensions keep their value exactly
    for (let l = 0; l < nlist; l++) expect(snapped[l * dim + 3]).toBe(Math.fround(-0.3))
    expect(snapped[7 * dim + 4]).toBe(2.5)
    // snapping snapped centroids changes nothing (a model written twice stays the same)
    expect(snapCentroids(snapped, nlist, dim)).toEqual(snapped)
    expect(onGrid(snapped, nlist, dim)).toBe(true)
    expect(onGrid(raw, nlist, dim)).toBe(false)
  })

  it('the writer refuses centroids or codebooks the lists were not encoded against', async () => {
    const { model, lists, pages } = await smallIndex()
    const off = model.centroids.slice()
    off[3] = (off[3] as number) + 1e-4
    expect(() => writeBlob({ params: model.params, centroids: off, codebooks: model.codebooks, lists, pages })).toThrow(
      /centroids are not on their grid/,
    )
    const books = model.codebooks.slice()
    books[3] = (books[3] as number) + 1e-4
    expect(() => writeBlob({ params: model.params, centroids: model.centroids, codebooks: books, lists, pages })).toThrow(
      /codebooks are not on their grid/,
    )
  })
})

describe('storage order of the lists', () => {
  it('over 4,096 lists, walks groups: every list once, neighbours in the file near in space', () => {
    const nlist = 5000
    const dim = 8
    const centroids = clusteredVectors(nlist, dim, 9, 50)
    const order = storageOrder(centroids, nlist, dim)
    expect(new Set(order).size).toBe(nlist)
    expect(Math.max(...order)).toBe(nlist - 1)
    const step = (o: ArrayLike<number>) => {
      let sum = 0
      for (let i = 1; i < o.length; i++)
        sum += Math.sqrt(l2sq(centroids, (o[i - 1] as number) * dim, centroids, (o[i] as number) * dim, dim))
      return sum / (o.length - 1)
    }
    const idOrder = Array.from({ length: nlist }, (_, l) => l)
    // consecutive lists in id order are as far apart as any two; the walk keeps them close
    expect(step(order)).toBeLessThan(step(idOrder) / 4)
    // the same walk every time (readers need not know it, but builds are reproducible)
    expect(storageOrder(centroids, nlist, dim)).toEqual(order)
  })

  it('the same order through the wasm kernels, walked and grouped, ties to the lower list', async () => {
    const wasm = await loadKernels('wasm')
    for (const [nlist, dim] of [
      [300, 7],
      [5000, 8],
    ] as const) {
      // coarse values: many equal distances, so the tie rule decides
      const centroids = clusteredVectors(nlist, dim, nlist, 12).map((v) => Math.round(v))
      const order = storageOrder(centroids, nlist, dim, wasm)
      expect(order).toEqual(storageOrder(centroids, nlist, dim))
      expect(new Set(order).size).toBe(nlist)
    }
  })

  /** Stretches of the file a query's lists form (lists stored in `order`, adjacent ones one stretch). */
  const stretches = (order: ArrayLike<number>, probes: readonly Uint32Array[]) => {
    const at = new Uint32Array(order.length)
    for (let i = 0; i < order.length; i++) at[order[i] as number] = i
    let runs = 0
    for (const p of probes) {
      const slots = new Set(Array.from(p, (l) => at[l] as number))
      for (const s of slots) if (!slots.has(s - 1)) runs++
    }
    return runs / probes.length
  }

  it('with rows of the data: lists their rows probe together stored side by side, fewer stretches than the walk', async () => {
    const kernels = await loadKernels('js')
    const nlist = 1000
    const dim = 32
    const centroids = clusteredVectors(nlist, dim, 51, 50, 3)
    // rows near the centroids, as a build's are; held-out "queries" drawn the same way
    const near = (n: number, seed: number) => {
      const rand = mulberry32(seed)
      const x = new Float32Array(n * dim)
      for (let i = 0; i < n; i++) {
        const c = Math.floor(rand() * nlist)
        for (let j = 0; j < dim; j++) x[i * dim + j] = (centroids[c * dim + j] as number) + rand() - 0.5
      }
      return x
    }
    const rows = near(4000, 52)
    const order = storageOrder(centroids, nlist, dim, kernels, { data: rows, n: 4000, kind: 'l2' })
    expect(new Set(order).size).toBe(nlist)
    expect(Math.max(...order)).toBe(nlist - 1)
    const queries = near(300, 53)
    const views = Array.from({ length: 300 }, (_, i) => queries.subarray(i * dim, (i + 1) * dim))
    const walk = storageOrder(centroids, nlist, dim, kernels)
    // here 17.0 → 13.3 stretches at 64 lists a query, 4.19 → 3.99 at 24 (and 3.95 → 4.28 at 8: the
    // walk suits queries of a few lists in data this clumped; on real words every depth gained)
    for (const [lists, gain] of [
      [64, 0.85],
      [24, 0.97],
    ] as const) {
      const probes = probe(kernels, views, centroids, nlist, 'l2', lists)
      expect(stretches(order, probes)).toBeLessThan(stretches(walk, probes) * gain)
    }
    // reproducible, and the same through the wasm kernels (ties to the lower list)
    const wasm = await loadKernels('wasm')
    expect(storageOrder(centroids, nlist, dim, wasm, { data: rows, n: 4000, kind: 'l2' })).toEqual(order)
  })

  it('with rows of the data: coarse values (ties everywhere), one list, a dot index, all well formed', async () => {
    const kernels = await loadKernels('js')
    const dim = 6
    for (const [nlist, kind] of [
      [1, 'l2'],
      [2, 'l2'],
      [90, 'l2'],
      [90, 'ip'],
    ] as const) {
      const centroids = clusteredVectors(nlist, dim, 54, Math.max(1, Math.floor(nlist / 3))).map((v) => Math.round(v))
      const rows = clusteredVectors(500, dim, 55, 5).map((v) => Math.round(v))
      const order = storageOrder(centroids, nlist, dim, kernels, { data: rows, n: 500, kind })
      expect([...order].sort((a, b) => a - b)).toEqual(Array.from({ length: nlist }, (_, l) => l))
      expect(storageOrder(centroids, nlist, dim, kernels, { data: rows, n: 500, kind })).toEqual(order)
    }
  })
})
