import { execFileSync } from 'node:child_process'
import { availableParallelism, totalmem } from 'node:os'
import { join } from 'node:path'
import { test } from 'tap'
import { NO_CGROUP_LIMITS, readCgroupLimits } from '../../lib/collectors/cgroup.js'
import { createCpuCollector } from '../../lib/collectors/cpu.js'
import { createProcessCollector, memoryLimit } from '../../lib/collectors/process.js'
import { createSystemCollector, readPageSize } from '../../lib/collectors/system.js'
import { round } from '../../lib/format.js'
import { buildApp } from '../helpers/app.js'

const fixture = (name: string) => join(import.meta.dirname, '..', 'fixtures', 'cgroup', name)
const log = { warn () {} }
const MiB = 1024 * 1024

test('cgroup limits are read from /proc/self/cgroup and the limit files: v2, v1, none', async (t) => {
  t.same(readCgroupLimits(fixture('v2')), {
    memory: { bytes: 512 * MiB, source: 'cgroup-v2' },
    cpu: { cores: 1.5, source: 'cgroup-v2' }
  }, 'v2: the smallest limit on the way up binds (the service\'s memory.max, the slice\'s cpu.max)')
  t.same(readCgroupLimits(fixture('v1')), {
    memory: { bytes: 256 * MiB, source: 'cgroup-v1' },
    cpu: { cores: 0.5, source: 'cgroup-v1' }
  }, 'v1 (hybrid host, no cgroup namespace): the container\'s own mount, cpu,cpuacct named as the line names it')
  t.same(readCgroupLimits(fixture('none')), NO_CGROUP_LIMITS, 'v2 "max" is no limit')
  t.same(readCgroupLimits(fixture('v1-unlimited')), NO_CGROUP_LIMITS, 'v1 9223372036854771712 and a quota of -1 are no limit')
  t.same(readCgroupLimits(fixture('missing')), NO_CGROUP_LIMITS, 'no /proc/self/cgroup (not Linux): no limit')
})

test('memoryPercent in a container is a percent of its 512 MiB limit, not of the host\'s RAM (issue 15.8)', async (t) => {
  const contained = createProcessCollector(log, readCgroupLimits(fixture('v2'))).read()
  t.same(contained.limit, { bytes: 512 * MiB, source: 'cgroup-v2' })
  t.equal(contained.memoryPercent, round(contained.rss / (512 * MiB) * 100, 2))

  const host = createProcessCollector(log, readCgroupLimits(fixture('none'))).read()
  t.same(host.limit, { bytes: totalmem(), source: 'host' })
  t.equal(host.memoryPercent, round(host.rss / totalmem() * 100, 2))

  t.same(memoryLimit({ memory: { bytes: 64 * 1024 * MiB, source: 'cgroup-v1' }, cpu: null }, 8 * 1024 * MiB),
    { bytes: 8 * 1024 * MiB, source: 'host' }, 'a cgroup limit above the host\'s RAM does not apply: the RAM does')
})

test('cpu.processPercent in a container is a percent of its CPU quota, not of the host\'s cores (issue 15.8)', async (t) => {
  let usedMicros = 0
  let nowMs = 0
  const clock = { cpuUsage: () => ({ user: usedMicros, system: 0 }), now: () => nowMs }

  const contained = createCpuCollector(readCgroupLimits(fixture('v1')), clock)
  usedMicros = 250_000
  nowMs = 1000
  contained.sample()
  t.match(contained.read(), { processPercent: 50, limitCores: 0.5, limitSource: 'cgroup-v1', cores: availableParallelism() },
    '250 ms of CPU in 1 s is half of a 0.5-core quota')

  usedMicros = 0
  nowMs = 0
  const host = createCpuCollector(readCgroupLimits(fixture('none')), clock)
  usedMicros = 250_000
  nowMs = 1000
  host.sample()
  const cores = availableParallelism()
  t.match(host.read(), { processPercent: round(25 / cores, 2), limitCores: cores, limitSource: 'host' })

  nowMs = 0
  const wide = createCpuCollector({ memory: null, cpu: { cores: cores + 2, source: 'cgroup-v2' } }, clock)
  t.match(wide.read(), { limitCores: cores, limitSource: 'host' }, 'a quota above the host\'s cores does not apply')
})

test('swap in and out are counted in the kernel\'s page size, not an assumed 4 KiB (issue 15.8)', async (t) => {
  const auxv = (words: number[], wordBytes: 4 | 8, littleEndian: boolean) => {
    const buffer = Buffer.alloc(words.length * wordBytes)
    words.forEach((value, i) => {
      if (wordBytes === 8) {
        if (littleEndian) buffer.writeBigUInt64LE(BigInt(value), i * 8)
        else buffer.writeBigUInt64BE(BigInt(value), i * 8)
      } else if (littleEndian) buffer.writeUInt32LE(value, i * 4)
      else buffer.writeUInt32BE(value, i * 4)
    })
    return buffer
  }
  const dir = t.testdir({
    'arm64-16k': auxv([33, 0xffff0000, 6, 16384, 17, 100, 0, 0], 8, true),
    'ppc-64k': auxv([16, 7, 6, 65536, 0, 0], 4, false),
    'no-pagesz': auxv([16, 7, 0, 0, 6, 8192], 8, true)
  })
  t.equal(readPageSize(join(dir, 'arm64-16k'), 8, true), 16384)
  t.equal(readPageSize(join(dir, 'ppc-64k'), 4, false), 65536)
  t.equal(readPageSize(join(dir, 'no-pagesz'), 8, true), null, 'nothing past AT_NULL is read')
  t.equal(readPageSize(join(dir, 'missing')), null)
  if (process.platform === 'linux') {
    t.equal(readPageSize(), Number(execFileSync('getconf', ['PAGESIZE'], { encoding: 'utf8' })), 'this kernel\'s, as getconf reads it')
  }

  const system = createSystemCollector(log, true, { root: fixture('v2'), pageSize: 16384 })
  await system.sample()
  const memory = system.read()
  t.same(memory.swap, {
    total: 2_000_000 * 1024,
    used: 500_000 * 1024,
    free: 1_500_000 * 1024,
    percent: 25,
    sin: 1000 * 16384,
    sout: 3000 * 16384
  })
  t.equal(memory.total, 8_000_000 * 1024, 'the host\'s figures stay the host\'s')

  const unknown = createSystemCollector(log, true, { root: fixture('v2'), pageSize: null })
  await unknown.sample()
  t.match(unknown.read().swap, { sin: null, sout: null, total: 2_000_000 * 1024 }, 'an unknown page size gives null, not a guess')
})

test('the snapshot says which limits apply', async (t) => {
  const app = await buildApp()
  t.teardown(() => app.close())
  const limits = readCgroupLimits()
  const response = await app.inject('/health')
  const body = response.json()
  t.same(body.memory.process.limit, memoryLimit(limits), 'served through the response schema')
  const cores = availableParallelism()
  const cpu = limits.cpu !== null && limits.cpu.cores < cores ? limits.cpu : { cores, source: 'host' }
  t.equal(body.cpu.limitCores, cpu.cores)
  t.equal(body.cpu.limitSource, cpu.source)
})
