/**
 * Warnings about files of the shared directory, each logged once per file name: a bad file is reported when it is
 * found, not on every sample. A name that has left the directory is forgotten, so that its return is reported again.
 */
export class LogOnce {
  private readonly logged = new Set<string>()

  constructor (private readonly log: { warn: (msg: string) => void }) {}

  warn (key: string, message: string): void {
    if (this.logged.has(key)) return
    this.logged.add(key)
    this.log.warn(message)
  }

  /** Forgets the keys of `prefix` that are not in `present`. */
  forgetAbsent (prefix: string, present: ReadonlySet<string>): void {
    for (const key of this.logged) if (key.startsWith(prefix) && !present.has(key.slice(prefix.length))) this.logged.delete(key)
  }
}
