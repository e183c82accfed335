/**
 * Indexing files as pyarrow writes them by default — one row group, no offset index — in both
 * page layouts of a list<float> embedding: pages that begin at rows (newer pyarrow, or V2 pages;
 * written here by hyparquet-writer), and V1 pages cut every 1,024 values once past 1 MiB, most
 * beginning inside a row (older pyarrow; scripts/pyarrowLike.ts), uncompressed and at pyarrow's
 * defaults (SNAPPY, the first page dictionary-encoded). Through the CLI at its defaults: `index`
 * from the disk (from a URL it downloads the file first), `index --sidecar` from the disk and
 * from an S3-like host (single ranges, 30 ms a request), which reads the file where it is, and
 * exact search of the file as it is (every vector read). Peak memory (the process's maximum
 * RSS), bytes the host sent, seconds.
 *   npm run bench:pyarrow-files [-- --rows 200000 --dim 384 --bin <another checkout>/bin/parquetseek.js]
 */
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { serveFile } from '../src/cli/rangeServer.js'
import { mulberry32 } from '../src/compute/random.js'
import { writeV1SplitList } from './pyarrowLike.js'

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    dim: { type: 'string', default: '384' },
    bin: { type: 'string', default: resolve(import.meta.dirname, '../../bin/parquetseek.js') },
  },
})
const rows = Number(values.rows)
const dim = Number(values.dim)
const dir = resolve(import.meta.dirname, '../../.bench/pyarrow-files')
mkdirSync(dir, { recursive: true })

// clustered vectors (2,000 clusters)
const files = {
  aligned: join(dir, `aligned-${rows}x${dim}.parquet`),
  split: join(dir, `v1-split-${rows}x${dim}.parquet`),
  defaults: join(dir, `v1-snappy-dictionary-${rows}x${dim}.parquet`),
}
if (!Object.values(files).every((f) => existsSync(f))) {
  const rand = mulberry32(3)
  const centers = Float32Array.from({ length: 2000 * dim }, () => rand() * 4)
  const data = new Float32Array(rows * dim)
  for (let i = 0; i < rows; i++) {
    const c = Math.floor(rand() * 2000)
    for (let j = 0; j < dim; j++) data[i * dim + j] = (centers[c * dim + j] as number) + (rand() - 0.5) * 0.8
  }
  writeV1SplitList(files.split, data, dim)
  writeV1SplitList(files.defaults, data, dim, { dictionaryPages: 1, codec: 'SNAPPY' })
  const buf = parquetWriteBuffer({
    pageSize: 1 << 20,
    rowGroupSize: rows,
    schema: [
      { name: 'root', num_children: 1 },
      { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
    ],
    columnData: [
      {
        name: 'embedding',
        data: Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * dim, (i + 1) * dim))),
        offsetIndex: false,
      },
    ],
  })
  writeFileSync(files.aligned, new Uint8Array(buf))
}

/** The process's peak RSS, printed as it exits. */
const PEAK = 'data:text/javascript,process.on("exit",()=>process.stderr.write("\\npeak-rss "+process.resourceUsage().maxRSS+"\\n"))'

console.log(`${rows} × ${dim} float32 in one row group, no offset index; ${values.bin}`)
const LAYOUTS = {
  aligned: 'pages at rows (newer pyarrow, V2)',
  split: 'V1 pages cut inside rows (older pyarrow)',
  defaults: 'the same, SNAPPY, a dictionary first page (older pyarrow at its defaults)',
}
console.log('\n| file | command | from | peak RSS MiB | MiB sent | s |')
console.log('|---|---|---|---|---|---|')
for (const [layout, path] of Object.entries(files) as Array<[keyof typeof files, string]>) {
  const server = await serveFile(path, { host: 's3', delayMs: 30 })
  try {
    for (const [command, from] of [
      ['index', 'disk'],
      ['index --sidecar', 'disk'],
      ['index --sidecar', 'S3-like host'],
      ['search --query-row 5', 'disk'],
      ['search --query-row 5', 'S3-like host'],
    ] as const) {
      const input = from === 'disk' ? path : server.url
      const out = join(dir, command === 'index' ? 'out.parquet' : 'out.pqseek')
      rmSync(out, { force: true })
      // (exact search of the file as it is: every vector read)
      const args =
        command === 'index'
          ? ['index', input, out]
          : command === 'index --sidecar'
            ? ['index', '--sidecar', out, input]
            : ['search', input, '--query-row', '5', '--k', '3']
      const sent = server.bytesSent
      const t0 = performance.now()
      // (not spawnSync: the host answers from this process)
      const run = await new Promise<{ status: number | null; stderr: string }>((done) => {
        const child = spawn(process.execPath, ['--import', PEAK, values.bin, ...args, '--column', 'embedding'])
        let stderr = ''
        child.stderr.on('data', (d) => (stderr += d))
        child.on('close', (status) => done({ status, stderr }))
      })
      const seconds = (performance.now() - t0) / 1000
      const peak = Number(/peak-rss (\d+)/.exec(run.stderr)?.[1] ?? Number.NaN) / 1024
      const failed = run.status === 0 ? '' : ` (failed: ${run.stderr.trim().split('\n').at(-2) ?? run.status})`
      const mib = from === 'disk' ? '–' : ((server.bytesSent - sent) / 2 ** 20).toFixed(0)
      console.log(
        `| ${LAYOUTS[layout]}, ${(statSync(path).size / 2 ** 20).toFixed(0)} MiB | \`${command}\` | ${from} | ${peak.toFixed(0)}${failed} | ${mib} | ${seconds.toFixed(1)} |`,
      )
    }
  } finally {
    await server.close()
  }
}
