// The probe parser on output shaped like a real host's, including the parts a
// host may lack (no jicofo, no Lua interpreter, missing sections); and the
// parts doctor reads after the probe, in the same script.
import { describe, expect, it } from 'vitest';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { configFilesCommand, decodeProcNetAddress, parseFacts, probeScript, prosodyHttpAddress } from '../../src/facts/probe.js';
import { doctorScript, parseDoctorReading } from '../../src/doctor/script.js';

const b64 = (s: string) => Buffer.from(s, 'utf8').toString('base64');

function probeOutput(sections: Record<string, string>): string {
  return Object.entries({ ...sections, end: '' })
    .map(([name, body]) => `\n@@jitsi-jwt:${name}@@\n${body}`)
    .join('\n');
}

const stock = {
  uid: '0',
  clock: '1000.00 100 1700001000.000000000',
  os: 'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"',
  init: 'sysv',
  'prosody-version': '0.12.3-1+deb12u1',
  'prosody-lua': '#!/usr/bin/env lua5.4',
  packages: 'lua-sec\tii \t1.2.0-2\nprosody\tii \t0.12.3-1+deb12u1\nlua-cjson\tun \t',
  'domain-files': `/etc/prosody/conf.d/meet.test.cfg.lua\t/etc/prosody/conf.avail/meet.test.cfg.lua\t644\troot\troot\t1700000500\t${b64('VirtualHost "meet.test"\n')}`,
  plugins: 'mod_auth_token.lua\nmod_token_verification.lua\ntoken',
  'lua-modules': 'cjson.safe\tmissing\nopenssl.hmac\tmissing\nbasexx\tmissing\ninspect\tmissing\nssl\tok',
  'pure-lua-files': '',
  'jicofo-conf': b64('jicofo {}\n'),
  listening: '0200007F:0016\n0200007F:14A0',
  services: 'prosody\tyes\t39:5000 \njicofo\tyes\t51:6000 \njitsi-videobridge2\tno\t',
};

describe('parseFacts', () => {
  it('reads a stock Debian 12 host', () => {
    const facts = parseFacts(probeOutput(stock));
    expect(facts).toMatchObject({
      uid: 0,
      os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
      init: 'sysv',
      prosody: { version: '0.12.3-1+deb12u1', lua: 'lua5.4' },
      packages: { 'lua-sec': { installed: true, version: '1.2.0-2' }, 'lua-cjson': { installed: false } },
      luaModules: { 'cjson.safe': false, 'openssl.hmac': false, basexx: false, inspect: false, ssl: true },
      jicofoConf: 'jicofo {}\n',
      listening: ['127.0.0.2:22', '127.0.0.2:5280'],
    });
    expect(facts.domainFiles).toEqual([
      {
        link: '/etc/prosody/conf.d/meet.test.cfg.lua',
        path: '/etc/prosody/conf.avail/meet.test.cfg.lua',
        mode: '644',
        owner: 'root',
        group: 'root',
        mtime: 1700000500,
        text: 'VirtualHost "meet.test"\n',
      },
    ]);
    expect(facts.services.prosody).toEqual({ installed: true, processes: ['39:5000'], startedAt: 1700000050 });
    expect(facts.services['jitsi-videobridge2']).toEqual({ installed: false, processes: [] });
  });

  it('treats a Lua interpreter that could not run as every module missing', () => {
    const facts = parseFacts(probeOutput({ ...stock, 'lua-modules': '' }));
    expect(Object.values(facts.luaModules)).toEqual([false, false, false, false, false]);
  });

  it('refuses output that stopped before the end of the probe', () => {
    expect(() => parseFacts('\n@@jitsi-jwt:uid@@\n0\n')).toThrow(/did not run to its end/);
  });
});

describe("Prosody's config files", () => {
  it('reads each file as the probe lists it, names with spaces and tabs included', () => {
    const facts = parseFacts(probeOutput({ ...stock, 'prosody-config-files': `/etc/prosody/prosody.cfg.lua\t${b64('Include "conf.d/*.cfg.lua"\n')}\n/etc/prosody/conf.d/my\tfile.cfg.lua\t${b64('')}` }));
    expect(facts.prosodyConfigFiles).toEqual([
      { path: '/etc/prosody/prosody.cfg.lua', text: 'Include "conf.d/*.cfg.lua"\n' },
      { path: '/etc/prosody/conf.d/my\tfile.cfg.lua', text: '' },
    ]);
  });

  it('lists every *.lua file under the directory, links followed, each directory in the order it lists its entries (run under dash)', async () => {
    const { execa } = await import('execa');
    const dir = await mkdtemp(path.join(os.tmpdir(), 'prosody-config-'));
    try {
      await mkdir(path.join(dir, 'conf.avail'));
      await mkdir(path.join(dir, 'conf.d'));
      await mkdir(path.join(dir, 'certs'));
      await writeFile(path.join(dir, 'prosody.cfg.lua'), 'Include "conf.d/*.cfg.lua"\n');
      await writeFile(path.join(dir, 'conf.avail', 'meet.test.cfg.lua'), 'VirtualHost "meet.test"\n');
      await symlink(path.join(dir, 'conf.avail', 'meet.test.cfg.lua'), path.join(dir, 'conf.d', 'meet.test.cfg.lua'));
      await writeFile(path.join(dir, 'conf.d', "zz local's.cfg.lua"), '-- mine\n');
      await symlink(path.join(dir, 'missing.lua'), path.join(dir, 'conf.d', 'dangling.cfg.lua'));
      await writeFile(path.join(dir, 'certs', 'meet.test.key'), 'not read');
      const { stdout } = await execa('dash', ['-c', configFilesCommand(dir).text]);
      const listed = parseFacts(probeOutput({ ...stock, 'prosody-config-files': stdout })).prosodyConfigFiles!;
      const { stdout: order } = await execa('find', [dir, '-name', '*.lua']);
      expect(listed.map((f) => f.path)).toEqual(order.split('\n').filter((p) => !p.endsWith('dangling.cfg.lua')));
      expect(Object.fromEntries(listed.map((f) => [path.relative(dir, f.path), f.text]))).toEqual({
        'prosody.cfg.lua': 'Include "conf.d/*.cfg.lua"\n',
        'conf.avail/meet.test.cfg.lua': 'VirtualHost "meet.test"\n',
        'conf.d/meet.test.cfg.lua': 'VirtualHost "meet.test"\n',
        "conf.d/zz local's.cfg.lua": '-- mine\n',
      });
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('where Prosody listens for HTTP', () => {
  it.each([
    [['0.0.0.0:5280'], '127.0.0.1'],
    [['127.0.0.1:5280', '10.1.2.3:5280'], '127.0.0.1'],
    [['127.0.0.3:5280'], '127.0.0.3'],
    [['127.0.0.3:22'], undefined],
  ])('%j → %s', (listening, expected) => {
    const facts = parseFacts(probeOutput(stock));
    expect(prosodyHttpAddress({ ...facts, listening })).toBe(expected);
  });

  it('decodes /proc/net/tcp addresses', () => {
    expect(decodeProcNetAddress('0100007F:14A0')).toBe('127.0.0.1:5280');
    expect(decodeProcNetAddress('00000000:0016')).toBe('0.0.0.0:22');
  });
});

describe('the probe parts doctor reads', () => {
  it("keeps Lua's first error line for each module that does not load, and the host's clock and time zone", () => {
    const facts = parseFacts(
      probeOutput({
        ...stock,
        clock: '1000.00 100 1700001000.250000000 -0130',
        'lua-modules': "cjson.safe\tmissing\tmodule 'cjson.safe' not found:\nopenssl.hmac\tok\t\nbasexx\tok\t\ninspect\tok\t\nssl\tok\t",
      }),
    );
    expect(facts.luaModules).toEqual({ 'cjson.safe': false, 'openssl.hmac': true, basexx: true, inspect: true, ssl: true });
    expect(facts.luaErrors).toEqual({ 'cjson.safe': "module 'cjson.safe' not found:" });
    expect(facts.clock).toEqual({ now: 1700001000.25, utcOffsetSeconds: -5400 });
  });
});

describe('doctor reading', () => {
  it('reads its parts after the probe, and an empty part as nothing found', () => {
    const output = `${probeOutput(stock)}\n@@jitsi-jwt-doctor:log-files@@\n/var/log/prosody/prosody.log\n@@jitsi-jwt-doctor:log@@\nNov 30 14:53:36 meet.test:auth_token warn\tError verifying token err:not-allowed, reason:Invalid signature\n@@jitsi-jwt-doctor:luarocks-jwt@@\n@@jitsi-jwt-doctor:local-lua@@\n/usr/local/share/lua/5.4/basexx.lua\n@@jitsi-jwt-doctor:sub-at-login@@\n1\n@@jitsi-jwt-doctor:end@@\n`;
    expect(parseDoctorReading(output)).toEqual({
      log: 'Nov 30 14:53:36 meet.test:auth_token warn\tError verifying token err:not-allowed, reason:Invalid signature',
      logFiles: ['/var/log/prosody/prosody.log'],
      luarocksJwt: [],
      localLua: ['/usr/local/share/lua/5.4/basexx.lua'],
      subRequiredAtLogin: true,
    });
    expect(parseFacts(output).uid).toBe(0);
  });

  it('is a script sh accepts, together with the probe', async () => {
    const { execa } = await import('execa');
    const checked = await execa('sh', ['-n'], { input: `${probeScript().text}${doctorScript().text}`, reject: false });
    expect(checked.stderr).toBe('');
    expect(checked.exitCode).toBe(0);
  });
});
