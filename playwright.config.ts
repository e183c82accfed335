import { defineConfig } from '@playwright/test'

// Debian's Chromium: Playwright cannot download browsers on these machines.
const chromium = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium'
const common = [
  '--no-sandbox',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
]

export default defineConfig({
  testDir: 'e2e',
  timeout: 120_000,
  workers: 1,
  reporter: [['list']],
  outputDir: 'test-results',
  use: {
    baseURL: 'http://127.0.0.1:4173',
    viewport: { width: 1280, height: 800 },
  },
  // The page must work the same whether or not the browser offers WebGPU (SwiftShader here).
  projects: [
    { name: 'no-webgpu', use: { launchOptions: { executablePath: chromium, args: [...common, '--disable-gpu'] } } },
    {
      name: 'webgpu',
      testMatch: ['build.spec.ts', 'gpuBench.spec.ts'],
      use: {
        launchOptions: {
          executablePath: chromium,
          // workgroup memory left unzeroed: SwiftShader compiles the shaders ~15 times faster (the
          // two GPU tests: 92 s → 19 s); gpu.test.ts shows every shader answers the same with it zeroed
          args: [...common, '--enable-unsafe-webgpu', '--enable-dawn-features=disable_workgroup_init'],
        },
      },
    },
  ],
  webServer: {
    command: 'npx vite preview --host 127.0.0.1 --port 4173 --strictPort',
    url: 'http://127.0.0.1:4173',
    reuseExistingServer: false,
    timeout: 60_000,
  },
})
