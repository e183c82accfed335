/**
 * Dawn's Node binding waits for GPU work (mapAsync, popErrorScope…) by polling its instance on
 * every `setImmediate` turn while anything is pending: a busy loop on this thread. On SwiftShader
 * the "GPU" is this machine's CPU, so on two cores that loop takes a core from the emulation it
 * waits for. Deferring the binding's own ticks (native functions; a bound function reads as
 * native too and is deferred as well, harmlessly: it runs a timer turn later) to a timer lets the
 * emulation run: a 1,200-row GPU build took 30.0 s polling, 21.3 s deferred (a scratch script,
 * 2026-12-04). For tests only, which time nothing: on a real GPU the busy poll
 * is what keeps a readback's latency low, so the library leaves Dawn's polling as it is.
 */
export function deferDawnPolling(): () => void {
  const original = globalThis.setImmediate
  const deferred = ((callback: (...args: unknown[]) => void, ...args: unknown[]) =>
    Function.prototype.toString.call(callback).includes('[native code]')
      ? setTimeout(callback, 0, ...args)
      : original(callback, ...args)) as typeof setImmediate
  globalThis.setImmediate = Object.assign(deferred, { __promisify__: original.__promisify__ })
  return () => {
    globalThis.setImmediate = original
  }
}
