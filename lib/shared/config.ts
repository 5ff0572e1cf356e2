import { randomBytes } from 'node:crypto'
import cluster from 'node:cluster'
import { closeSync, constants, openSync, rmSync, statSync } from 'node:fs'
import { basename, extname, join, resolve } from 'node:path'
import { FST_SERVER_WATCH_SHARED_DIR } from '../errors.js'
import { OptionGroup, type KnownKeys } from '../options/validate.js'
import { assertSafeDirectory } from './directory.js'

export const SHARED_DIR_ENV = 'SERVER_WATCH_DIR'

export interface SharedOptions {
  /** A directory every process of the app can write: `/dev/shm/my-app`, or a volume shared by containers. */
  dir?: string
  /** Keeps apart two apps that share the directory. Default: the main script's name (`server` for server.js). */
  name?: string
}

export interface NormalizedShared {
  dir: string
  name: string
  workerId: string | null
  /** Where the directory came from, for the errors that name it: `"shared.dir" option` or SERVER_WATCH_DIR. */
  source: string
}

const SHARED_KEYS = { dir: true, name: true } satisfies KnownKeys<SharedOptions>

const NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/

/** The main script's name without its extension: the same for every worker of an app, PM2's included. */
export function defaultAppName (script = process.env.pm_exec_path ?? process.argv[1]): string {
  const name = script === undefined || script === '' ? '' : basename(script, extname(script)).replace(/[^A-Za-z0-9._-]/g, '-').replace(/^[._-]+/, '')
  return name === '' ? 'app' : name.slice(0, 64)
}

/** PM2's process id, else node:cluster's worker id, else null. */
export function defaultWorkerId (env: NodeJS.ProcessEnv = process.env): string | null {
  if (env.pm_id !== undefined && env.pm_id !== '') return env.pm_id
  return cluster.isWorker && cluster.worker !== undefined ? String(cluster.worker.id) : null
}

/**
 * `shared` (the option wins) or SERVER_WATCH_DIR; null when neither is set. The directory must exist: checked
 * without writing anything (whether it takes a file is `checkWritable`'s, when shared mode starts).
 */
export function normalizeShared (value: unknown, env: NodeJS.ProcessEnv = process.env): NormalizedShared | null {
  if (value === false) return null
  const fromEnv = env[SHARED_DIR_ENV] === '' ? undefined : env[SHARED_DIR_ENV]
  if (value === undefined && fromEnv === undefined) return null
  const group = OptionGroup.of(value === undefined ? {} : value, 'shared', SHARED_KEYS, 'false or { dir?, name? }')
  const own = group.string('dir', null, /^./, `a directory path (or set ${SHARED_DIR_ENV})`)
  const dir = own ?? fromEnv
  if (dir === undefined) return group.fail('dir', `a directory path (or set ${SHARED_DIR_ENV})`, 'undefined')
  const name = group.string('name', null, NAME_PATTERN, '1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit')
  const source = own === null ? SHARED_DIR_ENV : '"shared.dir" option'
  const absolute = resolve(dir)
  let isDirectory: boolean
  try {
    isDirectory = statSync(absolute).isDirectory()
  } catch (error) {
    throw new FST_SERVER_WATCH_SHARED_DIR(source, absolute, `cannot be used (${(error as NodeJS.ErrnoException).code ?? 'error'}): create it first`)
  }
  if (!isDirectory) throw new FST_SERVER_WATCH_SHARED_DIR(source, absolute, 'is not a directory')
  assertSafeDirectory(absolute, source)
  return { dir: absolute, name: name ?? defaultAppName(), workerId: defaultWorkerId(env), source }
}

/**
 * When shared mode starts (lib/shared/watch.ts), before its first sample: the directory takes a file. Checked by
 * creating one, since permission bits do not tell (root writes anywhere a mount allows): exclusively, under an
 * unpredictable name, never through a link, mode 0600, then removed.
 */
export function checkWritable ({ dir, source }: NormalizedShared): void {
  const probe = join(dir, `.server-watch-probe-${process.pid}-${randomBytes(8).toString('hex')}`)
  try {
    closeSync(openSync(probe, constants.O_CREAT | constants.O_EXCL | constants.O_WRONLY | constants.O_NOFOLLOW, 0o600))
    rmSync(probe, { force: true })
  } catch (error) {
    throw new FST_SERVER_WATCH_SHARED_DIR(source, dir, `is not writable (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}
