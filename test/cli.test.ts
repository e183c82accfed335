import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, utimesSync, writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { asyncBufferFromFile, parquetReadObjects, type SchemaElement } from 'hyparquet'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { beforeAll, describe, expect, it } from 'vitest'
import { coldQueries } from '../src/cli/benchCommand.js'
import { fmtBytes } from '../src/cli/progress.js'
import { serveDir, serveFile } from '../src/cli/rangeServer.js'
import { recallAtK as recall } from '../src/compute/metric.js'
import { hashNgramEncoder } from '../src/encode/encoders.js'
import { fileSource } from '../src/io/nodeFile.js'
import { encodeNpy } from '../src/io/npy.js'
import { footerLength } from '../src/parquet/footer.js'
import { openIndex } from '../src/search/engine.js'
import { openSource } from '../src/search/open.js'
import { cli, type Run } from './helpers/cli.js'
import {
  clusteredVectors,
  duckdb,
  headOnlyTail,
  tempDir,
  testSource,
  writeIdTextFile,
  writeListFile,
  writeTextFile,
} from './helpers/fixtures.js'

const dir = tempDir('pqs-cli-')

const vectors = (n: number, dim: number, seed = 1) => {
  const v = clusteredVectors(n, dim, seed)
  return Array.from({ length: n }, (_, i): number[] | null => Array.from(v.subarray(i * dim, (i + 1) * dim)))
}

const good = join(dir, 'good.parquet')
beforeAll(() => {
  writeListFile(good, vectors(500, 8), { title: Array.from({ length: 500 }, (_, i) => `t${i}`) })
})

function expectOneLineError(r: Run, pattern: RegExp) {
  expect(r.code).toBe(1)
  const lines = r.stderr.trim().split('\n')
  expect(lines, r.stderr).toHaveLength(1)
  expect(lines[0]).toMatch(pattern)
  expect(r.stderr).not.toMatch(/\n\s+at /) // no stack trace
}

function noOutputLeft(name: string) {
  expect(readdirSync(dir).filter((f) => f.includes(name))).toEqual([])
}

describe('parquetseek index', () => {
  it('builds, prints the JSON summary with the contract fields, and info shows the index', async () => {
    const out = join(dir, 'good.indexed.parquet')
    // no --column: the file's only vector column
    const r = await cli(['index', good, out, '--json', '--nlist', '10'])
    expect(r.code, r.stderr).toBe(0)
    const summary = JSON.parse(r.stdout)
    for (const key of [
      'rows',
      'dim',
      'metric',
      'nlist',
      'm',
      'nbits',
      'inputBytes',
      'outputBytes',
      'indexBytes',
      'buildMs',
      'phasesMs',
      'peakRssBytes',
    ]) {
      expect(summary).toHaveProperty(key)
    }
    expect(summary).toMatchObject({ rows: 500, dim: 8, metric: 'l2', nlist: 10, m: 2, nbits: 8 })
    expect(Object.keys(summary.phasesMs)).toEqual(['read', 'train-coarse', 'train-pq', 'encode', 'tune', 'reorder', 'write'])
    expect(summary.phasesMs.reorder).toBe(0) // rows stay in the input order
    expect(r.stderr).toMatch(/train-coarse \d+\/\d+/) // progress goes to stderr
    const info = await cli(['info', out, '--json'])
    expect(info.code).toBe(0)
    expect(JSON.parse(info.stdout).index).toMatchObject({
      column: 'embedding',
      nlist: 10,
      dim: 8,
      rows: 500,
      centroidBytes: 8 * 8 + 10 * 8,
    })
    // what a search's open reads: with that many of the file's last bytes, one read; one byte fewer, two
    const { openBytes } = JSON.parse(info.stdout).index
    for (const [tailBytes, reads] of [
      [openBytes, 1],
      [openBytes - 1, 2],
    ]) {
      const source = await fileSource(out)
      expect((await openSource(source, { tailBytes })).open.requests, `tailBytes ${tailBytes}`).toBe(reads)
      await source.close()
    }
    expect((await cli(['info', out])).stdout).toContain(`a search opens with the file's last ${fmtBytes(openBytes)} (footer and index head`)
    // several files (a shell glob's): each in turn, one JSON line each; one that cannot be read is
    // said, the others still shown, and the exit status says so (it took one file)
    const several = await cli(['info', out, join(dir, 'missing.parquet'), good, '--json'])
    expect(several.code).toBe(1)
    expect(
      several.stdout
        .trim()
        .split('\n')
        .map((line) => JSON.parse(line).file),
    ).toEqual([out, good])
    expect(several.stderr).toMatch(/missing\.parquet: cannot open \(ENOENT\)/)
    expect(several.stderr).toMatch(/1 file of 3 could not be read \(.*missing\.parquet\)/)
    // a search's footer counts in words: the small file comes whole in the open's one read, so the
    // query itself needs none
    const table = await cli(['search', out, '--query-row', '0', '--k', '1'])
    expect(table.stdout).toMatch(/^open: .+ in 1 request, \d+ ms$/m)
    expect(table.stdout).toMatch(/^search: 0 B in 0 requests, 0 round trips, \d+ pages? decoded, /m)
    // and so does the build's: a file of one row is "1 row"
    const single = join(dir, 'single.parquet')
    writeListFile(single, vectors(1, 8, 9), {})
    const one = await cli(['index', single, join(dir, 'single.indexed.parquet')])
    expect(one.code, one.stderr).toBe(0)
    expect(one.stdout).toMatch(/single\.indexed\.parquet: 1 row, dim 8, /)
    const text = await cli(['info', good])
    expect(text.stdout).toMatch(/index: none/)
    // a URL as search takes one (it was read as a local path: ENOENT)
    const served = await serveFile(out)
    try {
      const remote = await cli(['info', served.url, '--json'])
      expect(remote.code, remote.stderr).toBe(0)
      expect(JSON.parse(remote.stdout).index).toEqual(JSON.parse(info.stdout).index)
    } finally {
      await served.close()
    }
  })

  it('is deterministic: the same input and seed give the same bytes, whatever the backend and thread count', async () => {
    // 10,000 rows: enough for the k-means rows and the tune's exact truth to be shared with the workers (≥ 8,192)
    const big = join(dir, 'det-in.parquet')
    writeListFile(big, vectors(10_000, 12, 3), {})
    const runs = [
      ['--threads', '1', '--backend', 'wasm'],
      ['--threads', '1', '--backend', 'wasm'],
      ['--threads', '3', '--backend', 'wasm'],
      ['--threads', '2', '--backend', 'js'],
    ]
    const outputs = await Promise.all(
      runs.map(async (extra, i) => {
        const out = join(dir, `det-${i}.parquet`)
        const r = await cli(['index', big, out, '--column', 'embedding', '--seed', '7', '--json', ...extra])
        expect(r.code).toBe(0)
        expect(JSON.parse(r.stdout)).toMatchObject({ threads: Number(extra[1]), backend: extra[3] })
        return readFileSync(out)
      }),
    )
    for (const o of outputs.slice(1)) expect(o.equals(outputs[0] as Buffer)).toBe(true)
  })

  it("prints a command's own usage for `<command> --help` and `help <command>`, the whole usage for --help", async () => {
    const search = await cli(['search', 'x.parquet', '--help'])
    expect([search.code, search.stderr]).toEqual([0, ''])
    expect(search.stdout).toMatch(/^parquetseek search <file\|url/)
    expect(search.stdout).toContain('--where EXPR')
    expect(search.stdout).not.toContain('parquetseek index')
    const index = await cli(['help', 'index'])
    expect([index.code, index.stdout.startsWith('parquetseek index <in.parquet|url>'), index.stdout.includes('--query-row')]).toEqual([
      0,
      true,
      false,
    ])
    expect((await cli(['merge', '-h'])).stdout).toContain('parquetseek merge --model')
    const all = await cli(['--help'])
    expect([all.code, all.stdout.includes('parquetseek index <in'), all.stdout.includes('parquetseek search <file')]).toEqual([
      0,
      true,
      true,
    ])
    // after `--`, --help is an argument: here a file name that does not exist
    const literal = await cli(['info', '--', '--help'])
    expect(literal.code).toBe(1)
    expect(literal.stderr).toContain('--help')
  })

  it('rejects a file that is not Parquet', async () => {
    const bad = join(dir, 'notes.parquet')
    writeFileSync(bad, 'just some text, long enough to have a tail')
    expectOneLineError(
      await cli(['index', bad, join(dir, 'x1.parquet'), '--column', 'embedding']),
      /notes\.parquet, byte \d+: not a Parquet file/,
    )
    noOutputLeft('x1')
    // a page a host sent for a path it does not have, saved or served as the file: its text is shown
    const page = join(dir, 'page.parquet')
    writeFileSync(page, '<!doctype html>\n<html><body>\n<h1>Access Denied</h1>\n</body></html>\n')
    expectOneLineError(
      await cli(['search', page, '--query', '[1]']),
      /page\.parquet, byte \d+: not a Parquet file \(no PAR1 magic at the end; it ends in text: "….*<h1>Access Denied<\/h1> <\/body><\/html>"\)$/,
    )
    // a Git LFS pointer (a clone without git lfs, or GitHub's raw URL of an LFS file): said so, and where the file is
    const pointer =
      'version https://git-lfs.github.com/spec/v1\noid sha256:4d7a214614ab2935c943f9e0ff69d22eadbb8f32b1258daaa5e2ca24d17e2393\nsize 1048576\n'
    const lfs = join(dir, 'lfs.parquet')
    writeFileSync(lfs, pointer)
    expectOneLineError(
      await cli(['search', lfs, '--query', '[1]']),
      /lfs\.parquet: not a Parquet file but a Git LFS pointer to one \(1048576 bytes\); fetch the file it points to \(git lfs pull\)$/,
    )
    const bytes = new TextEncoder().encode(pointer)
    expect(() => footerLength(bytes, bytes.length, 'https://raw.githubusercontent.com/o/r/main/data/x.parquet')).toThrow(
      'GitHub serves the file itself at https://media.githubusercontent.com/media/o/r/main/data/x.parquet',
    )
  })

  it('rejects a truncated footer', async () => {
    const bytes = readFileSync(good)
    const cut = join(dir, 'cut.parquet')
    // keep the trailing length+magic but drop part of the footer before it
    writeFileSync(cut, Buffer.concat([bytes.subarray(0, bytes.length - 200), bytes.subarray(bytes.length - 8)]))
    expectOneLineError(
      await cli(['index', cut, join(dir, 'x2.parquet'), '--column', 'embedding']),
      /cut\.parquet, byte \d+: unreadable Parquet footer/,
    )
    noOutputLeft('x2')
  })

  it('names an unknown column and lists the real ones', async () => {
    expectOneLineError(
      await cli(['index', good, join(dir, 'x3.parquet'), '--column', 'emb']),
      /column "emb": no such column; the columns are: title, embedding/,
    )
  })

  it('index takes a URL: the file read whole beside the output (every column is copied), the same output, nothing left behind', async () => {
    const served = await serveFile(good, { host: 's3' })
    try {
      const fromUrl = join(dir, 'from-url.indexed.parquet')
      const r = await cli(['index', served.url, fromUrl, '--nlist', '10'])
      expect(r.code, r.stderr).toBe(0)
      expect(r.stderr).toMatch(/download [\d.]+ KiB\/[\d.]+ KiB/)
      const local = join(dir, 'from-path.indexed.parquet')
      expect((await cli(['index', good, local, '--nlist', '10'])).code).toBe(0)
      expect(readFileSync(fromUrl).equals(readFileSync(local))).toBe(true)
      expect(readdirSync(dir).filter((f) => f.includes('.download-'))).toEqual([])
    } finally {
      await served.close()
    }
    // a URL that does not answer: an error naming it, no output and no download left
    const down = await cli(['index', 'http://127.0.0.1:9/gone.parquet', join(dir, 'x-gone.parquet'), '--column', 'embedding'])
    expect(down.code).toBe(1)
    expect(down.stderr).toMatch(/http:\/\/127\.0\.0\.1:9\/gone\.parquet: gave up after \d attempts/)
    noOutputLeft('x-gone')
  })

  it('without --column: several vector columns are a usage error naming them; none, an error naming the text columns to embed', async () => {
    const db = await duckdb()
    try {
      await db.run(`COPY (SELECT *, embedding AS emb2 FROM '${good}') TO '${join(dir, 'two-vectors.parquet')}'`)
      await db.run(`COPY (SELECT title FROM '${good}') TO '${join(dir, 'text-only.parquet')}'`)
    } finally {
      db.close()
    }
    const two = await cli(['index', join(dir, 'two-vectors.parquet'), join(dir, 'x-two.parquet')])
    expect(two.code).toBe(2)
    expect(two.stderr).toMatch(/two-vectors\.parquet has 2 vector columns \(embedding, emb2\): give --column to index/)
    noOutputLeft('x-two')
    expectOneLineError(
      await cli(['index', join(dir, 'text-only.parquet'), join(dir, 'x-text.parquet')]),
      /text-only\.parquet: no vector column to index: none is a LIST of numbers or a FIXED_LEN_BYTE_ARRAY of float32; text columns here: title \(embed one first/,
    )
    noOutputLeft('x-text')
    // a sidecar's inputs, and exact search of a file without an index, choose the same way
    const sidecar = await cli(['index', '--sidecar', join(dir, 'x-two.pqseek'), join(dir, 'two-vectors.parquet')])
    expect(sidecar.code).toBe(2)
    expect(sidecar.stderr).toMatch(/has 2 vector columns \(embedding, emb2\): give --column to index/)
    noOutputLeft('x-two')
    const exact = await cli(['search', join(dir, 'two-vectors.parquet'), '--query-row', '0'])
    expect(exact.code).toBe(2)
    expect(exact.stderr).toMatch(/give --column for exact search/)
  })

  it('rejects a non-numeric column and points at the vector column (and a text column at --embed-text)', async () => {
    expectOneLineError(
      await cli(['index', good, join(dir, 'x4.parquet'), '--column', 'title']),
      /column "title": is BYTE_ARRAY \(UTF8\), not a vector of FLOAT, DOUBLE, FLOAT16 or 8- or 16-bit integers \(it holds text: embed it first, e\.g\. parquetseek index in\.parquet out\.parquet --embed-text title\); vector columns here: embedding/,
    )
  })

  it('indexes half-float and 8/16-bit integer vectors as they are: same type and values in the output, same answers as their FLOAT copy', async () => {
    const n = 300
    const rows = clusteredVectors(n, 8, 5)
    const scaled = (scale: number, round: (x: number) => number) =>
      Array.from({ length: n }, (_, i) => Array.from(rows.subarray(i * 8, (i + 1) * 8), (x) => round(x * scale)))
    const write = (path: string, element: SchemaElement, data: number[][]) => {
      const bytes = parquetWriteBuffer({
        schema: [
          { name: 'root', num_children: 2 },
          { name: 'id', type: 'INT32', repetition_type: 'REQUIRED' },
          { name: 'emb', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
          { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
          { ...element, name: 'element', repetition_type: 'OPTIONAL' },
        ],
        columnData: [
          { name: 'id', data: Array.from({ length: n }, (_, i) => i) },
          { name: 'emb', data },
        ],
      })
      writeFileSync(path, new Uint8Array(bytes))
    }
    // (clusteredVectors lie within ±7: halves in eighths are exact; ×15 fits an int8, +100 a uint8)
    const kinds = [
      {
        name: 'half',
        duck: 'FLOAT',
        element: { type: 'FIXED_LEN_BYTE_ARRAY', type_length: 2, logical_type: { type: 'FLOAT16' } },
        data: scaled(8, (x) => Math.round(x) / 8),
      },
      { name: 'int8', duck: 'TINYINT', element: { type: 'INT32', converted_type: 'INT_8' }, data: scaled(15, Math.round) },
      {
        name: 'uint8',
        duck: 'UTINYINT',
        element: { type: 'INT32', converted_type: 'UINT_8' },
        data: scaled(15, (x) => Math.round(x) + 100),
      },
      {
        name: 'int16',
        duck: 'SMALLINT',
        element: { type: 'INT32', converted_type: 'INT_16' },
        data: scaled(1000, Math.round),
      },
    ] as const
    const db = await duckdb()
    try {
      for (const kind of kinds) {
        const input = join(dir, `${kind.name}.parquet`)
        write(input, kind.element as SchemaElement, kind.data)
        const floats = join(dir, `${kind.name}-f32.parquet`)
        await db.run(`COPY (SELECT * REPLACE (emb::FLOAT[] AS emb) FROM '${input}') TO '${floats}'`)
        for (const clustered of [false, true]) {
          const out = join(dir, `${kind.name}${clustered ? '-clustered' : ''}.indexed.parquet`)
          const built = await cli(['index', input, out, '--column', 'emb', '--json', ...(clustered ? ['--cluster-rows'] : [])])
          expect(built.code, built.stderr).toBe(0)
          expect(JSON.parse(built.stdout)).toMatchObject({ rows: n, indexedRows: n, dim: 8 })
          // every value as it was, in a column of the same type (DuckDB reads halves as FLOAT)
          const same = await db.rows(
            `SELECT (SELECT count(*) FROM (SELECT id, emb FROM '${input}' EXCEPT ALL SELECT id, emb FROM '${out}')), (SELECT typeof(emb) FROM '${out}' LIMIT 1)`,
          )
          expect(same, `${kind.name} clustered ${clustered}`).toEqual([[0n, `${kind.duck}[]`]])
          const element = (file: string) =>
            db.rows(`SELECT type, type_length, logical_type, converted_type FROM parquet_schema('${file}') WHERE name = 'element'`)
          expect(await element(out)).toEqual(await element(input))
        }
        // the rewritten pages decode to the values: every list probed, the answers are the FLOAT copy's
        await cli(['index', floats, join(dir, `${kind.name}-f32.indexed.parquet`), '--column', 'emb'])
        const answers = async (file: string) => {
          const r = await cli(['search', file, '--query-row', '17', '--k', '10', '--nprobe', '1000', '--refine', '50', '--json'])
          expect(r.code, r.stderr).toBe(0)
          return (JSON.parse(r.stdout).results as Array<{ row: number; distance: number }>).map((x) => [x.row, x.distance])
        }
        expect(await answers(join(dir, `${kind.name}.indexed.parquet`)), kind.name).toEqual(
          await answers(join(dir, `${kind.name}-f32.indexed.parquet`)),
        )
      }
    } finally {
      db.close()
    }
  })

  it('an input with integers of the INTEGER logical type (as pyarrow annotates them) comes out readable by DuckDB, types and values kept', async () => {
    // hyparquet-writer annotates as pyarrow does (its footer's bit width is not one DuckDB reads:
    // the input is checked through hyparquet)
    const n = 200
    const rows = clusteredVectors(n, 8, 9)
    const input = join(dir, 'logical-ints.parquet')
    const bytes = parquetWriteBuffer({
      schema: [
        { name: 'root', num_children: 2 },
        { name: 'id', type: 'INT32', repetition_type: 'REQUIRED', logical_type: { type: 'INTEGER', bitWidth: 32, isSigned: false } },
        { name: 'emb', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'INT32', repetition_type: 'OPTIONAL', logical_type: { type: 'INTEGER', bitWidth: 16, isSigned: true } },
      ],
      columnData: [
        { name: 'id', data: Array.from({ length: n }, (_, i) => 4_000_000_000 - i) },
        {
          name: 'emb',
          data: Array.from({ length: n }, (_, i) => Array.from(rows.subarray(i * 8, (i + 1) * 8), (x) => Math.round(x * 1000))),
        },
      ],
    })
    writeFileSync(input, new Uint8Array(bytes))
    const out = join(dir, 'logical-ints.indexed.parquet')
    const built = await cli(['index', input, out, '--column', 'emb'])
    expect(built.code, built.stderr).toBe(0)
    const want = (await parquetReadObjects({ file: await asyncBufferFromFile(input) })).map((r) => [
      BigInt(r.id),
      Array.from(r.emb as number[]),
    ])
    const db = await duckdb()
    try {
      expect(await db.rows(`SELECT typeof(id), typeof(emb) FROM '${out}' LIMIT 1`)).toEqual([['UINTEGER', 'SMALLINT[]']])
      const got = await db.rows(`SELECT id::BIGINT, emb::INTEGER[] FROM '${out}'`)
      expect(got.map(([id, emb]) => [id, (emb as { items: number[] }).items])).toEqual(want)
    } finally {
      db.close()
    }
  })

  it('names wider integer vectors for what they are, and the command that makes them FLOAT works', async () => {
    const n = 120
    const rows = clusteredVectors(n, 8, 5)
    const data = Array.from({ length: n }, (_, i) => Array.from(rows.subarray(i * 8, (i + 1) * 8), (x) => Math.round(x * 1000)))
    const ints = join(dir, 'ints.parquet')
    const bytes = parquetWriteBuffer({
      schema: [
        { name: 'root', num_children: 1 },
        { name: 'emb', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
        { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
        { name: 'element', type: 'INT32', repetition_type: 'OPTIONAL' },
      ],
      columnData: [{ name: 'emb', data }],
    })
    writeFileSync(ints, new Uint8Array(bytes))
    const intRun = await cli(['index', ints, join(dir, 'x-ints.parquet'), '--column', 'emb'])
    expectOneLineError(intRun, /column "emb": is a LIST of INT32, not a vector of FLOAT, DOUBLE, FLOAT16 or 8- or 16-bit integers/)
    expect(intRun.stderr).toMatch(
      /\(write it as FLOAT first, e\.g\. DuckDB: COPY \(SELECT \* REPLACE \(emb::FLOAT\[\] AS emb\) FROM 'in\.parquet'\) TO 'out\.parquet'\); this file has no vector column/,
    )
    // the command it gives, run by DuckDB, makes a file that indexes
    const db = await duckdb()
    try {
      const out = join(dir, 'ints-f32.parquet')
      await db.run(`COPY (SELECT * REPLACE (emb::FLOAT[] AS emb) FROM '${ints}') TO '${out}'`)
      const built = await cli(['index', out, join(dir, 'ints-f32.indexed.parquet'), '--column', 'emb', '--json'])
      expect(built.code).toBe(0)
      expect(JSON.parse(built.stdout)).toMatchObject({ rows: n, indexedRows: n, dim: 8 })
    } finally {
      db.close()
    }
  })

  it('reports ragged, null and non-finite vectors by row; --skip-invalid leaves them out and says how many', async () => {
    const rows = vectors(300, 6, 3)
    rows[41] = [1, 2, 3]
    const ragged = join(dir, 'ragged.parquet')
    writeListFile(ragged, rows)
    expectOneLineError(
      await cli(['index', ragged, join(dir, 'x5.parquet'), '--column', 'embedding']),
      /row 41: vector has 3 values, expected 6/,
    )
    noOutputLeft('x5')

    const nan = vectors(300, 6, 4)
    ;(nan[7] as number[])[2] = Number.NaN
    nan[9] = null
    const nanFile = join(dir, 'nan.parquet')
    writeListFile(nanFile, nan)
    expectOneLineError(await cli(['index', nanFile, join(dir, 'x6.parquet'), '--column', 'embedding']), /row 7: value 2 is NaN/)
    const inf = vectors(300, 6, 5)
    ;(inf[3] as number[])[0] = Number.POSITIVE_INFINITY
    const infFile = join(dir, 'inf.parquet')
    writeListFile(infFile, inf)
    expectOneLineError(await cli(['index', infFile, join(dir, 'x7.parquet'), '--column', 'embedding']), /row 3: value 0 is Infinity/)
    // finite values, but too long for finite float32 distances: every distance to it would tie at Infinity
    const long = vectors(300, 6, 6)
    ;(long[5] as number[])[1] = 1e20
    const longFile = join(dir, 'long.parquet')
    writeListFile(longFile, long)
    expectOneLineError(
      await cli(['index', longFile, join(dir, 'x7b.parquet'), '--column', 'embedding']),
      /row 5: its squared length 1\.00e\+40 is past 8\.51e\+37, where float32 distances overflow/,
    )

    const skipped = await cli(['index', nanFile, join(dir, 'skip.parquet'), '--column', 'embedding', '--skip-invalid', '--json'])
    expect(skipped.code).toBe(0)
    expect(JSON.parse(skipped.stdout)).toMatchObject({ rows: 300, indexedRows: 298, skippedRows: 2 })
    expect(skipped.stderr).toMatch(/skipped 2 rows with invalid vectors \(first: row 7/)
  })

  it('rejects a file with zero rows', async () => {
    const empty = join(dir, 'empty.parquet')
    writeListFile(empty, [])
    expectOneLineError(await cli(['index', empty, join(dir, 'x8.parquet'), '--column', 'embedding']), /zero rows/)
  })

  it('refuses to overwrite the input, by the same path or another name for it', async () => {
    const copy = join(dir, 'mine.parquet')
    copyFileSync(good, copy)
    const before = readFileSync(copy)
    expectOneLineError(await cli(['index', copy, copy, '--column', 'embedding']), /refusing to overwrite the input/)
    expectOneLineError(
      await cli(['index', copy, join(dir, '.', 'mine.parquet'), '--column', 'embedding']),
      /refusing to overwrite the input/,
    )
    expect(readFileSync(copy).equals(before)).toBe(true)
  })

  it('exits 2 on bad usage', async () => {
    expect((await cli(['index', good])).code).toBe(2)
    expect((await cli(['index', good, join(dir, 'x9.parquet'), '--column', 'embedding', '--metric', 'hamming'])).code).toBe(2)
    expect((await cli(['frobnicate'])).code).toBe(2)
    expect((await cli(['index', good, join(dir, 'x9.parquet'), '--column', 'embedding', '--nlist', 'many'])).code).toBe(2)
  })

  it('cancels on SIGINT: exit 130, no output and no temp file left', async () => {
    const big = join(dir, 'big.parquet')
    writeListFile(big, vectors(20000, 64, 6))
    let sent = false
    const r = await cli(['index', big, join(dir, 'cancelled.parquet'), '--column', 'embedding'], (chunk, child) => {
      if (!sent && /train/.test(chunk)) {
        sent = true
        child.kill('SIGINT')
      }
    })
    expect(sent).toBe(true)
    expect(r.code).toBe(130)
    expect(r.stderr).toMatch(/cancelled; nothing was written/)
    noOutputLeft('cancelled')
    // several files into a folder (--out-dir): those finished stay, the one cut short leaves nothing, no manifest
    const into = join(dir, 'cancelled-dir')
    const small = join(dir, 'small.parquet')
    writeListFile(small, vectors(300, 64, 7))
    sent = false
    const each = await cli(['index', small, big, '--out-dir', into], (chunk, child) => {
      if (!sent && /train.*file 2 of 2/.test(chunk)) {
        sent = true
        child.kill('SIGINT')
      }
    })
    expect(sent).toBe(true)
    expect(each.code).toBe(130)
    expect(each.stderr).toMatch(
      /cancelled; indexed 1 of 2 files into .*cancelled-dir \(kept: --update goes on from there\); .*manifest\.json not written/,
    )
    expect(readdirSync(into)).toEqual(['small.indexed.parquet'])
  }, 60_000)

  it('never leaves a partial file when the build fails late', async () => {
    const out = join(dir, 'late.parquet')
    expect(existsSync(out)).toBe(false)
    const r = await cli(['index', good, out, '--column', 'embedding', '--nlist', '100000'])
    expect(r.code).toBe(1)
    expect(r.stderr).toMatch(/--nlist must be 1…500/)
    noOutputLeft('late')
  })
})

describe('parquetseek search and bench', () => {
  const out = join(dir, 'searchable.parquet')
  beforeAll(async () => {
    const r = await cli(['index', good, out, '--column', 'embedding', '--nlist', '8'])
    expect(r.code).toBe(0)
  })

  it('search --json prints results with values and the stats contract', async () => {
    const r = await cli(['search', out, '--query-row', '3', '--k', '4', '--columns', 'title', '--json'])
    expect(r.code).toBe(0)
    const { results, stats } = JSON.parse(r.stdout)
    expect(results).toHaveLength(4)
    expect(results[0]).toEqual({ row: 3, distance: 0, values: { title: 't3' } })
    for (const key of ['bytes', 'requests', 'roundTrips', 'pagesDecoded', 'msByStage', 'backend']) expect(stats).toHaveProperty(key)
    const byVector = await cli(['search', out, '--query', JSON.stringify(new Array(8).fill(0.5)), '--k', '2'])
    expect(byVector.code).toBe(0)
    expect(byVector.stdout).toMatch(/^rank\trow\tdistance/)
  })

  it('search --adjacent: a local file scans the lists stored between those probed unless told off', async () => {
    const run = async (row: number, ...more: string[]) => {
      const r = await cli(['search', out, '--query-row', String(row), '--nprobe', '2', '--slack', 'none', ...more, '--json'])
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout).stats
    }
    // 2 of 8 lists probed; the 8 lists lie within 64 KiB of each other. The build stores lists its
    // rows probe together side by side, so a row whose two lists have another between them is sought
    let row = 0
    let plain = await run(row)
    while (plain.listsAdjacent === 0 && row < 20) plain = await run(++row)
    expect(plain).toMatchObject({ listsProbed: 2 })
    expect(plain.listsAdjacent).toBeGreaterThan(0)
    const [on, off] = [await run(row, '--adjacent', 'on'), await run(row, '--adjacent', 'off')]
    expect(on.listsAdjacent).toBe(plain.listsAdjacent)
    expect(off).toMatchObject({ listsProbed: 2, listsAdjacent: 0 })
    const bad = await cli(['search', out, '--query-row', String(row), '--adjacent', 'sometimes'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--adjacent must be one of on, off/)
  })

  it('search --text encodes the query with the model the file names, and says when it names none', async () => {
    const titles = Array.from({ length: 300 }, (_, i) => `${['red apple', 'sourdough bread', 'sailing boat'][i % 3]} ${i}`)
    const input = join(dir, 'text-in.parquet')
    await writeTextFile(input, titles, 32)
    const indexed = join(dir, 'text.parquet')
    expect((await cli(['index', input, indexed, '--column', 'embedding', '--metric', 'cosine'])).code).toBe(0)
    const r = await cli(['search', indexed, '--text', 'bread', '--k', '3', '--columns', 'title', '--json'])
    expect(r.code).toBe(0)
    for (const hit of JSON.parse(r.stdout).results) expect(hit.values.title).toMatch(/^sourdough bread/)
    const none = await cli(['search', out, '--text', 'bread'])
    expectOneLineError(none, /does not name the model that made its vectors/)
    // an empty query, or spaces only: said so (use-lite-512 failed inside TensorFlow.js on "")
    for (const blank of ['', '  '])
      expectOneLineError(await cli(['search', out, '--text', blank]), /the text query is empty: type a few words/)
    // a sidecar over such files encodes with the model they name (it took --query only), and takes
    // --query-row of a --query-file, or of its own rows (numbered across its files)
    const sidecar = join(dir, 'text.pqseek')
    expect((await cli(['index', '--sidecar', sidecar, input, '--metric', 'cosine'])).code).toBe(0)
    const viaSidecar = await cli(['search', sidecar, '--text', 'bread', '--k', '3', '--columns', 'title', '--json'])
    expect(viaSidecar.code, viaSidecar.stderr).toBe(0)
    for (const hit of JSON.parse(viaSidecar.stdout).results) expect(hit.values.title).toMatch(/^sourdough bread/)
    const byRow = await cli(['search', sidecar, '--query-row', '4', '--query-file', input, '--k', '2', '--columns', 'title', '--json'])
    expect(byRow.code, byRow.stderr).toBe(0)
    expect(JSON.parse(byRow.stdout).results[0]).toMatchObject({ row: 4, distance: 0, values: { title: 'sourdough bread 4' } })
    const ownRow = await cli(['search', sidecar, '--query-row', '4', '--k', '2', '--columns', 'title', '--json'])
    expect(ownRow.code, ownRow.stderr).toBe(0)
    expect(JSON.parse(ownRow.stdout).results).toEqual(JSON.parse(byRow.stdout).results)
    // files that name different models: the sidecar says which (it said it named none)
    const other = join(dir, 'text-other-model.parquet')
    writeListFile(other, vectors(300, 32, 4), { title: titles }, { 'parquetseek.model': 'someone/else-v1' })
    const mixed = join(dir, 'mixed.pqseek')
    expect((await cli(['index', '--sidecar', mixed, input, other, '--metric', 'cosine'])).code).toBe(0)
    const unnamed = await cli(['search', mixed, '--text', 'bread'])
    expect(unnamed.code).toBe(1)
    expect(unnamed.stderr).toMatch(
      /its files name different models, parquetseek\/hash-ngram-v1:32 \(text-in\.parquet\); someone\/else-v1 \(text-other-model\.parquet\)/,
    )
  })

  it("join: each row's k nearest other rows as Parquet, the same as searching one by one; never over an input", async () => {
    const result = join(dir, 'join.parquet')
    const r = await cli(['join', out, out, '--out', result, '--k', '3', '--exclude-self', '--batch', '64', '--json'])
    expect(r.code).toBe(0)
    expect(JSON.parse(r.stdout)).toMatchObject({ queries: 500, k: 3, pairs: 1500, out: result })
    const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(result) })) as Array<{
      query: number
      rank: number
      row: number
      distance: number
    }>
    expect(rows).toHaveLength(1500)
    expect(rows.filter((x) => x.query === x.row)).toEqual([])
    const index = await openIndex(await testSource(out))
    for (const q of [0, 123, 499]) {
      const { results } = await index.search(await index.vectorOf(q), { k: 4 })
      const expected = results.filter((h) => h.row !== q).slice(0, 3)
      expect(rows.filter((x) => x.query === q).map((x) => ({ row: x.row, distance: x.distance }))).toEqual(
        expected.map((h) => ({ row: h.row, distance: h.distance })),
      )
    }
    expectOneLineError(await cli(['join', out, out, '--out', out]), /refusing to overwrite the input/)
    // queries without a usable vector are skipped, and said to be (they were left out silently)
    const holes = vectors(20, 8, 9) as Array<number[] | null>
    holes[3] = null
    holes[7] = null
    const queries = join(dir, 'holes.parquet')
    writeListFile(queries, holes)
    const h = await cli(['join', queries, out, '--out', join(dir, 'holes.join.parquet'), '--k', '2'])
    expect(h.code, h.stderr).toBe(0)
    expect(h.stdout).toMatch(/^18 queries × 2 neighbours .*; 2 rows without a usable vector skipped \(first: row 3, vector is null\)\n$/)
  })

  it('join --text: a file of questions, each embedded with the model the index names, against it; --where on the neighbours', async () => {
    const titles = Array.from({ length: 300 }, (_, i) => `${['red apple', 'sourdough bread', 'sailing boat'][i % 3]} ${i}`)
    const input = join(dir, 'join-text-in.parquet')
    const encoder = hashNgramEncoder(32)
    const embedded = (await encoder.encode(titles)).map((v) => Array.from(v))
    writeListFile(input, embedded, { title: titles }, { 'parquetseek.model': encoder.id })
    const indexed = join(dir, 'join-text.parquet')
    expect((await cli(['index', input, indexed, '--metric', 'cosine', '--cluster-rows'])).code).toBe(0)
    // a row at no distance from itself, in the table (float32's rounding of its cosine distance
    // was printed: -5.96047e-8)
    const self = await cli(['search', indexed, '--query-row', '7', '--k', '1'])
    expect(self.stdout.split('\n')[1]).toBe('1\t7\t0')
    // questions: two phrases, a row with no text and one with no words the encoder can embed
    const questions = join(dir, 'questions.parquet')
    const asked = ['sourdough bread', null, 'a sailing boat', '!!!']
    writeFileSync(questions, new Uint8Array(parquetWriteBuffer({ columnData: [{ name: 'question', data: asked, type: 'STRING' }] })))
    const pairs = join(dir, 'answers.parquet')
    const r = await cli(['join', questions, indexed, '--text', 'question', '--k', '3', '--where', "title LIKE '%5'", '--out', pairs])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toMatch(/^2 queries × 3 neighbours .*; 2 rows without a usable vector skipped \(first: row 1, no text\)\n$/)
    const rows = (await parquetReadObjects({ file: await asyncBufferFromFile(pairs) })) as Array<{
      query: number
      rank: number
      row: number
      distance: number
    }>
    // each question's neighbours are search --text's for it, with the same filter
    for (const q of [0, 2]) {
      const s = await cli([
        'search',
        indexed,
        '--text',
        asked[q] as string,
        '--k',
        '3',
        '--where',
        "title LIKE '%5'",
        '--columns',
        'title',
        '--json',
      ])
      expect(s.code, s.stderr).toBe(0)
      const searched = JSON.parse(s.stdout).results as Array<{ row: number; distance: number; values: { title: string } }>
      expect(searched.map((x) => x.values.title.split(' ').slice(0, -1).join(' '))).toEqual(
        Array(3).fill(['sourdough bread', 'sailing boat'][q / 2]),
      )
      expect(searched.every((x) => x.values.title.endsWith('5'))).toBe(true)
      expect(rows.filter((x) => x.query === q).map((x) => [x.row, x.distance])).toEqual(searched.map((x) => [x.row, x.distance]))
    }
    expect(rows.map((x) => x.query).filter((q) => q !== 0 && q !== 2)).toEqual([])
    // an index that names no model cannot embed the questions; --text with --column is a usage error
    expectOneLineError(
      await cli(['join', questions, out, '--text', 'question', '--out', join(dir, 'never.parquet')]),
      /does not name the model that made its vectors/,
    )
    const both = await cli(['join', questions, indexed, '--text', 'question', '--column', 'embedding', '--out', join(dir, 'never.parquet')])
    expect([both.code, both.stderr]).toEqual([
      2,
      'parquetseek join: give --column (the queries are vectors) or --text (the queries are text), not both\n',
    ])
    expectOneLineError(
      await cli(['join', indexed, indexed, '--text', 'embedding', '--out', join(dir, 'never.parquet')]),
      /column "embedding": is \S+, not text/,
    )
    expectOneLineError(
      await cli(['join', questions, indexed, '--text', 'questoin', '--out', join(dir, 'never.parquet')]),
      /column "questoin": no such column in the queries; their text columns are: question$/,
    )
  })

  it('--backend forces the CPU kernels; js and wasm return the same rows and distances', async () => {
    const runs = await Promise.all(
      ['js', 'wasm'].map((backend) => cli(['search', out, '--query-row', '5', '--k', '6', '--backend', backend, '--json'])),
    )
    const [js, wasm] = runs.map((r) => {
      expect(r.code).toBe(0)
      return JSON.parse(r.stdout)
    })
    expect(js.stats.backend).toBe('js')
    expect(wasm.stats.backend).toBe('wasm')
    expect(wasm.results).toEqual(js.results)
    const bad = await cli(['search', out, '--query-row', '5', '--backend', 'cuda'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--backend must be one of auto, wasm, js, gpu, got "cuda"/)
  })

  it('search on a file without an index falls back to exact search and says so', async () => {
    const r = await cli(['search', good, '--query-row', '5', '--k', '3', '--columns', 'title', '--json'])
    expect(r.code).toBe(0)
    const { results, stats } = JSON.parse(r.stdout)
    expect(stats).toMatchObject({ mode: 'exact', rowsScanned: 500 })
    expect(results[0]).toEqual({ row: 5, distance: 0, values: { title: 't5' } })
    // same neighbours as the indexed copy probing every list
    const indexed = JSON.parse(
      (await cli(['search', out, '--query-row', '5', '--k', '3', '--nprobe', '8', '--refine', '100', '--json'])).stdout,
    )
    expect(indexed.results.map((x: { row: number }) => x.row)).toEqual(results.map((x: { row: number }) => x.row))
    const text = await cli(['search', good, '--query-row', '5', '--k', '2'])
    expect(text.stdout).toMatch(/exact search \(no index in this file\): 500 rows scanned/)
    // --where and --deleted, as the index takes them (exact search used to ignore both)
    const narrowed = ['--query-row', '5', '--k', '3', '--where', "title != 't5'", '--deleted', String(results[1].row), '--json']
    const exact = JSON.parse((await cli(['search', good, ...narrowed])).stdout)
    const viaIndex = JSON.parse((await cli(['search', out, ...narrowed, '--nprobe', '8', '--refine', '100'])).stdout)
    const rows = exact.results.map((x: { row: number }) => x.row)
    expect(rows).not.toContain(5)
    expect(rows).not.toContain(results[1].row)
    expect(rows).toEqual(viaIndex.results.map((x: { row: number }) => x.row))
    expect(exact.stats.rowsScanned).toBe(498) // the 500 rows but t5 and the deleted one
    // no row passes: the table says so (it was a bare header), searched exactly or through the index
    for (const file of [good, out]) {
      const none = await cli(['search', file, '--query-row', '5', '--where', "title = 'T5'"])
      expect(none.code, none.stderr).toBe(0)
      expect(none.stdout.split('\n').slice(0, 3), file).toEqual([
        'rank\trow\tdistance',
        '',
        'no results: no row passes --where (text is compared exactly, case included)',
      ])
    }
  })

  it('INT64 values past 2^53 stay exact: compared by --where, printed as their digits', async () => {
    const db = await duckdb()
    const ids = join(dir, 'ids.parquet')
    await db.run(
      `COPY (SELECT 1234567890123456700 + i AS tid, [i::FLOAT, (i % 13)::FLOAT]::FLOAT[2] AS embedding FROM range(300) t(i)) TO '${ids}' (FORMAT parquet)`,
    )
    db.close()
    // as doubles, …788, …789 and …790 are one number: all three passed, printed as …800
    const r = await cli([
      'search',
      ids,
      '--query',
      '[89, 11]',
      '--k',
      '3',
      '--where',
      'tid = 1234567890123456789',
      '--columns',
      'tid',
      '--json',
    ])
    expect(r.code, r.stderr).toBe(0)
    expect(JSON.parse(r.stdout).results).toEqual([{ row: 89, distance: 0, values: { tid: '1234567890123456789' } }])
  })

  it('a DATE prints as its day and a timestamp as its instant, searched exactly or through an index, as JSON or a table', async () => {
    const db = await duckdb()
    const days = join(dir, 'days.parquet')
    await db.run(
      `COPY (SELECT DATE '2020-01-01' + i::INTEGER AS day, TIMESTAMP '2020-01-01 12:30:00' + INTERVAL (i) HOUR AS ts, [i::FLOAT, (i % 13)::FLOAT]::FLOAT[2] AS embedding FROM range(300) t(i)) TO '${days}' (FORMAT parquet)`,
    )
    db.close()
    const indexed = join(dir, 'days.indexed.parquet')
    expect((await cli(['index', days, indexed, '--column', 'embedding'])).code).toBe(0)
    const want = { day: '2020-03-30', ts: '2020-01-05T05:30:00.000Z' }
    for (const file of [days, indexed]) {
      const query = ['search', file, '--query', '[89, 11]', '--k', '1', '--columns', 'day,ts']
      const json = await cli([...query, '--json'])
      expect(json.code, json.stderr).toBe(0)
      expect(JSON.parse(json.stdout).results).toEqual([{ row: 89, distance: 0, values: want }])
      const table = await cli(query)
      expect(table.stdout.split('\n').slice(0, 2)).toEqual(['rank\trow\tdistance\tday\tts', `1\t89\t0\t"${want.day}"\t"${want.ts}"`])
    }
  })

  it("info lists a struct's fields by the dotted names --where and --embed-text take, and what a list holds", async () => {
    const db = await duckdb()
    const path = join(dir, 'struct-info.parquet')
    await db.run(
      `COPY (SELECT {'lang': 'en', 'inner': {'n': i}} AS meta, ['x'] AS tags, [{'a': i}] AS items FROM range(3) t(i)) TO '${path}' (FORMAT parquet)`,
    )
    db.close()
    const r = await cli(['info', path])
    expect(r.code, r.stderr).toBe(0)
    expect(r.stdout).toContain(': 3 rows in 1 row group,')
    expect(r.stdout).toContain(
      '  meta: GROUP — fields meta.lang, meta.inner.n\n  tags: LIST of BYTE_ARRAY (UTF8)\n  items: LIST of a group\n',
    )
  })

  it('search --query-row N --query-file F: row N of F alone, a row without a vector named', async () => {
    const rows = vectors(10, 8, 11) as Array<number[] | null>
    rows[0] = null // before the asked row: it used to refuse every row after it
    rows[4] = null
    const queries = join(dir, 'query-rows.parquet')
    writeListFile(queries, rows)
    const viaFile = await cli(['search', out, '--query-row', '2', '--query-file', queries, '--k', '3', '--json'])
    expect(viaFile.code, viaFile.stderr).toBe(0)
    const direct = await cli(['search', out, '--query', JSON.stringify(rows[2]), '--k', '3', '--json'])
    expect(JSON.parse(viaFile.stdout).results).toEqual(JSON.parse(direct.stdout).results)
    expectOneLineError(
      await cli(['search', out, '--query-row', '4', '--query-file', queries]),
      /query-rows\.parquet, column "embedding", row 4: no vector to search with: vector is null/,
    )
    const past = await cli(['search', out, '--query-row', '10', '--query-file', queries])
    expect([past.code, past.stderr.trim()]).toEqual([
      2,
      expect.stringMatching(/--query-row 10 is past the 10 rows of .*query-rows\.parquet/),
    ])
    // bench needs every query: the error says so, not how an index build skips rows
    expectOneLineError(
      await cli(['bench', out, '--queries', queries, '--nprobe', '8']),
      /row 0: vector is null \(every row of a query file needs a vector\)/,
    )
    // a query file from elsewhere, its one vector column named otherwise: that column (it was "no such column")
    const renamed = join(dir, 'query-rows-renamed.parquet')
    const db = await duckdb()
    try {
      await db.run(`COPY (SELECT embedding AS q FROM '${queries}') TO '${renamed}'`)
    } finally {
      db.close()
    }
    const viaRenamed = await cli(['search', out, '--query-row', '2', '--query-file', renamed, '--k', '3', '--json'])
    expect(viaRenamed.code, viaRenamed.stderr).toBe(0)
    expect(JSON.parse(viaRenamed.stdout).results).toEqual(JSON.parse(direct.stdout).results)
  })

  it('search rejects a query of the wrong dimension with one line', async () => {
    expectOneLineError(await cli(['search', out, '--query', '[1,2,3]']), /query 0 has 3 values; the index is 8-d/)
    expect((await cli(['search', out])).code).toBe(2)
  })

  it("search refuses --metric or --column other than the index's (they choose how a file without an index is searched)", async () => {
    const dot = await cli(['search', out, '--query-row', '3', '--metric', 'dot'])
    expect(dot.code).toBe(2)
    expect(dot.stderr).toMatch(/--metric dot: this index ranks by l2, chosen when it was built/)
    const title = await cli(['search', out, '--query-row', '3', '--column', 'title'])
    expect(title.code).toBe(2)
    expect(title.stderr).toMatch(/--column title: this index is on column "embedding"/)
    // the index's own: as without them
    const same = await cli(['search', out, '--query-row', '3', '--k', '2', '--metric', 'l2', '--column', 'embedding', '--json'])
    expect(same.code).toBe(0)
    expect(JSON.parse(same.stdout).results[0].row).toBe(3)
  })

  it("bench --columns reads the results' values too, as the app does, and --distinct searches as search --distinct, at the same recall; a column the file lacks is named", async () => {
    // only the footer and index head read at open: the title pages come from the host
    const tail = String(await headOnlyTail(out))
    const bench = async (...more: string[]) => {
      const r = await cli(['bench', out, '--queries', good, '--limit', '8', '--rtt-ms', '0', '--tail-bytes', tail, '--json', ...more])
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout)
    }
    const without = await bench()
    const titled = await bench('--columns', 'title')
    expect([without.columns, titled.columns]).toEqual([[], ['title']])
    // a cold query reads its results' title page (later ones find it kept, as a page's search would)
    expect(titled.coldBytes).toBeGreaterThan(without.coldBytes)
    expect(titled.recall).toBe(without.recall)
    // --distinct is searched with, as search --distinct: a pool of 5 × k rows and their titles read
    // (each title one row's: the same rows, so the same recall)
    const distinct = await bench('--distinct', 'title')
    expect(distinct.distinct).toBe('title')
    expect(distinct.recall).toBe(without.recall)
    expect(distinct.bytesPerQuery).toBeGreaterThan(without.bytesPerQuery)
    const missing = await cli(['bench', out, '--queries', good, '--limit', '2', '--rtt-ms', '0', '--columns', 'title,nope'])
    expect(missing.code).toBe(1)
    expect(missing.stderr).toMatch(/column "nope": no such column to return; the columns are: title, embedding/)
  })

  it('bench measures cold queries spread over the query file, not its first few (query files are often sorted)', () => {
    const twelve = Array.from({ length: 12 }, (_, i) => i)
    expect(coldQueries(twelve)).toEqual([0, 2, 4, 7, 9])
    expect(coldQueries([10, 11, 12])).toEqual([10, 11, 12])
    expect(coldQueries([])).toEqual([])
  })

  it("recall (bench, the app's Check recall) counts a result as near as the k-th true neighbour as a hit, whatever the sign of the distances (a dot index: −⟨q, x⟩)", () => {
    // row 5 ties with the truth's row 7 at the k-th distance: as right an answer
    const found = (row: number, distance: number) =>
      ({ rows: [row], distances: [distance] }) as unknown as Parameters<typeof recall>[0][number]
    expect(recall([found(5, -100)], [[7]], 1, Float64Array.of(-100))).toBe(1)
    expect(recall([found(5, 2.5)], [[7]], 1, Float64Array.of(2.5))).toBe(1)
    // farther than the k-th, beyond rounding: a miss; the truth's own row: a hit
    expect(recall([found(5, -99.9)], [[7]], 1, Float64Array.of(-100))).toBe(0)
    expect(recall([found(7, -50)], [[7]], 1, Float64Array.of(-100))).toBe(1)
  })

  it('bench --json reports recall, I/O per query and latency, sweeping nprobe', async () => {
    // only the footer and index head read at open: the lists and pages a query needs come from the host
    const tail = String(await headOnlyTail(out))
    const r = await cli([
      'bench',
      out,
      '--queries',
      good,
      '--limit',
      '20',
      '--nprobe',
      '2,8',
      '--rtt-ms',
      '0',
      '--tail-bytes',
      tail,
      '--json',
    ])
    expect(r.code).toBe(0)
    const s = JSON.parse(r.stdout)
    for (const key of [
      'queries',
      'k',
      'nprobe',
      'refine',
      'recall',
      'bytesPerQuery',
      'requestsPerQuery',
      'roundTripsPerQuery',
      'p50Ms',
      'p95Ms',
      'coldMs',
      'coldWorst',
      'listsPerQuery',
      'fileBytes',
      'backend',
      'sweep',
    ]) {
      expect(s).toHaveProperty(key)
    }
    expect(s.sweep.map((x: { nprobe: number }) => x.nprobe)).toEqual([2, 8])
    // --nprobe alone probes exactly that many lists a query
    expect(s.sweep.map((x: { listsPerQuery: number }) => x.listsPerQuery)).toEqual([2, 8])
    // the cold figures are the median of 5 cold first queries; the slowest is reported beside them
    expect(s.coldWorst.ms).toBeGreaterThanOrEqual(s.coldMs)
    // --slack 0 cuts each query to its nearest list (and ties with it); a bad slack is a usage error
    const cut = JSON.parse(
      (await cli(['bench', out, '--queries', good, '--limit', '5', '--nprobe', '8', '--slack', '0', '--rtt-ms', '0', '--json'])).stdout,
    )
    expect(cut.listsPerQuery).toBe(1)
    const bad = await cli(['bench', out, '--queries', good, '--slack', '-1'])
    expect(bad.code).toBe(2)
    expect(bad.stderr).toMatch(/--slack must be a number ≥ 0 or "none", got "-1"/)
    // the queries are rows of the file itself: probing every list finds each one exactly
    expect(s.recall).toBe(1)
    expect(s.sweep[0].bytesPerQuery).toBeLessThan(s.sweep[1].bytesPerQuery)
  })

  it('index --tune-queries measures the default nprobe on held-out queries (no floor); bench --offset skips the ones tuned on', async () => {
    const all = vectors(3120, 8, 5)
    const base = join(dir, 'tune-base.parquet')
    const queries = join(dir, 'tune-queries.parquet')
    writeListFile(base, all.slice(0, 3000))
    writeListFile(queries, all.slice(3000))
    const tuned = join(dir, 'tune.indexed.parquet')
    /** `index base out` tuned on the first 60 held-out queries. */
    const tunedIndex = (out: string, ...more: string[]) =>
      cli([
        'index',
        base,
        out,
        '--column',
        'embedding',
        '--nlist',
        '60',
        '--tune-queries',
        queries,
        '--tune-limit',
        '60',
        ...more,
        '--json',
      ])
    const built = await tunedIndex(tuned)
    expect(built.code, built.stderr).toBe(0)
    const summary = JSON.parse(built.stdout)
    // rows as queries would have started at a third of the lists
    expect(summary.nprobe).toBeLessThan(20)
    expect(summary.tunedRecall).toBeGreaterThanOrEqual(0.98)
    const r = await cli(['bench', tuned, '--queries', queries, '--offset', '60', '--limit', '100', '--rtt-ms', '0', '--json'])
    expect(r.code, r.stderr).toBe(0)
    const s = JSON.parse(r.stdout)
    expect(s).toMatchObject({ queries: 60, nprobe: summary.nprobe })
    expect(s.recall).toBeGreaterThanOrEqual(0.95)
    // a lower target: fewer lists or candidates a query, the recall measured still at least it
    const cheap = await tunedIndex(join(dir, 'tune-cheap.parquet'), '--target-recall', '0.8')
    expect(cheap.code, cheap.stderr).toBe(0)
    const lower = JSON.parse(cheap.stdout)
    console.log(
      `default target: nprobe ${summary.nprobe}, refine ${summary.refine}, recall ${summary.tunedRecall}; target 0.8: nprobe ${lower.nprobe}, refine ${lower.refine}, recall ${lower.tunedRecall}`,
    )
    expect(lower.nprobe * lower.refine).toBeLessThan(summary.nprobe * summary.refine)
    expect(lower.tunedRecall).toBeGreaterThanOrEqual(0.8)
    expect(lower.tunedRecall).toBeLessThan(summary.tunedRecall)
    for (const bad of ['1.5', '0', 'most'])
      expect((await cli(['index', base, join(dir, 'tune-x.parquet'), '--column', 'embedding', '--target-recall', bad])).stderr).toMatch(
        /--target-recall must be a recall above 0 and at most 1/,
      )
    const wide = join(dir, 'tune-wide.parquet')
    writeListFile(wide, vectors(10, 12))
    // found once the vectors are read (the dimension is known then): after the progress lines, one line, no output
    const bad = await cli(['index', base, join(dir, 'tune-bad.parquet'), '--column', 'embedding', '--tune-queries', wide, '--nlist', '60'])
    expect(bad.code).toBe(1)
    expect(bad.stderr.trim().split('\n').at(-1)).toMatch(/tune query 0 has 12 numbers; the column's vectors have 8/)
    expect(bad.stderr).not.toMatch(/\n\s+at /)
    noOutputLeft('tune-bad')
    const sidecar = await cli(['index', '--sidecar', join(dir, 'tune.pqseek'), base, '--column', 'embedding', '--tune-queries', queries])
    expect(sidecar.code).toBe(2)
    expect(sidecar.stderr).toMatch(/--tune-queries works on one indexed file/)
  })

  it('bench --host and --connections: each host profile gives the same recall; on s3 the cold query reads through gaps where nginx sends multipart, in as many round trips (2 connections); bad values are usage errors', async () => {
    // the file fits the default tail read at open: with only its footer and index head read at
    // open, the searches ask the host for their lists and pages, as on a large file
    const tail = String(await headOnlyTail(out))
    const run = async (host: string, tailBytes: string | null = tail, more: string[] = []) => {
      const r = await cli([
        'bench',
        out,
        '--queries',
        good,
        '--limit',
        '10',
        '--nprobe',
        '8',
        '--rtt-ms',
        '0',
        '--host',
        host,
        '--connections',
        '2',
        ...(tailBytes === null ? [] : ['--tail-bytes', tailBytes]),
        ...more,
        '--json',
      ])
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout)
    }
    const [s3, nginx, staticHost] = [await run('s3'), await run('nginx'), await run('static')]
    for (const [s, host] of [
      [s3, 's3'],
      [nginx, 'nginx'],
      [staticHost, 'static'],
    ]) {
      expect(s).toMatchObject({ host, connections: 2, recall: 1 })
      // what the host sent per warm query is what the client read: no whole-object answer was read
      expect(s.serverBytesPerQuery).toBeLessThan(s.bytesPerQuery * 2 + 64 * 1024)
    }
    // warm, this small file costs as few requests on s3 as with multipart (gaps under a request's cost are read through)
    expect(s3.requestsPerQuery).toBeLessThanOrEqual(nginx.requestsPerQuery + 1)
    // cold: one merged range a stage on s3, one multipart request a stage on nginx — the same round
    // trips (the multi-range request s3 is known at open to refuse is neither sent nor counted)
    expect(s3.coldRoundTrips).toBe(nginx.coldRoundTrips)
    expect(s3.coldBytes).toBeGreaterThan(nginx.coldBytes) // the gaps between ranges, read through
    // with the default 1 MiB tail the whole small file came at open: no query asks for more
    const whole = await run('s3', null)
    expect(whole).toMatchObject({ recall: 1, requestsPerQuery: 0, bytesPerQuery: 0, coldRoundTrips: 1 })
    // nginx reads the lists and pages between those a query needs only when asked to
    const asked = await run('nginx', tail, ['--adjacent', 'on'])
    expect(asked.bytesPerQuery).toBeGreaterThan(nginx.bytesPerQuery)
    expect(asked.requestsPerQuery).toBe(nginx.requestsPerQuery)
    expect((await cli(['bench', out, '--queries', good, '--adjacent', 'maybe'])).code).toBe(2)
    expect((await cli(['bench', out, '--queries', good, '--host', 'ftp'])).code).toBe(2)
    expect((await cli(['bench', out, '--queries', good, '--connections', '0'])).code).toBe(2)
    const small = await cli(['bench', out, '--queries', good, '--tail-bytes', '100'])
    expect(small.code).toBe(2)
    expect(small.stderr).toMatch(/--tail-bytes/)
  })
  it('bench --truth numbers input rows, also for a file stored list by list (mapped through parquetseek_row)', async () => {
    const clustered = join(dir, 'truth.clustered.parquet')
    expect((await cli(['index', good, clustered, '--column', 'embedding', '--nlist', '8', '--cluster-rows'])).code).toBe(0)
    // the 10 nearest input rows of the first 20 rows of `good` (squared L2, ties to the lower row)
    const v = clusteredVectors(500, 8, 1)
    const [nq, k, dim] = [20, 10, 8]
    const ids = new Int32Array(nq * k)
    for (let q = 0; q < nq; q++) {
      const d = Array.from({ length: 500 }, (_, r) => {
        let s = 0
        for (let j = 0; j < dim; j++) s += ((v[q * dim + j] as number) - (v[r * dim + j] as number)) ** 2
        return { r, s }
      })
      d.sort((a, b) => a.s - b.s || a.r - b.r)
      ids.set(
        d.slice(0, k).map((x) => x.r),
        q * k,
      )
    }
    const truth = join(dir, 'truth.npy')
    writeFileSync(truth, encodeNpy(ids, nq, k))
    // every list probed: exact re-ranking finds each query's true 10 (ids only: no --truth-dist)
    const recallOf = async (file: string) => {
      const r = await cli([
        'bench',
        file,
        '--queries',
        good,
        '--limit',
        String(nq),
        '--truth',
        truth,
        '--nprobe',
        '8',
        '--rtt-ms',
        '0',
        '--json',
      ])
      expect(r.code, r.stderr).toBe(0)
      return JSON.parse(r.stdout).recall
    }
    expect(await recallOf(out)).toBeGreaterThan(0.95)
    expect(await recallOf(clustered)).toBe(await recallOf(out))
    // truth for more queries than the query file has (another data set's): recall 0 used to be printed
    const other = join(dir, 'other-truth.npy')
    writeFileSync(other, encodeNpy(new Int32Array(600 * k), 600, k))
    expectOneLineError(
      await cli(['bench', out, '--queries', good, '--limit', '5', '--truth', other, '--nprobe', '8', '--rtt-ms', '0']),
      /other-truth\.npy: has 600 rows, more than the 500 queries of the query file: ground truth for other queries\?/,
    )
  })

  it("bench, search --query-row and join take a sidecar over several files, a manifest of indexed shards and the shards named one by one, rows numbered across files (join --exclude-self, which needs a file's own rows, refused)", async () => {
    const parts = ['p0', 'p1', 'p2'].map((n, i) => {
      const path = join(dir, `${n}.parquet`)
      writeListFile(path, vectors(400, 8, 40 + i), { title: Array.from({ length: 400 }, (_, r) => `${n}:${r}`) })
      return path
    })
    const sidecar = join(dir, 'parts.pqseek')
    expect((await cli(['index', '--sidecar', sidecar, ...parts, '--column', 'embedding', '--nlist', '8'])).code).toBe(0)
    const shards = []
    for (const p of parts) {
      const out = p.replace('.parquet', '.indexed.parquet')
      expect((await cli(['index', p, out, '--column', 'embedding', '--nlist', '8'])).code).toBe(0)
      shards.push(out.split('/').pop())
    }
    const manifest = join(dir, 'parts.json')
    writeFileSync(manifest, JSON.stringify({ files: shards }))
    // tiny shards fit the tail read at open: read only their footers and index heads there
    const tails = await Promise.all(shards.map((name) => headOnlyTail(join(dir, name as string))))
    // the shards named one by one too (a shell glob's), with no manifest: as the manifest of them
    const files = shards.map((name) => join(dir, name as string))
    // the queries: rows of the second file, so each one's nearest row is itself (row 400 + i)
    for (const [target, kind] of [
      [[sidecar], 'sidecar'],
      [[manifest], 'manifest'],
      [files, 'indexed files'],
    ] as const) {
      const r = await cli([
        'bench',
        ...target,
        '--queries',
        parts[1] as string,
        '--limit',
        '20',
        '--nprobe',
        '8',
        '--rtt-ms',
        '0',
        '--tail-bytes',
        String(Math.min(...tails)),
        '--json',
      ])
      expect(r.code, r.stderr).toBe(0)
      const s = JSON.parse(r.stdout)
      expect(s).toMatchObject({ kind, queries: 20, nlist: 8 })
      // every list probed: the exact neighbours across all three files are found
      expect(s.recall).toBe(1)
      expect(s.roundTripsPerQuery).toBeGreaterThan(0)
      expect(s.bytesPerQuery).toBeGreaterThan(0)
      // search --query-row numbers rows across the files too: row 523 is the second file's 123,
      // found first, named by its file and its row there; past the last row, an error naming it
      const found = await cli(['search', ...target, '--query-row', '523', '--k', '1', '--columns', 'title', '--json'])
      expect(found.code, found.stderr).toBe(0)
      const [hit] = JSON.parse(found.stdout).results
      expect(hit.file).toMatch(/p1(\.indexed)?\.parquet$/)
      expect(hit).toMatchObject({ row: 123, distance: 0, values: { title: 'p1:123' } })
      const past = await cli(['search', ...target, '--query-row', '1200'])
      expect(past.code).toBe(1)
      expect(past.stderr).toMatch(/row 1200 is (outside|not in)/)
      // a query's own row is its file's; over three files it is none of theirs: refused, not a
      // join that left out another file's row of the same number and kept the query's own
      const self = await cli(['join', parts[1] as string, ...target, '--out', join(dir, 'self.parquet'), '--exclude-self'])
      expect(self.code).toBe(2)
      expect(self.stderr).toMatch(/--exclude-self: .* numbers the rows of its 3 files across them/)
      expect(existsSync(join(dir, 'self.parquet'))).toBe(false)
    }
    // searched and joined against as the manifest of them is
    const asManifest = await cli(['search', manifest, '--query-row', '523', '--k', '5', '--columns', 'title', '--json'])
    const byName = await cli(['search', ...files, '--query-row', '523', '--k', '5', '--columns', 'title', '--json'])
    expect(byName.code, byName.stderr).toBe(0)
    const results = JSON.parse(byName.stdout).results
    expect(results).toEqual(JSON.parse(asManifest.stdout).results)
    expect(results[0]).toMatchObject({ shard: 1, row: 123, distance: 0, values: { title: 'p1:123' } })
    // (the join: the same pairs)
    const read = async (path: string) => parquetReadObjects({ file: await asyncBufferFromFile(path) })
    const pairs = join(dir, 'files.join.parquet')
    const joined = await cli(['join', parts[1] as string, ...files, '--out', pairs, '--k', '3'])
    expect(joined.code, joined.stderr).toBe(0)
    expect((await cli(['join', parts[1] as string, manifest, '--out', join(dir, 'manifest.join.parquet'), '--k', '3'])).code).toBe(0)
    const got = await read(pairs)
    expect(got).toHaveLength(1200)
    expect(got).toEqual(await read(join(dir, 'manifest.join.parquet')))
    expect(got.filter((p) => p.rank === 0).every((p) => p.row === 400 + Number(p.query))).toBe(true) // each query's own row, across the files
    // a sidecar or a manifest among them, or a file named twice: refused, naming it
    const mixedKinds = await cli(['search', files[0] as string, manifest, '--query-row', '1'])
    expect(mixedKinds.code).toBe(2)
    expect(mixedKinds.stderr).toMatch(/parts\.json is a manifest: search it alone/)
    const twice = await cli(['search', files[0] as string, files[1] as string, files[0] as string, '--query-row', '1'])
    expect(twice.code).toBe(1)
    expect(twice.stderr).toMatch(/p0\.indexed\.parquet is listed twice \(files 0 and 2\)/)
  })

  it('index --out-dir: each input indexed alone, then a manifest of them searched as one, on a disk and over HTTP; more files added to it later; what would go wrong refused first', async () => {
    const src = join(dir, 'outdir-src')
    const out = join(dir, 'outdir')
    mkdirSync(join(src, 'other'), { recursive: true })
    // a name a URL must escape (a space, a #): the manifest's entries are URL references
    const [a, b, c] = ['a', 'b 1#x', 'c'].map((name, i) => {
      const path = join(src, `${name}.parquet`)
      writeListFile(path, vectors(300, 8, 60 + i), { title: Array.from({ length: 300 }, (_, r) => `${name}:${r}`) })
      return path
    }) as [string, string, string]
    const manifest = join(out, 'manifest.json')
    const listed = () => JSON.parse(readFileSync(manifest, 'utf8')).files
    const built = await cli(['index', a, b, '--out-dir', out, '--nlist', '8', '--json'])
    expect(built.code, built.stderr).toBe(0)
    const lines = built.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(lines).toHaveLength(3) // each file's summary, then the manifest's
    expect(lines[1]).toMatchObject({ rows: 300, dim: 8, output: join(out, 'b 1#x.indexed.parquet') })
    expect(lines[2]).toEqual({ manifest, files: 2, added: 2, indexed: 2, kept: 0, rows: 600 })
    expect(listed()).toEqual(['a.indexed.parquet', 'b%201%23x.indexed.parquet'])
    // a folder of inputs: its Parquet files, in the order of their names
    const fromFolder = await cli(['index', src, '--out-dir', join(dir, 'outdir-folder'), '--nlist', '8'])
    expect(fromFolder.code, fromFolder.stderr).toBe(0)
    expect(JSON.parse(readFileSync(join(dir, 'outdir-folder', 'manifest.json'), 'utf8')).files).toEqual([
      'a.indexed.parquet',
      'b%201%23x.indexed.parquet',
      'c.indexed.parquet',
    ])
    // (one output named for a folder: said what takes one)
    const oneOut = await cli(['index', src, join(dir, 'folder.indexed.parquet')])
    expect(oneOut.code).toBe(2)
    expect(oneOut.stderr).toMatch(/outdir-src is a folder: --out-dir DIR indexes each of its Parquet files into DIR/)
    // (and a sidecar over them, left as they are)
    const sidecarOfFolder = await cli(['index', '--sidecar', join(dir, 'outdir-folder.pqseek'), src, '--nlist', '8', '--json'])
    expect(sidecarOfFolder.code, sidecarOfFolder.stderr).toBe(0)
    expect(JSON.parse(sidecarOfFolder.stdout)).toMatchObject({ sources: 3, rows: 900 })
    // each output is the file `index in out` writes
    const alone = join(dir, 'outdir-alone.parquet')
    expect((await cli(['index', b, alone, '--nlist', '8'])).code).toBe(0)
    expect(readFileSync(join(out, 'b 1#x.indexed.parquet')).equals(readFileSync(alone))).toBe(true)
    // the second file's row 5 is row 305 of the dataset: from the folder, and from a host serving it
    const site = await serveDir(out)
    try {
      // (the folder itself names its manifest, on the disk and on the host)
      for (const target of [manifest, `${site.url}manifest.json`, out, site.url]) {
        const r = await cli(['search', target, '--query-row', '305', '--k', '1', '--columns', 'title', '--json'])
        expect(r.code, r.stderr).toBe(0)
        expect(JSON.parse(r.stdout).results[0]).toMatchObject({ shard: 1, row: 5, distance: 0, values: { title: 'b 1#x:5' } })
      }
    } finally {
      await site.close()
    }
    // more data later: added after the files listed, whose rows keep their numbers; a file indexed
    // again keeps its place
    const more = await cli(['index', c, a, '--out-dir', out, '--nlist', '8'])
    expect(more.code, more.stderr).toBe(0)
    expect(more.stdout).toMatch(/manifest\.json: 3 files \(1 added\), 900 rows, searched as one/)
    expect(listed()).toEqual(['a.indexed.parquet', 'b%201%23x.indexed.parquet', 'c.indexed.parquet'])
    const third = await cli(['search', manifest, '--query-row', '605', '--k', '1', '--columns', 'title', '--json'])
    expect(JSON.parse(third.stdout).results[0]).toMatchObject({ shard: 2, row: 5, distance: 0, values: { title: 'c:5' } })
    // --update (a run cut short, run again): outputs newer than their inputs kept; an input changed since, indexed again
    const kept = await cli(['index', a, b, c, '--out-dir', out, '--nlist', '8', '--update', '--json'])
    expect(kept.code, kept.stderr).toBe(0)
    expect(JSON.parse(kept.stdout)).toEqual({ manifest, files: 3, added: 0, indexed: 0, kept: 3, rows: 900 })
    expect(kept.stderr).toContain(`kept ${join(out, 'b 1#x.indexed.parquet')}: newer than ${b}`)
    const later = new Date(Date.now() + 60_000)
    utimesSync(b, later, later)
    const changed = await cli(['index', a, b, c, '--out-dir', out, '--nlist', '8', '--update', '--json'])
    expect(changed.code, changed.stderr).toBe(0)
    const [again, summary] = changed.stdout
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l))
    expect(again).toMatchObject({ output: join(out, 'b 1#x.indexed.parquet') })
    expect(summary).toMatchObject({ files: 3, indexed: 1, kept: 2 })
    // and one built with other options than those given now: indexed again, saying how it differs
    const otherwise = await cli(['index', a, c, '--out-dir', out, '--nlist', '6', '--update', '--json'])
    expect(otherwise.code, otherwise.stderr).toBe(0)
    expect(otherwise.stderr).toContain(`indexing ${a} again: ${join(out, 'a.indexed.parquet')} was built with nlist 8, not 6`)
    expect(
      otherwise.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l).nlist),
    ).toEqual([6, 6, undefined])
    expect((await cli(['index', a, join(dir, 'u.parquet'), '--update'])).code).toBe(2) // (--update is --out-dir's)

    // files with only text: each embedded by one encoder (a model's workers, started once) and indexed
    const texts = join(dir, 'outdir-texts')
    mkdirSync(texts)
    writeIdTextFile(join(texts, 't1.parquet'), 'body', ['a red apple', 'a fast car', 'the deep sea'])
    writeIdTextFile(join(texts, 't2.parquet'), 'body', ['a flying plane', 'green grass', 'a small dog'])
    const embedded = await cli([
      'index',
      join(texts, 't1.parquet'),
      join(texts, 't2.parquet'),
      '--out-dir',
      join(texts, 'indexed'),
      ...['--embed-text', 'body', '--encoder', 'use-lite-512', '--threads', '2'],
    ])
    expect(embedded.code, embedded.stderr).toBe(0) // (the second file's embedding found the pool closed by the first's)
    const plane = await cli([
      'search',
      join(texts, 'indexed', 'manifest.json'),
      '--text',
      'an aircraft',
      '--k',
      '1',
      '--columns',
      'body',
      '--json',
    ])
    expect(JSON.parse(plane.stdout).results[0]).toMatchObject({ shard: 1, row: 0, values: { body: 'a flying plane' } })

    // refused before anything is built or the manifest changed
    const before = readdirSync(out).sort()
    const unchanged = () => {
      expect(readdirSync(out).sort()).toEqual(before)
      expect(listed()).toHaveLength(3)
    }
    const sameName = join(src, 'other', 'a.parquet')
    copyFileSync(a, sameName)
    const twice = await cli(['index', a, sameName, '--out-dir', out])
    expect(twice.code).toBe(2)
    expect(twice.stderr).toMatch(/a\.parquet and .*other\/a\.parquet would both be indexed into a\.indexed\.parquet/)
    // an output that is an input would be replaced before it is read
    const overInput = await cli(['index', join(out, 'a.indexed.parquet'), a, '--out-dir', out])
    expect(overInput.code).toBe(1)
    expect(overInput.stderr).toMatch(/outdir\/a\.indexed\.parquet: output path is an input file/)
    const notParquet = join(src, 'notes.parquet')
    writeFileSync(notParquet, 'just text')
    const bad = await cli(['index', c, notParquet, '--out-dir', out])
    expect(bad.code).toBe(1)
    expect(bad.stderr).toMatch(/notes\.parquet/)
    unchanged()
    // vectors of another dimension: found by the build; the files built before it stay, the manifest as it was
    const wide = join(src, 'wide.parquet')
    writeListFile(wide, vectors(300, 16, 9), { title: Array.from({ length: 300 }, (_, r) => `w${r}`) })
    const mixed = await cli(['index', wide, '--out-dir', out, '--nlist', '8'])
    expect(mixed.code).toBe(1)
    expect(mixed.stderr).toMatch(
      /indexed 1 of 1 file into .*outdir \(kept: --update goes on from there\); .*manifest\.json not written\n.*wide\.indexed\.parquet: shard 3 is 16-d l2, the first shard 8-d l2: one dataset needs one kind of vector/,
    )
    expect(listed()).toEqual(['a.indexed.parquet', 'b%201%23x.indexed.parquet', 'c.indexed.parquet'])
    expect(readdirSync(out).filter((f) => f.includes('tmp'))).toEqual([])
    // a manifest there that is not one: named, nothing built
    const other = join(dir, 'outdir-broken')
    mkdirSync(other)
    writeFileSync(join(other, 'manifest.json'), '{"files": []}')
    const broken = await cli(['index', c, '--out-dir', other])
    expect(broken.code).toBe(1)
    expect(broken.stderr).toMatch(/outdir-broken\/manifest\.json: the manifest needs "files"/)
    expect(readdirSync(other)).toEqual(['manifest.json'])
    // usage: several inputs without --out-dir say what takes them; --out-dir and --sidecar are two ways
    // a folder with no manifest: said what to give instead
    const folder = await cli(['search', src, '--query-row', '1'])
    expect(folder.code).toBe(1)
    expect(folder.stderr).toMatch(/outdir-src: is a folder with no manifest\.json: name its indexed files/)
    const several = await cli(['index', a, b, c])
    expect(several.code).toBe(2)
    expect(several.stderr).toMatch(/several inputs: --out-dir DIR/)
    const both = await cli(['index', a, b, '--out-dir', out, '--sidecar', join(dir, 'x.pqseek')])
    expect(both.code).toBe(2)
    const file = await cli(['index', a, '--out-dir', a])
    expect(file.code).toBe(1)
    expect(file.stderr).toMatch(/--out-dir is not a directory/)
  })

  it('index --out-dir again for a listed file that now holds more rows: a warning that the rows after it are numbered higher, and they are', async () => {
    const src = join(dir, 'renumber-src')
    const out = join(dir, 'renumber')
    mkdirSync(src)
    const write = (name: string, rows: number) =>
      writeListFile(join(src, `${name}.parquet`), vectors(rows, 8, rows), { title: Array.from({ length: rows }, (_, r) => `${name}:${r}`) })
    write('a', 300)
    write('b', 200)
    const first = await cli(['index', src, '--out-dir', out, '--nlist', '8'])
    expect([first.code, first.stderr]).toEqual([0, expect.not.stringContaining('warning')])
    write('a', 310)
    const again = await cli(['index', join(src, 'a.parquet'), '--out-dir', out, '--nlist', '8', '--json'])
    expect(again.code, again.stderr).toBe(0)
    const moved =
      'the rows of the file after a.indexed.parquet in the manifest are numbered 10 higher than before (it now holds 310 rows, not 300), so a row number saved or linked before names another row now'
    expect(again.stderr).toContain(`warning: ${moved}`)
    expect(JSON.parse(again.stdout.trim().split('\n').at(-1) as string)).toMatchObject({
      files: 2,
      indexed: 1,
      rows: 510,
      renumbered: moved,
    })
    const row = await cli(['search', out, '--query-row', '310', '--k', '1', '--columns', 'title', '--json'])
    expect(JSON.parse(row.stdout).results[0]).toMatchObject({ shard: 1, row: 0, values: { title: 'b:0' } })
    // the last file's rows move no other row
    write('b', 250)
    const last = await cli(['index', join(src, 'b.parquet'), '--out-dir', out, '--nlist', '8'])
    expect([last.code, last.stderr]).toEqual([0, expect.not.stringContaining('warning')])
  })

  it("a text query over files that name different models is refused, naming them (a manifest used its first shard's)", async () => {
    const mixed = join(dir, 'mixed')
    mkdirSync(mixed)
    const names = ['a', 'b']
    for (const [i, name] of names.entries()) {
      // the same dimension, another model: only the footer says which made the vectors
      const model = i ? 'other-model-8' : 'parquetseek/hash-ngram-v1:8'
      writeListFile(
        join(mixed, `${name}.parquet`),
        vectors(200, 8, i + 3),
        { title: Array.from({ length: 200 }, (_, r) => `${name}${r}`) },
        { 'parquetseek.model': model },
      )
      const built = await cli(['index', join(mixed, `${name}.parquet`), join(mixed, `${name}.indexed.parquet`), '--nlist', '4'])
      expect(built.code, built.stderr).toBe(0)
    }
    writeFileSync(join(mixed, 'manifest.json'), JSON.stringify({ files: names.map((n) => `${n}.indexed.parquet`) }))
    const sidecar = join(mixed, 'all.pqseek')
    expect((await cli(['index', '--sidecar', sidecar, ...names.map((n) => join(mixed, `${n}.parquet`)), '--nlist', '4'])).code).toBe(0)
    const why =
      /its files name different models, parquetseek\/hash-ngram-v1:8 \(a(\.indexed)?\.parquet\); other-model-8 \(b(\.indexed)?\.parquet\): a text query needs the one that made every file's vectors/
    for (const target of [join(mixed, 'manifest.json'), sidecar]) {
      const text = await cli(['search', target, '--text', 'a phrase'])
      expect(text.code, target).toBe(1)
      expect(text.stderr, target).toMatch(why)
      const joined = await cli(['join', join(mixed, 'a.parquet'), target, '--text', 'title', '--out', join(mixed, 'pairs.parquet')])
      expect(joined.code, target).toBe(1)
      expect(joined.stderr, target).toMatch(why)
      // a vector query needs no model: searched as before
      const row = await cli(['search', target, '--query-row', '3', '--k', '1', '--json'])
      expect(row.code, row.stderr).toBe(0)
      expect(JSON.parse(row.stdout).results[0]).toMatchObject({ distance: 0 })
    }
  })
})
