import { basename, dirname, join, parse, sep } from 'node:path'
import { Directory } from '../shared/directory.js'

/**
 * Which release is running, decided once at register time (docs/errors-and-releases.md, "Which release"):
 * the `release` option, else the first of RELEASE_VARIABLES that is set, else the app's package.json version,
 * else null.
 */
export const RELEASE_VARIABLES = [
  'SERVER_WATCH_RELEASE',
  // Set by the user for another tool, and meant to name the release.
  'SENTRY_RELEASE',
  // Platforms and CI, each the commit (or revision, or image) being run.
  'HEROKU_SLUG_COMMIT', // Heroku, with runtime dyno metadata
  'SOURCE_VERSION', // Heroku and Scalingo builds
  'K_REVISION', // Cloud Run, Knative
  'RENDER_GIT_COMMIT', // Render
  'VERCEL_GIT_COMMIT_SHA', // Vercel
  'RAILWAY_GIT_COMMIT_SHA', // Railway
  'CF_PAGES_COMMIT_SHA', // Cloudflare Pages
  'KOYEB_GIT_SHA', // Koyeb
  'FLY_IMAGE_REF', // Fly.io
  'COMMIT_REF', // Netlify
  'CI_COMMIT_SHA', // GitLab CI
  'GITHUB_SHA', // GitHub Actions
  'GIT_COMMIT', // Jenkins
  'COMMIT_SHA' // Google Cloud Build, and a common convention
] as const

/** A release name is cut to this many characters: it is a label, a file field and a chart marker. */
export const MAX_RELEASE_LENGTH = 100

/** What the `release` option accepts: one line of 1 to MAX_RELEASE_LENGTH characters, not all blank. */
export const RELEASE_PATTERN = new RegExp(`^(?=.*\\S)[^\\r\\n]{1,${MAX_RELEASE_LENGTH}}$`)
export const RELEASE_EXPECTED = `a string of 1 to ${MAX_RELEASE_LENGTH} characters on one line, not blank`

export type ReleaseSource = 'option' | (typeof RELEASE_VARIABLES)[number] | 'package.json' | null

export interface ResolvedRelease {
  release: string | null
  /** Where it came from: `option`, the variable's name, `package.json`, or null when there is none. */
  source: ReleaseSource
}

export interface ReleaseInputs {
  option?: string | null | undefined
  env?: NodeJS.ProcessEnv
  /** The main script (`process.argv[1]`): the app's package.json is the nearest one above it. */
  main?: string | undefined
  /** Searched when the main script gives none (a REPL, `node -e`, a runner under node_modules). */
  cwd?: string
}

const clean = (value: string | null | undefined): string | null => {
  const text = value?.trim()
  return text === undefined || text === '' ? null : text.slice(0, MAX_RELEASE_LENGTH)
}

export function resolveRelease ({ option, env = process.env, main = process.argv[1], cwd = process.cwd() }: ReleaseInputs = {}): ResolvedRelease {
  const given = clean(option)
  if (given !== null) return { release: given, source: 'option' }
  for (const name of RELEASE_VARIABLES) {
    const value = clean(env[name])
    if (value !== null) return { release: value, source: name }
  }
  const version = packageVersion(main === undefined || main === '' ? undefined : dirname(main)) ?? packageVersion(cwd)
  return version === null ? { release: null, source: null } : { release: version, source: 'package.json' }
}

/**
 * The `version` of the nearest package.json at or above `start`, outside node_modules: a script started through a
 * runner (`node_modules/.bin/fastify start`, PM2's container) is looked for above the node_modules that holds it,
 * so the runner's own version is never taken for the app's. Null when there is none or it has no string version.
 */
export function packageVersion (start: string | undefined): string | null {
  if (start === undefined) return null
  const inModules = start.indexOf(`${sep}node_modules${sep}`)
  let dir = inModules === -1 ? (start.endsWith(`${sep}node_modules`) ? dirname(start) : start) : start.slice(0, inModules)
  const root = parse(dir).root
  for (;;) {
    const text = readSmallFile(join(dir, 'package.json'))
    if (text !== null) {
      try {
        const version = (JSON.parse(text) as { version?: unknown } | null)?.version
        return typeof version === 'string' ? clean(version) : null
      } catch {
        return null
      }
    }
    if (dir === root) return null
    dir = dirname(dir)
  }
}

/** A regular file's text, or null: missing, not a regular file (a FIFO would block) or too large (directory.ts). */
function readSmallFile (path: string): string | null {
  try {
    return new Directory(dirname(path), '').read(basename(path)).toString('utf8')
  } catch {
    return null
  }
}
