import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { l2sq } from '../src/compute/js.js'
import { encoderFor, HASH_NGRAM, hashNgramEncoder, words } from '../src/encode/encoders.js'
import { buildIndex } from '../src/index/build.js'
import { fileSink, fileSource } from '../src/io/nodeFile.js'
import { openIndex } from '../src/search/engine.js'
import { tempDir, writeTextFile } from './helpers/fixtures.js'

const TITLES = [
  'red apple pie with cinnamon',
  'green apple orchard in autumn',
  'fresh bread from the bakery',
  'a bakery selling sourdough bread',
  'river boats on a quiet evening',
  'sailing boats in the harbour',
  'mountain trail in the snow',
  'skiing down a snowy mountain',
]

describe('query encoders', () => {
  it('finds the hash-ngram encoder by the model name a file stores, and nothing for unknown models', () => {
    expect(encoderFor(`${HASH_NGRAM}:64`)?.dim).toBe(64)
    expect(encoderFor('openai/text-embedding-3-small')).toBeUndefined()
    expect(encoderFor(undefined)).toBeUndefined()
  })

  it('hash-ngram: deterministic, unit length, words and spellings make texts near', async () => {
    const e = hashNgramEncoder(128)
    const [a, a2, near, far] = await e.encode(['Snowy mountains', 'Snowy mountains', 'a mountain in the snow', 'fresh sourdough bread'])
    expect(a2).toEqual(a)
    const norm = Math.sqrt(l2sq(a as Float32Array, 0, new Float32Array(128), 0, 128))
    expect(norm).toBeCloseTo(1, 5)
    const d = (x: Float32Array | undefined, y: Float32Array | undefined) => l2sq(x as Float32Array, 0, y as Float32Array, 0, 128)
    expect(d(a, near)).toBeLessThan(d(a, far))
    expect(words('Crème Brûlée, 2 ways!')).toEqual(['creme', 'brulee', '2', 'ways'])
    await expect(e.encode(['  …  '])).rejects.toThrow(/has no words/)
  })

  it('a file that names its model answers text queries; the model survives indexing', async () => {
    const dir = tempDir('pqs-enc-')
    const e = hashNgramEncoder(64)
    const input = join(dir, 'titles.parquet')
    await writeTextFile(input, TITLES, 64)
    const out = join(dir, 'titles.indexed.parquet')
    const src = await fileSource(input)
    await buildIndex(src, await fileSink(out, input), { column: 'embedding', metric: 'cosine', nlist: 2 })
    await src.close()
    const file = await fileSource(out)
    const index = await openIndex(file)
    expect(index.encoder).toBe(e.id)
    expect(index.model).toBe(e.id) // the old name still answers
    const [q] = await (encoderFor(index.encoder) as typeof e).encode(['bread bakery'])
    const { results } = await index.search(q as Float32Array, { k: 2, columns: ['title'], nprobe: 2 })
    expect(results.map((r) => r.values.title).sort()).toEqual(['a bakery selling sourdough bread', 'fresh bread from the bakery'])
    await file.close()
  })
})
