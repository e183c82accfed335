/** Progress lines on stderr: rewritten in place on a terminal, throttled lines otherwise. */
export function progressPrinter(stream: NodeJS.WriteStream = process.stderr) {
  let last = ''
  let lastAt = 0
  return {
    update(text: string, force = false) {
      const now = Date.now()
      if (!force && text.split(' ')[0] === last.split(' ')[0] && now - lastAt < (stream.isTTY ? 100 : 2000)) return
      last = text
      lastAt = now
      if (stream.isTTY) stream.write(`\r\x1b[K${text}`)
      else stream.write(`${text}\n`)
    },
    done() {
      if (stream.isTTY && last) stream.write('\n')
      last = ''
    },
  }
}

/** `1 file`, `3 files`. */
export const count = (n: number, noun: string) => `${n} ${noun}${n === 1 ? '' : 's'}`

/** A byte count for people: B, KiB, MiB or GiB. */
export function fmtBytes(n: number): string {
  if (n < 1024) return `${n} B`
  if (n < 1024 ** 2) return `${(n / 1024).toFixed(1)} KiB`
  if (n < 1024 ** 3) return `${(n / 1024 ** 2).toFixed(1)} MiB`
  return `${(n / 1024 ** 3).toFixed(2)} GiB`
}
