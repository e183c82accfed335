import type { QueryEncoder } from './encoders.js'
import { registerEncoder } from './encoders.js'
import { sentenceEncoderLite, USE_LITE } from './useLite.js'

let encoder: QueryEncoder | undefined

/**
 * Registers `use-lite-512` in a page or worker: the model and TensorFlow.js's .wasm files as the
 * build copied them under `site` (models/use-lite/, models/tfjs-wasm/; see vite.config.ts), so
 * they come from this site, cached by the browser, never from a model hub. Loaded on the first
 * text query that needs it.
 */
export function registerUseLiteWeb(site: string): void {
  registerEncoder((id) => {
    if (id !== USE_LITE) return undefined
    encoder ??= sentenceEncoderLite({
      modelUrl: new URL('models/use-lite/model.json', site).href,
      vocabUrl: new URL('models/use-lite/vocab.json', site).href,
      wasmPaths: new URL('models/tfjs-wasm/', site).href,
    })
    return encoder
  })
}
