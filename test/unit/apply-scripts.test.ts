// The pure parts of apply: which configuration-check lines a change
// introduced, and reading the scripts' result lines.
import { describe, expect, it } from 'vitest';
import { introducedFindings } from '../../src/apply/apply.js';
import { parseLockAnswer, parseScriptOutput } from '../../src/apply/scripts.js';

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
