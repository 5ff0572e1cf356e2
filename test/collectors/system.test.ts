import { test } from 'tap'
import { createSystemCollector } from '../../lib/collectors/system.js'

test('system memory: /proc on Linux, systeminformation elsewhere, with null for what it cannot tell', async (t) => {
  const warnings: string[] = []
  const log = { warn: (_obj: object, message: string) => { warnings.push(message) } }
  const portable = createSystemCollector(log, false)
  await portable.sample()
  const memory = portable.read()
  t.ok(memory.total! > 0 && memory.free! > 0 && memory.available! > 0)
  t.equal(memory.active, null, 'systeminformation has no psutil-style active')
  t.equal(memory.swap.sin, null)
  t.same(warnings, [])
  if (process.platform === 'linux') {
    const proc = createSystemCollector(log)
    await proc.sample()
    const fromProc = proc.read()
    t.equal(fromProc.total, memory.total, 'both read the same MemTotal')
    t.ok(fromProc.used! + fromProc.buffers! + fromProc.cached! <= fromProc.total! - fromProc.free!, 'used excludes the cache')
    t.ok(fromProc.shared! >= 0 && fromProc.active! > 0)
  }
})
