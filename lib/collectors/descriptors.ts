import { opendirSync, readlinkSync } from 'node:fs'
import { setImmediate as loopTurn } from 'node:timers/promises'

export interface DescriptorCounts {
  openFiles: number | null
  connections: number | null
  /** Every open descriptor, less the one the walk's own listing holds (as prom-client's process_open_fds counts). */
  descriptors: number | null
}

export interface DescriptorWalkerOptions {
  /** /proc/self/fd; a fixture folder in tests. */
  dir?: string
  now?: () => number
  failures: { failed (error: unknown): void, recovered (): void }
}

/**
 * The walk may take this share of the time at most: after a walk of d ms the next starts no sooner than
 * d × 99 ms later. Each link costs a few µs, so a few hundred descriptors are counted every sample and 15,000
 * about once a minute.
 */
const WALK_SHARE = 0.01
const LINKS_PER_BATCH = 64
const NONE: DescriptorCounts = { openFiles: null, connections: null, descriptors: null }

/**
 * Sockets and open regular files, from the links in /proc/self/fd, counted in small batches between which the
 * event loop runs: never one synchronous walk over every descriptor (176 ms with 15,000 sockets), and no wake-up
 * of its own.
 */
export function createDescriptorWalker ({ dir = '/proc/self/fd', now = () => performance.now(), failures }: DescriptorWalkerOptions) {
  let counts = NONE
  let walking: Promise<void> | null = null
  let nextWalkAt = -Infinity
  let closed = false
  // The listing's own descriptor is one of /proc/self/fd's entries while it is read.
  const ownListing = dir === '/proc/self/fd' ? 1 : 0

  async function walk (): Promise<void> {
    const started = now()
    // Never within sample(): the walk starts on a later turn of the loop.
    await loopTurn()
    if (closed) return
    let connections = 0
    let openFiles = 0
    let descriptors = 0
    // Listed and read synchronously, in batches of 64 between which the loop is free: each batch holds it for well
    // under a millisecond (a few µs a link, one getdents for the listing). Not through the thread pool: every
    // round trip there woke the idle loop (and a pool thread) once more, four times a walk for a small app
    // (benchmark/README.md, "Wake-ups"); each link read there cost two to three times the CPU, for no shorter stall.
    const listing = opendirSync(dir, { bufferSize: LINKS_PER_BATCH })
    try {
      for (let entry = listing.readSync(), read = 1; entry !== null; entry = listing.readSync(), read++) {
        if (read % LINKS_PER_BATCH === 0) {
          await loopTurn()
          if (closed) return
        }
        descriptors++
        let target: string
        try {
          target = readlinkSync(`${dir}/${entry.name}`)
        } catch {
          continue // closed between the listing and the read
        }
        if (target.startsWith('socket:')) connections++
        else if (target.startsWith('/') && !target.startsWith('/dev/') && !target.startsWith('/proc/')) openFiles++
      }
    } finally {
      listing.closeSync()
    }
    if (closed) return
    counts = { openFiles, connections, descriptors: Math.max(0, descriptors - ownListing) }
    nextWalkAt = now() + (now() - started) * (1 / WALK_SHARE - 1)
  }

  return {
    /**
     * Starts a walk when none is running and the last one's pause is over. The first sample waits for the first
     * counts; later ones read the last counts and never wait. Never rejects: a failure is reported to `failures`
     * and the counts are null until a walk succeeds.
     */
    sample (): Promise<void> | undefined {
      if (walking === null && !closed && now() >= nextWalkAt) {
        walking = walk().then(failures.recovered, (error: unknown) => {
          counts = NONE
          failures.failed(error)
        }).finally(() => { walking = null })
      }
      return counts === NONE ? walking ?? undefined : undefined
    },
    read: () => counts,
    /** The walk in progress, if any, settled (for tests and close). */
    settled: () => walking ?? Promise.resolve(),
    close (): void {
      closed = true
    }
  }
}
