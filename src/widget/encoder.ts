import { sentenceEncoderLite } from '../encode/useLite.js'

/** Where this module's model download stands (the widget's status line shows it). */
export { modelLoad } from '../encode/useLite.js'

/**
 * The widget's text encoder, a separate module (parquet-seek-encoder.js, beside the widget
 * script) that the widget imports only when a file names `use-lite-512` and a text query comes:
 * TensorFlow.js and the model stay out of the widget's own script. `site` is the root of the
 * site that serves the widget (models/use-lite/, models/tfjs-wasm/ under it).
 */
export function useLiteFromSite(site: string) {
  return sentenceEncoderLite({
    modelUrl: new URL('models/use-lite/model.json', site).href,
    vocabUrl: new URL('models/use-lite/vocab.json', site).href,
    wasmPaths: new URL('models/tfjs-wasm/', site).href,
  })
}
