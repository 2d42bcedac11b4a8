// Who joins without a token: Jibri's and Jigasi's domains found on the host,
// the operator's own entries, and guests who wait for a host, planned from
// facts (no host needed), with the edits they make and the cases the smoke
// test gets.
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import type { HostFacts } from '../../src/facts/probe.js';
import { accessAfterPlan, accessToProve } from '../../src/plan/access.js';
import { parseDomainConfig, readModulesEnabled, sectionsNamed, lastAssignment } from '../../src/prosody/domain-config.js';
import { readAnonymousDomain } from '../../src/web/config-js.js';
import { jicofoConf, STOCK_WEB_CONFIG, stockWebConfig } from '../../testbed/provision.js';
import { DOMAIN, facts, plan, stockText } from '../support/plan-fixtures.js';

const contentChanges = (p: ReturnType<typeof plan>) => p.files.filter((f) => f.before !== f.after);

const CONFIG_JS = `/etc/jitsi/meet/${DOMAIN}-config.js`;
const webConfig = stockWebConfig(readFileSync(STOCK_WEB_CONFIG, 'utf8'), DOMAIN, '2026');
const GUEST_PLUGINS = ['mod_muc_wait_for_host.lua', 'mod_persistent_lobby.lua', 'mod_muc_lobby_rooms.lua'];

function guestFacts(overrides: Partial<HostFacts> = {}, text = stockText): HostFacts {
  const base = facts(overrides, text);
  return {
    ...base,
    plugins: { ...base.plugins, present: [...base.plugins.present, 'mod_token_affiliation.lua', ...GUEST_PLUGINS] },
    webConfigs: [{ path: CONFIG_JS, mode: '644', owner: 'root', group: 'root', text: webConfig }],
    jicofoConf: jicofoConf({ domain: DOMAIN, address: '127.0.0.2', focusPassword: 'focus-password' }),
    ...overrides,
  };
}

const domainAfter = (p: ReturnType<typeof plan>) => p.files.find((f) => f.path === p.configPath)?.after ?? stockText;
const conference = (text: string) => sectionsNamed(parseDomainConfig(text), 'component', `conference.${DOMAIN}`);
const mainHost = (text: string) => sectionsNamed(parseDomainConfig(text), 'virtualhost', DOMAIN);
const allowlist = (text: string) => lastAssignment(conference(text), 'token_verification_allowlist')?.value;

describe('Jibri and Jigasi join without a token', () => {
  it("lets the stock file's recorder domain in, and past the lobby", () => {
    const p = plan(facts());
    expect(p.access?.identities.map((i) => [i.kind, i.entry])).toEqual([['jibri', `recorder.${DOMAIN}`]]);
    expect(p.access?.identities[0].reason).toMatch(/Jibri \(recording, streaming\) logs in on the hidden VirtualHost/);
    const after = domainAfter(p);
    expect(allowlist(after)).toEqual([`recorder.${DOMAIN}`]);
    expect(lastAssignment(mainHost(after), 'muc_lobby_whitelist')?.value).toEqual([`recorder.${DOMAIN}`]);
    // The stock comment that suggests the whitelist stays where it was, the option goes right after it.
    expect(after).toMatch(/-- muc_lobby_whitelist = \{ "recorder\.[^\n]*\n\s+muc_lobby_whitelist = \{ "recorder\./);
  });

  it('names Jigasi from its package, its config or its account, by its account domain', () => {
    for (const f of [
      facts({ packages: { ...facts().packages, jigasi: { installed: true } } }),
      facts({ jigasiUser: `jigasi@auth.${DOMAIN}` }),
      facts({ accounts: { [`auth.${DOMAIN}`]: ['focus', 'jvb', 'jigasi'] } }),
    ]) {
      const p = plan(f);
      expect(p.access?.identities.find((i) => i.kind === 'jigasi')?.entry).toBe(`auth.${DOMAIN}`);
      expect(allowlist(domainAfter(p))).toEqual([`recorder.${DOMAIN}`, `auth.${DOMAIN}`]);
    }
  });

  it('does not allow the main domain for a Jigasi that logs in there: it warns instead', () => {
    const p = plan(facts({ jigasiUser: `jigasi@${DOMAIN}` }));
    expect(p.access?.identities.map((i) => i.kind)).toEqual(['jibri']);
    expect(p.warnings.join('\n')).toMatch(/Jigasi logs in on meet\.example\.com itself/);
  });

  it('warns when jibri is installed but the file has no recorder domain', () => {
    const text = stockText.replace(/VirtualHost "recorder\.[^"]+"/, 'VirtualHost "hidden.example.net"');
    const p = plan(facts({ packages: { ...facts().packages, jibri: { installed: true } } }, text));
    expect(p.access?.identities).toEqual([]);
    expect(p.warnings.join('\n')).toMatch(/jibri is installed, but the domain config has no VirtualHost "recorder\.meet\.example\.com"/);
  });

  it('adds --allow-without-token entries, refuses the token domain itself', () => {
    const p = plan(facts(), { allowWithoutToken: ['sip.example.net', 'bot@auth.meet.example.com'] });
    expect(allowlist(domainAfter(p))).toEqual([`recorder.${DOMAIN}`, 'sip.example.net', 'bot@auth.meet.example.com']);
    expect(p.access?.identities.slice(1).map((i) => i.reason)).toEqual(['named with --allow-without-token', 'named with --allow-without-token']);
    expect(() => plan(facts(), { allowWithoutToken: [DOMAIN] })).toThrow(/is the domain the tokens are for/);
  });

  it('keeps entries the operator put there, and is idempotent', () => {
    const first = domainAfter(plan(facts(), { allowWithoutToken: ['sip.example.net'] }));
    const again = plan(facts({}, first));
    expect(contentChanges(again)).toEqual([]);
    expect(allowlist(domainAfter(again))).toEqual([`recorder.${DOMAIN}`, 'sip.example.net']);
  });

  it('writes no allowlist without room checks', () => {
    const p = plan(facts(), { roomCheck: false });
    expect(allowlist(domainAfter(p))).toBeUndefined();
    expect(p.access?.identities).toEqual([]);
  });

  it('the smoke test proves each kind with an account on its domain', () => {
    const f = facts({ packages: { ...facts().packages, jigasi: { installed: true } } });
    expect(accessAfterPlan(f, plan(f))).toEqual({
      serviceAccounts: [{ name: 'jibri account', domain: `recorder.${DOMAIN}` }, { name: 'jigasi account', domain: `auth.${DOMAIN}` }],
    });
  });
});

describe('guests wait for a host (--guests)', () => {
  it('refuses on plugins without muc_wait_for_host and persistent_lobby', () => {
    expect(() => plan(facts(), { guests: true })).toThrow(/lack mod_muc_wait_for_host\.lua, mod_persistent_lobby\.lua, mod_muc_lobby_rooms\.lua/);
  });

  it('refuses a domain without its lobby', () => {
    const text = stockText.replace(/\n\s*lobby_muc = "[^"]+"/, '');
    expect(() => plan(guestFacts({}, text), { guests: true })).toThrow(/guests wait in a lobby, but VirtualHost "meet\.example\.com" has no lobby_muc/);
  });

  it('sets up the guest domain, the waiting, the allowlist entry and config.js', () => {
    const p = plan(guestFacts(), { guests: true });
    const after = domainAfter(p);
    expect(sectionsNamed(parseDomainConfig(after), 'virtualhost', `guest.${DOMAIN}`)).toHaveLength(1);
    expect(after).toContain(`VirtualHost "guest.${DOMAIN}"\n    authentication = "jitsi-anonymous"\n    c2s_require_encryption = false\n`);
    expect(readModulesEnabled(conference(after)).active).toContain('muc_wait_for_host');
    expect(readModulesEnabled(mainHost(after)).active).toContain('persistent_lobby');
    expect(allowlist(after)).toEqual([`recorder.${DOMAIN}`, `guest.${DOMAIN}`]);
    // Guests wait in the lobby: they are not on its whitelist.
    expect(lastAssignment(mainHost(after), 'muc_lobby_whitelist')?.value).toEqual([`recorder.${DOMAIN}`]);
    const web = p.files.find((f) => f.path === CONFIG_JS)!;
    expect(readAnonymousDomain(web.after)).toBe(`guest.${DOMAIN}`);
    expect(web.mode).toBeUndefined();
    expect(p.access?.guests).toBe(true);
    expect(accessAfterPlan(guestFacts(), p).guestDomain).toBe(`guest.${DOMAIN}`);
  });

  it('leaves owner rights to the token when moderators come from it', () => {
    const after = domainAfter(plan(guestFacts(), { guests: true, moderatorFromToken: true }));
    expect(lastAssignment(conference(after), 'wait_for_host_disable_auto_owners')?.value).toBe(true);
    expect(lastAssignment(conference(domainAfter(plan(guestFacts(), { guests: true }))), 'wait_for_host_disable_auto_owners')).toBeUndefined();
  });

  it('says where config.js is missing instead of failing', () => {
    const p = plan(guestFacts({ webConfigs: [] }), { guests: true });
    expect(p.warnings.join('\n')).toMatch(/there is no \/etc\/jitsi\/meet\/meet\.example\.com-config\.js here/);
  });

  it('--no-guests gives back both files byte for byte, apart from the token lines', () => {
    const tokens = domainAfter(plan(guestFacts()));
    const guests = plan(guestFacts({}, tokens), { guests: true, moderatorFromToken: true });
    const withGuests = domainAfter(guests);
    const web = guests.files.find((f) => f.path === CONFIG_JS)!.after;
    const again = plan(guestFacts({ webConfigs: [{ path: CONFIG_JS, mode: '644', owner: 'root', group: 'root', text: web }] }, withGuests), { guests: true, moderatorFromToken: true });
    expect(contentChanges(again).map((f) => f.path)).toEqual(['/etc/jitsi/jicofo/jicofo.conf']);
    const off = plan(guestFacts({ webConfigs: [{ path: CONFIG_JS, mode: '644', owner: 'root', group: 'root', text: web }] }, withGuests), { guests: false, moderatorFromToken: true });
    // token_affiliation (--moderator-from-token) is a token line; everything the guests added is gone.
    expect(domainAfter(off)).toBe(domainAfter(plan(guestFacts({}, tokens), { moderatorFromToken: true })));
    expect(off.files.find((f) => f.path === CONFIG_JS)!.after).toBe(webConfig);
    expect(off.access?.guests).toBe(false);
  });

  it('leaves the guest setup alone when neither flag is given', () => {
    const withGuests = domainAfter(plan(guestFacts(), { guests: true }));
    const p = plan(guestFacts({}, withGuests));
    expect(contentChanges(p)).toEqual([]);
    expect(p.access?.guests).toBe(true);
  });
});

describe('the smoke test reads what the host has', () => {
  it('proves what the config lets in now', () => {
    const guests = domainAfter(plan(guestFacts(), { guests: true }));
    const config = parseDomainConfig(guests);
    expect(accessToProve(guestFacts(), config, DOMAIN)).toEqual({
      serviceAccounts: [{ name: 'jibri account', domain: `recorder.${DOMAIN}` }],
      guestDomain: `guest.${DOMAIN}`,
    });
  });
});

describe('a password-protected server ("secure domain")', () => {
  const secureText = stockText.replace('authentication = "jitsi-anonymous" -- do not delete me', 'authentication = "internal_hashed"')
    + `\nVirtualHost "guest.${DOMAIN}"\n    authentication = "anonymous"\n    c2s_require_encryption = false\n`;
  const secureJicofo = `jicofo {\n  authentication: {\n    enabled: true\n    type: XMPP\n    login-url: ${DOMAIN}\n  }\n}\n`;
  const secure = (overrides: Partial<HostFacts> = {}) => guestFacts({ accountCounts: { [DOMAIN]: 3, [`auth.${DOMAIN}`]: 2 }, jicofoConf: secureJicofo, ...overrides }, secureText);

  it('says how many password accounts stop working', () => {
    const p = plan(secure());
    expect(p.passwordAccounts).toBe(3);
    expect(p.warnings.join('\n')).toMatch(/logs users in with passwords \(a "secure domain", 3 accounts\): with token authentication none of them can log in any more/);
  });

  it('keeps its guests, who now wait for a host, unless told otherwise', () => {
    const p = plan(secure());
    expect(p.access?.guests).toBe(true);
    expect(p.warnings.join('\n')).toMatch(/this secure domain's guests log in on guest\.meet\.example\.com: they keep getting in, now once a token holder is in the room/);
    const after = domainAfter(p);
    expect(readModulesEnabled(conference(after)).active).toContain('muc_wait_for_host');
    // Its own guest host stays as the admin wrote it (anonymous login is what guests need).
    expect(after).toContain(`VirtualHost "guest.${DOMAIN}"\n    authentication = "anonymous"\n`);
    const off = plan(secure(), { guests: false });
    expect(off.access?.guests).toBe(false);
    expect(sectionsNamed(parseDomainConfig(domainAfter(off)), 'virtualhost', `guest.${DOMAIN}`)).toEqual([]);
  });

  it("turns Jicofo's own login check off, as the handbook says for tokens", () => {
    const jicofo = plan(secure()).files.find((f) => f.path === '/etc/jitsi/jicofo/jicofo.conf')!;
    expect(jicofo.after).toBe(secureJicofo.replace('enabled: true', 'enabled: false'));
    expect(jicofo.purpose).toMatch(/Jicofo's own login check off/);
  });

  it('has the smoke test prove that password login is gone', () => {
    const f = secure();
    expect(accessAfterPlan(f, plan(f))).toMatchObject({ passwordAccounts: true, guestDomain: `guest.${DOMAIN}` });
  });
});
