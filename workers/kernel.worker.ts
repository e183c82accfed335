/// <reference lib="webworker" />
import * as Comlink from 'comlink'
import { kernelWorkerApi } from '../src/index/kernelWorker.js'

/** A build helper: k-means shares, PQ subspaces and encode chunks (src/compute/pool.ts). */
Comlink.expose(kernelWorkerApi())
