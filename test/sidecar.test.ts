import { readFileSync, statSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { writeV1SplitList } from '../scripts/pyarrowLike.js'
import { serveDir, serveFile } from '../src/cli/rangeServer.js'
import { AbortError } from '../src/errors.js'
import { buildShared } from '../src/index/partitioned.js'
import { resolveSourceName } from '../src/io/confine.js'
import { openHttp } from '../src/io/httpSource.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import type { ByteSource } from '../src/io/source.js'
import { CountingSource } from '../src/io/source.js'
import { offsetIndexSpan, readMetadata } from '../src/parquet/footer.js'
import { searchExact } from '../src/query/memory.js'
import type { IndexKind } from '../src/query/pipeline.js'
import { flatSearch } from '../src/search/flat.js'
import { SidecarIndex } from '../src/search/sidecarIndex.js'
import { engineApi } from '../workers/engineApi.js'
import { cli } from './helpers/cli.js'
import { clusteredVectors, duckdb, tempDir, writeListFile } from './helpers/fixtures.js'

/** Files of `dir` opened by name (SidecarIndex.open's resolve), closed together by `close`. */
function opener(dir: string) {
  const opened: Array<{ close(): Promise<void> }> = []
  return {
    async open(name: string) {
      const s = await fileSource(join(dir, name))
      opened.push(s)
      return s
    },
    async close() {
      for (const s of opened.splice(0)) await s.close()
    },
  }
}

describe('sidecar index over unmodified files', () => {
  it('builds over three files, searches them as one, and reports a source that changed since', async () => {
    const dir = tempDir('pqs-sidecar-')
    const per = 1200
    const dim = 10
    const v = clusteredVectors(3 * per, dim, 61)
    const names = ['a.parquet', 'b.parquet', 'c.parquet']
    const write = (name: string, part: number, data = v) =>
      writeListFile(
        join(dir, name),
        Array.from({ length: per }, (_, i) => Array.from(data.subarray((part * per + i) * dim, (part * per + i + 1) * dim))),
        { title: Array.from({ length: per }, (_, i) => `${name}:${i}`) },
      )
    for (const [i, n] of names.entries()) write(n, i)
    const inputs = await Promise.all(names.map(async (name) => ({ name, source: await fileSource(join(dir, name)) })))
    const sidecarPath = join(dir, 'all.pqseek')
    const header = await buildShared(inputs, await fileSink(sidecarPath), { column: 'embedding' })
    for (const i of inputs) await i.source.close()
    expect(header.sources.map((s) => [s.name, s.rowBase, s.rows])).toEqual([
      ['a.parquet', 0, per],
      ['b.parquet', per, per],
      ['c.parquet', 2 * per, per],
    ])
    const files = opener(dir)
    const resolveName = files.open
    const index = await SidecarIndex.open(await resolveName('all.pqseek'), resolveName)
    expect(index.rows).toBe(3 * per)
    const ids = Uint32Array.from({ length: 3 * per }, (_, i) => i)
    let hits = 0
    const queries = clusteredVectors(20, dim, 62)
    for (let q = 0; q < 20; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim)
      const { results } = await index.search(query, { k: 10, columns: ['title'] })
      const truth = new Set(searchExact('l2', v, ids, query, 10).map((h) => h.row))
      for (const r of results) {
        expect(r.values.title).toBe(`${r.file}:${r.row}`)
        if (truth.has(names.indexOf(r.file) * per + r.row)) hits++
      }
    }
    expect(hits / 200).toBeGreaterThanOrEqual(0.95)

    // the pipeline every index uses: a filter over every file's rows, deleted rows, batches —
    // the same rows as exact search over the rows allowed
    const query = queries.subarray(0, dim)
    const allowed = Array.from(ids).filter((g) => g >= per && g % 3 !== 0 && g !== per + 1) // b and c, `where` and `deleted`
    const where = "title >= 'b' AND title != 'b.parquet:3' AND title != 'c.parquet:3'"
    const titlesOut = new Set(['b.parquet:3', 'c.parquet:3'])
    const passing = allowed.filter((g) => !titlesOut.has(`${names[Math.floor(g / per)]}:${g % per}`))
    const [filtered, second] = await index.searchBatch([query, queries.subarray(dim, 2 * dim)], {
      k: 5,
      nprobe: index.model.params.nlist,
      refine: 100,
      where,
      deleted: Array.from(ids).filter((g) => g % 3 === 0 || g === per + 1),
      columns: ['title'],
    })
    const exact = searchExact(
      'l2',
      Float32Array.from(passing.flatMap((g) => Array.from(v.subarray(g * dim, (g + 1) * dim)))),
      Uint32Array.from(passing),
      query,
      5,
    )
    expect(filtered?.results.map((h) => names.indexOf(h.file) * per + h.row)).toEqual(exact.map((h) => h.row))
    expect(filtered?.stats.filter?.rowsPassing).toBe(2 * per - 2)
    expect(second?.results).toHaveLength(5)

    await files.close()
    // the CLI reads it too
    const r = await cli([
      'search',
      sidecarPath,
      '--query',
      JSON.stringify(Array.from(v.subarray(1500 * dim, 1501 * dim))),
      '--k',
      '2',
      '--json',
    ])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout).results[0]).toMatchObject({ file: 'b.parquet', row: 300, distance: 0 })
    // join takes a sidecar too: rows numbered across its files (b.parquet's row 300 is 1500)
    const pairs = join(dir, 'pairs.parquet')
    const joined = await cli(['join', join(dir, 'b.parquet'), sidecarPath, '--out', pairs, '--k', '1', '--json'])
    expect(joined.code).toBe(0)
    const db0 = await duckdb()
    const self = (await db0.rows(`SELECT count(*) FROM '${pairs}' WHERE row = query + ${per} AND distance = 0`)) as [[bigint]]
    db0.close()
    expect(Number(self[0][0])).toBeGreaterThan(per * 0.95) // each b row finds itself (ties to another exact copy aside)
    // built by the CLI, with a DuckDB-written source that has no offset index
    const db = await duckdb()
    await db.run(
      `COPY (SELECT i AS id, [sin(i + j)::FLOAT for j in range(${dim})]::FLOAT[${dim}] AS embedding FROM range(500) t(i)) TO '${join(dir, 'd.parquet')}' (FORMAT parquet)`,
    )
    db.close()
    const cliSidecar = join(dir, 'cli.pqseek')
    const built = await cli([
      'index',
      '--sidecar',
      cliSidecar,
      join(dir, 'a.parquet'),
      join(dir, 'd.parquet'),
      '--column',
      'embedding',
      '--json',
    ])
    expect(built.code).toBe(0)
    expect(JSON.parse(built.stdout)).toMatchObject({ sources: 2, rows: per + 500 })
    const probe = Array.from({ length: dim }, (_, j) => Math.fround(Math.sin(42 + j)))
    const found = await cli(['search', cliSidecar, '--query', JSON.stringify(probe), '--k', '1', '--columns', 'id', '--json'])
    expect(found.code).toBe(0)
    // built for l2 on "embedding": another metric is refused, not ignored
    const dot = await cli(['search', cliSidecar, '--query', JSON.stringify(probe), '--metric', 'dot'])
    expect([dot.code, dot.stderr]).toEqual([2, expect.stringMatching(/--metric dot: this sidecar index ranks by l2/)])
    expect(JSON.parse(found.stdout).results[0]).toMatchObject({ file: 'd.parquet', row: 42, distance: 0, values: { id: 42 } })
    // the pages of both files' chunks without an offset index (hyparquet-writer writes none for a
    // chunk of one page; DuckDB none at all) are in the sidecar, a row group each; of kilobytes, so no warning
    const cliHeader = JSON.parse(readFileSync(cliSidecar).toString('utf8', 19, 19 + readFileSync(cliSidecar).readUInt32LE(15)))
    expect(cliHeader.sources.map((s: { pages?: unknown[] }) => s.pages?.length)).toEqual([2, 1])
    expect(found.stderr).not.toMatch(/warning/)
    // b.parquet rewritten with other vectors: the index no longer describes it
    write('b.parquet', 1, clusteredVectors(3 * per, dim, 99))
    const stale: Array<{ close(): Promise<void> }> = [await fileSource(sidecarPath)]
    await expect(
      SidecarIndex.open(stale[0] as Awaited<ReturnType<typeof fileSource>>, async (name) => {
        const s = await fileSource(join(dir, name))
        stale.push(s)
        return s
      }),
    ).rejects.toThrow(/b\.parquet: stale index: the file changed since the sidecar was built \(footer differs\); rebuild the sidecar/)
    for (const s of stale) await s.close() // (left to the garbage collector, Node warned)
  })
  it('over HTTP, a warm query reads its candidate vectors and result columns in one wave each (it was one request per candidate)', async () => {
    const dir = tempDir('pqs-sidecar-http-')
    // files past the 1 MiB first read, so vectors and titles come from pages read by the query
    const per = 20_000
    const dim = 16
    const v = clusteredVectors(3 * per, dim, 71)
    const names = ['a.parquet', 'b.parquet', 'c.parquet']
    // small pages (4 KiB: ~60 vectors), so candidates fall on many pages of each file
    for (const [part, name] of names.entries())
      writeListFile(
        join(dir, name),
        Array.from({ length: per }, (_, i) => Array.from(v.subarray((part * per + i) * dim, (part * per + i + 1) * dim))),
        { title: Array.from({ length: per }, (_, i) => `${name}:${i}`) },
        {},
        { pageSize: 4096 },
      )
    const inputs = await Promise.all(names.map(async (name) => ({ name, source: await fileSource(join(dir, name)) })))
    await buildShared(inputs, await fileSink(join(dir, 'all.pqseek')), { column: 'embedding' })
    for (const i of inputs) await i.source.close()
    // each file on its own server, 60 ms a request; waves of requests are counted at the servers
    // from when requests arrive (a gap over 30 ms starts a new wave: at 30 ms a request and 15 ms
    // a gap, one wave's requests came more than 15 ms apart on a loaded machine and counted twice)
    const arrivals: number[] = []
    const files = [...names, 'all.pqseek']
    const servers = await Promise.all(
      files.map((n) =>
        serveFile(join(dir, n), {
          delayMs: 60,
          fault: () => {
            arrivals.push(performance.now())
            return false
          },
        }),
      ),
    )
    const local: Array<{ close(): Promise<void> }> = []
    try {
      const url = (name: string) => (servers[files.indexOf(name)] as { url: string }).url
      const remote = await SidecarIndex.open((await openHttp(url('all.pqseek'))).source, async (name) => url(name))
      const sidecar = await fileSource(join(dir, 'all.pqseek'))
      local.push(sidecar)
      const reference = await SidecarIndex.open(sidecar, async (name) => {
        const s = await fileSource(join(dir, name))
        local.push(s)
        return s
      })
      const waves = () => arrivals.filter((t, i) => i === 0 || t - (arrivals[i - 1] as number) > 30).length
      const queries = clusteredVectors(12, dim, 72)
      for (let q = 0; q < 12; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim)
        arrivals.length = 0
        // many candidates (refine 10: 100), so that one wave for them all means something
        const { results, stats } = await remote.search(query, { k: 10, refine: 10, columns: ['title'] })
        const expected = await reference.search(query, { k: 10, refine: 10, columns: ['title'] })
        expect(results.map((r) => [r.row, r.distance, r.values.title])).toEqual(
          expected.results.map((r) => [r.row, r.distance, r.values.title]),
        )
        if (q < 2) continue // the first queries also read each source's offset indexes once
        console.log(
          `sidecar over HTTP, query ${q}: ${stats.candidates} candidates, ${arrivals.length} requests in ${waves()} waves (stats: ${stats.roundTrips})`,
        )
        expect(stats.candidates).toBeGreaterThan(50)
        expect(waves()).toBe(stats.roundTrips)
        expect(stats.roundTrips).toBeLessThanOrEqual(3)
      }
    } finally {
      for (const s of servers) await s.close()
      for (const s of local) await s.close()
    }
    // building the 60,000-row sidecar is most of it: 56–62 s on a slow 2-core machine
  }, 120_000)
  it('a build whose vectors fit its memory budget reads each file once (the training pass keeps them to encode): the same sidecar, byte for byte, as reading twice', async () => {
    const dir = tempDir('pqs-sidecar-held-')
    const dim = 48
    const v = clusteredVectors(2 * 12_000, dim, 86)
    const names = ['a.parquet', 'b.parquet']
    for (const [part, name] of names.entries())
      writeListFile(
        join(dir, name),
        // a null vector now and then: left out (skipInvalid) the same way both times
        Array.from({ length: 12_000 }, (_, i) =>
          i % 997 === 5 ? null : Array.from(v.subarray((part * 12_000 + i) * dim, (part * 12_000 + i + 1) * dim)),
        ),
      )
    let read = 0
    const build = async (out: string, memoryBytes?: number) => {
      read = 0
      const inputs = await Promise.all(
        names.map(async (name) => {
          const file = await fileSource(join(dir, name))
          return {
            name,
            file,
            source: {
              name,
              byteLength: file.byteLength,
              slice: (a: number, b?: number) => {
                read += (b ?? file.byteLength) - a
                return file.slice(a, b)
              },
            },
          }
        }),
      )
      // cosine: the kept vectors were normalized as they were read, and are not normalized again
      await buildShared(inputs, await fileSink(join(dir, out)), {
        column: 'embedding',
        metric: 'cosine',
        skipInvalid: true,
        nlist: 32,
        memoryBytes,
      })
      for (const i of inputs) await i.file.close()
      return { bytes: readFileSync(join(dir, out)), read }
    }
    const twice = await build('twice.pqseek', 0)
    const once = await build('once.pqseek')
    expect(once.bytes.equals(twice.bytes)).toBe(true)
    const vectors = 2 * 12_000 * dim * 4
    expect(twice.read).toBeGreaterThan(2 * vectors)
    expect(once.read).toBeLessThan(twice.read - 0.9 * vectors)
  })
  it('a source older pyarrow wrote (V1 list pages cut inside rows, no offset index): the sidecar stores entries that each begin a row, and a query reads those holding its candidates', async () => {
    const dir = tempDir('pqs-sidecar-v1-')
    const n = 4000
    const dim = 64
    const v = clusteredVectors(n, dim, 84)
    // pages of 1,000 values: every eighth begins a row (1,000 · k is a multiple of 64 for k = 8)
    writeV1SplitList(join(dir, 'v1.parquet'), v, dim, { pageValues: 1000 })
    const input = { name: 'v1.parquet', source: await fileSource(join(dir, 'v1.parquet')) }
    const header = await buildShared([input], await fileSink(join(dir, 'v1.pqseek')), { column: 'embedding' })
    await input.source.close()
    const pages = header.sources[0]?.pages?.[0]?.['embedding.list.element'] ?? []
    const pageBytes = 1000 * 4 // (and its header and levels)
    const entries = pages.length / 3
    expect(entries).toBeGreaterThan(20)
    for (let e = 0; e < entries; e++) {
      // each at a row that begins a page (its first value a multiple of 1,000), eight pages long (the last: what is left)
      expect(((pages[3 * e] as number) * dim) % 1000).toBe(0)
      if (e < entries - 1) expect(pages[3 * e + 2] as number).toBeGreaterThan(8 * pageBytes)
    }
    const files = opener(dir)
    const sidecar = await fileSource(join(dir, 'v1.pqseek'))
    const index = await SidecarIndex.open(sidecar, files.open)
    try {
      const chunk = Number(index.opened()[0]?.metadata.row_groups[0]?.columns[0]?.meta_data?.total_compressed_size)
      const ids = Uint32Array.from({ length: n }, (_, i) => i)
      const queries = clusteredVectors(10, dim, 85)
      let hits = 0
      for (let q = 0; q < 10; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim)
        const { results, stats } = await index.search(query, { k: 10 })
        const truth = new Set(searchExact('l2', v, ids, query, 10).map((h) => h.row))
        hits += results.filter((r) => truth.has(r.row)).length
        expect(stats.bytes).toBeLessThan(0.5 * chunk) // (the whole chunk before: no entry could be a row's own)
      }
      expect(hits / 100).toBeGreaterThanOrEqual(0.9)
    } finally {
      index.close()
      await files.close()
      await sidecar.close()
    }
  })
  it('a source written without offset indexes (pyarrow, DuckDB): the sidecar stores its pages, and a query reads the pages it needs, not whole chunks', async () => {
    const dir = tempDir('pqs-sidecar-pages-')
    const n = 8000
    const dim = 16
    const v = clusteredVectors(n, dim, 81)
    const rows = Array.from({ length: n }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim)))
    const titles = Array.from({ length: n }, (_, i) => `row ${i} `.repeat(6))
    // pages of 4 KiB (~60 vectors) in one row group, and no offset index: pyarrow's layout, smaller
    writeListFile(join(dir, 'p.parquet'), rows, { title: titles }, {}, { pageSize: 4096, offsetIndex: false })
    // one page of 2.6 MiB (40,000 vectors): DuckDB's, which writes a row group's column as one page
    writeListFile(
      join(dir, 'big.parquet'),
      Array.from({ length: 40_000 }, (_, i) => rows[i % n] as number[]),
      {},
      {},
      { pageSize: 8 << 20, offsetIndex: false, rowGroupSize: 40_000 },
    )
    // pages of 1 MiB with an offset index: hyparquet-writer's default (and pyarrow's, asked for one)
    writeListFile(
      join(dir, 'mib.parquet'),
      Array.from({ length: 40_000 }, (_, i) => rows[i % n] as number[]),
      {},
      {},
      { rowGroupSize: 40_000 },
    )
    const inputs = await Promise.all(
      ['p.parquet', 'big.parquet', 'mib.parquet'].map(async (name) => ({ name, source: await fileSource(join(dir, name)) })),
    )
    const header = await buildShared([inputs[0] as (typeof inputs)[number]], await fileSink(join(dir, 'p.pqseek')), { column: 'embedding' })
    await buildShared(inputs.slice(1), await fileSink(join(dir, 'big.pqseek')), { column: 'embedding' })
    for (const i of inputs) await i.source.close()
    const stored = header.sources[0]?.pages ?? []
    expect(stored.map((g) => Object.keys(g).sort())).toEqual([
      ['embedding.list.element', 'title'],
      ['embedding.list.element', 'title'],
    ]) // (the writer's row groups: 1,000 rows, then 7,000)
    expect(stored.reduce((pages, g) => pages + (g['embedding.list.element']?.length ?? 0) / 3, 0)).toBeGreaterThan(100)
    const { open, close } = opener(dir)
    try {
      const index = await SidecarIndex.open(await open('p.pqseek'), open)
      expect(index.warnings).toEqual([])
      const chunk = (name: string) =>
        (index.opened()[0]?.metadata.row_groups ?? []).reduce(
          (bytes, g) => bytes + Number(g.columns.find((c) => c.meta_data?.path_in_schema[0] === name)?.meta_data?.total_compressed_size),
          0,
        )
      const ids = Uint32Array.from({ length: n }, (_, i) => i)
      const queries = clusteredVectors(10, dim, 82)
      let hits = 0
      for (let q = 0; q < 10; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim)
        const { results, stats } = await index.search(query, { k: 10, columns: ['title'] })
        for (const r of results) expect(r.values.title).toBe(titles[r.row])
        const truth = new Set(searchExact('l2', v, ids, query, 10).map((h) => h.row))
        hits += results.filter((r) => truth.has(r.row)).length
        // the candidates' pages and the results' title pages: a fraction of the two chunks (whole chunks before)
        expect(stats.bytes).toBeLessThan(0.5 * (chunk('embedding') + chunk('title')))
      }
      expect(hits / 100).toBeGreaterThanOrEqual(0.9)
      // pages of a MiB or more are named at open: each candidate in one costs the whole page
      const big = await SidecarIndex.open(await open('big.pqseek'), open)
      expect(big.warnings).toEqual([
        expect.stringMatching(
          /^big\.parquet stores "embedding" in pages of 2\.\d MiB \(a row group each\): refining a candidate reads its whole page/,
        ),
        expect.stringMatching(/^mib\.parquet stores "embedding" in pages of 0\.\d MiB: refining a candidate reads its whole page/),
      ])
    } finally {
      await close()
    }
    // a page table edited (the first page said to start at row 1): refused, naming the source and page
    const bytes = readFileSync(join(dir, 'p.pqseek'))
    const at = bytes.indexOf('"embedding.list.element":[0,')
    bytes[at + '"embedding.list.element":['.length] = '1'.charCodeAt(0)
    writeFileSync(join(dir, 'bad.pqseek'), bytes)
    try {
      await expect(SidecarIndex.open(await open('bad.pqseek'), open)).rejects.toThrow(
        /bad\.pqseek: source 0 \(p\.parquet\): malformed page table: row group 0, "embedding\.list\.element": page 0 \(row 1, bytes/,
      )
    } finally {
      await close()
    }
  })

  it("--sidecar-vectors: the vectors copied after the index, a query refining from them — no byte of a source read, the same rows and distances as from the sources' pages; a vectors section cut short is refused, naming it", async () => {
    const dir = tempDir('pqs-sidecar-vectors-')
    const dim = 32
    const v = clusteredVectors(7000, dim, 91)
    const rows: Array<number[] | null> = Array.from({ length: 7000 }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim)))
    rows[10] = null // (left out of the index: zeros in the copy)
    rows[4321] = null
    // one page a row group, no offset index (DuckDB's layout: a candidate read from the file costs its row group)
    writeListFile(join(dir, 'a.parquet'), rows.slice(0, 3000), {}, {}, { pageSize: 8 << 20, offsetIndex: false, rowGroupSize: 3000 })
    writeListFile(join(dir, 'b.parquet'), rows.slice(3000), {}, {}, { pageSize: 8 << 20, offsetIndex: false, rowGroupSize: 4000 })
    const names = ['a.parquet', 'b.parquet']
    const opened = await Promise.all(names.map((name) => fileSource(join(dir, name))))
    const inputs = opened.map((file, i) => ({ name: names[i] as string, source: new CountingSource(file) }))
    /** The build's header, and the bytes it read from the files. */
    const read = async (out: string, o: Parameters<typeof buildShared>[2]) => {
      const before = inputs.reduce((n, i) => n + i.source.counts.bytes, 0)
      const header = await buildShared(inputs, await fileSink(join(dir, out)), o)
      return { header, bytes: inputs.reduce((n, i) => n + i.source.counts.bytes, 0) - before }
    }
    try {
      const pagesRead = (await read('pages.pqseek', { column: 'embedding', skipInvalid: true })).bytes
      const { header, bytes: vectorsRead } = await read('vectors.pqseek', { column: 'embedding', skipInvalid: true, vectors: true })
      // cosine too: the copy holds the vectors as stored (the build normalizes its own)
      for (const [name, vectors] of [
        ['cos-pages.pqseek', false],
        ['cos-vectors.pqseek', true],
      ] as const)
        await buildShared(inputs, await fileSink(join(dir, name)), { column: 'embedding', skipInvalid: true, metric: 'cosine', vectors })
      // after the index, 64-byte aligned, to the file's end: one float32 vector a list entry (a
      // spilled row twice), every one a row's, every row indexed there (the two null rows not)
      const bytes = readFileSync(join(dir, 'vectors.pqseek'))
      const at = header.vectors?.offset as number
      const entries = (header.vectors?.length as number) / (dim * 4)
      expect(header.vectors).toEqual({ offset: at, length: entries * dim * 4 })
      expect(at % 64).toBe(0)
      expect(at).toBeGreaterThanOrEqual(header.blobOffset + header.blobLength)
      expect(bytes.length).toBe(at + entries * dim * 4)
      expect(entries).toBeGreaterThanOrEqual(6998)
      const key = (b: Uint8Array) => Buffer.from(b).toString('base64')
      const copied = new Set(Array.from({ length: entries }, (_, e) => key(bytes.subarray(at + e * dim * 4, at + (e + 1) * dim * 4))))
      const stored = new Set(rows.flatMap((r) => (r ? [key(new Uint8Array(Float32Array.from(r).buffer))] : [])))
      expect(copied).toEqual(stored)
      // within the default budget the copy comes from the vectors kept to encode: no byte of a
      // file read again; within a budget of a few hundred vectors (~7,000 here) the files are
      // read once more, the copy written a run of entries at a time — the same bytes either way
      const small = { column: 'embedding', skipInvalid: true, memoryBytes: 64 << 10 }
      const smallPagesRead = (await read('small-pages.pqseek', small)).bytes
      const smallRead = (await read('small.pqseek', { ...small, vectors: true })).bytes
      expect(Buffer.compare(readFileSync(join(dir, 'small.pqseek')), bytes)).toBe(0)
      const fileBytes = opened.reduce((n, f) => n + f.byteLength, 0)
      expect(vectorsRead).toBe(pagesRead)
      expect(smallRead - smallPagesRead).toBeGreaterThan(fileBytes * 0.9)
      // cosine: the copy holds the vectors as stored, not as the build normalized them, from
      // memory as from the files
      const cosine = { column: 'embedding', skipInvalid: true, metric: 'cosine' as const, vectors: true }
      const cosKept = await read('cos-kept.pqseek', cosine)
      expect(cosKept.bytes).toBe(pagesRead)
      await read('cos-small.pqseek', { ...cosine, memoryBytes: 64 << 10 })
      const cosBytes = readFileSync(join(dir, 'cos-kept.pqseek'))
      expect(Buffer.compare(readFileSync(join(dir, 'cos-small.pqseek')), cosBytes)).toBe(0)
      const cosAt = cosKept.header.vectors?.offset as number
      const cosCopied = new Set(
        Array.from({ length: entries }, (_, e) => key(cosBytes.subarray(cosAt + e * dim * 4, cosAt + (e + 1) * dim * 4))),
      )
      expect(cosCopied).toEqual(stored)
    } finally {
      for (const f of opened) await f.close()
    }
    const { open, close } = opener(dir)
    try {
      const pages = await SidecarIndex.open(await open('pages.pqseek'), open)
      const copied = await SidecarIndex.open(await open('vectors.pqseek'), open)
      // (the warning about large pages: only where refinement reads them)
      expect(pages.warnings).toHaveLength(2)
      expect(copied.warnings).toEqual([])
      const queries = clusteredVectors(12, dim, 92)
      for (let q = 0; q < 12; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim)
        const before = copied.opened().map((s) => s.source.counts.bytes)
        const a = await pages.search(query, { k: 10 })
        const b = await copied.search(query, { k: 10 })
        expect(b.results.map((h) => [h.file, h.row, h.distance])).toEqual(a.results.map((h) => [h.file, h.row, h.distance]))
        expect(copied.opened().map((s) => s.source.counts.bytes)).toEqual(before)
        // cold: a few KiB of candidates, where the sources' pages cost their row groups (~380 and
        // ~500 KiB; kept by the source's cache for later queries)
        if (q === 0) expect(b.stats.bytes).toBeLessThan(a.stats.bytes / 4)
      }
      // a row with no list place (the pipeline always gives one today): read from its page instead
      const kind = (copied as unknown as { pipeline: { kind: IndexKind } }).pipeline.kind
      const out = new Float32Array(2 * dim)
      expect(await kind.readVectors([5, 3500], () => undefined, out, { connections: 6 })).toEqual(Uint8Array.from([1, 1]))
      expect(out).toEqual(Float32Array.from([...(rows[5] as number[]), ...(rows[3500] as number[])]))
      const cosPages = await SidecarIndex.open(await open('cos-pages.pqseek'), open)
      const cosCopied = await SidecarIndex.open(await open('cos-vectors.pqseek'), open)
      for (let q = 0; q < 4; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim)
        const a = await cosPages.search(query, { k: 10 })
        const b = await cosCopied.search(query, { k: 10 })
        expect(b.results.map((h) => [h.file, h.row, h.distance])).toEqual(a.results.map((h) => [h.file, h.row, h.distance]))
      }
    } finally {
      await close()
    }
    // cut short (the last vector's last byte gone): refused at open, naming the section
    const bytes = readFileSync(join(dir, 'vectors.pqseek'))
    writeFileSync(join(dir, 'cut.pqseek'), bytes.subarray(0, bytes.length - 1))
    try {
      await expect(SidecarIndex.open(await open('cut.pqseek'), open)).rejects.toThrow(
        new RegExp(
          `cut\\.pqseek, byte \\d+: the vectors section \\[\\d+, ${bytes.length}\\) is not \\d+ list entries × 32 float32 after the index and inside the ${bytes.length - 1}-byte file`,
        ),
      )
    } finally {
      await close()
    }
    // the CLI: a build over large pages warns as a search would, naming the option; with it, no warning
    const files = ['a.parquet', 'b.parquet'].map((f) => join(dir, f))
    const plain = await cli(['index', '--sidecar', join(dir, 'cli.pqseek'), ...files, '--column', 'embedding', '--skip-invalid'])
    expect(plain.code).toBe(0)
    expect(plain.stderr.split('\n').filter((l) => l.startsWith('warning: '))).toEqual([
      expect.stringMatching(
        /^warning: a\.parquet stores "embedding" in pages of 0\.4 MiB \(a row group each\): refining a candidate reads its whole page \(index --sidecar … --sidecar-vectors copies/,
      ),
      expect.stringMatching(/^warning: b\.parquet stores "embedding" in pages of 0\.5 MiB \(a row group each\)/),
    ])
    const copying = await cli([
      'index',
      '--sidecar',
      join(dir, 'cli-v.pqseek'),
      ...files,
      '--column',
      'embedding',
      '--skip-invalid',
      '--sidecar-vectors',
    ])
    expect([copying.code, copying.stderr.split('\n').filter((l) => l.startsWith('warning: '))]).toEqual([0, []])
    // the CLI: only with --sidecar
    const r = await cli(['index', join(dir, 'a.parquet'), join(dir, 'out.parquet'), '--sidecar-vectors'])
    expect(r.code).toBe(2)
    expect(r.stderr).toContain('--sidecar-vectors copies the vectors into a sidecar; give --sidecar')
    // (eight builds of 7,000 rows, two of them over a small memory budget: ~25–35 s on a 2-core machine)
  }, 120_000)
})

describe("a sidecar at a URL, through the page's engine (the app's worker)", () => {
  it("opens as one table of its files' rows: rows read across a file boundary, a row's neighbours named by file, exact search merged across files as over one file, recall checked; picked from disk with its files the same, alone or a file short refused naming why", async () => {
    const dir = tempDir('pqs-sidecar-page-')
    const dim = 16
    const v = clusteredVectors(5000, dim, 93)
    const vectorsOf = (from: number, to: number) =>
      Array.from({ length: to - from }, (_, i) => Array.from(v.subarray((from + i) * dim, (from + i + 1) * dim)))
    writeListFile(join(dir, 'a.parquet'), vectorsOf(0, 3000), { title: Array.from({ length: 3000 }, (_, i) => `a:${i}`) })
    writeListFile(join(dir, 'b.parquet'), vectorsOf(3000, 5000), { title: Array.from({ length: 2000 }, (_, i) => `b:${i}`) })
    // the same rows in one file: what exact search over the sidecar must agree with
    writeListFile(join(dir, 'whole.parquet'), vectorsOf(0, 5000), {})
    const names = ['a.parquet', 'b.parquet']
    const inputs = await Promise.all(names.map(async (name) => ({ name, source: await fileSource(join(dir, name)) })))
    await buildShared(inputs, await fileSink(join(dir, 'all.pqseek')), { column: 'embedding' })
    for (const i of inputs) await i.source.close()
    const server = await serveDir(dir, { host: 's3' })
    const api = engineApi()
    try {
      const { id, info } = await api.open(`${server.url}all.pqseek?signed=1`, 'js')
      expect(info.rows).toBe(5000)
      expect(info.sources).toEqual([
        { name: 'a.parquet', rows: 3000 },
        { name: 'b.parquet', rows: 2000 },
      ])
      expect(info.index?.column).toBe('embedding')
      expect(info.columns.map((c) => c.name)).toEqual(['title', 'embedding'])
      expect((await api.rows(id, 2998, 3002, ['title'])).map((r) => r.title)).toEqual(['a:2998', 'a:2999', 'b:0', 'b:1'])
      const found = await api.search(id, { row: 3001 }, { k: 5, columns: ['title'] })
      expect(found.results[0]).toEqual({ row: 3001, distance: 0, values: { title: 'b:1' }, file: 'b.parquet', fileRow: 1 })
      for (const hit of found.results) expect(hit.values.title).toBe(`${hit.file === 'a.parquet' ? 'a' : 'b'}:${hit.fileRow}`)
      expect(found.results.map((h) => h.row)).toEqual(found.results.map((h) => (h.file === 'a.parquet' ? 0 : 3000) + (h.fileRow as number)))
      const { sizes, points } = api.indexView(id)
      expect(sizes.reduce((n, s) => n + s, 0)).toBeGreaterThanOrEqual(5000)
      expect(points).toHaveLength(sizes.length)
      // recall: every list probed finds (nearly) what exact search over both files finds; one list less
      const nlist = sizes.length
      const [one, all] = await api.checkRecall(id, { queries: 30, k: 10, nprobes: [1, nlist] })
      expect(all?.recall).toBeGreaterThan(0.95)
      expect(one?.recall).toBeLessThan(all?.recall as number)
      // exact search merged across the files: the rows and distances of exact search over one file of them all
      const sidecar = await SidecarIndex.openUrl(`${server.url}all.pqseek`)
      const whole = await fileSource(join(dir, 'whole.parquet'))
      try {
        const queries = [0, 2999, 3000, 4999].map((r) => v.slice(r * dim, (r + 1) * dim))
        const merged = await sidecar.searchExact(queries, { k: 20 })
        const one = await flatSearch(whole, await readMetadata(whole), queries, { column: 'embedding', metric: 'l2', k: 20 })
        expect(merged).toEqual(one.map((hits) => hits.map((h) => ({ row: h.row, distance: h.distance }))))
      } finally {
        await whole.close()
      }
      // picked from disk: with the files it names, as by its URL; alone, or a file short, refused naming why
      const picked = (name: string) => new File([readFileSync(join(dir, name))], name)
      const local = await api.open([picked('all.pqseek'), picked('a.parquet'), picked('b.parquet')], 'js')
      expect(local.info.rows).toBe(5000)
      expect((await api.search(local.id, { row: 3001 }, { k: 5, columns: ['title'] })).results).toEqual(found.results)
      await expect(api.open(picked('all.pqseek'), 'js')).rejects.toThrow(
        /all\.pqseek: a sidecar index is read with its files: pick them together with it, or open it by its URL/,
      )
      await expect(api.open([picked('all.pqseek'), picked('a.parquet')], 'js')).rejects.toThrow(
        /all\.pqseek: names b\.parquet: pick it together with the sidecar/,
      )
    } finally {
      await server.close()
    }
  })
})

describe('opening a sidecar over HTTP', () => {
  it("asks each file once, all at once, for exactly its footer and offset indexes (recorded at build), the host's multi-range support once, and the sidecar's header with its size and its index head in one read", async () => {
    const dir = tempDir('pqs-sidecar-open-')
    const dim = 8
    const v = clusteredVectors(4 * 1500, dim, 95)
    const names = ['a.parquet', 'b.parquet', 'c.parquet', 'd.parquet']
    for (const [part, name] of names.entries())
      writeListFile(
        join(dir, name),
        Array.from({ length: 1500 }, (_, i) => Array.from(v.subarray((part * 1500 + i) * dim, (part * 1500 + i + 1) * dim))),
        { title: Array.from({ length: 1500 }, (_, i) => `${name}:${i}`) },
        {},
        { pageSize: 4096 },
      )
    const inputs = await Promise.all(names.map(async (name) => ({ name, source: await fileSource(join(dir, name)) })))
    const header = await buildShared(inputs, await fileSink(join(dir, 'all.pqseek')), { column: 'embedding' })
    // what the build recorded: the footer and the offset indexes before it
    for (const [i, s] of header.sources.entries()) {
      const metadata = await readMetadata(inputs[i]?.source as ByteSource)
      const span = offsetIndexSpan(metadata)
      expect(span).toBeDefined()
      expect(s.tailBytes).toBe(s.size - (span?.start as number))
    }
    for (const i of inputs) await i.source.close()
    const seen: Array<{ path: string; range: string }> = []
    // the files' first requests and the sidecar's index head read are held until all have come
    // (or 3 s): only an open that asks them at once gets them together
    const held: Array<() => void> = []
    let together = false
    const first = ['bytes=0-0,-1', 'bytes=0-65535', 'bytes=-1024'] // (the sidecar's probe, header and size)
    const server = await serveDir(dir, {
      host: 's3',
      fault: async (req) => {
        const path = new URL(req.url ?? '/', 'http://x').pathname.slice(1)
        const range = req.headers.range ?? ''
        seen.push({ path, range })
        if ((path !== 'all.pqseek' || !first.includes(range)) && !together)
          await new Promise<void>((release) => {
            held.push(release)
            if (held.length < names.length + 1)
              return void setTimeout(() => {
                held.splice(held.indexOf(release), 1) // (gave up waiting: no longer held)
                release()
              }, 3000)
            together = true
            for (const r of held) r()
          })
        return false
      },
    })
    try {
      const index = await SidecarIndex.openUrl(`${server.url}all.pqseek`)
      const opening = seen.filter((r) => r.path !== 'all.pqseek')
      expect([...opening].sort((a, b) => a.path.localeCompare(b.path))).toEqual(
        // (a first read asks for 1 KiB at the least)
        header.sources.map((s) => ({ path: s.name, range: `bytes=-${Math.max(1024, s.tailBytes as number)}` })),
      )
      expect(opening).toHaveLength(names.length)
      expect(together).toBe(true)
      expect(seen.filter((r) => r.range.includes(','))).toEqual([{ path: 'all.pqseek', range: 'bytes=0-0,-1' }])
      // the sidecar itself: its multi-range probe, its header and its size together, then its index head in one read
      const own = seen.filter((r) => r.path === 'all.pqseek').map((r) => r.range)
      expect(own.slice(0, 3).sort()).toEqual(['bytes=-1024', 'bytes=0-0,-1', 'bytes=0-65535'])
      const blobEnd = header.blobOffset + header.blobLength
      const headRead = Math.min(header.blobLength, Math.max(header.headBytes as number, 65536))
      expect(own.slice(3)).toEqual([`bytes=${blobEnd - headRead}-${blobEnd - 1}`])
      // what the open reports it cost: every request the host saw, in two round trips, and the
      // bytes of each read (the probe's whole-object answer cancelled unread)
      const size = statSync(join(dir, 'all.pqseek')).size
      expect(index.opening).toMatchObject({
        requests: seen.length,
        roundTrips: 2,
        bytes:
          Math.min(1024, size) +
          Math.min(65536, size) +
          headRead +
          header.sources.reduce((n, s) => n + Math.min(s.size, Math.max(1024, s.tailBytes as number)), 0),
      })
      // over three connections the index head and the four files' reads take two rounds: counted
      // on one clock, the sidecar's and its files' reads together
      expect((await SidecarIndex.openUrl(`${server.url}all.pqseek`, { connections: 3 })).opening.roundTrips).toBe(3)
      // and searches as from disk
      const found = await index.search(v.subarray(4321 * dim, 4322 * dim), { k: 3, columns: ['title'] })
      expect(found.results[0]).toMatchObject({ file: 'c.parquet', row: 4321 - 3000, distance: 0, values: { title: 'c.parquet:1321' } })
    } finally {
      await server.close()
    }
  })
})

describe('a hosted sidecar over files whose names hold URL characters', () => {
  it('asks for each file by its name (`#`, `?`, `%` and a space percent-encoded), where a URL reference would cut the name at `#` or `?`', async () => {
    const dir = tempDir('pqs-sidecar-names-')
    const dim = 8
    const v = clusteredVectors(3 * 400, dim, 97)
    const names = ['a#1.parquet', 'b?2.parquet', 'c 100%.parquet']
    for (const [part, name] of names.entries())
      writeListFile(
        join(dir, name),
        Array.from({ length: 400 }, (_, i) => Array.from(v.subarray((part * 400 + i) * dim, (part * 400 + i + 1) * dim))),
        { title: Array.from({ length: 400 }, (_, i) => `${part}:${i}`) },
      )
    const inputs = await Promise.all(names.map(async (name) => ({ name, source: await fileSource(join(dir, name)) })))
    await buildShared(inputs, await fileSink(join(dir, 'all.pqseek')), { column: 'embedding' })
    for (const i of inputs) await i.source.close()
    const asked = new Set<string>()
    const server = await serveDir(dir, {
      host: 's3',
      fault: async (req) => {
        asked.add(new URL(req.url ?? '/', 'http://x').pathname)
        return false
      },
    })
    try {
      const index = await SidecarIndex.openUrl(`${server.url}all.pqseek`)
      expect([...asked].sort()).toEqual(['/a%231.parquet', '/all.pqseek', '/b%3F2.parquet', '/c%20100%25.parquet'])
      for (const [part, name] of names.entries()) {
        const found = await index.search(v.subarray((part * 400 + 7) * dim, (part * 400 + 8) * dim), { k: 1, columns: ['title'] })
        expect(found.results[0]).toMatchObject({ file: name, row: 7, distance: 0, values: { title: `${part}:7` } })
      }
    } finally {
      await server.close()
    }
  })

  it('a manifest, written by hand, keeps URL semantics: its names are URL references', () => {
    const base = { kind: 'url' as const, url: 'https://cdn.example/data/manifest.json' }
    expect(resolveSourceName('part%201.parquet?v=2', base)).toEqual({ kind: 'url', url: 'https://cdn.example/data/part%201.parquet?v=2' })
    expect(resolveSourceName('part%201.parquet?v=2', { ...base, names: 'paths' })).toEqual({
      kind: 'url',
      url: 'https://cdn.example/data/part%25201.parquet%3Fv%3D2',
    })
    expect(resolveSourceName('sub\\a#1.parquet', { ...base, names: 'paths' })).toEqual({
      kind: 'url',
      url: 'https://cdn.example/data/sub/a%231.parquet',
    })
  })
})

describe("a sidecar's open over many files", () => {
  it('opens the first files, as many as the connections, and each other one when a search or a read first needs it: a changed one is found then; its files share one cache budget', async () => {
    const dir = tempDir('pqs-sidecar-progress-')
    const dim = 8
    const v = clusteredVectors(6 * 100, dim, 98)
    const names = Array.from({ length: 6 }, (_, i) => `p${i}.parquet`)
    const write = (part: number, vectors: Float32Array) =>
      writeListFile(
        join(dir, names[part] as string),
        Array.from({ length: 100 }, (_, i) => Array.from(vectors.subarray((part * 100 + i) * dim, (part * 100 + i + 1) * dim))),
        { title: Array.from({ length: 100 }, (_, i) => `p${part}:${i}`) },
      )
    for (const part of names.keys()) write(part, v)
    const inputs = await Promise.all(names.map(async (name) => ({ name, source: await fileSource(join(dir, name)) })))
    // (the vectors in the sidecar: refinement reads none of the files, so a search opens those of its results)
    await buildShared(inputs, await fileSink(join(dir, 'all.pqseek')), { column: 'embedding', vectors: true })
    for (const i of inputs) await i.source.close()
    const opened: Array<{ close(): Promise<void> }> = []
    // each file as the sidecar resolves it (every name, at open), `asked` naming those read from
    const resolver = (asked: string[]) => async (name: string) => {
      const s = await fileSource(join(dir, name))
      opened.push(s)
      return {
        name: s.name,
        byteLength: s.byteLength,
        slice: (start: number, end: number, signal?: AbortSignal) => {
          if (!asked.includes(name)) asked.push(name)
          return s.slice(start, end, signal)
        },
      }
    }
    try {
      const seen: Array<[number, number]> = []
      const asked: string[] = []
      // the sidecar itself, opened (and closed) as its files are
      const sidecar = () => resolver([])('all.pqseek')
      const index = await SidecarIndex.open(await sidecar(), resolver(asked), {
        connections: 2,
        onProgress: (n, of) => seen.push([n, of]),
      })
      expect(seen).toEqual([0, 1, 2].map((n) => [n, 2]))
      expect(asked).toEqual(['p0.parquet', 'p1.parquet'])
      expect(index.rows).toBe(600)
      // the six files share one cache budget: together they keep what four would alone (cacheShare)
      expect(index.opened().map((s) => s.cached.budgetBytes)).toEqual(Array(2).fill(Math.floor((256 << 20) / 6)))
      // a search finds row 7 of p4: that file alone is opened, its end read by (and counted in) the search
      const query = v.subarray(407 * dim, 408 * dim)
      const first = await index.search(query, { k: 1, columns: ['title'] })
      expect(first.results).toEqual([{ file: 'p4.parquet', row: 7, distance: 0, values: { title: 'p4:7' } }])
      expect(asked).toEqual(['p0.parquet', 'p1.parquet', 'p4.parquet'])
      index.clearCache()
      const again = await index.search(query, { k: 1, columns: ['title'] })
      expect(again.results).toEqual(first.results)
      expect(again.stats.bytes).toBeLessThan(first.stats.bytes)
      expect(asked).toHaveLength(3)
      // the Data view's rows: the files holding them; a row's vector: its file
      expect(await index.readRowSpan(298, 302, ['title'])).toEqual(['p2:98', 'p2:99', 'p3:0', 'p3:1'].map((title) => ({ title })))
      expect(asked.slice(3)).toEqual(['p2.parquet', 'p3.parquet'])
      // p5 rewritten with other vectors since the build: the open did not read it; the first search
      // that needs it says it changed, the files before it still search
      write(5, clusteredVectors(6 * 100, dim, 7))
      await expect(index.search(v.subarray(512 * dim, 513 * dim), { k: 1, columns: ['title'] })).rejects.toThrow(
        /p5\.parquet: stale index: the file changed since the sidecar was built \(footer differs\); rebuild the sidecar/,
      )
      expect((await index.search(query, { k: 1, columns: ['title'] })).results).toEqual(first.results)
      // an exact search reads every file: p5 is refused again, not skipped
      await expect(index.searchExact([query], { k: 1 })).rejects.toThrow(/p5\.parquet: stale index/)
      // and `info` opens and checks every file
      const info = await cli(['info', join(dir, 'all.pqseek')])
      expect([info.code, info.stderr]).toEqual([1, expect.stringMatching(/p5\.parquet: stale index/)])
      // every name is resolved at open: a file left out of a page's pick is refused then, not at a search
      const picked = ['all.pqseek', ...names.slice(0, 5)].map((f) => new File([readFileSync(join(dir, f))], f))
      await expect(SidecarIndex.openFiles(picked, { connections: 2 })).rejects.toThrow(
        /all\.pqseek: names p5\.parquet: pick it together with the sidecar/,
      )
      // cancelled while its first files are read: no other file is asked for
      const cancel = new AbortController()
      const before: string[] = []
      const open = SidecarIndex.open(await sidecar(), resolver(before), {
        connections: 3,
        signal: cancel.signal,
        onProgress: (n) => n === 1 && cancel.abort(),
      })
      await expect(open).rejects.toThrow(AbortError)
      expect(before.sort()).toEqual(['p0.parquet', 'p1.parquet', 'p2.parquet'])
    } finally {
      for (const s of opened) await s.close()
    }
  })

  it("the page's engine tells how far an open has got, by its job; its Data view reads the files it has not opened yet", async () => {
    const dir = tempDir('pqs-sidecar-job-')
    const dim = 8
    // more files than the page's 16 connections: the last four are opened when first needed
    const names = Array.from({ length: 20 }, (_, i) => `p${i}.parquet`)
    const v = clusteredVectors(names.length * 50, dim, 99)
    for (const [part, name] of names.entries())
      writeListFile(
        join(dir, name),
        Array.from({ length: 50 }, (_, i) => Array.from(v.subarray((part * 50 + i) * dim, (part * 50 + i + 1) * dim))),
        {
          title: Array.from({ length: 50 }, (_, i) => `p${part}:${i}`),
          n: Array.from({ length: 50 }, (_, i) => String(part * 50 + i).padStart(4, '0')),
        },
      )
    const inputs = await Promise.all(names.map(async (name) => ({ name, source: await fileSource(join(dir, name)) })))
    await buildShared(inputs, await fileSink(join(dir, 'all.pqseek')), { column: 'embedding' })
    for (const i of inputs) await i.source.close()
    const server = await serveDir(dir, { host: 's3' })
    const api = engineApi()
    try {
      const job = api.job()
      expect(api.openProgress(job)).toBeUndefined()
      const { id, info } = await api.open(`${server.url}all.pqseek`, 'js', job)
      expect(api.openProgress(job)).toEqual({ opened: 16, files: 16 })
      api.done(job)
      expect(api.openProgress(job)).toBeUndefined()
      expect(info.sources?.map((s) => s.rows)).toEqual(Array(20).fill(50))
      // a row's details in a file not opened yet, the rows a filter keeps in every file, a sort of
      // them, the Data view's last rows
      const asked = server.requests
      // (a row past the last, as for one file: no values)
      expect(await api.rowsAt(id, [862, 1000], ['title'])).toEqual([{ title: 'p17:12' }, {}])
      // (its file's end, then its row: the other three files not asked for)
      expect(server.requests - asked).toBe(2)
      const kept = await api.filterRows(id, "title LIKE '%:7'")
      expect(Array.from(kept.rows)).toEqual(names.map((_, part) => part * 50 + 7))
      expect(Array.from(await api.orderRows(id, 'n', true, kept.rows))).toEqual(names.map((_, part) => (19 - part) * 50 + 7))
      expect(await api.rows(id, 998, 1000, ['title'])).toEqual([{ title: 'p19:48' }, { title: 'p19:49' }])
    } finally {
      await server.close()
    }
  })
})
