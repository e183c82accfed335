import { spawn } from 'node:child_process'
import { join } from 'node:path'

/** Runs the built CLI (bin/parquetseek.js) and collects its exit code and output. */
const BIN = join(import.meta.dirname, '../../bin/parquetseek.js')

export interface Run {
  code: number | null
  stdout: string
  stderr: string
}

export function cli(
  args: string[],
  onStderr?: (chunk: string, child: ReturnType<typeof spawn>) => void,
  /** Variables set for it, beside this process's. */
  env?: Record<string, string>,
): Promise<Run> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      ...(env ? { env: { ...process.env, ...env } } : {}),
    })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => {
      stdout += d
    })
    child.stderr.on('data', (d) => {
      stderr += d
      onStderr?.(String(d), child)
    })
    child.on('close', (code) => resolve({ code, stdout, stderr }))
  })
}
