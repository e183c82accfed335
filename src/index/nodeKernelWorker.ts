import { parentPort } from 'node:worker_threads'
import * as Comlink from 'comlink'
import nodeEndpoint from 'comlink/dist/esm/node-adapter.mjs'
import { kernelWorkerApi } from './kernelWorker.js'

if (!parentPort) throw new Error('nodeKernelWorker.js runs as a worker thread')
Comlink.expose(kernelWorkerApi(), nodeEndpoint(parentPort as never))
