import { fileURLToPath } from 'node:url'
import { defineConfig, type Plugin } from 'vite'

/**
 * Non-ASCII characters as \u escapes: a classic <script src> is decoded with the host page's
 * charset when the server sends none, and would garble "·" or "…" in messages.
 */
const asciiOnly: Plugin = {
  name: 'ascii-only',
  generateBundle(_, bundle) {
    for (const chunk of Object.values(bundle))
      if (chunk.type === 'chunk')
        chunk.code = chunk.code.replace(/[\u0080-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`)
  },
}

// The <parquet-seek> widget as one self-contained file: an ES module (import it, or
// <script type="module">) and a classic script (<script src>), written after the app's build.
export default defineConfig({
  publicDir: false,
  plugins: [asciiOnly],
  resolve: {
    alias: [
      { find: /^hyparquet-compressors$/, replacement: fileURLToPath(new URL('src/widget/compressors.ts', import.meta.url)) },
      { find: /^\.\.\/compute\/gpu\/open\.js$/, replacement: fileURLToPath(new URL('src/widget/noGpu.ts', import.meta.url)) },
    ],
  },
  build: {
    outDir: 'dist/widget',
    emptyOutDir: true,
    target: 'es2022',
    lib: {
      entry: 'src/widget/element.ts',
      name: 'ParquetSeekWidget',
      formats: ['es', 'iife'],
      fileName: (format) => (format === 'es' ? 'parquet-seek.js' : 'parquet-seek.iife.js'),
    },
    rollupOptions: { output: { inlineDynamicImports: true, minify: true } },
  },
})
