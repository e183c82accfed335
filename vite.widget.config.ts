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
// `--mode encoder` builds the text encoder the widget imports on demand (parquet-seek-encoder.js).
export default defineConfig(({ mode }) => ({
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
    emptyOutDir: mode !== 'encoder',
    target: 'es2022',
    lib:
      mode === 'encoder'
        ? { entry: 'src/widget/encoder.ts', formats: ['es'], fileName: () => 'parquet-seek-encoder.js' }
        : {
            entry: 'src/widget/element.ts',
            name: 'ParquetSeekWidget',
            formats: ['es', 'iife'],
            fileName: (format) => (format === 'es' ? 'parquet-seek.js' : 'parquet-seek.iife.js'),
          },
    // the classic build has no import.meta: element.ts reads document.currentScript there
    rollupOptions: { output: { codeSplitting: false, minify: true }, checks: { emptyImportMeta: false } },
  },
}))
