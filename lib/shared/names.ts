/**
 * The names of one app's files in the shared directory. Every name starts with the app's name, so two apps sharing a
 * directory by mistake never read each other's files:
 *
 * - `<app>~p~<id>.json`: a process's state, rewritten on every sample (a temporary file, then a rename).
 * - `<app>~c~<id>~<claimer id>.json`: a dead process's state, claimed by the live process that folds it.
 * - `<app>~history.json`: the fleet's history (lib/shared/history-file.ts).
 * - `.<app>~t~<random>`: a temporary file being written (lib/shared/directory.ts).
 *
 * An id is `<host>_<pid>_<start, base 36>_<generation>`; host names are reduced to letters, digits, "." and "-".
 */
export const sanitize = (value: string): string => value.replace(/[^A-Za-z0-9.-]/g, '-')

export interface ParsedId { host: string, pid: number, startedAt: number, generation: number }

export function formatId ({ host, pid, startedAt, generation }: ParsedId): string {
  return `${sanitize(host)}_${pid}_${startedAt.toString(36)}_${generation}`
}

export function parseId (id: string): ParsedId | null {
  const match = /^([A-Za-z0-9.-]+)_(\d+)_([0-9a-z]+)_(\d+)$/.exec(id)
  if (match === null) return null
  return { host: match[1]!, pid: Number(match[2]), startedAt: parseInt(match[3]!, 36), generation: Number(match[4]) }
}

export const processFile = (app: string, id: string) => `${app}~p~${id}.json`
export const claimFile = (app: string, id: string, claimer: string) => `${app}~c~${id}~${claimer}.json`
export const historyFile = (app: string) => `${app}~history.json`
export const tempPrefix = (app: string) => `.${app}~t~`

export type FileName =
  | { kind: 'process', id: string }
  | { kind: 'claim', id: string, claimer: string }

/** What a name is to app `app`; null for any other file (another app's, another program's). */
export function parseName (name: string, app: string): FileName | null {
  if (!name.startsWith(`${app}~`) || !name.endsWith('.json')) return null
  const parts = name.slice(app.length + 1, -5).split('~')
  if (parts[0] === 'p' && parts.length === 2 && parseId(parts[1]!) !== null) return { kind: 'process', id: parts[1]! }
  if (parts[0] === 'c' && parts.length === 3 && parseId(parts[1]!) !== null && parseId(parts[2]!) !== null) {
    return { kind: 'claim', id: parts[1]!, claimer: parts[2]! }
  }
  return null
}
