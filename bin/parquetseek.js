#!/usr/bin/env node
// Runs the CLI compiled by `npm run build:node` (run by `prepare`, so `npm ci` builds it).
import { main } from '../build/src/cli/main.js'

process.exitCode = await main(process.argv.slice(2))
