import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { parquetMetadata, readOffsetIndex } from 'hyparquet'
import { beforeAll, describe, expect, it } from 'vitest'
import { buildIndex } from '../src/index/build.js'
import { crc32 } from '../src/index/crc32.js'
import { defaults } from '../src/index/model.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { describeEmbeddingColumn, readVectors } from '../src/parquet/embedding.js'
import { openIndex } from '../src/search/engine.js'
import { cli } from './helpers/cli.js'
import { clusteredVectors, tempDir, writeListFile } from './helpers/fixtures.js'

/**
 * docs/FORMAT.md against the bytes: a file is built, then walked with nothing but the tables of
 * that page (offsets, sizes, types, field order) and a reader written here from its prose — not
 * the project's own parser. Any drift between the page and the writer fails here.
 */

const doc = readFileSync(join(import.meta.dirname, '../docs/FORMAT.md'), 'utf8')

interface Field {
  offset: number
  size: number
  type: string
  name: string
}

/** The rows of the first markdown table after the heading that starts with `heading`. */
function table(heading: string, text = doc): string[][] {
  const at = text.split('\n').findIndex((l) => l.startsWith('#') && l.replace(/^#+\s*/, '').startsWith(heading))
  if (at < 0) throw new Error(`no heading "${heading}"`)
  const lines = text.split('\n').slice(at + 1)
  const start = lines.findIndex((l) => l.startsWith('|'))
  const rows: string[][] = []
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break
    rows.push(
      l
        .slice(1, -1)
        .split('|')
        .map((c) => c.trim()),
    )
  }
  return rows
}

/** A `| offset | size | type | field |` table; the field's name is the word before its colon. */
function struct(heading: string): Field[] {
  return table(heading).map(([offset, size, type, field]) => ({
    offset: Number(offset),
    size: Number(size),
    type: type as string,
    name: (field as string).split(':')[0]?.trim() as string,
  }))
}

function readStruct(bytes: Uint8Array, at: number, fields: Field[]): Record<string, number | string> {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  const out: Record<string, number | string> = {}
  for (const f of fields) {
    const p = at + f.offset
    if (f.type === 'u32') out[f.name] = view.getUint32(p, true)
    else if (f.type === 'i32') out[f.name] = view.getInt32(p, true)
    else if (f.type === 'u64') out[f.name] = Number(view.getBigUint64(p, true))
    else if (f.type === 'ascii') out[f.name] = String.fromCharCode(...bytes.subarray(p, p + f.size))
    else throw new Error(`unknown type ${f.type} in docs/FORMAT.md`)
  }
  return out
}

const structSize = (fields: Field[]) => fields.reduce((n, f) => n + f.size, 0)

function varint(bytes: Uint8Array, at: { i: number }): number {
  let value = 0
  let scale = 1
  for (;;) {
    const b = bytes[at.i++] as number
    value += (b & 0x7f) * scale
    if (b < 0x80) return value
    scale *= 128
  }
}

describe('docs/FORMAT.md matches the bytes the writer produces', () => {
  const dir = tempDir()
  const rows = 3000
  const dim = 12
  const vectors = clusteredVectors(rows, dim, 5)
  const path = join(dir, 'fmt.indexed.parquet')
  let file: Uint8Array
  let kv: Map<string, string>

  beforeAll(async () => {
    const input = join(dir, 'fmt.parquet')
    writeListFile(
      input,
      Array.from({ length: rows }, (_, i) => Array.from(vectors.subarray(i * dim, (i + 1) * dim))),
      { title: Array.from({ length: rows }, (_, i) => `row ${i}`) },
    )
    const source = await fileSource(input)
    // spilled rows (a build's default from 2,048 lists) asked for: the page documents them too
    await buildIndex(source, await fileSink(path, input), { column: 'embedding', nlist: 24, m: 4, spill: true })
    await source.close()
    file = new Uint8Array(readFileSync(path))
    const metadata = parquetMetadata(file.slice().buffer)
    kv = new Map((metadata.key_value_metadata ?? []).map((e) => [e.key, e.value ?? '']))
  })

  it('the structs are contiguous, in field order, with the sizes their types have', () => {
    const width: Record<string, number> = { u32: 4, i32: 4, u64: 8 }
    for (const heading of ['Trailer', 'Section table', 'Centroid grid', 'Directory entry']) {
      const fields = struct(heading)
      expect(fields.length).toBeGreaterThan(1)
      let at = 0
      for (const f of fields) {
        expect(f.offset, `${heading}: ${f.name}`).toBe(at)
        if (f.type !== 'ascii') expect(f.size, `${heading}: ${f.name}`).toBe(width[f.type])
        at += f.size
      }
    }
    expect(structSize(struct('Trailer'))).toBe(Number(/Trailer \((\d+) bytes/.exec(doc)?.[1]))
    expect(structSize(struct('Section table'))).toBe(Number(/entries of (\d+) bytes/.exec(doc)?.[1]))
    expect(structSize(struct('Directory entry'))).toBe(Number(/Directory entry \((\d+) bytes/.exec(doc)?.[1]))
  })

  it('footer keys, trailer, section table, sections, directory and lists are where and what the page says', () => {
    // footer: every documented key (but the optional model) is there and locates the blob
    for (const [key, value] of table('Footer key-value entries')) {
      const name = (key as string).replaceAll('`', '')
      if ((value as string).startsWith('(optional)')) continue
      expect(kv.has(name), name).toBe(true)
    }
    expect(kv.get('parquetseek.version')).toBe(table('Footer key-value entries')[0]?.[1]?.replaceAll('`', ''))
    const blobStart = Number(kv.get('parquetseek.index.offset'))
    const blobLength = Number(kv.get('parquetseek.index.length'))
    const blob = file.subarray(blobStart, blobStart + blobLength)
    const params = JSON.parse(kv.get('parquetseek.params') as string)

    // trailer: the blob's last bytes
    const trailerFields = struct('Trailer')
    const trailerSize = structSize(trailerFields)
    const trailerAt = blob.length - trailerSize
    const t = readStruct(blob, trailerAt, trailerFields)
    expect(t.magic).toBe('PQSEEKIX')
    expect(t.version).toBe(5)
    expect(t.byteOrder).toBe(0x01020304)
    expect(t.metric).toBe(0) // l2
    expect([t.dim, t.nlist, t.m, t.nbits, t.rows, t.indexedRows]).toEqual([dim, 24, 4, 8, rows, rows])
    expect([params.dim, params.nlist, params.m]).toEqual([dim, 24, 4])
    expect(t.trailerCrc).toBe(crc32(blob.subarray(trailerAt, trailerAt + 60)))

    // section table: just before the trailer
    const entryFields = struct('Section table')
    const entrySize = structSize(entryFields)
    const tableAt = trailerAt - (t.sectionCount as number) * entrySize
    expect(t.tableCrc).toBe(crc32(blob.subarray(tableAt, trailerAt)))
    const ids = new Map(table('Sections').map(([id, name]) => [Number(id), name as string]))
    const sections = new Map<string, { offset: number; length: number; crc: number }>()
    for (let i = 0; i < (t.sectionCount as number); i++) {
      const e = readStruct(blob, tableAt + i * entrySize, entryFields)
      const name = ids.get(e.id as number)
      expect(name, `section id ${e.id}`).toBeDefined()
      expect(e.reserved).toBe(0)
      expect((e.offset as number) % 64).toBe(0)
      expect(crc32(blob.subarray(e.offset as number, (e.offset as number) + (e.length as number)))).toBe(e.crc)
      sections.set(name as string, { offset: e.offset as number, length: e.length as number, crc: e.crc as number })
    }
    // in the documented order: lists, centroids, codebooks, directory, then the table
    const sectionOrder = /\[lists\]\[centroids\]\[codebooks\]\[directory\]\[section table\]\[trailer\]/.test(doc)
    expect(sectionOrder).toBe(true)
    const placed = ['lists', 'centroids', 'codebooks', 'directory'].map((n) => sections.get(n) as { offset: number; length: number })
    for (let i = 1; i < placed.length; i++)
      expect((placed[i] as { offset: number }).offset).toBeGreaterThanOrEqual(
        (placed[i - 1] as { offset: number; length: number }).offset + (placed[i - 1] as { length: number }).length,
      )
    expect(sections.get('centroids')?.length).toBe(dim * 8 + 24 * dim)
    expect(sections.get('codebooks')?.length).toBe(dim * 8 + 256 * dim)

    // directory: nlist entries; lists packed in list order, each `bytes` long with its CRC
    const dirFields = struct('Directory entry')
    const dirSize = structSize(dirFields)
    const directory = sections.get('directory') as { offset: number; length: number }
    expect(directory.length).toBe(24 * dirSize)
    const lists = sections.get('lists') as { offset: number; length: number }
    // centroids: a grid per dimension, then a byte per value
    const gridFields = struct('Centroid grid')
    const gridSize = structSize(gridFields)
    /** A section of `n` rows on per-dimension grids: value (base + code) · 2^exp. */
    const gridSection = (at: number, n: number) => {
      const values = new Float32Array(n * dim)
      for (let x = 0; x < dim; x++) {
        const g = readStruct(blob, at + x * gridSize, gridFields)
        for (let r = 0; r < n; r++)
          values[r * dim + x] = ((g.base as number) + (blob[at + dim * gridSize + r * dim + x] as number)) * 2 ** (g.exp as number)
      }
      return values
    }
    const centroids = gridSection(placed[1]?.offset as number, 24)
    // codebooks: the same grid over 256 rows, row c holding code c of every subquantizer side by side
    const codebookRows = gridSection(placed[2]?.offset as number, 256)
    const metadata = parquetMetadata(file.slice().buffer)
    // the vector column's page of each row, from its offset indexes (one vector a page)
    const pageIndex: Array<{ offset: bigint; compressed_page_size: number }> = []
    for (const group of metadata.row_groups) {
      const chunk = group.columns.find((c) => c.meta_data?.path_in_schema[0] === 'embedding')
      const at = Number(chunk?.offset_index_offset)
      const index = readOffsetIndex({
        view: new DataView(file.buffer, file.byteOffset + at, Number(chunk?.offset_index_length)),
        offset: 0,
      })
      pageIndex.push(...index.page_locations)
    }
    expect(pageIndex.length).toBe(rows)
    let reconstructionError = 0
    let centroidError = 0
    const entries = Array.from({ length: 24 }, (_, l) => readStruct(blob, directory.offset + l * dirSize, dirFields))
    // packed one after another, each list once, no gap: in storage order (a build's order, from its
    // rows' probes, is informative only — readers go through the directory)
    const order = Array.from({ length: 24 }, (_, l) => l).sort((a, b) => (entries[a]?.offset as number) - (entries[b]?.offset as number))
    let packed = 0
    for (const l of order) {
      expect(entries[l]?.offset, `list ${l}`).toBe(packed)
      packed += entries[l]?.bytes as number
    }
    expect(packed).toBe(lists.length)
    expect(order).not.toEqual(order.slice().sort((a, b) => a - b)) // not just id order here
    /** Each row's own list, and the list it was spilled into. */
    const ownList = new Map<number, number>()
    const spilledInto = new Map<number, number>()
    for (let l = 0; l < 24; l++) {
      const d = entries[l] as Record<string, number>
      const bytes = blob.subarray(lists.offset + (d.offset as number), lists.offset + (d.offset as number) + (d.bytes as number))
      expect(crc32(bytes)).toBe(d.crc)
      const n = d.entries as number
      const spilled = d.spilled as number
      expect(spilled).toBeLessThanOrEqual(n)
      const codes = bytes.subarray(0, n * 4)
      const at = { i: n * 4 }
      const flag = (name: string) => Number(table('A list').find(([, field]) => field?.startsWith(name))?.[0])
      // two runs, each on its own: the list's own entries, then those spilled into it
      for (const [from, to] of [
        [0, n - spilled],
        [n - spilled, n],
      ] as const) {
        if (from === to) continue
        // the documented flags say which of the three fields each entry stores
        const [flags, firstRow, firstPage, baseLength] = [varint(bytes, at), varint(bytes, at), varint(bytes, at), varint(bytes, at)]
        expect(flags, `list ${l} flags`).toBeLessThan(flag('rowsFollow') + flag('pagesAdjacent') + flag('lengthsEqual') + 1)
        let row = firstRow as number
        let page = firstPage as number
        let pageLength = 0
        for (let i = from; i < to; i++) {
          if (i > from) {
            const rowGap = (flags as number) & flag('rowsFollow') ? 0 : varint(bytes, at)
            row += 1 + rowGap // ascending by row
            page += pageLength + ((flags as number) & flag('pagesAdjacent') ? 0 : varint(bytes, at))
          }
          pageLength = (baseLength as number) + ((flags as number) & flag('lengthsEqual') ? 0 : varint(bytes, at))
          const places = i < n - spilled ? ownList : spilledInto
          expect(places.has(row), `row ${row} twice as ${i < n - spilled ? 'own' : 'spilled'}`).toBe(false)
          places.set(row, l)
          // the row's own embedding page, header included: what the column's offset index says
          expect(page).toBe(Number(pageIndex[row]?.offset))
          expect(pageLength).toBe(pageIndex[row]?.compressed_page_size)
          // codes: residuals to the list's centroid, in the documented codebook layout
          for (let j = 0; j < 4; j++) {
            const s = Math.floor((j * dim) / 4)
            const e = Math.floor(((j + 1) * dim) / 4)
            const c = codes[i * 4 + j] as number
            for (let x = s; x < e; x++) {
              const approx = (centroids[l * dim + x] as number) + (codebookRows[c * dim + x] as number)
              const truth = vectors[row * dim + x] as number
              reconstructionError += (approx - truth) ** 2
              centroidError += ((centroids[l * dim + x] as number) - truth) ** 2
            }
          }
        }
      }
      expect(at.i).toBe(bytes.length)
    }
    const seen = new Set(ownList.keys())
    // a row spills into another list than its own, and a build spills some rows, not every one
    for (const [row, l] of spilledInto) expect(ownList.get(row), `row ${row}`).not.toBe(l)
    expect(spilledInto.size).toBeGreaterThan(0)
    expect(spilledInto.size).toBeLessThan(rows)
    expect(params.spilled).toBe(true)
    expect(seen.size).toBe(rows)
    // decoding by the page's layout must get far closer to the vectors than the centroids alone
    expect(reconstructionError).toBeLessThan(0.25 * centroidError)
  })

  it('the defaults the docs state are the ones the code uses', () => {
    const cli = readFileSync(join(import.meta.dirname, '../docs/CLI.md'), 'utf8')
    const examples = table('Defaults', cli).map((cells) => cells.map((c) => Number(c.replaceAll(',', ''))))
    expect(examples.length).toBeGreaterThanOrEqual(4)
    for (const [r, d, nlist, m, sample] of examples) {
      expect(defaults.nlist(r as number, d as number), `nlist at ${r} × ${d}`).toBe(nlist)
      expect(defaults.m(d as number), `m at ${d}-d`).toBe(m)
      expect(defaults.sample(r as number, nlist as number), `sample at ${r} × ${d}`).toBe(sample)
    }
  })
})

// each written by the last writer of its version; how: test/fixtures/v1/README.md, v2/, v3/, v4/
describe.each([
  { version: 1, file: 'v1/clustered-1000x16.v1.parquet', what: 'float32 centroids' },
  { version: 2, file: 'v2/clustered-1000x16.v2.parquet', what: 'three varints per list entry, rows stored list by list' },
  { version: 3, file: 'v3/clustered-1000x16.v3.parquet', what: 'float32 codebooks, rows stored list by list' },
  { version: 4, file: 'v4/clustered-1000x16.v4.parquet', what: 'every row in one list, rows stored list by list' },
])('files indexed by format v$version stay searchable', ({ version, file: name, what }) => {
  const path = join(import.meta.dirname, 'fixtures', name)

  it(`opens with its ${what} and finds the exact neighbours, probing a subset of the lists`, async () => {
    const info = await cli(['info', path, '--json'])
    expect(info.code, info.stderr).toBe(0)
    const index = JSON.parse(info.stdout).index
    expect([index.format, index.nlist, index.dim]).toEqual([version, 31, 16])
    expect((await cli(['info', path])).stdout).toMatch(new RegExp(`index \\(format v${version}\\): column embedding, l2, dim 16, nlist 31`))

    const file = await fileSource(path)
    const opened = await openIndex(file)
    const read = await readVectors(file, opened.opened.metadata, describeEmbeddingColumn(opened.opened.metadata, 'embedding'))
    const vectors = Array.from({ length: 1000 }, (_, i) => read.data.subarray(i * 16, (i + 1) * 16))
    let hits = 0
    let wanted = 0
    for (let q = 0; q < 1000; q += 37) {
      const query = vectors[q] as Float32Array
      const exact = vectors
        .map((v, row) => ({ row, d: v.reduce((s, x, j) => s + (x - (query[j] as number)) ** 2, 0) }))
        .sort((a, b) => a.d - b.d || a.row - b.row)
        .slice(0, 10)
      // 8 of 31 lists: centroids or entries read wrongly would probe the wrong lists, miss
      // neighbours or refine the wrong pages (a query's own row at distance 0)
      const found = await opened.search(query, { k: 10, nprobe: 8 })
      expect(found.stats.listsProbed).toBe(8)
      expect(found.results[0]).toMatchObject({ row: q, distance: 0 })
      const truth = new Set(exact.map((e) => e.row))
      hits += found.results.filter((r) => truth.has(r.row)).length
      wanted += 10
    }
    expect(hits / wanted).toBeGreaterThanOrEqual(0.95)
    opened.close()
    await file.close()
  })
})
