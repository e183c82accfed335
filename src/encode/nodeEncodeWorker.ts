import { parentPort } from 'node:worker_threads'
import * as Comlink from 'comlink'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import { encodeWorkerApi } from './pool.js'
import { registerUseLiteNode } from './useLiteNode.js'

if (!parentPort) throw new Error('nodeEncodeWorker.js runs as a worker thread')
registerUseLiteNode()
Comlink.expose(encodeWorkerApi(), nodeEndpoint(parentPort as never))
