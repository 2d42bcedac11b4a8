// Later declarations that replace what jitsi-jwt writes for a domain, as a
// table: which files Prosody reads after the domain file set which options of
// its VirtualHost or conference MUC, and the refusal plan and apply give.
import { describe, expect, it } from 'vitest';
import { configLoad } from '../../../src/prosody/config-files.js';
import { overrideError, tokenOverrides } from '../../../src/prosody/overrides.js';
import { exitCodeFor, EXIT } from '../../../src/errors.js';
import { AVAIL, DOMAIN, MAIN, prosodyHost as host, STOCK_MAIN, THE_DOMAIN } from './fixtures.js';

describe('later declarations that replace what jitsi-jwt writes', () => {
  const overrides = (facts: ReturnType<typeof host>) => tokenOverrides(configLoad(facts), facts.domainFiles[0], DOMAIN);
  const summary = (facts: ReturnType<typeof host>) => overrides(facts).map((o) => [o.where, o.declaration.shownAs, o.options.map((a) => a.assignment.name)]);
  const LOCAL = '/etc/prosody/conf.d/zz-local.cfg.lua';
  const vh = (...lines: string[]) => [`VirtualHost "${DOMAIN}"`, ...lines.map((l) => `    ${l}`), ''].join('\n');

  it.each([
    { case: 'authentication in a conf.d file read after the domain file', facts: host([THE_DOMAIN, ['zz-local.cfg.lua', vh('authentication = "jitsi-anonymous"')]]), found: [[`VirtualHost "${DOMAIN}"`, LOCAL, ['authentication']]] },
    { case: 'the host name in other letters', facts: host([THE_DOMAIN, ['zz-local.cfg.lua', vh('app_id = "x"').replace(DOMAIN, DOMAIN.toUpperCase())]]), found: [[`VirtualHost "${DOMAIN}"`, LOCAL, ['app_id']]] },
    { case: 'the room check taken off the conference MUC', facts: host([THE_DOMAIN, ['zz-local.cfg.lua', `Component "conference.${DOMAIN}" "muc"\n    modules_disabled = { "token_verification" }\n`]]), found: [[`Component "conference.${DOMAIN}"`, LOCAL, ['modules_disabled']]] },
    { case: 'several options, a secret among them', facts: host([THE_DOMAIN, ['zz-local.cfg.lua', vh('allow_empty_token = true', 'c2s_require_encryption = false', 'app_secret = "hunter2"')]]), found: [[`VirtualHost "${DOMAIN}"`, LOCAL, ['allow_empty_token', 'app_secret']]] },
    { case: 'the main config, after its Include', facts: host([THE_DOMAIN], `${STOCK_MAIN}${vh('authentication = "internal_hashed"')}`), found: [[`VirtualHost "${DOMAIN}"`, MAIN, ['authentication']]] },
    { case: 'a file read before the domain file (the domain file wins)', facts: host([['aa-local.cfg.lua', vh('authentication = "jitsi-anonymous"')], THE_DOMAIN]), found: [] },
    { case: 'the main config, before its Include', facts: host([THE_DOMAIN], `${vh('authentication = "internal_hashed"')}Include "conf.d/*.cfg.lua"\n`), found: [] },
    { case: 'options jitsi-jwt does not set', facts: host([THE_DOMAIN, ['zz-local.cfg.lua', vh('c2s_require_encryption = false')]]), found: [] },
    { case: 'another host', facts: host([THE_DOMAIN, ['zz-local.cfg.lua', 'VirtualHost "guest.example.org"\n    authentication = "jitsi-anonymous"\n']]), found: [] },
  ])('$case', ({ facts, found }) => {
    expect(summary(facts)).toEqual(found);
  });

  it('refuses as a host-state error naming the file, the line, the host and the fix, never the secret', () => {
    const facts = host([THE_DOMAIN, ['zz-local.cfg.lua', `-- mine\n${vh('authentication = "jitsi-anonymous"', 'app_secret = "hunter2"')}`]]);
    const error = overrideError(overrides(facts), facts.domainFiles[0], 'deploy@meet.example.org:22');
    expect(exitCodeFor(error)).toBe(EXIT.hostState);
    expect(error.message).toBe(
      `VirtualHost "${DOMAIN}" is declared again at ${LOCAL}:2 on deploy@meet.example.org:22, which Prosody reads after the domain config ${AVAIL}, ` +
        'and sets authentication = "jitsi-anonymous" (line 3), app_secret (line 4) there: that replaces what jitsi-jwt writes in the domain config, so token authentication would not take effect',
    );
    expect(error.hint).toBe(`remove the duplicate declaration from ${LOCAL}, or move its settings into ${AVAIL} (the domain config); then run again`);
    expect(error.line).toBe(2);
    expect(`${error.message} ${error.hint}`).not.toContain('hunter2');
  });
});
