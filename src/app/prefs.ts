import { useEffect, useState } from 'react'

/** What the page remembers in localStorage: the theme the user picked and recently opened URLs. */

export type Theme = 'light' | 'dark'
const THEME_KEY = 'parquetseek.theme'
const RECENT_KEY = 'parquetseek.recent'
const RECENT_MAX = 6

function stored(key: string): string | null {
  try {
    return localStorage.getItem(key)
  } catch {
    return null // storage disabled: nothing is remembered
  }
}

function store(key: string, value: string): void {
  try {
    localStorage.setItem(key, value)
  } catch {
    // storage disabled or full: the choice lasts this visit only
  }
}

/**
 * The theme follows the system (`prefers-color-scheme`) until the user picks one; the pick is
 * kept and set as `data-theme` on <html>, which the style sheet's tokens key on.
 */
export function useTheme(): [Theme, () => void] {
  const [picked, setPicked] = useState<Theme | undefined>(() => {
    const s = stored(THEME_KEY)
    return s === 'dark' || s === 'light' ? s : undefined
  })
  const systemDark = useMedia('(prefers-color-scheme: dark)')
  const theme = picked ?? (systemDark ? 'dark' : 'light')
  useEffect(() => {
    if (picked) document.documentElement.dataset.theme = picked
    else delete document.documentElement.dataset.theme
  }, [picked])
  return [
    theme,
    () => {
      const next = theme === 'dark' ? 'light' : 'dark'
      store(THEME_KEY, next)
      setPicked(next)
    },
  ]
}

/** Whether a media query matches now, kept current as the window or the system changes. */
export function useMedia(query: string): boolean {
  const [matches, setMatches] = useState(() => Boolean(window.matchMedia?.(query).matches))
  useEffect(() => {
    const media = window.matchMedia?.(query)
    const onChange = () => setMatches(Boolean(media?.matches))
    onChange()
    media?.addEventListener('change', onChange)
    return () => media?.removeEventListener('change', onChange)
  }, [query])
  return matches
}

/** URLs opened before, newest first (local files cannot be reopened without a new pick). */
export function recentUrls(): string[] {
  try {
    const list = JSON.parse(stored(RECENT_KEY) ?? '[]') as unknown
    return Array.isArray(list) ? list.filter((u): u is string => typeof u === 'string').slice(0, RECENT_MAX) : []
  } catch {
    return []
  }
}

export function rememberUrl(url: string): void {
  store(RECENT_KEY, JSON.stringify([url, ...recentUrls().filter((u) => u !== url)].slice(0, RECENT_MAX)))
}
