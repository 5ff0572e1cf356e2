import { randomBytes } from 'node:crypto'
import cluster from 'node:cluster'
import { rmSync, statSync, writeFileSync } from 'node:fs'
import { basename, extname, join, resolve } from 'node:path'
import { FST_SERVER_WATCH_INVALID_OPTION, FST_SERVER_WATCH_SHARED_DIR } from '../errors.js'
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
}

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
 * `shared` (the option wins) or SERVER_WATCH_DIR; null when neither is set. The directory must exist and take a
 * file: checked by writing one, since permission bits do not tell (root writes anywhere a mount allows).
 */
export function normalizeShared (value: unknown, env: NodeJS.ProcessEnv = process.env): NormalizedShared | null {
  if (value === false) return null
  let dir: unknown
  let source: string
  let name: unknown
  if (value === undefined) {
    dir = env[SHARED_DIR_ENV]
    if (dir === undefined || dir === '') return null
    source = SHARED_DIR_ENV
  } else {
    if (typeof value !== 'object' || value === null || Array.isArray(value)) {
      throw new FST_SERVER_WATCH_INVALID_OPTION('shared', '{ dir, name? } or false', typeof value === 'string' ? JSON.stringify(value) : String(value))
    }
    const options = value as Record<string, unknown>
    for (const key of Object.keys(options)) {
      if (key !== 'dir' && key !== 'name') throw new FST_SERVER_WATCH_INVALID_OPTION(`shared.${key}`, 'absent (unknown option; shared takes dir and name)', typeof options[key])
    }
    dir = options.dir ?? env[SHARED_DIR_ENV]
    source = options.dir === undefined ? SHARED_DIR_ENV : '"shared.dir" option'
    name = options.name
    if (dir === undefined) throw new FST_SERVER_WATCH_INVALID_OPTION('shared.dir', `a directory path (or set ${SHARED_DIR_ENV})`, 'undefined')
  }
  if (typeof dir !== 'string' || dir === '') throw new FST_SERVER_WATCH_INVALID_OPTION('shared.dir', 'a directory path', typeof dir)
  if (name !== undefined && (typeof name !== 'string' || !NAME_PATTERN.test(name))) {
    throw new FST_SERVER_WATCH_INVALID_OPTION('shared.name', '1 to 64 letters, digits, ".", "_" or "-", starting with a letter or digit', typeof name === 'string' ? JSON.stringify(name) : typeof name)
  }
  const absolute = resolve(dir)
  assertSafeDirectory(absolute, source)
  checkWritable(absolute, source)
  return { dir: absolute, name: (name as string | undefined) ?? defaultAppName(), workerId: defaultWorkerId(env) }
}

function checkWritable (dir: string, source: string): void {
  let isDirectory: boolean
  try {
    isDirectory = statSync(dir).isDirectory()
  } catch (error) {
    throw new FST_SERVER_WATCH_SHARED_DIR(source, dir, `cannot be used (${(error as NodeJS.ErrnoException).code ?? 'error'}): create it first`)
  }
  if (!isDirectory) throw new FST_SERVER_WATCH_SHARED_DIR(source, dir, 'is not a directory')
  const probe = join(dir, `.server-watch-probe-${process.pid}-${randomBytes(4).toString('hex')}`)
  try {
    writeFileSync(probe, '')
    rmSync(probe, { force: true })
  } catch (error) {
    throw new FST_SERVER_WATCH_SHARED_DIR(source, dir, `is not writable (${(error as NodeJS.ErrnoException).code ?? 'error'})`)
  }
}
