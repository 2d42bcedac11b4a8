// The pure parts of apply: which configuration-check lines a change
// introduced, and reading the scripts' result lines; and the rollback script,
// run under dash, refusing a backup others could have written.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { introducedFindings } from '../../src/apply/apply.js';
import { parseLockAnswer, parseScriptOutput, restartScript, restoreScript } from '../../src/apply/scripts.js';

const stockCheck = [
  'Checking config...',
  '    You have some obsolete options you can remove from the global section:',
  '    cross_domain_bosh',
  'Done.',
  '',
  'Problems found, see above.',
];

describe('introducedFindings', () => {
  it('ignores what a healthy stock box already reports', () => {
    expect(introducedFindings(stockCheck, stockCheck)).toEqual([]);
  });

  it('reports only the lines the change added', () => {
    const after = [...stockCheck.slice(0, 3), '    Error: unknown option app_secret', ...stockCheck.slice(3)];
    expect(introducedFindings(stockCheck, after)).toEqual(['Error: unknown option app_secret']);
  });

  it('does not take a warning that was there for new when the change renumbered its line', () => {
    const before = ["startup             warn\tConfiguration warning: /etc/prosody/conf.d/meet.test.cfg.lua:75: Duplicate option 'c2s_require_encryption'", ...stockCheck];
    const after = ["startup             warn\tConfiguration warning: /etc/prosody/conf.d/meet.test.cfg.lua:79: Duplicate option 'c2s_require_encryption'", ...stockCheck];
    expect(introducedFindings(before, after)).toEqual([]);
  });

  it('still reports a warning the change causes, also a second copy of one that was there', () => {
    const old = "startup             warn\tConfiguration warning: /etc/prosody/conf.d/meet.test.cfg.lua:75: Duplicate option 'c2s_require_encryption'";
    const added = "startup             warn\tConfiguration warning: /etc/prosody/conf.d/meet.test.cfg.lua:40: Duplicate option 'app_secret'";
    expect(introducedFindings([old, ...stockCheck], [added, old.replace(':75:', ':77:'), ...stockCheck])).toEqual([added.trim()]);
    const again = old.replace(':75:', ':90:');
    expect(introducedFindings([old, ...stockCheck], [old.replace(':75:', ':77:'), again, ...stockCheck])).toEqual([again.trim()]);
  });

  it('reports problems on a box that passed before', () => {
    expect(introducedFindings(['Checking config...', 'All checks passed, congratulations!', 'Done.'], stockCheck)).toEqual([
      'You have some obsolete options you can remove from the global section:',
      'cross_domain_bosh',
      'Problems found, see above.',
    ]);
  });
});

describe('parseScriptOutput', () => {
  it('reads results, sections and log lines', () => {
    const out = parseScriptOutput(['@@result prosody restarted', '@@section check-after', 'line 1', 'line 2', '@@log tail of a log', '@@section end'].join('\n'));
    expect(out.results.get('prosody')).toBe('restarted');
    expect(out.sections.get('check-after')).toEqual(['line 1', 'line 2']);
    expect(out.sections.has('end')).toBe(true);
    expect(out.logs).toEqual(['tail of a log']);
  });
});

describe('restartScript', () => {
  // A unit that hit its start limit (Restart=on-failure after failed starts) refuses every start until then.
  it('under systemd, forgets a unit\'s failed starts before starting it again, as a command', () => {
    expect(restartScript(['jitsi-videobridge2'], 'systemd').text).toMatch(/^\tsystemctl reset-failed "\$1" >>"\$state\/\$1\.log" 2>&1$/m);
    expect(restartScript(['jitsi-videobridge2'], 'sysv').text).not.toMatch(/reset-failed/);
  });
});

describe('parseLockAnswer', () => {
  it.each([
    ['locked', { state: 'locked' }],
    ['locked\r', { state: 'locked' }],
    ['busy 4242 1764496800 deploy', { state: 'busy', pid: 4242, since: new Date(1764496800 * 1000), user: 'deploy' }],
    // A holder file not yet written by the other run: still busy, just nameless.
    ['busy ', { state: 'busy' }],
    ['error /run/jitsi-jwt is not a directory', { state: 'error', reason: '/run/jitsi-jwt is not a directory' }],
    ['', { state: 'error', reason: 'unexpected answer from the lock script: (nothing)' }],
    ['sudo: unable to resolve host', { state: 'error', reason: 'unexpected answer from the lock script: sudo: unable to resolve host' }],
  ])('%j', (line, answer) => {
    expect(parseLockAnswer(line)).toEqual(answer);
  });
});

// Giving the backup another owner needs root.
describe.runIf(process.getuid?.() === 0)('restoreScript, run under dash', () => {
  const setUp = () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'restore-script-'));
    const backup = path.join(dir, 'backup');
    const target = path.join(dir, 'target');
    fs.mkdirSync(backup, { mode: 0o700 });
    fs.writeFileSync(path.join(backup, 'file-0'), 'as it was\n');
    fs.writeFileSync(path.join(backup, 'manifest'), `file\t${target}\t${backup}/file-0\n`, { mode: 0o644 });
    fs.writeFileSync(target, 'changed\n');
    return { dir, backup, target, run: () => spawnSync('dash', [], { input: restoreScript(backup).text, encoding: 'utf8' }) };
  };

  it("puts back what the run's own backup holds", () => {
    const { dir, target, run } = setUp();
    try {
      const result = run();
      expect(result.status).toBe(0);
      expect(result.stdout).toContain('@@result restored yes');
      expect(fs.readFileSync(target, 'utf8')).toBe('as it was\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });

  it.each([
    ['a backup directory another user owns', (backup: string) => fs.chownSync(backup, 1000, 1000), /backup may be written by others than root \(owner [^,]+, mode 700\)/],
    ['a manifest another user owns', (backup: string) => fs.chownSync(path.join(backup, 'manifest'), 1000, 1000), /manifest may be written by others than root/],
    ['a manifest everyone can write', (backup: string) => fs.chmodSync(path.join(backup, 'manifest'), 0o666), /manifest may be written by others than root \(owner root, mode 666\)/],
    ['a backup directory its group can write', (backup: string) => fs.chmodSync(backup, 0o770), /mode 770/],
  ])('refuses %s, changing nothing', (_case, plant, message) => {
    const { dir, backup, target, run } = setUp();
    try {
      plant(backup);
      const result = run();
      expect(result.status).toBe(1);
      expect(result.stderr).toMatch(message);
      expect(result.stdout).not.toContain('@@result restored');
      expect(fs.readFileSync(target, 'utf8')).toBe('changed\n');
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});
