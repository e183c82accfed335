import { parentPort } from 'node:worker_threads'
import * as Comlink from 'comlink'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import { pageWorkerApi } from './pageWorker.js'

if (!parentPort) throw new Error('nodePageWorker.js runs as a worker thread')
Comlink.expose(pageWorkerApi(), nodeEndpoint(parentPort as never))
