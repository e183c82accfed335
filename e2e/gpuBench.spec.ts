import { readFile } from 'node:fs/promises'
import { expect, test } from '@playwright/test'

// bench.html runs the GPU benchmark of `npm run bench:gpu` in the browser. Here it runs on
// SwiftShader at tiny sizes: for correctness only (every measurement made and shown), never speed.
test('GPU benchmark page: with WebGPU it measures every kernel and a batch search, offers the figures, and a run can be cancelled; without WebGPU it says so', async ({
  page,
}, info) => {
  // a scale that is not a number, or past what a tab holds, falls back to the default
  for (const bad of ['abc', '1']) {
    await page.goto(`/bench.html?scale=${bad}&reps=x`)
    await expect(page.getByLabel('Scale')).toHaveValue('0.1')
  }
  await page.goto('/bench.html?scale=0.0002&reps=1')
  await page.getByRole('button', { name: 'Run' }).click()
  if (info.project.name !== 'webgpu') {
    await expect(page.getByRole('alert')).toContainText(/The benchmark stopped: .*(no WebGPU|no adapter)/, { timeout: 30_000 })
    return
  }
  const results = page.getByTestId('bench-results')
  await expect(results).toBeVisible({ timeout: 120_000 })
  // a software adapter: named, and the self-test left out
  await expect(page.getByTestId('bench-adapter')).toContainText(/swiftshader.*tunables: the defaults \(a software adapter/i)
  const rows = page.getByTestId('bench-kernels').locator('tbody tr')
  // the copy, exact L2 at 3 sizes × 4 LANES × 2 entry points, the PQ scan at 2 sizes × (tiled at
  // 3 PER, direct), refine × 4 LANES, top-k × 3 BINS
  await expect(rows).toHaveCount(1 + 24 + 8 + 4 + 3)
  const kernels = await rows.locator('td:first-child').allTextContents()
  expect(kernels.filter((k) => k === 'exact L2')).toHaveLength(24)
  expect(kernels.filter((k) => k === 'PQ scan')).toHaveLength(8)
  await expect(rows.filter({ hasText: 'staged' })).toHaveCount(12)
  await expect(rows.filter({ hasText: /tiled PER (4|16|32)/ })).toHaveCount(6)
  // top-k: how many candidates each BINS hands back a query (all of them when a query has fewer than k)
  await expect(rows.filter({ hasText: 'top-k' }).locator('td:nth-child(3)')).toHaveText(Array(3).fill(/\d+ back a query$/))
  const times = (await rows.locator('td:nth-child(4)').allTextContents()).map(Number)
  expect(times.every((ms) => ms > 0)).toBe(true)
  // a CPU time below the timer's resolution reads as "—", never Infinity or NaN
  for (const text of await rows.allTextContents()) expect(text).not.toMatch(/Infinity|NaN/)
  await expect(page.getByTestId('bench-batch')).toContainText(/2 queries × 200 vectors [\s\S]* end to end from memory \([^)]*\): \d+ ms/)
  // judged against the data-centre targets only at their sizes
  await expect(page.getByTestId('bench-targets').locator('li')).toHaveText([
    /^PQ scan \(tiled PER 4, 4,000 × 96\): \d+ % of the copy's bandwidth — target ≥ 70 %: (met|missed)$/,
    /^exact L2 \(LANES 8, /,
    /^refine \(LANES 8, /,
    /^batch of 2 queries .*: not measured at that size$/,
    'build: not measured here (bench:gpu measures it)',
  ])
  await page.screenshot({ path: info.outputPath('bench.png'), fullPage: true })
  // the figures as JSON, as bench:gpu --json writes them
  const download = page.waitForEvent('download')
  await page.getByRole('link', { name: 'Download the figures (JSON)' }).click()
  const report = JSON.parse(await readFile(await (await download).path(), 'utf8'))
  expect(report.adapter).toMatch(/swiftshader/i)
  expect(report.kernels).toHaveLength(24 + 8 + 4 + 3)
  // fewer entries than k a query: top-k hands back every one of them, at any BINS
  const topK = report.kernels.filter((k: { kernel: string }) => k.kernel === 'selectTopK')
  expect(topK.map((k: { bins: number }) => k.bins)).toEqual([256, 1024, 2048])
  for (const k of topK) expect(k.found).toBe(Math.min(k.perQuery, k.keep))
  expect(report.batchSearch.queries).toBe(2)
  // each stage alone: the pipeline's GPU batch, the CPU's cut and page decoding too
  const b = report.batchSearch
  // (the CPU's two take microseconds at this size, below a page's timer resolution)
  for (const stage of ['probeMs', 'listStageMs', 'refineMs']) expect(b[stage]).toBeGreaterThan(0)
  for (const stage of ['cutMs', 'decodeMs']) expect(b[stage]).toBeGreaterThanOrEqual(0)
  expect(b.stagesMs).toBeCloseTo(b.probeMs + b.cutMs + b.listStageMs + b.decodeMs + b.refineMs, 6)
  expect(b.listsPerQuery).toBeGreaterThan(0)
  expect(b.listsPerQuery).toBeLessThanOrEqual(b.nprobe)
  // the list stage again with every block tiled, at each PER: the same candidates as the picked tunables'
  expect(b.tiledListStage.map((t: { PER: number }) => t.PER)).toEqual([4, 16, 32])
  for (const t of b.tiledListStage) expect([t.same, t.ms > 0]).toEqual([true, true])
  // end to end: the search pipeline on the batch (its GPU stages ran: time in probe, scan and
  // refine; the candidates' pages decoded in its refine stage)
  const staged =
    b.pipelineStages.probe + b.pipelineStages.lists + b.pipelineStages.scan + b.pipelineStages.refine + b.pipelineStages.project
  for (const stage of ['probe', 'scan', 'refine']) expect(b.pipelineStages[stage]).toBeGreaterThan(0)
  expect(b.pipelineMs).toBeGreaterThanOrEqual(staged)
  expect(b.totalMs).toBe(b.pipelineMs)
  // the page shows the pipeline's stages and that total
  const stages = page.getByTestId('bench-batch-stages')
  await expect(stages.locator('tbody tr')).toHaveCount(5)
  await expect(stages.locator('tbody td:nth-child(2)')).toHaveText(['GPU, CPU', 'CPU', 'GPU, CPU', 'CPU, GPU', 'CPU'])
  await expect(stages.locator('tfoot td')).toHaveText(b.totalMs.toFixed(1))
  expect(report.targets).toHaveLength(5)

  // a longer run happens in its own worker (the page's thread stays free for its progress and
  // Cancel) and the progress bar moves; cancelled, the worker is terminated, the page says so
  // and shows nothing half done
  const started = page.waitForEvent('worker', (w) => /gpuBench\.worker/.test(w.url()))
  await page.getByLabel('Scale').selectOption('0.01')
  await page.getByRole('button', { name: 'Run' }).click()
  const worker = await started
  const closed = new Promise<void>((resolve) => worker.on('close', () => resolve()))
  await expect(page.getByRole('progressbar', { name: 'Benchmark progress' })).toHaveAttribute('value', /^([3-9]|\d\d)$/, {
    timeout: 120_000,
  })
  await page.getByRole('button', { name: 'Cancel' }).click()
  await expect(page.getByRole('alert')).toHaveText('Cancelled.', { timeout: 60_000 })
  await closed
  await expect(results).toHaveCount(0)
  await expect(page.getByRole('button', { name: 'Run' })).toBeEnabled()
})
