import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { serveFile } from '../src/cli/rangeServer.js'
import { modelFileBytes, modelId, readModelFile } from '../src/index/partitioned.js'
import { fileSource } from '../src/io/nodeFile.js'
import { searchExact } from '../src/query/memory.js'
import { SidecarIndex } from '../src/search/sidecarIndex.js'
import { cli } from './helpers/cli.js'
import { clusteredVectors, tempDir, writeListFile } from './helpers/fixtures.js'

const per = 1500
const dim = 12
const names = ['a.parquet', 'b.parquet', 'c.parquet']

/** Three files cut from one clustered set (file i holds rows i·per … (i+1)·per − 1 of it). */
function threeFiles(dir: string, seed = 71) {
  const v = clusteredVectors(3 * per, dim, seed)
  for (const [part, name] of names.entries())
    writeListFile(
      join(dir, name),
      Array.from({ length: per }, (_, i) => Array.from(v.subarray((part * per + i) * dim, (part * per + i + 1) * dim))),
      { title: Array.from({ length: per }, (_, i) => `${name}:${i}`) },
    )
  return v
}

const ok = async (args: string[]) => {
  const r = await cli(args[0] === 'search' || args[0] === 'info' ? args : [...args, '--threads', '1'])
  expect(r.stderr.split('\n').filter((l) => /parquetseek/.test(l))).toEqual([])
  expect(r.code).toBe(0)
  return r
}

describe('one index over many files, built in separate steps', () => {
  it('train, encode each file in parallel, merge: the same sidecar as one `index --sidecar`, and it searches', async () => {
    const dir = tempDir('pqs-shared-')
    const v = threeFiles(dir)
    mkdirSync(join(dir, 'parts'))
    const model = join(dir, 'parts', 'model.pqmodel')
    const files = names.map((n) => join(dir, n))
    await ok(['train', ...files, '--column', 'embedding', '--out', model, '--seed', '7'])
    // each file on its own (as a batch system would), all at once
    await Promise.all(files.map((f, i) => ok(['encode', '--model', model, f, '--out', join(dir, 'parts', `${i}.pqpart`)])))
    const stepwise = join(dir, 'stepwise.pqseek')
    const merged = await ok([
      'merge',
      '--model',
      model,
      '--out',
      stepwise,
      ...names.map((_, i) => join(dir, 'parts', `${i}.pqpart`)),
      '--json',
    ])
    expect(JSON.parse(merged.stdout)).toMatchObject({ sources: 3, rows: 3 * per, indexedRows: 3 * per })
    const oneShot = join(dir, 'oneshot.pqseek')
    await ok(['index', '--sidecar', oneShot, ...files, '--column', 'embedding', '--seed', '7'])
    // same model, same parts, same tuning: the same bytes (names relative to the sidecar)
    expect(Buffer.compare(readFileSync(stepwise), readFileSync(oneShot))).toBe(0)
    // with the vectors copied in (--sidecar-vectors), stepwise and in one process alike
    const parts = names.map((_, i) => join(dir, 'parts', `${i}.pqpart`))
    const stepVectors = join(dir, 'stepwise-vectors.pqseek')
    await ok(['merge', '--model', model, '--out', stepVectors, ...parts, '--sidecar-vectors'])
    const oneVectors = join(dir, 'oneshot-vectors.pqseek')
    await ok(['index', '--sidecar', oneVectors, ...files, '--column', 'embedding', '--seed', '7', '--sidecar-vectors'])
    expect(Buffer.compare(readFileSync(stepVectors), readFileSync(oneVectors))).toBe(0)
    expect(readFileSync(stepVectors).length - readFileSync(stepwise).length).toBeGreaterThanOrEqual(3 * per * dim * 4)

    const opened: Array<{ close(): Promise<void> }> = []
    const open = async (name: string) => {
      const s = await fileSource(join(dir, name))
      opened.push(s)
      return s
    }
    const index = await SidecarIndex.open(await open('stepwise.pqseek'), open)
    expect(index.header.sources.map((s) => s.name)).toEqual(names)
    const ids = Uint32Array.from({ length: 3 * per }, (_, i) => i)
    const queries = clusteredVectors(20, dim, 72)
    let hits = 0
    for (let q = 0; q < 20; q++) {
      const query = queries.subarray(q * dim, (q + 1) * dim)
      const truth = new Set(searchExact('l2', v, ids, query, 10).map((h) => h.row))
      const { results } = await index.search(query, { k: 10, columns: ['title'] })
      for (const r of results) {
        expect(r.values.title).toBe(`${r.file}:${r.row}`)
        if (truth.has(names.indexOf(r.file) * per + r.row)) hits++
      }
    }
    expect(hits / 200).toBeGreaterThanOrEqual(0.95)
    for (const s of opened) await s.close()

    // info describes the sidecar and its files (it said "not a Parquet file"), and names a model
    const info = JSON.parse((await ok(['info', stepwise, '--json'])).stdout)
    expect(info).toMatchObject({ kind: 'sidecar', rows: 3 * per, column: 'embedding', index: { dim, rows: 3 * per } })
    expect(info.files.map((f: { name: string; rows: number }) => [f.name, f.rows])).toEqual(names.map((n) => [n, per]))
    expect((await ok(['info', stepwise])).stdout).toMatch(new RegExp(`a sidecar index over 3 files, ${3 * per} rows\\n`))
    const modelInfo = await cli(['info', model])
    expect([modelInfo.code, modelInfo.stderr.trim()]).toEqual([1, expect.stringMatching(/model\.pqmodel: a model \(parquetseek train\)/)])
    // a file changed since its part was encoded: its vectors are not copied (they would be other rows')
    threeFiles(dir, 5)
    const changed = await cli(['merge', '--model', model, '--out', join(dir, 'changed.pqseek'), ...parts, '--sidecar-vectors'])
    expect([changed.code, changed.stderr.trim().split('\n').at(-1)]).toEqual([
      1,
      `parquetseek merge: ${files[0]}: the file changed since its part was encoded; encode it again to copy its vectors`,
    ])
  })

  it('a model trained on a subset of the files encodes the others too, local or by URL', async () => {
    const dir = tempDir('pqs-shared-')
    const v = threeFiles(dir)
    const model = join(dir, 'model.pqmodel')
    await ok(['train', join(dir, 'a.parquet'), '--column', 'embedding', '--out', model])
    // c.parquet is encoded from a URL (a static host): the sidecar names it by that URL
    const server = await serveFile(join(dir, 'c.parquet'))
    const inputs = [join(dir, 'a.parquet'), join(dir, 'b.parquet'), server.url]
    for (const [i, input] of inputs.entries()) await ok(['encode', '--model', model, input, '--out', join(dir, `${i}.pqpart`)])
    const sidecar = join(dir, 'all.pqseek')
    const merged = JSON.parse(
      (await ok(['merge', '--model', model, '--out', sidecar, ...names.map((_, i) => join(dir, `${i}.pqpart`)), '--json'])).stdout,
    )
    expect(merged.tunedRecall).toBeGreaterThanOrEqual(0.9)
    // a row of c.parquet (not in training) is found at distance 0
    const row = 2 * per + 321
    const query = JSON.stringify(Array.from(v.subarray(row * dim, (row + 1) * dim)))
    // a local sidecar reads a URL source only when the caller allows that origin
    const refused = await cli(['search', sidecar, '--query', query])
    expect(refused.code).toBe(1)
    expect(refused.stderr).toMatch(/source "http:\/\/127\.0\.0\.1:\d+\/c\.parquet" is a URL, and this index is a local file/)
    const found = await ok(['search', sidecar, '--query', query, '--k', '1', '--allow-source', new URL(server.url).origin, '--json'])
    expect(JSON.parse(found.stdout).results[0]).toMatchObject({ file: server.url, row: 321, distance: 0 })
    await server.close()
  })

  it('refuses parts of another model, the same file twice, damaged parts and files of another dimension, naming them', async () => {
    const dir = tempDir('pqs-shared-')
    threeFiles(dir)
    const model = join(dir, 'model.pqmodel')
    const other = join(dir, 'other.pqmodel')
    await ok(['train', join(dir, 'a.parquet'), join(dir, 'b.parquet'), '--column', 'embedding', '--out', model])
    await ok(['train', join(dir, 'a.parquet'), '--column', 'embedding', '--out', other, '--seed', '3'])
    await ok(['encode', '--model', model, join(dir, 'a.parquet'), '--out', join(dir, 'a.pqpart')])
    await ok(['encode', '--model', other, join(dir, 'b.parquet'), '--out', join(dir, 'b-other.pqpart')])
    const merge = (...parts: string[]) =>
      cli(['merge', '--model', model, '--out', join(dir, 'x.pqseek'), ...parts.map((p) => join(dir, p))])

    let r = await merge('a.pqpart', 'b-other.pqpart')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/b\.parquet: this part was encoded with another model/)
    r = await merge('a.pqpart', 'a.pqpart')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/a\.parquet: the same file is in two parts/)
    // caught at the start too: one input given twice to train (or index --sidecar) is sampled twice
    r = await cli(['train', join(dir, 'a.parquet'), `${dir}/./a.parquet`, '--column', 'embedding', '--out', join(dir, 'twice.pqmodel')])
    expect([r.code, r.stderr.trim()]).toEqual([
      1,
      expect.stringMatching(/a\.parquet is listed twice \(files 0 and 1\): its rows would count twice$/),
    ])
    expect(existsSync(join(dir, 'twice.pqmodel'))).toBe(false)

    // one flipped byte in the codes
    const bytes = readFileSync(join(dir, 'a.pqpart'))
    const header = JSON.parse(bytes.subarray(20, 20 + bytes.readUInt32LE(16)).toString())
    const codes = header.sections.codes.offset
    bytes[codes + 5] = (bytes[codes + 5] as number) ^ 0x10
    writeFileSync(join(dir, 'bad.pqpart'), bytes)
    r = await merge('bad.pqpart')
    expect(r.code).toBe(1)
    expect(r.stderr).toContain(`bad.pqpart, byte ${codes}: section "codes" is damaged (CRC mismatch)`)
    r = await merge('model.pqmodel')
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/model\.pqmodel, byte 0: not a ParquetSeek part file/)

    // a model trained before format v2: centroids off the one-byte grid (its id made to match)
    const trained = await readModelFile(readFileSync(model), model) // a Node Buffer, as a library user would pass
    const centroids = trained.centroids.slice()
    centroids[2] = (centroids[2] as number) + 1e-4
    const old = { ...trained, centroids, id: await modelId(trained.params, centroids, trained.codebooks) }
    writeFileSync(join(dir, 'old.pqmodel'), modelFileBytes(old))
    r = await cli(['encode', '--model', join(dir, 'old.pqmodel'), join(dir, 'a.parquet'), '--out', join(dir, 'old.pqpart')])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/old\.pqmodel, section centroids: this model was trained before index format v2 .*run parquetseek train again/)
    // ...and one trained before format v4: codebooks off their one-byte grid
    const codebooks = trained.codebooks.slice()
    codebooks[3] = (codebooks[3] as number) + 1e-4
    const older = { ...trained, codebooks, id: await modelId(trained.params, trained.centroids, codebooks) }
    writeFileSync(join(dir, 'old4.pqmodel'), modelFileBytes(older))
    r = await cli(['encode', '--model', join(dir, 'old4.pqmodel'), join(dir, 'a.parquet'), '--out', join(dir, 'old4.pqpart')])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(
      /old4\.pqmodel, section codebooks: this model was trained before index format v4 .*run parquetseek train again/,
    )

    writeListFile(
      join(dir, 'wide.parquet'),
      Array.from({ length: 50 }, (_, i) => Array.from({ length: dim + 1 }, (_, j) => i + j)),
    )
    r = await cli(['encode', '--model', model, join(dir, 'wide.parquet'), '--out', join(dir, 'wide.pqpart')])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/wide\.parquet.*13-d.*the model is 12-d/)
    // nothing half-written is left behind
    expect(() => readFileSync(join(dir, 'x.pqseek'))).toThrow()
    expect(() => readFileSync(join(dir, 'wide.pqpart'))).toThrow()
  })
})
