/// <reference lib="webworker" />
import * as Comlink from 'comlink'
import { engineApi } from './engineApi.js'

/** Opening, inspecting and searching files, off the UI thread (src/app/bridge.ts owns it). */
Comlink.expose(engineApi())
