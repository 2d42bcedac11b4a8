// What restore says when the script reading a host's backups stops half-way:
// where it stopped, by a backup's name or a path, and nothing of what it
// printed (the saved configs, base64-encoded, hold old secrets).
import { describe, expect, it } from 'vitest';
import { ProbeFailedError } from '../../../src/errors.js';
import { backupsReadError } from '../../../src/run/restore-run.js';

const ID = '2026-11-30T15-57-52-941Z';
const FILE = '/etc/prosody/conf.avail/meet.test.cfg.lua';
const OLD_CONFIG = Buffer.from('VirtualHost "meet.test"\n    app_id="acme"\n    app_secret="old-secret-0123456789abcdef0123456789"\n'.repeat(8)).toString('base64');
const probe = '@@jitsi-jwt:uid@@\n0\n@@os\nID=debian\n@@file\t/etc/prosody/conf.avail/meet.test.cfg.lua\t' + OLD_CONFIG + '\n';

describe('backupsReadError', () => {
  it.each([
    ['nothing after the probe started', probe.slice(0, 40), 'before listing the backups'],
    ['the list begun', `${probe}@@backups\n`, 'before listing any backup'],
    ['a backup listed, its manifest cut short', `${probe}@@backups\n@@backup\t${ID}\n@@entry\tfile\t${FILE}\tfile-0\n@@entry\tli`, `after listing the backup ${ID}`],
    ['the chosen backup named', `${probe}@@backups\n@@backup\t${ID}\n@@chosen\t${ID}\n`, `after choosing the backup ${ID}`],
    ['a saved copy read whole', `${probe}@@backups\n@@backup\t${ID}\n@@chosen\t${ID}\n@@saved\t${FILE}\t640\troot\tprosody\t${OLD_CONFIG}\n`, `after reading the backup's copy of ${FILE}`],
    ['a copy cut short', `${probe}@@backups\n@@backup\t${ID}\n@@chosen\t${ID}\n@@saved\t${FILE}\t640\troot\tprosody\t${OLD_CONFIG}\n@@current\t${FILE}\t640\troot\tprosody\t${OLD_CONFIG.slice(0, 200)}`, `after reading the backup's copy of ${FILE}`],
    ['the current file read', `${probe}@@backups\n@@chosen\t${ID}\n@@current\t${FILE}\t640\troot\tprosody\t${OLD_CONFIG}\n`, `after reading ${FILE} as it is now`],
    ['a link read', `${probe}@@backups\n@@chosen\t${ID}\n@@link-now\t/usr/local/share/lua/5.4/basexx.lua\tmissing\n`, 'after reading the link /usr/local/share/lua/5.4/basexx.lua'],
  ])('%s: names where it stopped, and nothing of the output', (_case, output, where) => {
    const error = backupsReadError('deploy@meet.example.com:22', output);
    expect(error).toBeInstanceOf(ProbeFailedError);
    expect(error.message).toBe(`the script that reads the backups on deploy@meet.example.com:22 did not run to its end (it stopped ${where})`);
    expect(error.hint).toMatch(/^nothing was changed; run again/);
    const shown = `${error.message}\n${error.hint}`;
    expect(shown).not.toMatch(/[A-Za-z0-9+/]{40,}/);
    expect(shown).not.toContain('old-secret');
  });
});
