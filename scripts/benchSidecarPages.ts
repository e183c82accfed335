/**
 * A sidecar over a file written as pyarrow writes it by default — no offset index, pages of about
 * 1 MiB, one row group — searched over an S3-like host (single ranges only, 30 ms a request,
 * 6 connections): bytes, requests and time per held-out query with the page table the build
 * stores, and without it (the sidecar's header with `pages` taken out: what earlier builds wrote,
 * where a query reads the vector column's whole chunk), and built with its vectors copied in
 * (`--sidecar-vectors`: a candidate read from the sidecar, not its page). Recall@10 against exact search.
 *   npm run bench:sidecar-pages [-- --rows 200000 --dim 384 --queries 20]
 */
import { execFileSync } from 'node:child_process'
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { parquetWriteBuffer } from 'hyparquet-writer'
import { serveFile } from '../src/cli/rangeServer.js'
import { mulberry32 } from '../src/compute/random.js'
import { SIDECAR_MAGIC, type SidecarHeader } from '../src/index/sidecarFile.js'
import { searchExact } from '../src/query/memory.js'
import { SidecarIndex } from '../src/search/sidecarIndex.js'

const { values } = parseArgs({
  options: {
    rows: { type: 'string', default: '200000' },
    dim: { type: 'string', default: '384' },
    queries: { type: 'string', default: '20' },
  },
})
const rows = Number(values.rows)
const dim = Number(values.dim)
const nq = Number(values.queries)
const dir = resolve(import.meta.dirname, '../../.bench/sidecar-pages')
mkdirSync(dir, { recursive: true })

// clustered vectors (2,000 clusters), the queries drawn from the same clusters but not in the file
const rand = mulberry32(3)
const centers = Float32Array.from({ length: 2000 * dim }, () => rand() * 4)
const draw = (n: number) => {
  const out = new Float32Array(n * dim)
  for (let i = 0; i < n; i++) {
    const c = Math.floor(rand() * 2000)
    for (let j = 0; j < dim; j++) out[i * dim + j] = (centers[c * dim + j] as number) + (rand() - 0.5) * 0.8
  }
  return out
}
const data = draw(rows)
const queries = draw(nq)
const name = `py-${rows}x${dim}.parquet`
const path = join(dir, name)
if (!existsSync(path)) {
  const buf = parquetWriteBuffer({
    pageSize: 1 << 20,
    rowGroupSize: rows,
    schema: [
      { name: 'root', num_children: 2 },
      { name: 'title', type: 'BYTE_ARRAY', converted_type: 'UTF8', repetition_type: 'OPTIONAL' },
      { name: 'embedding', repetition_type: 'OPTIONAL', converted_type: 'LIST', num_children: 1 },
      { name: 'list', repetition_type: 'REPEATED', num_children: 1 },
      { name: 'element', type: 'FLOAT', repetition_type: 'OPTIONAL' },
    ],
    columnData: [
      { name: 'title', data: Array.from({ length: rows }, (_, i) => `the title of row ${i}`), offsetIndex: false },
      {
        name: 'embedding',
        data: Array.from({ length: rows }, (_, i) => Array.from(data.subarray(i * dim, (i + 1) * dim))),
        offsetIndex: false,
      },
    ],
  })
  writeFileSync(path, new Uint8Array(buf))
}
const sidecar = join(dir, `py-${rows}x${dim}.pqseek`)
const copied = join(dir, `py-${rows}x${dim}.vectors.pqseek`)
for (const [out, extra] of [
  [sidecar, []],
  [copied, ['--sidecar-vectors']],
] as const) {
  if (existsSync(out)) continue
  // through the CLI, as a user builds it (WASM kernels, a thread a core)
  const t0 = performance.now()
  execFileSync(
    process.execPath,
    [resolve(import.meta.dirname, '../../bin/parquetseek.js'), 'index', '--sidecar', out, path, '--column', 'embedding', ...extra],
    {
      stdio: ['ignore', 'ignore', 'inherit'],
    },
  )
  console.log(
    `sidecar built in ${((performance.now() - t0) / 1000).toFixed(1)} s (index --sidecar ${extra.join(' ')}): ${(readFileSync(out).length / 2 ** 20).toFixed(1)} MiB`,
  )
}
// the same sidecar without its page table
const bytes = readFileSync(sidecar)
const jsonLength = bytes.readUInt32LE(SIDECAR_MAGIC.length)
const start = SIDECAR_MAGIC.length + 4
const header = JSON.parse(bytes.toString('utf8', start, start + jsonLength)) as SidecarHeader
const stripped = JSON.stringify({ ...header, sources: header.sources.map(({ pages: _, ...s }) => s) })
const bare = Buffer.alloc(bytes.length)
bytes.copy(bare, 0, 0, SIDECAR_MAGIC.length)
bare.writeUInt32LE(Buffer.byteLength(stripped), SIDECAR_MAGIC.length)
bare.write(stripped, start)
bytes.copy(bare, header.blobOffset, header.blobOffset)
writeFileSync(join(dir, 'bare.pqseek'), bare)
const pages = header.sources[0]?.pages?.[0] ?? {}
console.log(
  `${name}: ${(readFileSync(path).length / 2 ** 20).toFixed(0)} MiB, one row group; pages: embedding ${(pages['embedding.list.element']?.length ?? 0) / 3}, title ${(pages.title?.length ?? 0) / 3}; page table ${(Buffer.byteLength(JSON.stringify(header.sources[0]?.pages)) / 1024).toFixed(1)} KiB of the sidecar's header`,
)

const ids = Uint32Array.from({ length: rows }, (_, i) => i)
const truth = Array.from(
  { length: nq },
  (_, q) => new Set(searchExact('l2', data, ids, queries.subarray(q * dim, (q + 1) * dim), 10).map((h) => h.row)),
)
const servers = await Promise.all([path, sidecar, join(dir, 'bare.pqseek'), copied].map((p) => serveFile(p, { host: 's3', delayMs: 30 })))
try {
  const [file, withPages, withoutPages, withVectors] = servers.map((s) => s.url) as [string, string, string, string]
  console.log('\n| sidecar | KiB / query | requests / query | ms / query | recall@10 |')
  console.log('|---|---|---|---|---|')
  for (const [label, url] of [
    ['with its vectors copied (--sidecar-vectors)', withVectors],
    ['with its page table', withPages],
    ['without (as before)', withoutPages],
  ] as const) {
    const { openHttp } = await import('../src/io/httpSource.js')
    const index = await SidecarIndex.open((await openHttp(url)).source, async () => file, { connections: 6, maxBytesPerQuery: 2 ** 31 })
    let kib = 0
    let requests = 0
    let ms = 0
    let hits = 0
    for (let q = 0; q < nq; q++) {
      index.clearCache()
      const t0 = performance.now()
      const r = await index.search(queries.subarray(q * dim, (q + 1) * dim), { k: 10, columns: ['title'] })
      ms += performance.now() - t0
      kib += r.stats.bytes / 1024
      requests += r.stats.requests
      hits += r.results.filter((h) => truth[q]?.has(h.row)).length
    }
    console.log(
      `| ${label} | ${(kib / nq).toFixed(0)} | ${(requests / nq).toFixed(1)} | ${(ms / nq).toFixed(0)} | ${(hits / nq / 10).toFixed(3)} |`,
    )
    index.close()
  }
} finally {
  for (const s of servers) await s.close()
}
