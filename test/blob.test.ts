import { beforeAll, describe, expect, it } from 'vitest'
import type { SectionName } from '../src/index/blob.js'
import { checkSection, floatSection, parseDirectory, parseList, parseTrailer, writeBlob } from '../src/index/blob.js'
import { encodeAll, resolveParams, trainModel } from '../src/index/train.js'
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
  const centroids = floatSection(section('centroids'))
  const codebooks = floatSection(section('codebooks'))
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
