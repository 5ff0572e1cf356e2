import { test } from 'tap'
import { createCpuCollector, parseProcStat } from '../../lib/collectors/cpu.js'

test('issue 16: host CPU times from the first line of /proc/stat, summed as os.cpus() sums them (no /proc/cpuinfo read)', async (t) => {
  const stat = 'cpu  640817 15844 102152 73289 416 0 1626 393 0 0\ncpu0 320079 7807 50868 37568 67 0 760 202 0 0\n'
  // user + nice + system + idle + irq; iowait (416) and softirq (1626) are left out, as libuv leaves them out.
  t.same(parseProcStat(stat), { idle: 73289, total: 640817 + 15844 + 102152 + 73289 + 0 })
  t.equal(parseProcStat('intr 1 2 3\n'), null, 'not the host line')
  t.equal(parseProcStat('cpu  1 2\n'), null, 'too few fields')
})

test('two samples within one tick of the host\'s CPU times keep the last figure and measure the next from the older baseline', async (t) => {
  let times = { idle: 1000, total: 2000 }
  let nowMs = 0
  const collector = createCpuCollector(undefined, { cpuUsage: () => ({ user: 0, system: 0 }), now: () => nowMs, systemTimes: () => times })
  t.teardown(() => collector.close())
  times = { idle: 1050, total: 2200 } // 150 of 200 busy
  nowMs = 1000
  collector.sample()
  t.equal(collector.read().systemPercent, 75)
  nowMs = 1005 // refresh() right after: the counters have not moved
  collector.sample()
  t.equal(collector.read().systemPercent, 75, 'the last figure, not null')
  times = { idle: 1150, total: 2400 } // from the older baseline: 100 of 200 busy
  nowMs = 2000
  collector.sample()
  t.equal(collector.read().systemPercent, 50)
})

test('the first sample within one tick of start-up has no host figure yet (null, not 0 %)', async (t) => {
  const times = { idle: 1000, total: 2000 }
  const collector = createCpuCollector(undefined, { cpuUsage: () => ({ user: 0, system: 0 }), now: () => 1, systemTimes: () => times })
  t.teardown(() => collector.close())
  collector.sample()
  t.equal(collector.read().systemPercent, null)
})
