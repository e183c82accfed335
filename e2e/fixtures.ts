import AxeBuilder from '@axe-core/playwright'
import { test as base, expect, type Locator, type Page } from '@playwright/test'

/**
 * Pages start as on a site without demo data, whatever public/demo holds locally (after
 * `npm start`), so tests do not depend on it; a test that wants a demo routes its own manifest
 * (routes registered later take precedence).
 */
export const test = base.extend({
  page: async ({ page }, use) => {
    await page.route('**/demo/manifest.json', (route) => route.fulfill({ status: 404, body: 'no demo in tests' }))
    await use(page)
  },
})

export { expect }

type FrameWindow = { __gaps: number[]; __stop: boolean; requestAnimationFrame(f: (t: number) => void): void }

/** Starts recording the gaps between animation frames: a page whose UI thread blocks shows long ones. */
export async function recordFrameGaps(page: Page): Promise<void> {
  await page.evaluate(() => {
    const w = globalThis as unknown as FrameWindow
    w.__gaps = []
    w.__stop = false
    let last = performance.now()
    const tick = (now: number) => {
      w.__gaps.push(now - last)
      last = now
      if (!w.__stop) w.requestAnimationFrame(tick)
    }
    w.requestAnimationFrame(tick)
  })
}

/** Stops the recording; the gaps between frames (ms) since it started. */
export async function frameGaps(page: Page): Promise<number[]> {
  return page.evaluate(() => {
    const w = globalThis as unknown as FrameWindow
    w.__stop = true
    return w.__gaps
  })
}

/** Opens a URL the way a person does: the header's "From URL" menu. */
export async function openUrl(page: Page, url: string): Promise<void> {
  const menu = page.locator('details.menu', { has: page.getByLabel('Parquet URL') })
  if (!(await menu.evaluate((d) => (d as unknown as { open: boolean }).open))) await page.getByText('From URL', { exact: true }).click()
  await page.getByLabel('Parquet URL').fill(url)
  await page.getByRole('button', { name: 'Open URL' }).click()
}

/** Searches for row `row`'s vector (the search form's Row number box), in the page or in `scope`. */
export async function searchRow(scope: Page | Locator, row: number): Promise<void> {
  await scope.getByLabel('Row number').fill(String(row))
  await scope.getByRole('button', { name: 'Search', exact: true }).click()
}

/** The search results, one list item each (data-row: the row number). */
export function hits(page: Page) {
  return page.getByRole('list', { name: /^Results/ }).getByRole('listitem')
}

/** The row numbers of the results shown, in order. */
export async function hitRows(page: Page): Promise<number[]> {
  return (await hits(page).evaluateAll((items) => items.map((li) => li.getAttribute('data-row')))).map(Number)
}

/** Lets the site's own demo manifest through (pages start without one). */
export async function withDemo(page: Page): Promise<void> {
  await page.route('**/demo/manifest.json', (route) => route.fallback())
  await page.unroute('**/demo/manifest.json')
}

/**
 * Scrolls the Data view so `row` is in view (36 px rows, one window) and resolves with the
 * milliseconds until its first text cell has text.
 */
export async function scrollToRow(page: Page, row: number): Promise<number> {
  return page.getByRole('region', { name: 'Rows, scrolled' }).evaluate(
    (grid, row) =>
      new Promise<number>((resolve, reject) => {
        const t0 = performance.now()
        grid.scrollTop = row * 36
        const check = () => {
          const cell = grid.querySelector(`[data-row="${row}"] td:nth-child(3)`)
          if (cell?.textContent) resolve(performance.now() - t0)
          else if (performance.now() - t0 > 10_000) reject(new Error(`row ${row} never showed its text`))
          else (globalThis as unknown as { requestAnimationFrame(f: () => void): void }).requestAnimationFrame(check)
        }
        check()
      }),
    row,
  )
}

/** axe-core on the page as it stands: every serious or critical violation, named. */
export async function seriousViolations(page: Page): Promise<string[]> {
  const { violations } = await new AxeBuilder({ page }).analyze()
  return violations
    .filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.help} — ${v.nodes.map((n) => n.target.join(' ')).join(', ')}`)
}
