import { existsSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { encoderFor } from '../src/encode/encoders.js'
import { registerUseLiteNode } from '../src/encode/useLiteNode.js'
import { fileSource } from '../src/io/nodeFile.js'
import { openIndex } from '../src/search/engine.js'

// The demo as `npm start` and `npm test` generate it (node build/scripts/demo.js): WordNet word
// senses embedded with use-lite-512 and indexed at the build's defaults. Written before the demo
// was tuned: a phrase a person might type, and the synsets (any of their words) it should find.
// No phrase uses its answer's words, so spelling alone cannot find them.
const DEMO = join(import.meta.dirname, '../public/demo/wordnet.indexed.parquet')
const PAIRS: Array<[string, string[]]> = [
  ['a feeling of great happiness', ['joy', 'elation', 'happiness', 'gladness', 'joyousness', 'euphoria']],
  ['a vehicle that flies', ['airplane', 'aeroplane', 'plane', 'aircraft']],
  ['a large body of salt water', ['sea', 'ocean']],
  ['a young dog', ['puppy', 'pup']],
  ['the person who gives lessons in a classroom', ['teacher', 'schoolteacher', 'instructor']],
  ['a building where sick people are cared for', ['hospital', 'infirmary', 'clinic']],
  ['frozen water', ['ice']],
  ['to move quickly on foot', ['run', 'sprint', 'race', 'dash', 'hurry']],
  ['a tool for cutting wood', ['saw', 'axe', 'ax', 'hatchet']],
  ['the star that the earth orbits', ['sun']],
  ['a place where you can borrow books', ['library']],
  ['a device for telling the time', ['clock', 'watch', 'timepiece']],
  ['a doctor who operates on patients', ['surgeon']],
  ['extreme fear', ['terror', 'panic', 'fright', 'horror', 'fear']],
  ['to sleep lightly for a short time', ['nap', 'doze', 'snooze', 'catnap']],
  ['the first meal of the day', ['breakfast']],
  ['money paid for work', ['wage', 'salary', 'pay', 'earnings']],
  ['an animal with a trunk and tusks', ['elephant']],
  ['a feeling of deep sadness', ['sorrow', 'sadness', 'grief', 'unhappiness', 'melancholy']],
  ['a very young child', ['baby', 'infant', 'babe', 'toddler']],
  ['the season after summer', ['autumn', 'fall']],
  ['a sweet baked dessert', ['cake', 'pie', 'pastry', 'tart', 'cookie']],
  ['the organ that pumps blood', ['heart']],
  ['a ship that travels under water', ['submarine']],
  ['a shop that sells medicine', ['pharmacy', 'drugstore', 'apothecary', 'chemist']],
  ['full of rage', ['angry', 'furious', 'irate', 'enraged', 'wrathful', 'livid', 'infuriated', 'mad']],
  ['to speak very softly', ['whisper', 'murmur', 'mumble']],
  ['a heavy fall of rain', ['downpour', 'rainstorm', 'cloudburst', 'deluge', 'torrent', 'rain']],
  ['a person who steals', ['thief', 'stealer', 'robber', 'burglar', 'crook']],
  ['the sound people make when something is funny', ['laugh', 'laughter', 'giggle', 'chuckle']],
  ['a musical instrument with black and white keys', ['piano', 'pianoforte', 'keyboard']],
  ['a written message sent by post', ['letter', 'missive', 'mail']],
  ['having a lot of money', ['rich', 'wealthy', 'affluent', 'moneyed']],
  ['a hot drink made from dried leaves', ['tea']],
  ['the capital of France', ['paris']],
  ['to become larger', ['grow', 'increase', 'expand', 'enlarge', 'swell']],
]

describe('the demo answers phrases by meaning (use-lite-512, its index at defaults)', () => {
  it(`≥ 80 % of ${PAIRS.length} phrases find an expected word sense in the top 10`, async () => {
    if (!existsSync(DEMO)) throw new Error(`${DEMO} is missing: generate the demo first (node build/scripts/demo.js)`)
    registerUseLiteNode()
    const file = await fileSource(DEMO)
    try {
      const index = await openIndex(file)
      const encoder = encoderFor(index.encoder)
      if (!encoder) throw new Error(`the demo names ${index.encoder}, which this build cannot encode`)
      const vectors = await encoder.encode(PAIRS.map(([phrase]) => phrase))
      /** The phrases whose top 10 hold none of their senses (at the index's defaults, or `nprobe`). */
      const missesAt = async (nprobe?: number) => {
        const misses: string[] = []
        let bytes = 0
        for (const [i, [phrase, expected]] of PAIRS.entries()) {
          const { results, stats } = await index.search(vectors[i] as Float32Array, { k: 10, nprobe, columns: ['words'] })
          bytes += stats.bytes
          const found = results.map((r) => String(r.values.words))
          if (!found.some((words) => words.split(', ').some((w) => expected.includes(w.toLowerCase()))))
            misses.push(`"${phrase}" → ${found.slice(0, 3).join(' | ')}`)
        }
        return { misses, kib: bytes / PAIRS.length / 1024 }
      }
      const { misses, kib } = await missesAt()
      const every = await missesAt(index.params.nlist)
      const rate = 1 - misses.length / PAIRS.length
      console.log(
        `demo relevance: ${PAIRS.length - misses.length} of ${PAIRS.length} phrases (${(100 * rate).toFixed(0)} %) find an expected sense in the top 10 ` +
          `at nprobe ${index.params.nprobe} of ${index.params.nlist} lists, ${kib.toFixed(0)} KiB read a query (one session) ` +
          `(probing every list: ${PAIRS.length - every.misses.length})` +
          `${misses.length ? `; misses:\n  ${misses.join('\n  ')}` : ''}`,
      )
      expect(rate).toBeGreaterThanOrEqual(0.8)
    } finally {
      await file.close()
    }
  })
})
