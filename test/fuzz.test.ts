import { execFileSync } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import type { FileMetaData, PageHeader } from 'hyparquet'
import { describe, expect, it } from 'vitest'
import { checkLevels, checkMetadata, checkPageHeader } from '../src/parquet/guard.js'

const root = join(import.meta.dirname, '..')
const kept = join(root, 'test/fixtures/fuzz')

describe('fuzzing the reader', () => {
  it('every entry point (indexed file, pq-vector file, exact search, join, hostile server, sidecar, manifest, a build storing rows list by list a window at a time) and every kept crasher: a valid result or a clear error, never a crash, hang or wrong answer', () => {
    // the harness runs cases in a worker it kills on a hang (5 s a case); its time budget covers
    // all the cases asked for with room for a slower machine: 84 s alone here, 104–117 s beside
    // the other test files on 2 cores (2026-12-07), where 150 s left too little room
    const counts = { files: 6000, server: 1000, sidecar: 3500, cluster: 300 }
    const out = execFileSync(
      process.execPath,
      [
        'build/scripts/fuzz/run.js',
        ...['--cases', String(counts.files), '--server-cases', String(counts.server), '--sidecar-cases', String(counts.sidecar)],
        ...['--cluster-cases', String(counts.cluster)],
        ...['--seconds', '300', '--limit-ms', '5000', '--fixtures', kept, '--json'],
      ],
      { cwd: root, encoding: 'utf8', timeout: 330_000 },
    )
    const summary = JSON.parse(out)
    console.log(
      `fuzz: ${summary.cases} cases (${summary.keptInputs} kept inputs, ${summary.files - summary.keptInputs} mutated files: ${JSON.stringify(summary.byEntry)}, ${summary.server} hostile-server, ${summary.sidecar} sidecar/manifest, ${summary.cluster} clustered builds): ` +
        `${summary.valid} valid, ${summary.error} clear errors, ${summary.crash} crashes, ${summary.hang} hangs; ` +
        `${summary.oracleCases} answers compared with the unmutated file's (edits never read); peak RSS ${summary.peakRssMiB} MiB; ` +
        `at most ${summary.maxServerBytesPerCaseMiB} MiB sent by the server in one case`,
    )
    expect(summary.failures).toEqual([])
    expect(summary.crash + summary.hang).toBe(0)
    expect(summary.keptInputs).toBe(readdirSync(kept).filter((f) => f.endsWith('.parquet')).length)
    // every case asked for ran (the time budget did not cut the run short)
    expect(summary.files - summary.keptInputs).toBe(counts.files)
    // every entry point had its share, and the oracle (an edit never read leaves the answer as it was) ran
    for (const entry of ['embedded', 'pqvector', 'flat', 'join']) expect(summary.byEntry[entry], entry).toBe(counts.files / 4)
    expect(summary.oracleCases).toBeGreaterThan(200)
    expect(summary.server).toBe(counts.server)
    expect(summary.sidecar).toBe(counts.sidecar)
    expect(summary.cluster).toBe(counts.cluster)
    expect(summary.cases).toBeGreaterThanOrEqual(10_300)
    expect(summary.error).toBeGreaterThan(0) // the mutations do reach the parsers
    expect(summary.valid).toBeGreaterThan(0) // and some cases get through to an answer
  }, 360_000)
})

describe('guards', () => {
  const where = { file: 'f.parquet', offset: 100 }
  const page = (o: Partial<PageHeader>): PageHeader =>
    ({
      type: 'DATA_PAGE',
      uncompressed_page_size: 1000,
      compressed_page_size: 900,
      data_page_header: { num_values: 100 },
      ...o,
    }) as PageHeader

  it('page headers: sizes and counts beyond the caps are refused before any decoder allocates', () => {
    expect(() => checkPageHeader(page({}), where)).not.toThrow()
    expect(() => checkPageHeader(page({ uncompressed_page_size: 2 ** 31 }), where)).toThrow(
      'f.parquet, section page header, byte 100: corrupt page header: uncompressed size 2147483648',
    )
    expect(() => checkPageHeader(page({ data_page_header: { num_values: 2 ** 31 - 1 } as never }), where)).toThrow(
      /2147483647 values in a page of 1000 bytes/,
    )
    expect(() => checkPageHeader(page({ compressed_page_size: undefined as never }), where)).toThrow(/compressed size undefined/)
  })

  it('level runs may not claim more values than the page holds', () => {
    // RLE run of 4 (header 4<<1), value 1; then a bit-packed group of 8 (header 1<<1|1), 1 byte
    expect(() => checkLevels(Uint8Array.of(8, 1, 3, 0xff), 0, 4, 1, 12, 'definition levels', where)).not.toThrow()
    // one RLE run claiming 2^28 values in a 12-value page
    expect(() => checkLevels(Uint8Array.of(0x80, 0x80, 0x80, 0x80, 0x02, 1), 0, 6, 1, 12, 'definition levels', where)).toThrow(
      /corrupt definition levels: a run of 268435456 values where 12 remain/,
    )
    expect(() => checkLevels(Uint8Array.of(0x80), 0, 1, 1, 12, 'definition levels', where)).toThrow(/run header past the levels/)
  })

  it('footers: wrong types and out-of-file offsets are named', () => {
    const good = {
      schema: [{ name: 'root', num_children: 1 }, { name: 'x' }],
      num_rows: 10n,
      row_groups: [
        {
          num_rows: 10n,
          columns: [{ meta_data: { path_in_schema: ['x'], data_page_offset: 4n, total_compressed_size: 50n, num_values: 10n } }],
        },
      ],
      key_value_metadata: [{ key: 'k', value: 'v' }],
    } as unknown as FileMetaData
    expect(() => checkMetadata(good, 200, 'f.parquet')).not.toThrow()
    const bad = (patch: (m: FileMetaData) => void) => {
      const m = structuredClone(good)
      patch(m)
      return () => checkMetadata(m, 200, 'f.parquet')
    }
    expect(bad((m) => ((m as { key_value_metadata: unknown }).key_value_metadata = [0, 1]))).toThrow(
      'f.parquet, section footer: corrupt Parquet footer: a key-value entry is not text',
    )
    expect(bad((m) => ((m.row_groups[0] as { num_rows: bigint }).num_rows = 9n))).toThrow(/row groups hold 9 rows, the footer says 10/)
    expect(
      bad((m) => ((m.row_groups[0]?.columns[0]?.meta_data as { total_compressed_size: bigint }).total_compressed_size = 199n)),
    ).toThrow(/ends past the 200-byte file/)
    // a schema whose parents claim more children than follow (hyparquet's walk read past the end: a crash)
    expect(bad((m) => ((m.schema[0] as { num_children: number }).num_children = 3))).toThrow(
      /corrupt Parquet footer: the schema ends before all \d+ elements' children/,
    )
    expect(bad((m) => ((m.schema[0] as { num_children: number }).num_children = 0))).toThrow(/schema element 1 is outside the tree/)
    expect(bad((m) => ((m.schema[0] as { num_children: number }).num_children = -1))).toThrow(/schema element 0 claims -1 children/)
  })
})
