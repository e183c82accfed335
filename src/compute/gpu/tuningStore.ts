/** Where chosen tunables are kept between visits: one JSON string per adapter. */
export interface TuningStore {
  get(key: string): Promise<string | undefined>
  set(key: string, value: string): Promise<void>
}

/** For this process (or worker) only: what Node gets, and a browser without IndexedDB. */
export function memoryStore(): TuningStore {
  const kept = new Map<string, string>()
  return {
    get: async (key) => kept.get(key),
    set: async (key, value) => {
      kept.set(key, value)
    },
  }
}

/** The parts of IndexedDB used here (the compute core compiles without the DOM's types). */
interface IdbRequest<T> {
  readonly result: T
  onsuccess: (() => void) | null
  onerror: (() => void) | null
}
interface IdbDatabase {
  createObjectStore(name: string): unknown
  transaction(store: string, mode: 'readonly' | 'readwrite'): { objectStore(name: string): IdbObjectStore }
}
interface IdbObjectStore {
  get(key: string): IdbRequest<unknown>
  put(value: string, key: string): IdbRequest<unknown>
}
export interface IdbFactory {
  open(name: string, version: number): IdbRequest<IdbDatabase> & { onupgradeneeded: (() => void) | null; onblocked: (() => void) | null }
}

/**
 * In IndexedDB (pages and workers alike; the app's engine runs in a worker, where localStorage
 * does not exist): database `parquetseek-gpu`, store `tunables`. A failure (storage disabled,
 * private browsing) reads as nothing stored; the choice then lasts this visit.
 */
export function indexedDbStore(idb: IdbFactory): TuningStore {
  let opened: Promise<IdbDatabase | undefined> | undefined
  const open = () =>
    (opened ??= new Promise((resolve) => {
      try {
        const request = idb.open('parquetseek-gpu', 1)
        request.onupgradeneeded = () => request.result.createObjectStore('tunables')
        request.onsuccess = () => resolve(request.result)
        request.onerror = () => resolve(undefined)
        request.onblocked = () => resolve(undefined)
      } catch {
        resolve(undefined)
      }
    }))
  const run = async <T>(mode: 'readonly' | 'readwrite', op: (store: IdbObjectStore) => IdbRequest<unknown>): Promise<T | undefined> => {
    const db = await open()
    if (!db) return undefined
    return new Promise((resolve) => {
      try {
        const request = op(db.transaction('tunables', mode).objectStore('tunables'))
        request.onsuccess = () => resolve(request.result as T)
        request.onerror = () => resolve(undefined)
      } catch {
        resolve(undefined)
      }
    })
  }
  return {
    get: async (key) => {
      const value = await run<unknown>('readonly', (s) => s.get(key))
      return typeof value === 'string' ? value : undefined
    },
    set: async (key, value) => {
      await run('readwrite', (s) => s.put(value, key))
    },
  }
}

let chosen: TuningStore | undefined

/**
 * The store sharedGpuContext uses: the one set by setTuningStore (nodeGpu sets a file), else
 * IndexedDB where it exists, else this process's memory.
 */
export function tuningStore(): TuningStore {
  const idb = (globalThis as { indexedDB?: IdbFactory }).indexedDB
  chosen ??= idb ? indexedDbStore(idb) : memoryStore()
  return chosen
}

export function setTuningStore(store: TuningStore): void {
  chosen = store
}
