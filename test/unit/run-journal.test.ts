// The record a changing run keeps on a host: what it writes reads back the
// same, what the probe prints is read as the host meant it, and the planner
// turns an earlier run's record into restarts and a warning that names it.
import { describe, expect, it } from 'vitest';
import { describeInterruption, interruptedRun, journalText, parseJournalSection, type RunJournal } from '../../src/facts/run-journal.js';
import { facts, plan } from '../support/plan-fixtures.js';

const journal: RunJournal = {
  command: 'rotate-secret',
  pid: 4242,
  controller: 'ci-runner-7',
  user: 'alice',
  started: 1796693025,
  backup: '/var/backups/jitsi-jwt/2026-12-08T01-23-45-678Z',
  newSecret: true,
  step: 'restart',
};

describe('the run journal', () => {
  it('reads back what it writes', () => {
    const lines = journalText(journal).split('\n').filter(Boolean);
    expect(parseJournalSection([...lines, '@@lock self'])).toEqual({ journal, lockHeldByOther: false });
  });

  it.each([
    ['a controller name with a newline', { controller: 'evil\nstep smoke' }, { controller: 'evil step smoke', step: 'restart' }],
    ['a user name with a tab', { user: 'a\tb' }, { user: 'a b' }],
  ])('keeps %s on its own line', (_, change, read) => {
    const lines = journalText({ ...journal, ...change }).split('\n').filter(Boolean);
    expect(parseJournalSection(lines).journal).toMatchObject(read);
  });

  it.each([
    ['no record', ['@@lock free'], undefined],
    ['a record without a backup', ['command apply', 'step write', '@@lock free'], undefined],
    ['an unknown step', ['command apply', 'backup /x', 'step reboot', '@@lock free'], undefined],
  ])('reads %s as no interrupted run', (_, lines, expected) => {
    expect(interruptedRun(parseJournalSection(lines))).toEqual(expected);
  });

  it('is no interrupted run while another run holds the lock: the record may be its own', () => {
    const lines = [...journalText(journal).split('\n').filter(Boolean), '@@lock held'];
    expect(parseJournalSection(lines).journal).toEqual(journal);
    expect(interruptedRun(parseJournalSection(lines))).toBeUndefined();
  });

  it('names the run, where and when it ran, and the step it reached', () => {
    expect(describeInterruption(journal)).toBe('an earlier rotate-secret run (pid 4242 on ci-runner-7 by alice started 2026-12-08 01:23:45 UTC) was interrupted at its restart step');
  });
});

describe('planning after an interrupted run', () => {
  it('restarts every service and says which run it finishes, even with nothing else to change', () => {
    const first = plan(facts());
    const converged = facts({
      domainFiles: [{ ...facts().domainFiles[0], text: first.files[0].after, mode: '640', group: 'prosody' }],
      packages: { prosody: { installed: true }, 'lua-sec': { installed: true }, 'lua-cjson': { installed: true }, 'lua-luaossl': { installed: true }, 'lua-basexx': { installed: true }, 'lua-inspect': { installed: true } },
      luaModules: { 'cjson.safe': true, 'openssl.hmac': true, basexx: true, inspect: true, ssl: true },
    });
    expect(plan(converged).restarts).toEqual([]);
    const p = plan({ ...converged, runJournal: { journal, lockHeldByOther: false } });
    expect(p.files).toEqual([]);
    expect(p.restarts).toEqual(['prosody', 'jicofo', 'jitsi-videobridge2']);
    expect(p.restartReasons).toContain('an earlier run was interrupted at its restart step');
    expect(p.warnings.join('\n')).toMatch(/an earlier rotate-secret run \(pid 4242 .*\) was interrupted at its restart step; its backup of the previous state is \/var\/backups\/jitsi-jwt\/2026-12-08T01-23-45-678Z/);
    expect(plan({ ...converged, runJournal: { journal, lockHeldByOther: true } }).restarts).toEqual([]);
  });
});
