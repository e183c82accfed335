import { copyFileSync, mkdirSync, readFileSync } from 'node:fs'
import type { IncomingMessage, ServerResponse } from 'node:http'
import { join } from 'node:path'
import { afterEach, describe, expect, it } from 'vitest'
import { serveDir } from '../src/cli/rangeServer.js'
import { fileUrl } from '../src/io/fileUrl.js'
import { openHttp } from '../src/io/httpSource.js'
import { hubFolderPage, hubHeaders } from '../src/io/hub.js'
import { globPattern, hubGlob } from '../src/io/hubGlob.js'
import { open } from '../src/lib.js'
import { cli } from './helpers/cli.js'
import { clusteredVectors, tempDir, writeListFile } from './helpers/fixtures.js'

/** HF_TOKEN and HF_ENDPOINT as a test sets them, put back after each. */
const saved = {
  HF_TOKEN: process.env.HF_TOKEN,
  HF_ENDPOINT: process.env.HF_ENDPOINT,
  HUGGING_FACE_HUB_TOKEN: process.env.HUGGING_FACE_HUB_TOKEN,
}
function hubEnv(vars: { HF_TOKEN?: string; HF_ENDPOINT?: string }) {
  for (const name of Object.keys(saved)) delete process.env[name]
  Object.assign(process.env, vars)
}
afterEach(() => {
  for (const [name, value] of Object.entries(saved))
    if (value === undefined) delete process.env[name]
    else process.env[name] = value
})

/** A fake fetch answering the Hub's tree listing from `pages` (a Link header to the next), recording what it was asked. */
function fakeHub(pages: Array<Array<{ type: string; path: string }>>, asked: Array<{ url: string; headers: Record<string, string> }>) {
  return (async (input: string | URL | Request, init?: RequestInit) => {
    const url = new URL(String(input))
    asked.push({ url: url.href, headers: { ...(init?.headers as Record<string, string>) } })
    const page = Number(url.searchParams.get('cursor') ?? 0)
    const next = new URL(url)
    next.searchParams.set('cursor', String(page + 1))
    const headers: Record<string, string> = page + 1 < pages.length ? { Link: `<${next.href}>; rel="next"` } : {}
    return new Response(JSON.stringify(pages[page]), { status: 200, headers })
  }) as typeof fetch
}

const file = (path: string) => ({ type: 'file', path })

describe('hf:// globs: the files they match, listed through the Hub', () => {
  it('a glob is read as DuckDB reads one: * within a folder, ** across folders, ? one character, [set]', () => {
    const cases: Array<[string, string[], string[]]> = [
      ['data/*.parquet', ['data/a.parquet', 'data/train-00000-of-00002.parquet'], ['data/x/a.parquet', 'data/a.csv', 'a.parquet']],
      ['data/**/*.parquet', ['data/a.parquet', 'data/x/y/b.parquet'], ['other/a.parquet', 'data/a.parquet.lock']],
      ['**/*.parquet', ['a.parquet', 'd/e/f.parquet'], ['a.csv']],
      ['part-?.parquet', ['part-1.parquet'], ['part-10.parquet', 'part-/.parquet']],
      ['part-[0-2].parquet', ['part-0.parquet', 'part-2.parquet'], ['part-3.parquet']],
      ['part-[!0].parquet', ['part-1.parquet'], ['part-0.parquet']],
      ['a+b (1).parquet', ['a+b (1).parquet'], ['aab (1).parquet']],
      ['data/train-*', ['data/train-0.parquet'], ['data/x/train-0.parquet']],
    ]
    for (const [glob, match, miss] of cases) {
      const re = globPattern(glob)
      for (const path of match) expect(re.test(path), `${glob} matches ${path}`).toBe(true)
      for (const path of miss) expect(re.test(path), `${glob} does not match ${path}`).toBe(false)
    }
  })

  it('lists from the folder before the first wildcard, follows the pages, and answers the matches in the order of their names', async () => {
    hubEnv({})
    const asked: Array<{ url: string; headers: Record<string, string> }> = []
    const fetch = fakeHub(
      [
        [file('data/part-10.parquet'), { type: 'directory', path: 'data/x' }, file('data/part-2.parquet')],
        [file('data/README.md'), file('data/part-1.parquet')],
      ],
      asked,
    )
    expect(await hubGlob('hf://datasets/o/r/data/part-*.parquet', { fetch })).toEqual([
      'hf://datasets/o/r/data/part-1.parquet',
      'hf://datasets/o/r/data/part-2.parquet',
      'hf://datasets/o/r/data/part-10.parquet',
    ])
    // one folder listed, not the repository, and not into its subfolders; the second page by its Link
    expect(asked.map((a) => a.url)).toEqual([
      'https://huggingface.co/api/datasets/o/r/tree/main/data',
      'https://huggingface.co/api/datasets/o/r/tree/main/data?cursor=1',
    ])
    expect(asked[0]?.headers.Authorization).toBeUndefined()

    // into subfolders where the glob goes there; the revision kept in the addresses answered
    asked.length = 0
    const deep = fakeHub([[file('default/train/0000.parquet'), file('default/test/0000.parquet')]], asked)
    expect(await hubGlob('hf://datasets/o/r@~parquet/default/*/0000.parquet', { fetch: deep })).toEqual([
      'hf://datasets/o/r@~parquet/default/test/0000.parquet',
      'hf://datasets/o/r@~parquet/default/train/0000.parquet',
    ])
    expect(asked.map((a) => a.url)).toEqual([
      'https://huggingface.co/api/datasets/o/r/tree/refs%2Fconvert%2Fparquet/default?recursive=true',
    ])
    // a model's repository has no kind in its path
    asked.length = 0
    await hubGlob('hf://models/o/m/*.parquet', { fetch: fakeHub([[file('x.parquet')]], asked) })
    expect(asked.map((a) => a.url)).toEqual(['https://huggingface.co/api/models/o/m/tree/main'])
  })

  it('none matching names what the folder holds; a refusal says what HF_TOKEN would change', async () => {
    hubEnv({})
    const none = fakeHub([[file('data/a.csv'), file('data/b.csv'), file('data/c.csv'), file('data/d.csv')]], [])
    await expect(hubGlob('hf://datasets/o/r/data/*.parquet', { fetch: none })).rejects.toThrow(
      'hf://datasets/o/r/data/*.parquet: no file matches data/*.parquet (4 files there: data/a.csv, data/b.csv, data/c.csv, …)',
    )
    const status = (code: number) => (async () => new Response('no', { status: code })) as unknown as typeof fetch
    await expect(hubGlob('hf://datasets/o/r/*.parquet', { fetch: status(401) })).rejects.toThrow(
      'listing its files: HTTP 401 from https://huggingface.co/api/datasets/o/r/tree/main: a private or gated repository: set HF_TOKEN to a token that can read it',
    )
    await expect(hubGlob('hf://datasets/o/r/*.parquet', { fetch: status(404) })).rejects.toThrow(
      'no such repository, revision or file (a private repository answers so without HF_TOKEN)',
    )
    hubEnv({ HF_TOKEN: 'hf_x' })
    await expect(hubGlob('hf://datasets/o/r/*.parquet', { fetch: status(403) })).rejects.toThrow(
      'HF_TOKEN does not give access to it: a gated repository must be accepted on its page',
    )
    // a server that is not the Hub
    const html = (async () => new Response('<html>', { status: 200 })) as unknown as typeof fetch
    await expect(hubGlob('hf://datasets/o/r/*.parquet', { fetch: html })).rejects.toThrow('answered something other than JSON')
  })

  it('a 5xx or 429 page is asked again; a glob given where one file is read says so', async () => {
    hubEnv({})
    let calls = 0
    const flaky = (async () => {
      calls++
      return calls < 3 ? new Response('busy', { status: calls === 1 ? 503 : 429 }) : new Response(JSON.stringify([file('a.parquet')]))
    }) as unknown as typeof fetch
    expect(await hubGlob('hf://datasets/o/r/*.parquet', { fetch: flaky })).toEqual(['hf://datasets/o/r/a.parquet'])
    expect(calls).toBe(3)
    await expect(openHttp('hf://datasets/o/r/*.parquet')).rejects.toThrow('hf://datasets/o/r/*.parquet: is a glob of files, not one file')
  })
})

describe('HF_TOKEN and HF_ENDPOINT', () => {
  it('the token goes to the Hub, and not to the CDN its downloads redirect to, nor to any other host', async () => {
    hubEnv({ HF_TOKEN: 'hf_secret' })
    expect(hubHeaders('https://huggingface.co/datasets/o/r/resolve/main/x.parquet')).toEqual({ Authorization: 'Bearer hf_secret' })
    expect(hubHeaders('https://cdn-lfs.hf.co/x?sig=1')).toEqual({})
    expect(hubHeaders('https://cdn.example/x.parquet')).toEqual({})
    const bytes = new Uint8Array(100_000).map((_, i) => i & 255)
    const cdn = 'https://cas-bridge.xethub.hf.co/signed/x.parquet?sig=1'
    const seen: Array<{ url: string; auth: string | undefined }> = []
    const fetch: typeof globalThis.fetch = async (input, init) => {
      const url = String(input)
      const headers = init?.headers as Record<string, string>
      seen.push({ url, auth: headers.Authorization })
      const [, from, to] = /bytes=(\d*)-(\d*)/.exec(headers.Range ?? '') as unknown as [string, string, string]
      const start = from === '' ? bytes.length - Number(to) : Number(from)
      const end = from === '' || to === '' ? bytes.length - 1 : Number(to)
      const res = new Response(bytes.slice(start, end + 1), {
        status: 206,
        headers: { 'Content-Range': `bytes ${start}-${end}/${bytes.length}`, ETag: '"e1"' },
      })
      // what fetch answers after following the Hub's redirect to its CDN
      if (url !== cdn) Object.defineProperties(res, { redirected: { value: true }, url: { value: cdn } })
      return res
    }
    const opened = await openHttp('hf://datasets/o/gated/x.parquet', { fetch, multiRange: false, tailBytes: 4096 })
    expect(new Uint8Array(await opened.source.slice(10, 20))).toEqual(bytes.subarray(10, 20))
    expect(seen[0]).toEqual({ url: 'https://huggingface.co/datasets/o/gated/resolve/main/x.parquet', auth: 'Bearer hf_secret' })
    expect(seen.slice(1).map((s) => s.url)).toEqual([cdn])
    expect(seen[1]?.auth).toBeUndefined()
  })

  it("a Hub folder page (its file browser's address) is the folder: hf://…/ at its revision", () => {
    hubEnv({})
    const cases: Array<[string, string | undefined]> = [
      ['https://huggingface.co/datasets/o/r/tree/main/data', 'hf://datasets/o/r/data/'],
      ['https://huggingface.co/datasets/o/r/tree/main/data/sub/', 'hf://datasets/o/r/data/sub/'],
      ['https://huggingface.co/datasets/o/r/tree/main', 'hf://datasets/o/r/'],
      ['https://huggingface.co/datasets/o/r/tree/refs%2Fconvert%2Fparquet/default/train', 'hf://datasets/o/r@~parquet/default/train/'],
      ['https://huggingface.co/o/model/tree/v1.0/onnx', 'hf://models/o/model@v1.0/onnx/'],
      ['https://huggingface.co/spaces/o/s/tree/main/a%20b', 'hf://spaces/o/s/a b/'],
      // not a folder page
      ['https://huggingface.co/datasets/o/r/blob/main/x.parquet', undefined],
      ['https://huggingface.co/datasets/o/r', undefined],
      ['https://cdn.example/datasets/o/r/tree/main/data', undefined],
      ['hf://datasets/o/r/data/', undefined],
    ]
    for (const [address, folder] of cases) expect(hubFolderPage(address), address).toBe(folder)
  })

  it('HF_ENDPOINT (a mirror) is where hf:// addresses and its file pages lead, and gets the token', () => {
    hubEnv({ HF_ENDPOINT: 'https://hf-mirror.example/', HF_TOKEN: 'hf_m' })
    expect(fileUrl('hf://datasets/o/r@v2/data/x.parquet')).toBe('https://hf-mirror.example/datasets/o/r/resolve/v2/data/x.parquet')
    expect(fileUrl('https://hf-mirror.example/datasets/o/r/blob/main/x.parquet')).toBe(
      'https://hf-mirror.example/datasets/o/r/resolve/main/x.parquet',
    )
    expect(hubHeaders('https://hf-mirror.example/api/datasets/o/r/tree/main')).toEqual({ Authorization: 'Bearer hf_m' })
    expect(hubHeaders('https://cdn.example/x')).toEqual({})
  })
})

/**
 * A gated repository on a local stand-in for the Hub (HF_ENDPOINT): its tree listing in pages of
 * two files, each page `late.ms` late; each file's resolve URL redirected to a signed one
 * (`serveDir`'s `hub` host); both refused without the token.
 */
async function gatedHub(root: string, token: string) {
  const requests: string[] = []
  const late = { ms: 0 }
  const server = await serveDir(root, {
    host: 'hub',
    async fault(req: IncomingMessage, res: ServerResponse) {
      requests.push(req.url ?? '')
      if (req.url?.startsWith('/cdn/')) return false
      if (req.headers.authorization !== `Bearer ${token}`) {
        res.writeHead(401, { 'Content-Type': 'application/json' }).end('{"error":"Access to dataset o/r is restricted."}')
        return true
      }
      const tree = /^\/api\/datasets\/o\/r\/tree\/main\/([^?]*)(?:\?cursor=(\d+))?$/.exec(req.url ?? '')
      if (!tree) return false
      await new Promise((r) => setTimeout(r, late.ms))
      const folder = decodeURIComponent(tree[1] as string)
      const names = LISTED[folder] ?? []
      const page = Number(tree[2] ?? 0)
      const headers: Record<string, string> = { 'Content-Type': 'application/json' }
      if ((page + 1) * 2 < names.length)
        headers.Link = `<${new URL(`/api/datasets/o/r/tree/main/${folder}?cursor=${page + 1}`, server.url)}>; rel="next"`
      res.writeHead(200, headers).end(JSON.stringify(names.slice(page * 2, page * 2 + 2).map((n) => file(`${folder}/${n}`))))
      return true
    },
  })
  return { server, requests, late }
}

const LISTED: Record<string, string[]> = {
  data: ['part-10.parquet', 'part-2.parquet', 'notes.txt'],
  indexed: ['part-10.indexed.parquet', 'part-2.indexed.parquet', 'manifest.json'],
}

describe('the CLI and open() on an hf:// glob of a gated repository (a local Hub, HF_ENDPOINT)', () => {
  it('index --out-dir and --sidecar read the files it matches; search, open() and the folder page search the indexed ones as one; without HF_TOKEN it says to set it', async () => {
    const dir = tempDir('pqs-hub-')
    const files = join(dir, 'hub', 'datasets', 'o', 'r', 'resolve', 'main')
    mkdirSync(join(files, 'data'), { recursive: true })
    for (const [i, name] of ['part-2', 'part-10'].entries()) {
      const v = clusteredVectors(200, 8, 70 + i)
      writeListFile(
        join(files, 'data', `${name}.parquet`),
        Array.from({ length: 200 }, (_, r) => Array.from(v.subarray(r * 8, r * 8 + 8))),
        { title: Array.from({ length: 200 }, (_, r) => `${name}:${r}`) },
      )
    }
    const token = 'hf_local'
    const { server, requests, late } = await gatedHub(join(dir, 'hub'), token)
    const env = { HF_ENDPOINT: server.url, HF_TOKEN: token }
    try {
      const out = join(dir, 'indexed')
      // (its listing's pages 600 ms apart: the CLI says how it goes once it takes a second)
      late.ms = 600
      const built = await cli(
        ['index', 'hf://datasets/o/r/data/part-*.parquet', '--out-dir', out, '--nlist', '4', '--json'],
        undefined,
        env,
      )
      expect(built.code, built.stderr).toBe(0)
      expect(JSON.parse(readFileSync(join(out, 'manifest.json'), 'utf8')).files).toEqual([
        'part-2.indexed.parquet',
        'part-10.indexed.parquet',
      ])
      expect(JSON.parse(built.stdout.trim().split('\n').pop() as string)).toMatchObject({ files: 2, rows: 400 })
      // the listing's second page followed, and the files read through their signed URLs
      expect(requests).toContain('/api/datasets/o/r/tree/main/data?cursor=1')
      expect(requests.some((r) => r.startsWith('/cdn/signed-') && r.endsWith('/data/part-10.parquet'))).toBe(true)
      expect(built.stderr).toContain('list 3 files for hf://datasets/o/r/data/part-*.parquet')
      late.ms = 0

      // a sidecar over the files as they are on the Hub, searched with them read from there
      const sidecar = join(dir, 'parts.pqseek')
      const side = await cli(['index', '--sidecar', sidecar, 'hf://datasets/o/r/data/part-*.parquet', '--nlist', '4'], undefined, env)
      expect(side.code, side.stderr).toBe(0)
      const fromSidecar = await cli(
        ['search', sidecar, '--allow-source', server.url, '--query-row', '205', '--k', '1', '--columns', 'title', '--json'],
        undefined,
        env,
      )
      expect(fromSidecar.code, fromSidecar.stderr).toBe(0)
      expect(JSON.parse(fromSidecar.stdout).results[0]).toMatchObject({
        file: new URL('/datasets/o/r/resolve/main/data/part-10.parquet', server.url).href,
        row: 5,
        values: { title: 'part-10:5' },
      })

      // the indexed files uploaded beside them: searched as one by their glob
      mkdirSync(join(files, 'indexed'))
      for (const name of ['part-2', 'part-10'])
        copyFileSync(join(out, `${name}.indexed.parquet`), join(files, 'indexed', `${name}.indexed.parquet`))
      const glob = 'hf://datasets/o/r/indexed/*.indexed.parquet'
      const found = await cli(['search', glob, '--query-row', '205', '--k', '3', '--columns', 'title', '--json'], undefined, env)
      expect(found.code, found.stderr).toBe(0)
      // (the dataset's row 205: row 5 of its second file, part-10 after part-2)
      const hits = JSON.parse(found.stdout).results as unknown[]
      expect(hits[0]).toMatchObject({
        row: 5,
        shard: 1,
        file: 'hf://datasets/o/r/indexed/part-10.indexed.parquet',
        values: { title: 'part-10:5' },
      })

      // the folder's page on the Hub, as its file browser shows it: the manifest.json in it
      copyFileSync(join(out, 'manifest.json'), join(files, 'indexed', 'manifest.json'))
      const page = new URL('/datasets/o/r/tree/main/indexed', server.url).href
      const fromPage = await cli(['search', page, '--query-row', '205', '--k', '1', '--columns', 'title', '--json'], undefined, env)
      expect(fromPage.code, fromPage.stderr).toBe(0)
      expect(JSON.parse(fromPage.stdout).results[0]).toMatchObject({ row: 5, shard: 1, values: { title: 'part-10:5' } })
      expect(requests).toContain('/datasets/o/r/resolve/main/indexed/manifest.json')
      // and its Parquet files, as inputs to index (here one output for two: refused, naming them)
      const twoInOne = await cli(
        ['index', new URL('/datasets/o/r/tree/main/data', server.url).href, join(dir, 'one.parquet')],
        undefined,
        env,
      )
      expect(twoInOne.code).toBe(2)
      expect(twoInOne.stderr).toContain('tree/main/data matches 2 files: --out-dir DIR indexes each into DIR')

      // the library: the same glob opened as the files it matches, with the token from HF_TOKEN
      hubEnv(env)
      const index = await open(glob)
      try {
        const nearest = (await index.search(await index.vectorOf(205), { k: 1, columns: ['title'] })).results[0]
        expect(nearest).toMatchObject({ row: 5, shard: 1, values: { title: 'part-10:5' } })
      } finally {
        index.close()
      }

      // without the token: the listing refused, and the run says what to set
      const refused = await cli(['index', 'hf://datasets/o/r/data/*.parquet', '--out-dir', join(dir, 'no')], undefined, {
        HF_ENDPOINT: server.url,
        HF_TOKEN: '',
      })
      expect(refused.code).toBe(1)
      expect(refused.stderr).toContain('HTTP 401')
      expect(refused.stderr).toContain('a private or gated repository: set HF_TOKEN to a token that can read it')
      // a file named by its address without the token: the same words
      const one = await cli(['info', 'hf://datasets/o/r/indexed/part-2.indexed.parquet'], undefined, {
        HF_ENDPOINT: server.url,
        HF_TOKEN: '',
      })
      expect(one.code).toBe(1)
      expect(one.stderr).toContain('set HF_TOKEN to a token that can read it')
      // a manifest too
      const manifest = await cli(['search', page, '--query-row', '1'], undefined, { HF_ENDPOINT: server.url, HF_TOKEN: '' })
      expect(manifest.code).toBe(1)
      expect(manifest.stderr).toContain('HTTP 401 reading the manifest: a private or gated repository: set HF_TOKEN')
      // several files matched where one is indexed into one output
      const several = await cli(['index', 'hf://datasets/o/r/data/part-*.parquet', join(dir, 'one.parquet')], undefined, env)
      expect(several.code).toBe(2)
      expect(several.stderr).toContain('hf://datasets/o/r/data/part-*.parquet matches 2 files: --out-dir DIR indexes each into DIR')
    } finally {
      await server.close()
    }
  })
})
