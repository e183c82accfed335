/** The built site (`dist/`) as a browser benchmark opens it: `vite preview` and Debian's Chromium. */

import { spawn } from 'node:child_process'
import { join } from 'node:path'
import { type Browser, chromium } from '@playwright/test'

/**
 * `vite preview` of `root`'s dist/ on `port`, answering; and Chromium (`CHROMIUM_PATH`, else
 * Debian's), without a GPU. `close()` stops both (the preview stops with the process too).
 */
export async function sitePreview(root: string, port: number): Promise<{ url: string; browser: Browser; close(): Promise<void> }> {
  const vite = join(root, 'node_modules/vite/bin/vite.js')
  const preview = spawn(process.execPath, [vite, 'preview', '--host', '127.0.0.1', '--port', String(port), '--strictPort'], {
    cwd: root,
    stdio: 'ignore',
  })
  process.on('exit', () => preview.kill())
  const url = `http://127.0.0.1:${port}/`
  for (let i = 0; ; i++) {
    try {
      if ((await fetch(url)).ok) break
    } catch {}
    if (i > 300) throw new Error(`vite preview did not start on port ${port}`)
    await new Promise((r) => setTimeout(r, 200))
  }
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM_PATH ?? '/usr/bin/chromium',
    args: ['--no-sandbox', '--disable-gpu'],
  })
  return {
    url,
    browser,
    async close() {
      await browser.close()
      preview.kill()
    },
  }
}
