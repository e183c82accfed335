/**
 * Search benchmark over HTTP range requests: for each shared dataset (and optionally a
 * generated file), builds the indexed file once, then runs `parquetseek bench` through a local
 * range server that adds --rtt-ms per request, sweeping nprobe. Prints one table per dataset.
 *   npm run bench:search [-- --only wordnet --rtt-ms 20 --generated 200000x768]
 */
import { spawnSync } from 'node:child_process'
import { existsSync, mkdirSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'

const root = resolve(import.meta.dirname, '../..')
const { values } = parseArgs({
  options: { only: { type: 'string' }, 'rtt-ms': { type: 'string', default: '20' }, limit: { type: 'string', default: '300' } },
})
const shared = join(root, '../shared/data')
const out = join(root, '.bench')
mkdirSync(out, { recursive: true })
const cli = (args: string[], inherit = false) =>
  spawnSync(process.execPath, ['--max-old-space-size=16384', join(root, 'bin/parquetseek.js'), ...args], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', inherit ? 'inherit' : 'pipe'],
    maxBuffer: 1 << 26,
  })

const datasets = [
  { name: 'glove-twitter-25d-12k', metrics: ['cosine', 'l2'] },
  { name: 'sap-fiori-docs-minilm-384', metrics: ['cosine', 'l2'] },
  { name: 'sift-128-ngt5k', metrics: ['l2'] },
  { name: 'mnist-784-t10k', metrics: ['l2'] },
  { name: 'wordnet-fasttext-words-100d', metrics: ['cosine', 'l2'] },
].filter((d) => !values.only || d.name.includes(values.only))
if (!existsSync(shared)) {
  console.log('../shared/data is absent: nothing to benchmark')
  process.exit(0)
}
for (const d of datasets) {
  for (const metric of d.metrics) {
    const indexed = join(out, `${d.name}.${metric}.indexed.parquet`)
    const built = cli(['index', join(shared, d.name, 'base.parquet'), indexed, '--column', 'embedding', '--metric', metric, '--json'])
    if (built.status !== 0) throw new Error(built.stderr)
    const b = JSON.parse(built.stdout)
    const nlist = b.nlist as number
    // two cheaper settings for the recall/bytes curve, then the tuned default the index stores
    const sweep = [...new Set([...[0.1, 0.2].map((f) => Math.max(1, Math.round(f * nlist))), b.nprobe as number])]
      .sort((x, y) => x - y)
      .join(',')
    const truth = join(shared, d.name, `gt_${metric === 'cosine' ? 'cos' : 'l2'}_top100_ids.npy`)
    console.log(
      `\n### ${d.name}, ${metric} (nlist ${nlist}, m ${b.m}, default nprobe ${b.nprobe}, refine ${b.refine}; built in ${(b.buildMs / 1000).toFixed(1)} s, index ${((100 * b.indexBytes) / b.outputBytes).toFixed(1)}% of ${(b.outputBytes / 2 ** 20).toFixed(1)} MiB)`,
    )
    const r = cli([
      'bench',
      indexed,
      '--queries',
      join(shared, d.name, 'queries.parquet'),
      '--truth',
      truth,
      '--truth-dist',
      truth.replace('_ids.npy', '_dist.npy'),
      '--id-column',
      'id',
      '--nprobe',
      sweep,
      '--rtt-ms',
      values['rtt-ms'] as string,
      '--limit',
      values.limit as string,
    ])
    if (r.status !== 0) throw new Error(r.stderr)
    console.log(r.stdout.split('\n').slice(1).join('\n'))
  }
}
