/**
 * `npm run test:unit`, the fast tier for the edit loop: the tests of pure logic (no server listening, no child
 * process, no browser, no database), in one process, since tap starts a process per file and each costs seconds.
 * `npm test` runs these files too, each on its own, with everything else.
 */
import './alerts/rules.test.js'
import './alerts/webhook.test.js'
import './breakdown/units.test.js'
import './collectors/cgroup.test.js'
import './collectors/cpu.test.js'
import './collectors/descriptors.test.js'
import './collectors/event-loop.test.js'
import './collectors/gc.test.js'
import './collectors/heap-trend.test.js'
import './collectors/recent.test.js'
import './collectors/slowest.test.js'
import './collectors/system.test.js'
import './histogram.test.js'
import './history.test.js'
import './issues/15.test.js'
import './options.test.js'
import './prometheus.test.js'
import './requests/store.test.js'
import './routes/stream-hub.test.js'
import './sampler.test.js'
import './shared/store.test.js'
import './watch/compose.test.js'
import './watch/fleet.test.js'
