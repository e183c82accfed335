// Printed after `npm run build`: what a visitor downloads (gzipped) and what the demo data costs.
import { existsSync, openSync, readdirSync, readFileSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import { parquetMetadataAsync } from 'hyparquet'

const dist = new URL('../dist/', import.meta.url).pathname
const kib = (n) => `${(n / 1024).toFixed(1)} KiB`
const gz = (path) => gzipSync(readFileSync(path), { level: 9 }).length

const rows = []
for (const f of ['parquet-seek.js', 'parquet-seek.iife.js', 'parquet-seek-encoder.js']) {
  const p = join(dist, 'widget', f)
  const label = f === 'parquet-seek-encoder.js' ? `  on demand: widget ${f}` : `widget ${f}`
  if (existsSync(p)) rows.push([label, kib(statSync(p).size), kib(gz(p))])
}
// the app's initial load: what index.html references directly (workers load on demand)
const html = readFileSync(join(dist, 'index.html'), 'utf8')
let initial = 0
let initialGz = 0
for (const [, ref] of html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+\.(?:js|css))"/g)) {
  initial += statSync(join(dist, ref)).size
  initialGz += gz(join(dist, ref))
}
rows.push(['app initial JS + CSS', kib(initial), kib(initialGz)])
for (const f of readdirSync(join(dist, 'assets')).filter((n) => /worker/.test(n)))
  rows.push([
    `  on demand: ${f.replace(/-[\w-]+\.js$/, '')}`,
    kib(statSync(join(dist, 'assets', f)).size),
    kib(gz(join(dist, 'assets', f))),
  ])

// the sentence encoder's files, fetched on the first text query (or page embedding) and cached
for (const folder of ['use-lite', 'tfjs-wasm']) {
  const path = join(dist, 'models', folder)
  if (!existsSync(path)) continue
  const files = readdirSync(path)
  const bytes = files.reduce((n, f) => n + statSync(join(path, f)).size, 0)
  rows.push([`  on demand: models/${folder}/ (${files.length} files)`, kib(bytes), ''])
}

const demo = join(dist, 'demo')
if (existsSync(demo)) {
  for (const f of readdirSync(demo).filter((n) => n.endsWith('.indexed.parquet'))) {
    const path = join(demo, f)
    const size = statSync(path).size
    const fd = openSync(path, 'r')
    const file = {
      byteLength: size,
      slice(start, end = size) {
        const b = Buffer.alloc(end - start)
        readSync(fd, b, 0, b.length, start)
        return b.buffer.slice(b.byteOffset, b.byteOffset + b.length)
      },
    }
    const meta = await parquetMetadataAsync(file)
    const indexBytes = Number(meta.key_value_metadata?.find((kv) => kv.key === 'parquetseek.index.length')?.value ?? 0)
    rows.push([
      `demo ${f} (${Number(meta.num_rows).toLocaleString('en-US')} rows)`,
      kib(size),
      `index ${kib(indexBytes)} = ${((100 * indexBytes) / size).toFixed(1)} %`,
    ])
  }
} else rows.push(['demo data', 'none in dist/ (run `npm start` or `npm run demo:data` first)', ''])

console.log('\nsize report')
for (const [what, raw, packed] of rows) console.log(`  ${what.padEnd(44)} ${raw.padStart(12)}  ${packed}`)
