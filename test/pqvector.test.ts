import { readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { assignNearest } from '../src/compute/js.js'
import { kmeans } from '../src/compute/kmeans.js'
import { fileSource } from '../src/io/nodeFile.js'
import { flatSearch } from '../src/search/flat.js'
import { openPqVector, searchPqVector, withPqVectorIndex } from '../src/search/pqVector.js'
import { cli } from './helpers/cli.js'
import { clusteredVectors, duckdb, tempDir, writeListFile } from './helpers/fixtures.js'

const dir = tempDir('pqs-pqv-')
const rows = 2000
const dim = 16
const K = 20

/**
 * A file as pq-vector writes it (from its documented layout): the Parquet data as it was, the
 * index bytes after it, the footer again with `pq_vector_index_offset`.
 */
async function pqVectorFile(path: string, corrupt?: 'missing row' | 'row twice'): Promise<Float32Array> {
  const v = clusteredVectors(rows, dim, 31)
  const plain = join(dir, 'plain.parquet')
  writeListFile(
    plain,
    Array.from({ length: rows }, (_, i) => Array.from(v.subarray(i * dim, (i + 1) * dim))),
    { title: Array.from({ length: rows }, (_, i) => `t${i}`) },
  )
  const bytes = new Uint8Array(readFileSync(plain))
  const centroids = await kmeans(v, rows, dim, { k: K, iterations: 6, seed: 2 })
  const assign = new Uint32Array(rows)
  assignNearest(v, rows, dim, centroids, K, assign)
  const clusters = Array.from({ length: K }, (_, c) => Uint32Array.from(Array.from(assign.keys()).filter((i) => assign[i] === c)))
  if (corrupt === 'missing row') clusters[3] = Uint32Array.of(rows + 5) // a row the file does not have
  // cluster 3's first row also in cluster 4 (kept ascending): one row, two lists
  if (corrupt === 'row twice')
    clusters[4] = Uint32Array.from(new Set([...(clusters[4] as Uint32Array), (clusters[3] as Uint32Array)[0] as number])).sort()
  const out = withPqVectorIndex(bytes, dim, centroids, clusters)
  writeFileSync(path, out)
  return v
}

describe('pq-vector files (IVF-flat inside Parquet, written by the Rust pq-vector)', () => {
  it('open and search: probed clusters ranked exactly; all clusters = exact search; readers still read the file', async () => {
    const path = join(dir, 'pqv.parquet')
    const v = await pqVectorFile(path)
    const source = await fileSource(path)
    const { parquetMetadataAsync } = await import('hyparquet')
    const metadata = await parquetMetadataAsync(source)
    const index = await openPqVector(source, metadata)
    expect(index.clusters.length).toBe(K)
    expect(index.clusters.reduce((s, c) => s + c.length, 0)).toBe(rows)
    const q = v.subarray(7 * dim, 8 * dim)
    const few = await searchPqVector(source, metadata, index, q, { k: 5, nprobe: 2 })
    expect(few.hits[0]).toEqual({ row: 7, distance: 0, values: {} })
    expect(few.rowsScored).toBeLessThan(rows / 4)
    const all = await searchPqVector(source, metadata, index, q, { k: 10, nprobe: K })
    const [exact] = await flatSearch(source, metadata, [q], { column: 'embedding', metric: 'l2', k: 10 })
    expect(all.hits.map(({ row, distance }) => ({ row, distance }))).toEqual(exact)
    // the shared pipeline gives pq-vector files columns, filters and deleted rows too
    const filtered = await searchPqVector(source, metadata, index, q, { k: 3, nprobe: K, columns: ['title'], where: "title != 't7'" })
    expect(filtered.hits.map((h) => h.row)).toEqual(
      exact
        ?.filter((h) => h.row !== 7)
        .slice(0, 3)
        .map((h) => h.row),
    )
    expect(filtered.hits.map((h) => h.values.title)).toEqual(filtered.hits.map((h) => `t${h.row}`))
    const deleted = await searchPqVector(source, metadata, index, q, { k: 3, nprobe: K, deleted: [7] })
    expect(deleted.hits.map((h) => h.row)).toEqual(filtered.hits.map((h) => h.row))
    await source.close()
    // in Node, by its path: the same answers, its file let go by close()
    const { PqVectorFile } = await import('../src/node.js')
    const byPath = await PqVectorFile.open(path)
    const viaPath = await byPath.search(q, { k: 3, nprobe: K, columns: ['title'], where: "title != 't7'" })
    expect(viaPath.results).toEqual(filtered.hits)
    byPath.close()
    const db = await duckdb()
    const [[count]] = (await db.rows(`SELECT count(*) FROM '${path}'`)) as [[bigint]]
    db.close()
    expect(Number(count)).toBe(rows)
  })

  it('the CLI searches it, and a corrupt index is a one-line error naming the problem', async () => {
    const path = join(dir, 'pqv-cli.parquet')
    await pqVectorFile(path)
    const r = await cli(['search', path, '--query-row', '11', '--k', '3', '--nprobe', '3', '--columns', 'title', '--json'])
    expect(r.code).toBe(0)
    const { results, stats } = JSON.parse(r.stdout)
    expect(results[0]).toEqual({ row: 11, distance: 0, values: { title: 't11' } })
    expect(stats).toMatchObject({ mode: 'pq-vector', clustersProbed: 3 })
    // --deleted reaches it as --where does (it was dropped)
    const d = await cli(['search', path, '--query-row', '11', '--k', '3', '--nprobe', '3', '--deleted', '11', '--json'])
    expect(JSON.parse(d.stdout).results.map((x: { row: number }) => x.row)).not.toContain(11)
    // bench measures it like any index (over the built-in range server, an S3-style host)
    const b = await cli(['bench', path, '--queries', path, '--limit', '10', '--json'])
    expect(b.code).toBe(0)
    const bench = JSON.parse(b.stdout)
    expect(bench).toMatchObject({ kind: 'pq-vector file', nprobe: 8, nlist: K, host: 's3' })
    expect(bench.recall).toBeGreaterThan(0.5)
    expect(bench.coldRoundTrips).toBeGreaterThan(0)
    // and join takes it: every row's nearest other row, through its clusters
    const pairs = join(dir, 'pqv-pairs.parquet')
    const j = await cli(['join', path, path, '--out', pairs, '--k', '1', '--exclude-self', '--nprobe', '3', '--json'])
    expect(j.code).toBe(0)
    expect(JSON.parse(j.stdout)).toMatchObject({ queries: rows, pairs: rows })
    // a file with neither index: bench and join say so, naming the command that builds one
    const plainFile = join(dir, 'plain-for-bench.parquet')
    writeListFile(plainFile, [
      [1, 2],
      [3, 4],
    ])
    for (const args of [
      ['bench', plainFile, '--queries', plainFile],
      ['join', plainFile, plainFile, '--out', join(dir, 'never.parquet')],
    ]) {
      const none = await cli(args)
      expect(none.code).toBe(1)
      expect(none.stderr).toContain('has no ParquetSeek index (build one with `parquetseek index`)')
    }
    const bad = join(dir, 'pqv-bad.parquet')
    await pqVectorFile(bad, 'missing row')
    const e = await cli(['search', bad, '--query-row', '11'])
    expect(e.code).toBe(1)
    expect(e.stderr.trim()).toMatch(
      /pqv-bad.parquet, section pq-vector index, byte \d+: pq-vector index: cluster 3 names row 2005 of a 2000-row file$/,
    )
    // a row in two clusters, both probed: refused, never returned twice
    const twice = join(dir, 'pqv-twice.parquet')
    await pqVectorFile(twice, 'row twice')
    const t = await cli(['search', twice, '--query-row', '11', '--nprobe', String(K)])
    expect(t.code).toBe(1)
    expect(t.stderr.trim()).toMatch(/pqv-twice.parquet, section lists: row \d+ is in more than one list \(each row belongs to one\)$/)
  })
})
