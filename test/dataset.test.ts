import { writeFileSync } from 'node:fs'
import { basename, isAbsolute, join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { type RangeServer, serveDir, serveFile } from '../src/cli/rangeServer.js'
import { mulberry32 } from '../src/compute/random.js'
import { AbortError } from '../src/errors.js'
import { buildIndex } from '../src/index/build.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { JointSearches } from '../src/query/joint.js'
import { searchExact } from '../src/query/memory.js'
import { isManifestAddress, SeekDataset } from '../src/search/dataset.js'
import { tailShare } from '../src/search/open.js'
import { SidecarIndex } from '../src/search/sidecarIndex.js'
import { engineApi } from '../workers/engineApi.js'
import { cli } from './helpers/cli.js'
import { clusteredVectors, tempDir, writeListFile } from './helpers/fixtures.js'

/**
 * `count` indexed files of `per` rows of `v` (dim-d) each, `${prefix}${s}.indexed.parquet` in
 * `dir` beside their inputs; with `titles`, a column title holding `${prefix}${s}-${row}`. Their paths.
 */
async function indexedShards(dir: string, prefix: string, v: Float32Array, dim: number, count: number, per: number, titles = false) {
  const paths: string[] = []
  for (let s = 0; s < count; s++) {
    const input = join(dir, `${prefix}${s}.parquet`)
    const rows = Array.from({ length: per }, (_, i) => Array.from(v.subarray((s * per + i) * dim, (s * per + i + 1) * dim)))
    writeListFile(input, rows, titles ? { title: Array.from({ length: per }, (_, i) => `${prefix}${s}-${i}`) } : {})
    const out = join(dir, `${prefix}${s}.indexed.parquet`)
    const src = await fileSource(input)
    await buildIndex(src, await fileSink(out, input), { column: 'embedding' })
    await src.close()
    paths.push(out)
  }
  return paths
}

describe('a dataset of many indexed files', () => {
  it('one query over every shard from a manifest, merged top-k: the same rows as exact search over all', async () => {
    const dir = tempDir('pqs-dataset-')
    const shards = 4
    const per = 1000
    const dim = 12
    const v = clusteredVectors(shards * per, dim, 51)
    const servers: RangeServer[] = []
    try {
      for (let s = 0; s < shards; s++) {
        const input = join(dir, `part-${s}.parquet`)
        const rows = Array.from({ length: per }, (_, i) => Array.from(v.subarray((s * per + i) * dim, (s * per + i + 1) * dim)))
        writeListFile(input, rows, { title: Array.from({ length: per }, (_, i) => `p${s}-${i}`) })
        const out = join(dir, `part-${s}.indexed.parquet`)
        const src = await fileSource(input)
        await buildIndex(src, await fileSink(out, input), { column: 'embedding' })
        await src.close()
        servers.push(await serveFile(out))
      }
      const manifestUrl = 'https://static.example/data/manifest.json'
      const fetchManifest = (async (url: string | URL) => {
        if (String(url) !== manifestUrl) throw new Error(`unexpected fetch ${url}`)
        return new Response(JSON.stringify({ files: servers.map((s) => s.url) }))
      }) as typeof fetch
      // shards on another origin than the manifest's are read only when the caller allows them
      await expect(SeekDataset.fromManifest(manifestUrl, { fetch: fetchManifest })).rejects.toThrow(
        /source "http:\/\/127\.0\.0\.1:\d+\/part-0\.indexed\.parquet" is on another origin/,
      )
      const dataset = await SeekDataset.fromManifest(manifestUrl, {
        fetch: fetchManifest,
        concurrency: 2,
        allowSources: ['http://127.0.0.1:'],
      })
      expect(dataset.rows).toBe(shards * per)
      // rows numbered across the shards: part-2's row 345 is row 2,345, its vector the one stored there
      expect(dataset.shardOf(2345)).toEqual({ shard: 2, row: 345 })
      expect(dataset.shardOf(999)).toEqual({ shard: 0, row: 999 })
      expect(dataset.shardOf(1000)).toEqual({ shard: 1, row: 0 })
      expect(Array.from(await dataset.vectorOf(2345))).toEqual(Array.from(v.subarray(2345 * dim, 2346 * dim)))
      expect(() => dataset.shardOf(shards * per)).toThrow('row 4000 is not in the dataset (4000 rows in 4 files)')
      // the shards' vectors name no model: no text queries
      expect(dataset.encoder).toBeUndefined()
      // rows read across a shard boundary, and exact search over every shard, rows numbered across them
      expect((await dataset.readRowSpan(998, 1002, ['title'])).map((r) => r.title)).toEqual(['p0-998', 'p0-999', 'p1-0', 'p1-1'])
      const all = Uint32Array.from({ length: shards * per }, (_, i) => i)
      const probe = v.slice(2345 * dim, 2346 * dim)
      const [exact] = await dataset.searchExact([probe], { k: 5 })
      const want = searchExact('l2', v, all, probe, 5)
      expect(exact?.map((h) => h.row)).toEqual(want.map((h) => h.row))
      for (const [i, h] of (exact ?? []).entries()) expect(h.distance).toBeCloseTo(want[i]?.distance as number, 4)
      // lists probed, numbered across the shards: each shard's own, after the lists of those before it
      const probed = await dataset.search(probe, { k: 5 })
      const bases = dataset.listBases
      expect(bases).toEqual(dataset.shards.map((_, i) => dataset.shards.slice(0, i).reduce((n, s) => n + s.params.nlist, 0)))
      expect(probed.probed).toHaveLength(probed.stats.perShard.reduce((n, s) => n + s.listsProbed, 0))
      for (let s = 0; s < shards; s++)
        expect(
          probed.probed.filter((l) => l >= (bases[s] as number) && l < (bases[s] as number) + (dataset.shards[s]?.params.nlist as number))
            .length,
        ).toBe(probed.stats.perShard[s]?.listsProbed)
      const ids = Uint32Array.from({ length: shards * per }, (_, i) => i)
      let hits = 0
      const queries = clusteredVectors(20, dim, 52)
      for (let q = 0; q < 20; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim)
        const { results, stats } = await dataset.search(query, { k: 10, columns: ['title'] })
        expect(stats.shards).toBe(shards)
        expect(results.map((r) => r.distance)).toEqual([...results.map((r) => r.distance)].sort((a, b) => a - b))
        for (const r of results) expect(r.values.title).toBe(`p${r.shard}-${r.row}`)
        const truth = new Set(searchExact('l2', v, ids, query, 10).map((h) => h.row))
        for (const r of results) if (truth.has(r.shard * per + r.row)) hits++
      }
      expect(hits / 200).toBeGreaterThanOrEqual(0.95)
      // the CLI, on a local manifest of relative paths
      const manifest = join(dir, 'manifest.json')
      writeFileSync(manifest, JSON.stringify({ files: Array.from({ length: shards }, (_, s) => `part-${s}.indexed.parquet`) }))
      const query = Array.from(v.subarray(2345 * dim, 2346 * dim))
      const r = await cli(['search', manifest, '--query', JSON.stringify(query), '--k', '3', '--columns', 'title', '--json'])
      expect(r.code).toBe(0)
      const other = await cli(['search', manifest, '--query', JSON.stringify(query), '--column', 'title'])
      expect([other.code, other.stderr]).toEqual([
        2,
        expect.stringMatching(/--column title: this dataset's index is on column "embedding"/),
      ])
      const out = JSON.parse(r.stdout)
      expect(out.stats.shards).toBe(shards)
      // --backend reaches every shard (a manifest's search used to ignore it)
      expect(out.stats.backend).toBe('wasm')
      const js = await cli(['search', manifest, '--query', JSON.stringify(query), '--k', '3', '--backend', 'js', '--json'])
      expect(js.code, js.stderr).toBe(0)
      const jsOut = JSON.parse(js.stdout)
      expect([jsOut.stats.backend, ...jsOut.stats.perShard.map((p: { backend: string }) => p.backend)]).toEqual(
        Array(shards + 1).fill('js'),
      )
      expect(jsOut.results.map((h: { row: number }) => h.row)).toEqual(out.results.map((h: { row: number }) => h.row))
      expect(out.results[0]).toMatchObject({ shard: 2, row: 345, distance: 0, values: { title: 'p2-345' } })
      expect(out.results[0].file).toMatch(/part-2\.indexed\.parquet$/)
      // rows never to return are numbered across the shards, as the dataset's rows are: 2,345 is
      // part-2's row 345; 345, part-0's (it was ignored by the CLI, and the library took a number
      // as every shard's own row)
      const without = async (deleted: number[]) =>
        (await dataset.search(probe, { k: 3, deleted })).results.map((h) => `${h.shard}:${h.row}`)
      const kept = await without([])
      expect(kept[0]).toBe('2:345')
      expect(await without([345])).toEqual(kept)
      expect(await without([2345, 99_999])).toEqual([...kept.slice(1), expect.any(String)])
      const gone = await cli(['search', manifest, '--query', JSON.stringify(query), '--k', '3', '--deleted', '2345', '--json'])
      expect(gone.code, gone.stderr).toBe(0)
      const left = JSON.parse(gone.stdout).results.map((h: { shard: number; row: number }) => `${h.shard}:${h.row}`)
      expect(left).not.toContain('2:345')
      expect(left[0]).toBe(kept[1])
      // info: the manifest's files, each opened
      const info = await cli(['info', manifest, '--json'])
      expect(info.code, info.stderr).toBe(0)
      expect(JSON.parse(info.stdout)).toMatchObject({ kind: 'manifest', rows: shards * per, column: 'embedding' })
      expect(JSON.parse(info.stdout).files.map((f: { rows: number }) => f.rows)).toEqual(Array(shards).fill(per))
      // join over the manifest: rows numbered across the shards (part-2's row 345 is 2345)
      const pairs = join(dir, 'pairs.parquet')
      const joined = await cli(['join', join(dir, 'part-2.parquet'), manifest, '--out', pairs, '--k', '1', '--json'])
      expect(joined.code).toBe(0)
      expect(JSON.parse(joined.stdout)).toMatchObject({ queries: per, pairs: per })
      const { parquetReadObjects } = await import('hyparquet')
      const { asyncBufferFromFile } = await import('hyparquet')
      const found = await parquetReadObjects({ file: await asyncBufferFromFile(pairs) })
      expect(found.filter((p) => p.row === 2 * per + Number(p.query) && p.distance === 0).length).toBeGreaterThan(0.95 * per)
      const bad = (async () => new Response('{"files": []}')) as unknown as typeof fetch
      await expect(SeekDataset.fromManifest(manifestUrl, { fetch: bad })).rejects.toThrow(/the manifest needs "files"/)
      // a shard listed twice, by any spelling, answered every query twice
      const twice = (async () => new Response('{"files": ["a.parquet", "sub/../a.parquet"]}')) as unknown as typeof fetch
      await expect(SeekDataset.fromManifest(manifestUrl, { fetch: twice })).rejects.toThrow(
        'https://static.example/data/a.parquet is listed twice (files 0 and 1): its rows would count twice',
      )
      writeFileSync(manifest, JSON.stringify({ files: ['part-0.indexed.parquet', './part-1.indexed.parquet', 'part-0.indexed.parquet'] }))
      const repeated = await cli(['search', manifest, '--query', JSON.stringify(query)])
      expect([repeated.code, repeated.stderr.trim()]).toEqual([
        1,
        expect.stringMatching(/manifest\.json: .*part-0\.indexed\.parquet is listed twice \(files 0 and 2\)/),
      ])
    } finally {
      for (const s of servers) await s.close()
    }
  })
})

describe('a manifest address', () => {
  it('is a .json path, or a URL whose path ends in .json whatever its query string', () => {
    expect(['data/manifest.json', 'M.JSON', 'https://cdn.example/m.json?sig=1', 'hf://datasets/a/b/m.json'].map(isManifestAddress)).toEqual(
      [true, true, true, true],
    )
    expect(
      ['data.parquet', 'https://cdn.example/m.json.parquet', 'https://cdn.example/data?f=m.json', 'all.pqseek'].map(isManifestAddress),
    ).toEqual([false, false, false, false])
  })
})

describe("a dataset's open over many files", () => {
  it('reports each shard opened, of all, and opens no more once cancelled', async () => {
    const dir = tempDir('pqs-dataset-progress-')
    const dim = 8
    const paths = await indexedShards(dir, 'p', clusteredVectors(4 * 300, dim, 53), dim, 4, 300)
    const sources = await Promise.all(paths.map((p) => fileSource(p)))
    try {
      const read = new Set<string>()
      // each shard's reads, seen
      const watched = sources.map((s) => ({
        ...s,
        slice: (a: number, b?: number, signal?: AbortSignal) => {
          read.add(s.name)
          return s.slice(a, b, signal)
        },
      }))
      const seen: Array<[number, number]> = []
      const all = await SeekDataset.open(watched, { onProgress: (n, of) => seen.push([n, of]) })
      expect(all.rows).toBe(1200)
      expect(seen).toEqual([0, 1, 2, 3, 4].map((n) => [n, 4]))
      read.clear()
      const cancel = new AbortController()
      const open = SeekDataset.open(watched, { concurrency: 1, signal: cancel.signal, onProgress: (n) => n === 2 && cancel.abort() })
      await expect(open).rejects.toThrow(AbortError)
      expect([...read].sort()).toEqual(['p0.indexed.parquet', 'p1.indexed.parquet'])
    } finally {
      for (const s of sources) await s.close()
    }
  })
})

describe('a dataset keeps what its shards read within one budget', () => {
  it('four shards keep 64 MiB each, as one file does; eight keep half as much each; a budget given is shared out too', async () => {
    const dir = tempDir('pqs-dataset-cache-')
    const dim = 8
    const paths = await indexedShards(dir, 'c', clusteredVectors(8 * 100, dim, 57), dim, 8, 100)
    const sources = await Promise.all(paths.map((p) => fileSource(p)))
    try {
      const budgets = (d: SeekDataset) => d.shards.map((s) => s.opened.cached.budgetBytes)
      expect(budgets(await SeekDataset.open(sources.slice(0, 4)))).toEqual(Array(4).fill(64 << 20))
      expect(budgets(await SeekDataset.open(sources))).toEqual(Array(8).fill(32 << 20))
      expect(budgets(await SeekDataset.open(sources, { cacheBytes: 8 << 20 }))).toEqual(Array(8).fill(1 << 20))
    } finally {
      for (const s of sources) await s.close()
    }
  })
})

describe("a dataset's open reads as much as four files would", () => {
  it('each of 8 shards reads 512 KiB of its end first, not 1 MiB; 2 shards 1 MiB each; a tailBytes given is kept', async () => {
    const dir = tempDir('pqs-dataset-tail-')
    const dim = 64
    // one file of ~1.2 MB, opened as 8 shards: its end read first is what the share allows
    const [path] = await indexedShards(dir, 't', clusteredVectors(4000, dim, 63), dim, 1, 4000)
    const source = await fileSource(path as string)
    try {
      const firstReads: number[] = []
      const shards = (n: number) =>
        Array.from({ length: n }, (_, i) => {
          let first = true
          return {
            ...source,
            name: `t${i}.indexed.parquet`,
            slice: (a: number, b?: number, signal?: AbortSignal) => {
              if (first) firstReads.push((b ?? source.byteLength) - a)
              first = false
              return source.slice(a, b, signal)
            },
          }
        })
      expect(source.byteLength).toBeGreaterThan(1 << 20)
      const eight = await SeekDataset.open(shards(8))
      expect(firstReads).toEqual(Array(8).fill(512 << 10))
      expect((await eight.search(clusteredVectors(1, dim, 64), { k: 3 })).results).toHaveLength(3)
      firstReads.length = 0
      await SeekDataset.open(shards(2))
      expect(firstReads).toEqual(Array(2).fill(1 << 20))
      firstReads.length = 0
      await SeekDataset.open(shards(8), { tailBytes: 200_000 })
      expect(firstReads).toEqual(Array(8).fill(200_000))
      // a shard whose footer and head lie further back than its share reads the rest in one more request
      firstReads.length = 0
      const short = await SeekDataset.open(shards(2), { tailBytes: 4096 })
      expect(firstReads).toEqual([4096, 4096])
      expect(short.shards.map((s) => s.opened.open.requests)).toEqual([2, 2])
      expect((await short.search(clusteredVectors(1, dim, 64), { k: 3 })).results).toHaveLength(3)
      expect([1, 4, 8, 32, 64, 1000].map(tailShare)).toEqual([1 << 20, 1 << 20, 512 << 10, 128 << 10, 64 << 10, 64 << 10])
    } finally {
      await source.close()
    }
  })
})

describe("a manifest in the page's engine (the app's worker)", () => {
  it('opens as one table of its files, refusing files on another site until allowed, each hit naming its file', async () => {
    const dir = tempDir('pqs-dataset-page-')
    const dim = 8
    const v = clusteredVectors(2 * 500, dim, 54)
    const servers: RangeServer[] = []
    try {
      for (const path of await indexedShards(dir, 'q', v, dim, 2, 500, true)) servers.push(await serveFile(path))
      // the manifest on its own origin, its files each on another
      writeFileSync(join(dir, 'manifest.json'), JSON.stringify({ files: servers.map((s) => s.url) }))
      const site = await serveDir(dir)
      servers.push(site)
      const api = engineApi()
      await expect(api.open(`${site.url}manifest.json`, 'js')).rejects.toThrow(/is on another origin \(http:\/\/127\.0\.0\.1:\d+\)/)
      const { id, info } = await api.open(`${site.url}manifest.json`, 'js', undefined, ['http://127.0.0.1:'])
      expect(info).toMatchObject({ kind: 'manifest', rows: 1000, sources: [{ rows: 500 }, { rows: 500 }] })
      expect((await api.rows(id, 498, 502, ['title'])).map((r) => r.title)).toEqual(['q0-498', 'q0-499', 'q1-0', 'q1-1'])
      // the Data view's filter: the rows passing in either file, numbered across them; then any
      // rows, in the order asked (near ones read as one span, far ones and the other file's apart)
      const { rows: passing } = await api.filterRows(id, "title LIKE '%-1_'")
      expect(Array.from(passing)).toEqual([
        ...Array.from({ length: 10 }, (_, i) => 10 + i),
        ...Array.from({ length: 10 }, (_, i) => 510 + i),
      ])
      const asked = [519, 10, 11, 12, 515, 40, 499]
      expect((await api.rowsAt(id, asked, ['title'])).map((r) => r.title)).toEqual(
        asked.map((r) => (r < 500 ? `q0-${r}` : `q1-${r - 500}`)),
      )
      await expect(api.filterRows(id, 'colour = 1')).rejects.toThrow('--where names no such column')
      // the Data view's sort over both files: every row, or those the filter kept, by title
      const byTitle = (rows: number[], descending: boolean) => {
        const title = (r: number) => (r < 500 ? `q0-${r}` : `q1-${r - 500}`)
        return [...rows].sort((a, b) => (title(a) < title(b) ? -1 : 1) * (descending ? -1 : 1))
      }
      const every = Array.from({ length: 1000 }, (_, i) => i)
      expect(Array.from(await api.orderRows(id, 'title', true, undefined))).toEqual(byTitle(every, true))
      expect(Array.from(await api.orderRows(id, 'title', false, passing))).toEqual(byTitle(Array.from(passing), false))
      // and as CSV: those rows in that order, each numbered across the files and in its own file, with its title
      const sorted = await api.orderRows(id, 'title', true, passing)
      expect(await (await api.rowsCsv(id, sorted, ['title'])).text()).toBe(
        [
          'row,file,file_row,title',
          ...byTitle(Array.from(passing), true).map((r) =>
            r < 500 ? `${r},q0.indexed.parquet,${r},q0-${r}` : `${r},q1.indexed.parquet,${r - 500},q1-${r - 500}`,
          ),
          '',
        ].join('\r\n'),
      )
      const found = await api.search(id, { row: 777 }, { k: 3, columns: ['title'] })
      expect(found.results[0]).toMatchObject({ row: 777, distance: 0, values: { title: 'q1-277' }, fileRow: 277 })
      expect(found.results[0]?.file).toMatch(/^q1\.indexed\.parquet$/)
      // the map holds both files' lists, and the lists probed are among them
      const { sizes } = api.indexView(id)
      expect(sizes.reduce((n, s) => n + s, 0)).toBeGreaterThanOrEqual(1000)
      for (const l of found.probed) expect(l).toBeLessThan(sizes.length)
    } finally {
      for (const s of servers) await s.close()
    }
  })
})

describe("a dataset's shards shortlisted together", () => {
  const ranked = (rows: number[], distances: number[]) => ({ rows: Uint32Array.from(rows), distances: Float64Array.from(distances) })

  it('keep the first k × refine of all by PQ distance, down to the cut against the k-th of all; ties to the earlier shard, then the lower row', async () => {
    const joint = new JointSearches(3)
    // k 2, keep 6, cut 1: the 2nd of all is shard 1's row 7 at 2, so nothing past 4 is kept
    const a = joint.member(0).shortlist([ranked([5, 9, 3, 8], [1, 3, 3, 9])], 2, 6, 1)
    const b = joint.member(1).shortlist([ranked([7, 4, 2], [2, 3, 4.5])], 2, 4, 0.5)
    // a shard ranking its rows directly (no PQ estimates) keeps its own
    const c = joint.member(2).shortlist(undefined, 2, 0, 0)
    expect((await a)?.map((r) => Array.from(r))).toEqual([[5, 3, 9]])
    expect((await b)?.map((r) => Array.from(r))).toEqual([[7, 4]])
    // keep 3 (both shards' largest): at distance 3 shard 0's rows 3 and 9 come before shard 1's row 4
    const tied = new JointSearches(2)
    const [x, y] = await Promise.all([
      tied.member(0).shortlist([ranked([5, 9, 3], [1, 3, 3])], 2, 3, Number.POSITIVE_INFINITY),
      tied.member(1).shortlist([ranked([4, 7], [3, 3])], 2, 2, 0),
    ])
    expect([x?.map((r) => Array.from(r)), y?.map((r) => Array.from(r))]).toEqual([[[5, 3, 9]], [[]]])
    expect(await c).toBeUndefined()
  })

  it('answer no shard before every shard has sent its own, and a shard that fails ends the wait for all', async () => {
    const joint = new JointSearches(2)
    let answered = false
    const first = joint
      .member(0)
      .shortlist([ranked([1], [1])], 1, 10, Number.POSITIVE_INFINITY)
      .then(() => {
        answered = true
      })
    await new Promise((r) => setTimeout(r, 10))
    expect(answered).toBe(false)
    joint.fail(new Error('shard 1: HTTP 500'))
    await expect(first).rejects.toThrow('shard 1: HTTP 500')
  })

  it('re-rank about the candidates one index would, read columns of the merged top k only, and find what exact search finds', async () => {
    const dir = tempDir('pqs-dataset-joint-')
    const dim = 12
    const shards = 6
    const per = 600
    const v = clusteredVectors(shards * per, dim, 61)
    const paths = await indexedShards(dir, 'j', v, dim, shards, per, true)
    const sources = await Promise.all(paths.map((p) => fileSource(p)))
    try {
      const dataset = await SeekDataset.open(sources)
      const refine = Math.max(...dataset.shards.map((s) => s.params.refine ?? 10))
      const queries = clusteredVectors(30, dim, 62)
      const all = Uint32Array.from({ length: shards * per }, (_, i) => i)
      let hits = 0
      for (let q = 0; q < 30; q++) {
        const query = queries.subarray(q * dim, (q + 1) * dim)
        // (adjacent off: a local file's reads would bring every row stored between two candidates)
        const { results, stats } = await dataset.search(query, { k: 10, columns: ['title'], adjacent: false })
        // every shard scanned its lists, but together they re-ranked one index's k × refine, where
        // each shard re-ranked its own k × refine before
        expect(stats.perShard.every((s) => s.listsProbed > 0)).toBe(true)
        expect(stats.perShard.reduce((n, s) => n + s.candidates, 0)).toBeLessThanOrEqual(10 * refine)
        for (const r of results) expect(r.values.title).toBe(`j${r.shard}-${r.row}`)
        const truth = new Set(searchExact('l2', v, all, query, 10).map((h) => h.row))
        for (const r of results) if (truth.has(r.shard * per + r.row)) hits++
      }
      expect(hits / 300).toBeGreaterThanOrEqual(0.9)
      // the columns of the merged hits only, each shard reading its own
      const asked: Array<[number, number[]]> = []
      for (const [i, shard] of dataset.shards.entries()) {
        const read = shard.readColumns.bind(shard)
        shard.readColumns = (rows, columns, signal) => {
          asked.push([i, rows])
          return read(rows, columns, signal)
        }
      }
      const own = v.slice((4 * per + 17) * dim, (4 * per + 18) * dim)
      const [first] = (await dataset.search(own, { k: 1, columns: ['title'] })).results
      expect(first).toMatchObject({ shard: 4, row: 17, distance: 0, values: { title: 'j4-17' } })
      expect(asked).toEqual([[4, [17]]])
      asked.length = 0
      const { results } = await dataset.search(queries.subarray(0, dim), { k: 10, columns: ['title'] })
      const hitsByShard = dataset.shards
        .map((_, i): [number, number[]] => [
          i,
          results
            .filter((r) => r.shard === i)
            .map((r) => r.row)
            .sort((a, b) => a - b),
        ])
        .filter(([, rows]) => rows.length)
      expect(asked.sort((a, b) => a[0] - b[0])).toEqual(hitsByShard)
    } finally {
      for (const s of sources) await s.close()
    }
  })
})

describe('distinct over many files (a sidecar, a manifest)', () => {
  it("a passage's text is its file's own (parquetseek_doc numbers each file's input rows); any other column's value is one value across the files", async () => {
    const dir = tempDir('pqs-distinct-')
    const texts = 40
    const per = 4
    const dim = 8
    const v = clusteredVectors(texts * per, dim, 61)
    const rows = Array.from({ length: texts * per }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim)))
    // two files of passages as `embed --passages` writes them from two inputs, so their texts
    // have the same numbers; the second holds the first's vectors, so every passage has a twin
    // at the same distance in the other file: text 3 of a.parquet is not text 3 of b.parquet
    const extra = {
      parquetseek_doc: rows.map((_, i) => String(Math.floor(i / per))),
      topic: rows.map((_, i) => `t${Math.floor(i / per) % 7}`),
    }
    const names = ['a', 'b']
    for (const name of names) {
      writeListFile(join(dir, `${name}.parquet`), rows, extra)
      const src = await fileSource(join(dir, `${name}.parquet`))
      await buildIndex(src, await fileSink(join(dir, `${name}.indexed.parquet`), join(dir, `${name}.parquet`)), { column: 'embedding' })
      await src.close()
    }
    const built = await cli([
      'index',
      '--sidecar',
      join(dir, 'all.pqseek'),
      ...names.map((n) => join(dir, `${n}.parquet`)),
      '--column',
      'embedding',
    ])
    expect(built.code, built.stderr).toBe(0)
    const opened: Array<{ close(): Promise<void> }> = []
    const open = async (path: string) => {
      const s = await fileSource(path)
      opened.push(s)
      return s
    }
    const sidecar = await SidecarIndex.open(await open(join(dir, 'all.pqseek')), (name) => open(isAbsolute(name) ? name : join(dir, name)))
    const dataset = await SeekDataset.open(await Promise.all(names.map((n) => open(join(dir, `${n}.indexed.parquet`)))))
    try {
      const query = v.subarray(5 * dim, 6 * dim)
      // what exact search gives: every passage of both files by distance (ties: a.parquet first,
      // then the lower row), the first of each key kept
      const l2 = (row: number) => (rows[row] as number[]).reduce((s, x, c) => s + (x - (query[c] as number)) ** 2, 0)
      const ranked = names.flatMap((file) => rows.map((_, row) => ({ file, row, d: l2(row) }))).sort((x, y) => x.d - y.d)
      const expected = (key: (h: { file: string; row: number }) => string, k: number) => {
        const seen = new Set<string>()
        return ranked.filter((h) => !seen.has(key(h)) && seen.add(key(h))).slice(0, k)
      }
      const doc = (row: number) => extra.parquetseek_doc[row] as string
      const byText = expected((h) => `${h.file}/${doc(h.row)}`, 6)
      const byTopic = expected((h) => extra.topic[h.row] as string, 5)
      // each twin kept: three texts of each file
      expect(byText.map((h) => `${h.file}/${doc(h.row)}`)).toEqual(
        byText.flatMap((h, i) => (i % 2 ? [] : [`a/${doc(h.row)}`, `b/${doc(h.row)}`])),
      )
      // every list probed, every candidate re-ranked: what is tested is which rows distinct
      // keeps, against exact search, not what IVF finds
      const asked = { k: 6, nprobe: 1000, refine: 1000 }
      const shown = (hits: Array<{ file: string; row: number }>) =>
        hits.map((h) => `${basename(h.file, '.parquet').replace('.indexed', '')}:${h.row}`)
      const want = (hits: Array<{ file: string; row: number }>) => hits.map((h) => `${h.file}:${h.row}`)
      for (const [what, search] of [
        ['sidecar', (o: object) => sidecar.search(query, o)],
        ['manifest', (o: object) => dataset.search(query, o)],
      ] as const) {
        const texts = (await search({ ...asked, distinct: 'parquetseek_doc' })).results
        expect(shown(texts), what).toEqual(want(byText))
        // (the column is not returned unless asked for)
        expect(
          texts.every((h) => !('parquetseek_doc' in h.values)),
          what,
        ).toBe(true)
        const topics = (await search({ ...asked, k: 5, distinct: 'topic', columns: ['topic'] })).results
        expect(shown(topics), what).toEqual(want(byTopic))
        expect(new Set(topics.map((h) => h.values.topic)).size, what).toBe(5)
      }
    } finally {
      for (const s of opened) await s.close()
    }
  })

  it('a manifest finds k values as one file does: one pool of rows across the shards, widened when the nearest 5 × k hold fewer', async () => {
    const dir = tempDir('pqs-distinct-wide-')
    const dim = 8
    const each = 12 // a text's passages: near copies of one vector, so 5 × k = 25 rows hold about 3 texts
    const rand = mulberry32(9)
    const centers = Array.from({ length: 60 }, () => Array.from({ length: dim }, () => rand() * 10))
    const rows = centers.flatMap((c) => Array.from({ length: each }, () => c.map((x) => x + (rand() - 0.5) * 0.01)))
    const doc = rows.map((_, r) => `d${Math.floor(r / each)}`)
    // texts 0–29 in one file, 30–59 in the other: the nearest texts lie in both
    const half = rows.length / 2
    const paths: string[] = []
    for (const [i, part] of [rows.slice(0, half), rows.slice(half)].entries()) {
      const input = join(dir, `p${i}.parquet`)
      writeListFile(input, part, { doc: doc.slice(i * half, (i + 1) * half) })
      const src = await fileSource(input)
      paths.push(join(dir, `p${i}.indexed.parquet`))
      await buildIndex(src, await fileSink(paths[i] as string, input), { column: 'embedding', nlist: 8 })
      await src.close()
    }
    const query = (centers[0] as number[]).map((x, c) => x + (c % 2 ? 2 : -2))
    const nearest = new Map<string, number>()
    for (const [r, v] of rows.entries()) {
      const d2 = v.reduce((n, x, c) => n + (x - (query[c] as number)) ** 2, 0)
      nearest.set(doc[r] as string, Math.min(nearest.get(doc[r] as string) ?? Number.POSITIVE_INFINITY, d2))
    }
    const want = [...nearest].sort((a, b) => a[1] - b[1]).slice(0, 5)
    expect(new Set(want.map(([d]) => Number(d.slice(1)) < 30)).size).toBe(2) // from both files
    const dataset = await SeekDataset.open(paths)
    // every list probed: what is tested is which values come back, not what IVF finds
    const found = await dataset.search(query, { k: 5, nprobe: 8, distinct: 'doc', columns: ['doc'] })
    expect(found.results.map((h) => h.values.doc)).toEqual(want.map(([d]) => d))
    for (const [i, h] of found.results.entries()) expect(h.distance).toBeCloseTo(Math.sqrt(want[i]?.[1] as number), 3)
    const plain = await dataset.search(query, { k: 25, nprobe: 8, columns: ['doc'] })
    expect(new Set(plain.results.map((h) => h.values.doc)).size).toBeLessThan(5) // what one pool of 5 × k held
    dataset.close()
  })
})
