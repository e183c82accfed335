import { existsSync, mkdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { gzipSync } from 'node:zlib'
import type { Page } from '@playwright/test'
import { asyncBufferFromFile, parquetMetadataAsync } from 'hyparquet'
import { expect, hitRows, hits, scrollToRow, seriousViolations, test, withDemo } from './fixtures.js'

// The demo as `npm start` serves it (public/demo, copied into dist/ by the build; `npm test`
// generates it first). These tests are about what a visitor meets on it.
const DEMO = join(import.meta.dirname, '../dist/demo/manifest.json')
const SHOTS = join(import.meta.dirname, '../test-results/screenshots')
const PHRASE = 'a boat for sailing on the sea'

/** The little of the DOM the page functions below use (the Node typecheck has no DOM types). */
interface El {
  tagName: string
  className: string
  closest(selector: string): El | null
}
type Shift = { value: number; nodes: string[] }
interface PageGlobals {
  document: { body: El; documentElement: { scrollWidth: number } }
  getComputedStyle(e: El): { backgroundColor: string }
  requestAnimationFrame(f: () => void): void
  PerformanceObserver: new (
    cb: (list: { getEntries(): Array<{ value: number; sources: Array<{ node?: El }> }> }) => void,
  ) => { observe(o: object): void }
  __shifts: Shift[]
}

test.beforeAll(() => {
  if (!existsSync(DEMO)) throw new Error('dist/demo/ has no demo data: run `node build/scripts/demo.js && npm run build` first')
  mkdirSync(SHOTS, { recursive: true })
})

async function openDemo(page: Page) {
  await withDemo(page)
  await page.goto('/')
  // the demo opens with a first query already answered
  await expect(hits(page)).toHaveCount(10, { timeout: 30_000 })
}

/**
 * The page address's params: the app writes them in an effect after the render that shows the
 * answer, so a test polls them (`expect.poll`) rather than reading them once.
 */
function addressParams(page: Page, ...keys: string[]): Array<string | null> {
  const params = new URL(page.url()).searchParams
  return keys.map((key) => params.get(key))
}

/** Rows in the demo file. */
async function demoRows(): Promise<number> {
  const file = await asyncBufferFromFile(join(import.meta.dirname, '../dist/demo/wordnet.indexed.parquet'))
  return Number((await parquetMetadataAsync(file)).num_rows)
}

/** Searches for `text`, with `where` in the filter box when given; what the results say they are for. */
async function searchText(page: Page, text: string, where?: string): Promise<string> {
  if (where !== undefined) await page.getByLabel('Filter rows').fill(where)
  await page.getByLabel('Query text').fill(text)
  await page.getByRole('button', { name: 'Search', exact: true }).click()
  const answerFor = `Results for “${text}”${where ? ` where ${where}` : ''}`
  await expect(page.getByTestId('answer-for')).toHaveText(answerFor, { timeout: 30_000 })
  return answerFor
}

for (const [size, viewport] of [
  ['desktop', { width: 1280, height: 800 }],
  ['phone', { width: 390, height: 844 }],
] as const) {
  test(`demo at ${viewport.width}×${viewport.height}, light and dark: screenshots before and after a text search, no serious axe violations`, async ({
    page,
  }) => {
    await page.setViewportSize(viewport)
    const shoot = async (moment: 'before' | 'after') => {
      for (const scheme of ['light', 'dark'] as const) {
        await page.emulateMedia({ colorScheme: scheme })
        // the theme follows the system until the user picks one
        const background = await page.evaluate(() => {
          const g = globalThis as unknown as PageGlobals
          return g.getComputedStyle(g.document.body).backgroundColor
        })
        expect(background).toBe(scheme === 'dark' ? 'rgb(15, 18, 22)' : 'rgb(247, 248, 250)')
        await page.screenshot({ path: join(SHOTS, `demo-${size}-${scheme}-${moment}.png`), fullPage: true })
        expect(await seriousViolations(page), `${scheme}, ${moment} the search`).toEqual([])
      }
    }
    await openDemo(page)
    await shoot('before')
    await searchText(page, PHRASE)
    await expect(hits(page).first().locator('mark').first()).toBeVisible()
    await shoot('after')
    // never wider than the screen
    expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).document.documentElement.scrollWidth)).toBeLessThanOrEqual(
      viewport.width,
    )
  })
}

test('the demo answers "a feeling of great happiness" by meaning, with the model from this site', async ({ page }) => {
  const requested: string[] = []
  page.on('request', (r) => requested.push(new URL(r.url()).pathname))
  await openDemo(page)
  // the demo's first query, typed by no one: answered on load with use-lite-512 in the page
  await expect(page.getByTestId('answer-for')).toHaveText('Results for “a feeling of great happiness”')
  const top = await hits(page).locator('.hit-main').allTextContents()
  console.log(
    `demo, "a feeling of great happiness": ${top
      .slice(0, 5)
      .map((t) => t.slice(0, 50))
      .join(' | ')}`,
  )
  for (const text of top.slice(0, 3)) expect(text).toMatch(/happi|joy|glad|elat|rejoic|bliss|delight|cheer/i)
  expect(requested.filter((p) => p.endsWith('/models/use-lite/model.json'))).toHaveLength(1)
  // served beside it: the model's licence, and what the build changed (its weights as half floats)
  const licence = await page.request.get('./models/use-lite/LICENSE')
  expect(await licence.text()).toContain('Apache License')
  const notice = await page.request.get('./models/use-lite/NOTICE')
  expect(await notice.text()).toMatch(
    /^model\.json and the group1-shard files are modified from @energetic-ai\/model-embeddings-en \d+\.\d+\.\d+ .*half floats/,
  )
})

test('the results download as CSV: the rows on screen in their order, each with its distance and the columns shown', async ({ page }) => {
  await openDemo(page)
  const rows = await hitRows(page)
  const [download] = await Promise.all([page.waitForEvent('download'), page.getByRole('button', { name: 'Download CSV' }).click()])
  expect(download.suggestedFilename()).toBe('wordnet.indexed-results.csv')
  const lines = readFileSync(await download.path(), 'utf8').split('\r\n')
  expect(lines.pop()).toBe('') // each line ends in CRLF, the last too
  expect(lines[0]).toMatch(/^row,distance,(\w+,)*word(,|$)/)
  const fields = lines.slice(1).map((line) => line.split(','))
  expect(fields.map((f) => Number(f[0]))).toEqual(rows)
  const shown = await hits(page).locator('.hit-distance').allTextContents()
  expect(fields.map((f) => Number(f[1]).toPrecision(4))).toEqual(shown)
  const word = (lines[0] as string).split(',').indexOf('word')
  expect(fields[0]?.[word]).toBe(await hits(page).first().locator('.hit-title strong').textContent())
})

test('the user flow: a phrase, the first result, similar rows, back; then the last row in the Data view', async ({ page }) => {
  await openDemo(page)
  // `/` focuses the search box from anywhere
  await page.locator('body').click({ position: { x: 5, y: 300 } })
  await page.keyboard.press('/')
  await expect(page.getByLabel('Query text')).toBeFocused()
  await searchText(page, PHRASE)
  const first = hits(page).first()
  const text = (await first.locator('.hit-main').textContent()) as string
  expect(text).toMatch(/sail|boat|sea/i)
  const answer = await hitRows(page)

  // ↓ moves to the second result, Enter opens it, Escape comes back
  await first.focus()
  await page.keyboard.press('ArrowDown')
  await expect(hits(page).nth(1)).toBeFocused()
  await page.keyboard.press('Enter')
  const dialog = page.getByRole('dialog', { name: `Row ${answer[1]?.toLocaleString('en-US')}` })
  await expect(dialog).toBeVisible()
  await expect(dialog.getByText('gloss', { exact: true })).toBeVisible()
  await page.keyboard.press('Escape')
  await expect(dialog).toHaveCount(0)

  // the first result → Find similar: its own row comes first
  await first.getByRole('button', { name: `Open row ${answer[0]}` }).click()
  await page.getByRole('dialog').getByRole('button', { name: 'Find similar' }).click()
  await expect(page.getByTestId('answer-for')).toHaveText(`Rows like row ${answer[0]}`)
  await expect(page.getByLabel('Row number')).toHaveValue(String(answer[0]))
  expect((await hitRows(page))[0]).toBe(answer[0])
  // at no distance from itself (float32's rounding of its cosine distance, ~1e-7, showed as "-5.960e-8")
  await expect(hits(page).first().locator('.hit-distance')).toHaveText('0.000')
  // back: the phrase's results again
  await page.getByRole('button', { name: '← Back' }).click()
  await expect(page.getByTestId('answer-for')).toHaveText(`Results for “${PHRASE}”`)
  expect(await hitRows(page)).toEqual(answer)
  await expect(page.getByLabel('Query text')).toHaveValue(PHRASE)
  // `s` on a focused result finds rows like it
  await hits(page).nth(2).focus()
  await page.keyboard.press('s')
  await expect(page.getByTestId('answer-for')).toHaveText(`Rows like row ${answer[2]}`)
  expect((await hitRows(page))[0]).toBe(answer[2])
  await expect(hits(page).first().locator('.hit-distance')).toHaveText('0.000')

  // the Data view: scroll to the last row and time until its text is on screen (row 100,000
  // of a 1,000,000-row file is timed in app.spec.ts)
  await page.getByRole('tab', { name: 'Data' }).click()
  const table = page.getByRole('table', { name: /^Rows of / })
  await expect(table.locator('[data-row="0"] td').nth(2)).not.toHaveText('')
  const last = (await demoRows()) - 1
  const ms = await scrollToRow(page, last)
  console.log(`Data view: the demo's last row (${last.toLocaleString('en-US')}) shows its text ${ms.toFixed(0)} ms after the scroll`)
  expect(ms).toBeLessThan(1000)
  // clicking a row opens it; its "Find similar" searches from it
  await table.locator(`[data-row="${last}"]`).click()
  await page.getByRole('dialog').getByRole('button', { name: 'Find similar' }).click()
  await expect(page.getByRole('tab', { name: 'Search' })).toHaveAttribute('aria-selected', 'true')
  await expect(page.getByTestId('answer-for')).toHaveText(`Rows like row ${last}`)
  expect((await hitRows(page))[0]).toBe(last)
})

test("a search's page address is a link to it: opened anew it answers the same, with the demo's columns", async ({ page }) => {
  await openDemo(page)
  const answerFor = await searchText(page, PHRASE, "pos = 'noun'")
  const answer = await hitRows(page)
  await expect.poll(() => addressParams(page, 'src', 'q', 'where')).toEqual(['demo/wordnet.indexed.parquet', PHRASE, "pos = 'noun'"])
  const link = new URL(page.url())
  const shown = await hits(page).first().locator('.hit-title').textContent()
  // a fresh page on that address: the same rows, the filter in its box, the demo's columns
  await page.goto(link.pathname + link.search)
  await expect(page.getByTestId('answer-for')).toHaveText(answerFor, { timeout: 30_000 })
  expect(await hitRows(page)).toEqual(answer)
  await expect(page.getByLabel('Filter rows')).toHaveValue("pos = 'noun'")
  await expect(page.getByLabel('Query text')).toHaveValue(PHRASE)
  await expect(hits(page).first().locator('.hit-title')).toHaveText(shown as string)
  // similar rows: the address follows (row=), and Back returns it to the phrase
  await hits(page).nth(1).focus()
  await page.keyboard.press('s')
  await expect(page.getByTestId('answer-for')).toHaveText(`Rows like row ${answer[1]} where pos = 'noun'`)
  await expect.poll(() => addressParams(page, 'row', 'q')).toEqual([String(answer[1]), null])
  await page.getByRole('button', { name: '← Back' }).click()
  await expect(page.getByTestId('answer-for')).toHaveText(answerFor)
  await expect.poll(() => addressParams(page, 'row', 'q')).toEqual([null, PHRASE])
})

test('"Show 10 more": the same search and filter for 10 more results, the first one added focused, in the address and undone by Back', async ({
  page,
}) => {
  await openDemo(page)
  const answerFor = await searchText(page, PHRASE, "pos = 'noun'")
  await expect(hits(page)).toHaveCount(10)
  const distances = async () => (await hits(page).locator('.hit-distance').allTextContents()).map(Number)
  const first = await distances()
  // the filter box edited since: "more" extends the answer on screen, with its own filter
  await page.getByLabel('Filter rows').fill('')
  await page.getByRole('button', { name: 'Show 10 more' }).click()
  await expect(hits(page)).toHaveCount(20)
  await expect(page.getByTestId('answer-for')).toHaveText(answerFor)
  await expect(hits(page).nth(10)).toBeFocused()
  const rows = await hitRows(page)
  expect(new Set(rows).size).toBe(20)
  const more = await distances()
  // nearest first; the first ten as near as before or nearer (more candidates re-ranked)
  expect(more).toEqual([...more].sort((a, b) => a - b))
  for (const [i, d] of first.entries()) expect(more[i]).toBeLessThanOrEqual(d)
  await expect(page.getByLabel('k', { exact: true })).toHaveValue('20')
  await expect.poll(() => addressParams(page, 'q', 'where', 'k')).toEqual([PHRASE, "pos = 'noun'", '20'])
  const link = new URL(page.url())
  // Back returns to the search before (the demo's first query), not to the ten
  await page.getByRole('button', { name: '← Back' }).click()
  await expect(page.getByTestId('answer-for')).toHaveText('Results for “a feeling of great happiness”')
  await expect(hits(page)).toHaveCount(10)
  await expect(page.getByLabel('k', { exact: true })).toHaveValue('10')
  await expect.poll(() => addressParams(page, 'k')).toEqual([null])
  // the link opens on the same twenty rows
  await page.goto(link.pathname + link.search)
  await expect(page.getByTestId('answer-for')).toHaveText(answerFor, { timeout: 30_000 })
  expect(await hitRows(page)).toEqual(rows)
})

test("the Data view's filter and sort are in the page's address too: opened anew it shows the same rows", async ({ page }) => {
  await openDemo(page)
  await page.getByRole('tab', { name: 'Data' }).click()
  const table = page.getByRole('table', { name: /^Rows of / })
  await page.getByLabel('Filter the rows shown').fill("pos = 'verb'")
  await page.getByRole('button', { name: 'Filter', exact: true }).click()
  const word = table.getByRole('columnheader', { name: 'word', exact: true }).getByRole('button')
  await word.click()
  await word.click()
  const inView = page.getByTestId('rows-in-view')
  await expect(inView).toContainText(/^[\d,]+ of [\d,]+ rows pass · sorted by word, largest first$/)
  const shown = async () => {
    await expect(table.locator('tbody tr').first().locator('td').nth(2)).not.toHaveText('')
    return table.locator('tbody tr').evaluateAll((trs) => trs.slice(0, 10).map((tr) => tr.getAttribute('data-row')))
  }
  const rows = await shown()
  // the search's part of the address (the demo's first query) is kept beside it
  await expect
    .poll(() => addressParams(page, 'view', 'rows', 'sort', 'q'))
    .toEqual(['data', "pos = 'verb'", '-word', 'a feeling of great happiness'])
  const link = new URL(page.url())
  await page.goto(link.pathname + link.search)
  await expect(page.getByRole('tab', { name: 'Data' })).toHaveAttribute('aria-selected', 'true')
  await expect(inView).toContainText(/^[\d,]+ of [\d,]+ rows pass · sorted by word, largest first$/, { timeout: 30_000 })
  await expect(page.getByLabel('Filter the rows shown')).toHaveValue("pos = 'verb'")
  expect(await shown()).toEqual(rows)
  // every row again, in file order: the address drops them
  await page.getByRole('button', { name: 'Every row' }).click()
  await word.click()
  await expect(inView).toContainText(/^[\d,]+ rows · rows 0–/)
  await expect.poll(() => addressParams(page, 'view', 'rows', 'sort')).toEqual(['data', null, null])
})

test('searching again moves nothing on the page but the results', async ({ page }) => {
  // the demo opens with one answer: the next search is the first to have one to go back to
  await openDemo(page)
  // every layout shift from here on whose moved element is outside the results list
  await page.evaluate(() => {
    const g = globalThis as unknown as PageGlobals
    g.__shifts = []
    new g.PerformanceObserver((list) => {
      for (const e of list.getEntries()) {
        const nodes = e.sources
          .map((s) => s.node)
          .filter((n): n is El => typeof n?.closest === 'function' && !n.closest('ol.hits'))
          .map((n) => `${n.tagName.toLowerCase()}.${n.className}`)
        if (nodes.length) g.__shifts.push({ value: e.value, nodes })
      }
    }).observe({ type: 'layout-shift' })
  })
  const back = page.getByRole('button', { name: '← Back' })
  await expect(back).toBeDisabled() // there, with nothing yet to go back to
  await searchText(page, PHRASE)
  await expect(back).toBeEnabled()
  await searchText(page, 'a tall tree in the forest')
  await searchText(page, 'music played on a violin')
  await page.waitForTimeout(300) // let the observer deliver
  expect(await page.evaluate(() => (globalThis as unknown as PageGlobals).__shifts)).toEqual([])
})

test('the theme toggle overrides the system and is remembered; the header fits a 360 px phone', async ({ page }) => {
  await page.emulateMedia({ colorScheme: 'light' })
  await page.setViewportSize({ width: 360, height: 740 })
  await openDemo(page)
  // every header control is on screen, the last one included
  for (const name of ['File details', 'Open file', 'From URL', 'Switch to dark theme']) {
    const box = await page
      .getByRole('banner')
      .getByText(name, { exact: true })
      .or(page.getByRole('button', { name, exact: true }))
      .first()
      .boundingBox()
    expect(box && box.x >= 0 && box.x + box.width <= 360, name).toBe(true)
  }
  await page.getByRole('button', { name: 'Switch to dark theme' }).click()
  await expect(page.locator('html')).toHaveAttribute('data-theme', 'dark')
  await page.reload()
  await expect(page.getByRole('button', { name: 'Switch to light theme' })).toBeVisible()
  expect(
    await page.evaluate(() => {
      const g = globalThis as unknown as PageGlobals
      return g.getComputedStyle(g.document.body).backgroundColor
    }),
  ).toBe('rgb(15, 18, 22)')
})

test('under 900 px the side panel lies over the page, and Escape or a tap beside it closes it', async ({ page }) => {
  // a tablet held upright: the results' buttons are beside the panel
  await page.setViewportSize({ width: 820, height: 1180 })
  await openDemo(page)
  const toggle = page.getByRole('button', { name: 'File details' })
  const panel = page.getByRole('complementary', { name: 'File and index' })
  await expect(panel).toBeHidden()
  await toggle.click()
  await expect(panel).toBeVisible()
  await expect(toggle).toHaveAttribute('aria-expanded', 'true')
  await page.keyboard.press('Escape')
  await expect(panel).toBeHidden()
  await expect(toggle).toBeFocused()
  // a tap beside the panel, over a result's Open button, closes the panel and opens nothing
  await toggle.click()
  await expect(panel).toBeVisible()
  const open = hits(page).first().getByRole('button', { name: 'Open' })
  const box = await open.boundingBox()
  const side = await panel.boundingBox()
  if (!box || !side) throw new Error('no layout for the first result or the panel')
  expect(box.x + box.width / 2).toBeGreaterThan(side.x + side.width)
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2)
  await expect(panel).toBeHidden()
  await expect(page.getByRole('dialog')).toHaveCount(0)
  // with the panel closed, the same tap reaches the button
  await page.mouse.click(box.x + box.width / 2, box.y + box.height / 2)
  await expect(page.getByRole('dialog')).toBeVisible()
})

test('the first screen costs at most 100 KiB of JS and CSS, gzipped', () => {
  const dist = join(import.meta.dirname, '../dist')
  const html = readFileSync(join(dist, 'index.html'), 'utf8')
  const refs = [...html.matchAll(/(?:src|href)="\.\/(assets\/[^"]+\.(?:js|css))"/g)].map((m) => m[1] as string)
  expect(refs.length).toBeGreaterThan(1)
  const bytes = refs.reduce((n, ref) => n + gzipSync(readFileSync(join(dist, ref)), { level: 9 }).length, 0)
  console.log(`initial JS + CSS: ${(bytes / 1024).toFixed(1)} KiB gzipped (${refs.join(', ')})`)
  expect(bytes).toBeLessThanOrEqual(100 * 1024)
})
