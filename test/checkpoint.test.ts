import { afterEach, describe, expect, it, vi } from 'vitest'
import { AbortError, checkpoint } from '../src/errors.js'

// A long job (k-means, encoding, tuning, an exact search) yields at checkpoints so that a cancel
// is seen. Node yields with setImmediate; a page or a worker has none, and setTimeout(0) there
// is held to 4 ms once timeouts nest five deep — which a job's checkpoints do, hundreds of times
// (PQ training in the page: 1.33 s → 0.55 s on 7,812 rows without it).

describe('checkpoints where there is no setImmediate (a page, a worker)', () => {
  afterEach(() => {
    vi.useRealTimers()
    vi.unstubAllGlobals()
  })

  it('yield without a timer: they go on while timers are held', async () => {
    vi.stubGlobal('setImmediate', undefined)
    vi.useFakeTimers({ toFake: ['setTimeout', 'setInterval'] })
    for (let i = 0; i < 100; i++) await checkpoint(undefined)
  }, 5_000)

  it('several jobs at once each go on, in turn', async () => {
    vi.stubGlobal('setImmediate', undefined)
    const order: string[] = []
    const job = async (name: string) => {
      for (let i = 0; i < 3; i++) {
        await checkpoint(undefined)
        order.push(name)
      }
    }
    await Promise.all([job('a'), job('b')])
    expect(order).toEqual(['a', 'b', 'a', 'b', 'a', 'b'])
  })

  it('a cancel that arrives as a message between them stops the job', async () => {
    vi.stubGlobal('setImmediate', undefined)
    const controller = new AbortController()
    const channel = new MessageChannel()
    channel.port1.onmessage = () => controller.abort()
    channel.port2.postMessage('cancel')
    let turns = 0
    await expect(
      (async () => {
        for (; turns < 10_000; turns++) await checkpoint(controller.signal)
      })(),
    ).rejects.toBeInstanceOf(AbortError)
    expect(turns).toBeLessThan(10_000)
    channel.port1.close()
  })
})
