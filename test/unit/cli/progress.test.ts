// What the progress lines say once the restarts are confirmed: each service
// with how long it took, for one host and for a fleet.
import { afterEach, describe, expect, it, vi } from 'vitest';
import { describeOutcome, progressFor } from '../../../src/cli/progress.js';

const restarted = {
  step: 'restarted' as const,
  restarted: [
    { service: 'prosody' as const, how: 'restarted', seconds: 1.42 },
    { service: 'jicofo' as const, how: 'restarted-by-stop-start', seconds: 0.31 },
    { service: 'jitsi-videobridge2' as const, how: 'restarted' },
  ],
};

describe('restart progress', () => {
  afterEach(() => vi.restoreAllMocks());

  it('names each service with how long it took to run on new processes', () => {
    expect(describeOutcome(restarted)).toBe('restarted prosody 1.4 s, jicofo 0.3 s, jitsi-videobridge2');
    expect(describeOutcome({ step: 'restarted', restarted: [] })).toBeUndefined();
    expect(describeOutcome({ step: 'smoke' })).toBeUndefined();
  });

  it.each([
    [1, ['→ restarting prosody, jicofo, jitsi-videobridge2\n', '→ restarted prosody 1.4 s, jicofo 0.3 s, jitsi-videobridge2\n']],
    [2, ['→ h1: restarting prosody, jicofo, jitsi-videobridge2\n', '→ h1: restarted prosody 1.4 s, jicofo 0.3 s, jitsi-videobridge2\n']],
  ])('prints it after the restart step away from a terminal (%i host(s))', (hosts, lines) => {
    const written: string[] = [];
    vi.spyOn(process.stderr, 'write').mockImplementation((chunk: string | Uint8Array) => {
      written.push(String(chunk));
      return true;
    });
    const progress = progressFor(hosts, false);
    progress.event('h1', { step: 'restart', services: ['prosody', 'jicofo', 'jitsi-videobridge2'] });
    progress.event('h1', restarted);
    expect(written.filter((line) => !line.includes('\r'))).toEqual(lines);
  });

  it('prints nothing with --json', () => {
    const write = vi.spyOn(process.stderr, 'write').mockImplementation(() => true);
    progressFor(1, true).event('h1', restarted);
    expect(write).not.toHaveBeenCalled();
  });
});
