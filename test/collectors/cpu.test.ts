import { test } from 'tap'
import { parseProcStat } from '../../lib/collectors/cpu.js'

test('issue 16: host CPU times from the first line of /proc/stat, summed as os.cpus() sums them (no /proc/cpuinfo read)', async (t) => {
  const stat = 'cpu  640817 15844 102152 73289 416 0 1626 393 0 0\ncpu0 320079 7807 50868 37568 67 0 760 202 0 0\n'
  // user + nice + system + idle + irq; iowait (416) and softirq (1626) are left out, as libuv leaves them out.
  t.same(parseProcStat(stat), { idle: 73289, total: 640817 + 15844 + 102152 + 73289 + 0 })
  t.equal(parseProcStat('intr 1 2 3\n'), null, 'not the host line')
  t.equal(parseProcStat('cpu  1 2\n'), null, 'too few fields')
})
