import { SEARCH_BACKENDS, type SearchBackend } from '../compute/backend.js'
import { nodeGpu } from '../compute/gpu/node.js'
import { openHttp } from '../io/httpSource.js'
import { fileSource } from '../io/nodeFile.js'
import type { ByteSource } from '../io/source.js'
import { describeEmbeddingColumn, readVectors } from '../parquet/embedding.js'
import { readMetadata } from '../parquet/footer.js'
import { choice } from './args.js'

export const isUrl = (s: string) => /^https?:\/\//i.test(s)

/** A local path or an http(s) URL as a byte source (for reads outside the search engine). */
export async function anySource(pathOrUrl: string): Promise<ByteSource & { close(): Promise<void> }> {
  if (isUrl(pathOrUrl)) {
    const { source } = await openHttp(pathOrUrl, { tailBytes: 64 << 10 })
    return { ...source, close: async () => {} }
  }
  return fileSource(pathOrUrl)
}

/** Every vector of `column` in a Parquet file (query sets). */
export async function readQueryVectors(pathOrUrl: string, column: string, limit = Number.POSITIVE_INFINITY): Promise<Float32Array[]> {
  const source = await anySource(pathOrUrl)
  try {
    const metadata = await readMetadata(source, source.name)
    const vectors = await readVectors(source, metadata, describeEmbeddingColumn(metadata, column, source.name), { file: source.name })
    const n = Math.min(limit, vectors.rowIds.length)
    return Array.from({ length: n }, (_, i) => vectors.data.slice(i * vectors.dim, (i + 1) * vectors.dim))
  } finally {
    await source.close()
  }
}

/** `--backend` of the search commands; `gpu` brings WebGPU up through the webgpu package (Dawn). */
export async function searchBackend(value: string | undefined): Promise<{ backend?: SearchBackend; gpu?: GPU }> {
  const backend = choice(value, 'backend', SEARCH_BACKENDS)
  return backend === 'gpu' ? { backend, gpu: await nodeGpu() } : { backend }
}
