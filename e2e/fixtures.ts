import { test as base, expect } from '@playwright/test'

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
