/// <reference lib="webworker" />
import * as Comlink from 'comlink'
import { registerUseLiteWeb } from '../src/encode/useLiteWeb.js'
import { engineApi } from './engineApi.js'

// text queries on files embedded with use-lite-512: the model from this site (the site root is
// one folder above this script's assets/ folder)
registerUseLiteWeb(new URL('../', self.location.href).href)

/** Opening, inspecting and searching files, off the UI thread (src/app/bridge.ts owns it). */
Comlink.expose(engineApi())
