// The pure parts of apply: which configuration-check lines a change
// introduced, and reading the scripts' result lines.
import { describe, expect, it } from 'vitest';
import { introducedFindings } from '../../src/apply/apply.js';
import { parseScriptOutput } from '../../src/apply/scripts.js';

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
