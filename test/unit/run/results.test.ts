import { describe, expect, it } from 'vitest';
import { countRoundTrips, mapLimit, worstExitCode } from '../../../src/run/results.js';
import { EXIT } from '../../../src/errors.js';
import type { Connector } from '../../../src/connector/types.js';
import { sh } from '../../../src/shell/script.js';

describe('mapLimit', () => {
  it('never runs more than the limit at once, and keeps the input order', async () => {
    let running = 0;
    let peak = 0;
    const results = await mapLimit([50, 10, 30, 5, 20, 1], 3, async (ms, i) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((resolve) => setTimeout(resolve, ms));
      running--;
      return i;
    });
    expect(results).toEqual([0, 1, 2, 3, 4, 5]);
    expect(peak).toBe(3);
  });

  it('copes with an empty list and a limit above the item count', async () => {
    expect(await mapLimit([], 8, async () => 1)).toEqual([]);
    expect(await mapLimit([1, 2], 8, async (x) => x * 2)).toEqual([2, 4]);
  });
});

describe('worstExitCode', () => {
  it.each([
    [[0, 0], EXIT.ok],
    [[0, EXIT.changesPending], EXIT.changesPending],
    [[EXIT.connection, EXIT.ok], EXIT.connection],
    [[EXIT.connection, EXIT.rolledBack], EXIT.rolledBack],
    [[EXIT.rolledBack, EXIT.smokeFailed], EXIT.smokeFailed],
    [[EXIT.smokeFailed, EXIT.failed], EXIT.failed],
    [[EXIT.failed, EXIT.rollbackFailed, EXIT.ok], EXIT.rollbackFailed],
  ])('%j → %i', (codes, worst) => {
    expect(worstExitCode(codes)).toBe(worst);
  });
});

describe('countRoundTrips', () => {
  it('counts runs, held scripts and tunnels, and passes everything through', async () => {
    const calls: string[] = [];
    const inner: Connector = {
      label: 'h',
      run: async (script) => (calls.push(`run ${script.text}`), { stdout: 'x', stderr: '', code: 0 }),
      hold: async () => (calls.push('hold'), { firstLine: 'locked', output: 'locked\n', release: async () => {} }),
      openTunnel: async () => (calls.push('tunnel'), undefined as never),
      close: async () => void calls.push('close'),
    };
    const counted = countRoundTrips(inner);
    expect((await counted.run(sh`id`)).stdout).toBe('x');
    await counted.hold(sh`flock`);
    await counted.openTunnel('127.0.0.1', 5280);
    await counted.close();
    expect(counted.roundTrips).toBe(3);
    expect(counted.label).toBe('h');
    expect(calls).toEqual(['run id', 'hold', 'tunnel', 'close']);
  });
});
