// The --json document, built from host results of every kind, holds to the
// published schema; secrets appear only when asked for.
import { describe, expect, it } from 'vitest';
import { runDocument } from '../../src/cli/run-document.js';
import type { HostResult } from '../../src/run/results.js';
import { parseRunDocument } from '../support/run-schema.js';
import { SECRET, facts, plan } from '../support/plan-fixtures.js';

const pending = plan(facts());
const timings = { connectSeconds: 0.2, readSeconds: 0.1, totalSeconds: 3.5, roundTrips: 5 };
const smoke = {
  ok: true,
  seconds: 0.4,
  cases: [
    { name: 'valid token' as const, expected: 'admitted' as const, observed: 'admitted', verdict: 'pass' as const, ok: true, seconds: 0.1 },
    { name: 'old secret' as const, expected: 'refused' as const, observed: 'refused at login: not-authorized', verdict: 'pass' as const, ok: true, seconds: 0.1 },
  ],
};

const results: HostResult[] = [
  { name: 'a', target: 'deploy@a', status: 'pending', exitCode: 0, plan: pending, timings },
  {
    name: 'b',
    target: 'b',
    status: 'applied',
    exitCode: 0,
    plan: pending,
    report: { changed: true, installed: ['lua-cjson'], backupDir: '/var/backups/jitsi-jwt/x', restarted: [{ service: 'prosody', how: 'restarted' }], newFindings: [] },
    smoke,
    timings: { ...timings, applySeconds: 3, smokeSeconds: 0.4 },
  },
  { name: 'c', target: 'c', status: 'rolled-back', exitCode: 7, plan: pending, error: { code: 'rolled-back', message: 'prosody did not come back', hint: 'look at its log' }, timings },
  { name: 'd', target: 'd', status: 'not-started', exitCode: 0, error: { code: 'not-started', message: 'nothing was changed' }, timings: { totalSeconds: 0, roundTrips: 0 } },
  { name: 'e', target: 'e', status: 'failed', exitCode: 4, error: { code: 'host-unreachable', message: 'cannot reach e' }, timings: { totalSeconds: 0.1, roundTrips: 0 } },
];

describe('runDocument', () => {
  it('matches the schema for every kind of host result', () => {
    const document = parseRunDocument(
      JSON.stringify(runDocument('apply', results, { exitCode: 7, seconds: 4, showSecret: false, appId: 'backend', secret: { source: 'given', changed: false, delivered: [], value: SECRET } })),
    );
    expect(document.hosts.map((h) => [h.name, h.status, h.ok])).toEqual([
      ['a', 'pending', true],
      ['b', 'applied', true],
      ['c', 'rolled-back', false],
      ['d', 'not-started', false],
      ['e', 'failed', false],
    ]);
    expect(document.ok).toBe(false);
  });

  it('keeps the secret out (value and diffs) unless --show-secret', () => {
    const hidden = JSON.stringify(runDocument('apply', results, { exitCode: 0, seconds: 1, showSecret: false, secret: { source: 'generated', changed: true, delivered: ['secret-out'], value: SECRET } }));
    expect(hidden).not.toContain(SECRET);
    expect(hidden).toContain('hidden, --show-secret shows it');
    const shown = parseRunDocument(JSON.stringify(runDocument('apply', results, { exitCode: 0, seconds: 1, showSecret: true, secret: { source: 'generated', changed: true, delivered: [], value: SECRET } })));
    expect(shown.secret?.value).toBe(SECRET);
    expect(JSON.stringify(shown.hosts[0])).toContain(SECRET);
  });

  it('matches the schema for a run stopped by bad input before any host', () => {
    const document = parseRunDocument(JSON.stringify(runDocument('', [], { exitCode: 3, seconds: 0, showSecret: false, error: { code: 'settings', message: 'no target given' } })));
    expect(document).toMatchObject({ ok: false, exitCode: 3, hosts: [], secret: null, appId: null });
  });

  it('is refused by the schema when a field is missing or unknown', () => {
    const document = runDocument('plan', results.slice(0, 1), { exitCode: 0, seconds: 1, showSecret: false });
    const { timings: _, ...withoutTimings } = document.hosts[0];
    expect(() => parseRunDocument(JSON.stringify({ ...document, hosts: [withoutTimings] }))).toThrow(/timings/);
    expect(() => parseRunDocument(JSON.stringify({ ...document, extra: 1 }))).toThrow(/additionalProperties/);
  });
});
