/// <reference lib="webworker" />
import * as Comlink from 'comlink'
import { encodeWorkerApi } from '../src/encode/pool.js'
import { registerUseLiteWeb } from '../src/encode/useLiteWeb.js'

/**
 * An embedding helper for the page's builds: one copy of the sentence encoder (from this site's
 * models/ folder, cached by the browser), used by pooledEncoder (src/encode/pool.ts).
 */
registerUseLiteWeb(new URL('../', self.location.href).href)
Comlink.expose(encodeWorkerApi())
