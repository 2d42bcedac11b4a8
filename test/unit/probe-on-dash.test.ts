// The probe and doctor's reading run under dash against a directory standing
// for a host, and read back by their parsers.
import { mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { doctorScript, parseDoctorReading } from '../../src/doctor/script.js';
import { parseFacts, probeScript } from '../../src/facts/probe.js';
import { joinLines } from '../../src/shell/script.js';
import { runDash, removeScratch, scratch } from '../support/dash.js';

function put(root: string, path: string, text: string): string {
  const file = join(root, path);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, text);
  return file;
}

/** A Lua that answers the probe's module check as a host with only lua-sec would. */
const LUA_STUB = `printf 'cjson.safe\\tmissing\\tmodule not found\\nopenssl.hmac\\tmissing\\tx\\nbasexx\\tmissing\\tx\\ninspect\\tmissing\\tx\\nssl\\tok\\t\\n'`;

describe('probeScript under dash', () => {
  let root: string;
  beforeEach(() => {
    root = scratch();
    put(root, '/etc/os-release', 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\n');
    put(root, '/usr/bin/prosody', '#!/usr/bin/env lua5.4\n');
    put(root, '/etc/prosody/conf.avail/meet.test.cfg.lua', 'VirtualHost "meet.test"\n\tauthentication = "jitsi-anonymous" -- do not delete me\n');
    mkdirSync(join(root, 'etc/prosody/conf.d'));
    // Relative, so that it resolves inside the directory (Debian's link is absolute).
    symlinkSync('../conf.avail/meet.test.cfg.lua', join(root, 'etc/prosody/conf.d/meet.test.cfg.lua'));
    put(root, '/etc/jitsi/jicofo/jicofo.conf', 'jicofo {}\n');
    put(root, '/etc/jitsi/meet/meet.test-config.js', "var config = { hosts: { domain: 'meet.test' } };\n");
    put(root, '/etc/prosody/jitsi-jwt-keys/meet.test/abc.pem', '-----BEGIN PUBLIC KEY-----\n');
    put(root, '/var/lib/prosody/auth%2emeet%2etest/accounts/focus.dat', 'return {}\n');
    put(root, '/var/lib/prosody/meet%2etest/accounts/alice.dat', 'return {}\n');
    put(root, '/usr/share/jitsi-meet/prosody-plugins/mod_auth_token.lua', '');
    put(root, '/usr/share/lua/5.1/basexx.lua', '');
    put(root, '/etc/jitsi/jigasi/sip-communicator.properties', 'org.jitsi.jigasi.xmpp.acc.USER_ID=jigasi@auth.meet.test\n');
  });
  afterEach(() => removeScratch(root));

  it('reads the files of a host under its root', () => {
    const result = runDash(probeScript(root), { stubs: { 'lua5.4': LUA_STUB } });
    expect(result.code).toBe(0);
    const facts = parseFacts(result.stdout);
    expect(facts).toMatchObject({
      os: { id: 'debian', versionId: '12' },
      init: 'sysv',
      prosody: { lua: 'lua5.4' },
      jicofoConf: 'jicofo {}\n',
      jigasiUser: 'jigasi@auth.meet.test',
      accounts: { 'auth.meet.test': ['focus'] },
      accountCounts: { 'auth.meet.test': 1, 'meet.test': 1 },
      luaModules: { 'cjson.safe': false, ssl: true },
      pureLuaFiles: { basexx: [join(root, 'usr/share/lua/5.1/basexx.lua')], inspect: [] },
      plugins: { present: ['mod_auth_token.lua'] },
    });
    expect(facts.domainFiles).toEqual([
      expect.objectContaining({
        link: join(root, 'etc/prosody/conf.d/meet.test.cfg.lua'),
        path: join(root, 'etc/prosody/conf.avail/meet.test.cfg.lua'),
        mode: '644',
        text: 'VirtualHost "meet.test"\n\tauthentication = "jitsi-anonymous" -- do not delete me\n',
      }),
    ]);
    expect(facts.webConfigs.map((w) => w.text)).toEqual(["var config = { hosts: { domain: 'meet.test' } };\n"]);
    expect(facts.publishedKeys).toEqual([{ path: join(root, 'etc/prosody/jitsi-jwt-keys/meet.test/abc.pem'), text: '-----BEGIN PUBLIC KEY-----\n' }]);
  });

  it.each([
    ['a domain config', '*.cfg.lua', /could not read .*\/etc\/prosody\/conf\.d\/meet\.test\.cfg\.lua/],
    ["a web config", '*-config.js', /could not read .*\/etc\/jitsi\/meet\/meet\.test-config\.js/],
    ['jicofo.conf', '*/jicofo.conf', /could not read .*\/etc\/jitsi\/jicofo\/jicofo\.conf/],
    ['a published key', '*.pem', /could not read .*abc\.pem/],
  ])('names %s it could not read instead of reading it as empty', (_name, pattern, message) => {
    // base64 fails on this one file, as a read error would.
    const base64 = `for a; do :; done; case "$a" in ${pattern}) echo "base64: read error" >&2; exit 1 ;; esac; exec /usr/bin/base64 "$@"`;
    const result = runDash(probeScript(root), { stubs: { base64 } });
    expect(() => parseFacts(result.stdout)).toThrow(message);
  });

  it('stops, saying why, when it cannot make its temporary files', () => {
    const result = runDash(probeScript(root), { env: { TMPDIR: join(root, 'missing') } });
    expect(result.code).toBe(1);
    expect(() => parseFacts(result.stdout)).toThrow(/stopped: cannot make a temporary file/);
  });

  it('reads a host path with spaces and quotes in it as that path', () => {
    const odd = join(root, "it's a $(dir)");
    mkdirSync(odd);
    put(odd, '/etc/os-release', 'ID=debian\n');
    expect(parseFacts(runDash(probeScript(odd)).stdout).os.id).toBe('debian');
  });
});

describe('doctorScript under dash, after the probe', () => {
  let root: string;
  beforeEach(() => {
    root = scratch();
  });
  afterEach(() => removeScratch(root));

  it('reads the token lines of the logs, old installs of the token libraries and the plugins\' generation', () => {
    put(root, '/var/log/prosody/prosody.log', 'Nov 30 14:53:36 meet.test:auth_token warn\tError verifying token err:not-allowed, reason:Invalid signature\nNov 30 14:53:37 c2s info\tClient connected\n');
    put(root, '/usr/local/lib/luarocks/rocks-5.4/luajwtjitsi/3.0-0/rockspec', '');
    put(root, '/usr/local/share/lua/5.4/basexx.lua', 'return {}\n');
    put(root, '/usr/share/jitsi-meet/prosody-plugins/token/util.lib.lua', 'error("sub claim is missing")\n');
    const result = runDash(joinLines([probeScript(root), doctorScript(root)]));
    expect(result.code).toBe(0);
    expect(parseDoctorReading(result.stdout)).toEqual({
      log: 'Nov 30 14:53:36 meet.test:auth_token warn\tError verifying token err:not-allowed, reason:Invalid signature',
      logFiles: [join(root, 'var/log/prosody/prosody.log')],
      luarocksJwt: [join(root, 'usr/local/lib/luarocks/rocks-5.4/luajwtjitsi')],
      localLua: [join(root, 'usr/local/share/lua/5.4/basexx.lua')],
      subRequiredAtLogin: true,
    });
    expect(parseFacts(result.stdout).uid).toBe(process.getuid!());
  });
});
