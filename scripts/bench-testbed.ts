// Test bed timings: image build (cold: the cache is bypassed with a scratch
// cache dir when --cold is given), warm `up` of one host, and boots of several.
// Prints figures; asserts nothing.
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { TestBed } from '../testbed/bed.js';
import { ensureImage, type Suite } from '../testbed/rootfs-image.js';

const cold = process.argv.includes('--cold');
const suites: Suite[] = ['bookworm', 'trixie'];
const seconds = (start: number) => ((Date.now() - start) / 1000).toFixed(1);

if (cold) {
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), 'bench-cache-'));
  process.env.JITSI_JWT_TESTBED_CACHE = scratch;
  for (const suite of suites) {
    const start = Date.now();
    await ensureImage(suite);
    console.log(`cold image build, ${suite}: ${seconds(start)} s`);
  }
  await fs.rm(scratch, { recursive: true, force: true });
  delete process.env.JITSI_JWT_TESTBED_CACHE;
}

for (const suite of suites) await ensureImage(suite);
const bed = new TestBed(`bench-${process.pid}`);
try {
  for (const suite of suites) {
    const start = Date.now();
    await bed.up({ suites: [suite], count: 1, domain: 'meet.test', generation: '2026', brokenProsodyInit: false });
    console.log(`warm up, one ${suite} host (unpack, provision, boot): ${seconds(start)} s`);
  }
  const start = Date.now();
  await bed.up({ suites: ['bookworm'], count: 4, domain: 'meet.test', generation: '2026', brokenProsodyInit: false });
  console.log(`three more bookworm hosts, created and booted together: ${seconds(start)} s`);
  const reset = Date.now();
  await bed.reset(['bookworm-1']);
  console.log(`reset of one host: ${seconds(reset)} s`);
} finally {
  const down = Date.now();
  await bed.down();
  console.log(`down (6 hosts): ${seconds(down)} s`);
}
