// A planned host without a host: facts as the probe reads them from a stock
// Jitsi server, and plans made from them (shared by the unit tests).
import { readFileSync } from 'node:fs';
import type { HostFacts } from '../../src/facts/probe.js';
import { planTokenAuth } from '../../src/plan/plan.js';
import { resolveSettings } from '../../src/plan/resolve.js';
import type { TokenOptions } from '../../src/settings/settings.js';
import { STOCK_DOMAIN_CONFIGS, stockDomainConfig } from '../../testbed/provision.js';

export const DOMAIN = 'meet.example.com';
export const stockText = stockDomainConfig(readFileSync(STOCK_DOMAIN_CONFIGS['2026'], 'utf8'), DOMAIN, 'turn-secret');
export const SECRET = 's3cret-'.repeat(6);

export function facts(overrides: Partial<HostFacts> = {}, text = stockText): HostFacts {
  return {
    uid: 0,
    os: { id: 'debian', versionId: '12', prettyName: 'Debian GNU/Linux 12 (bookworm)' },
    init: 'sysv',
    prosody: { version: '0.12.3-1', lua: 'lua5.4' },
    packages: { prosody: { installed: true }, 'lua-sec': { installed: true } },
    domainFiles: [
      { link: `/etc/prosody/conf.d/${DOMAIN}.cfg.lua`, path: `/etc/prosody/conf.avail/${DOMAIN}.cfg.lua`, mode: '644', owner: 'root', group: 'root', mtime: 1000, text },
    ],
    plugins: { dir: '/usr/share/jitsi-meet/prosody-plugins', present: ['mod_auth_token.lua', 'mod_token_verification.lua'] },
    luaModules: { 'cjson.safe': false, 'openssl.hmac': false, basexx: false, inspect: false, ssl: true },
    pureLuaFiles: { basexx: [], inspect: [] },
    services: {
      prosody: { installed: true, processes: ['10:1'], startedAt: 2000 },
      jicofo: { installed: true, processes: ['11:1'], startedAt: 2000 },
      'jitsi-videobridge2': { installed: true, processes: ['12:1'], startedAt: 2000 },
    },
    listening: [],
    accounts: { [`auth.${DOMAIN}`]: ['focus', 'jvb'] },
    webConfigs: [],
    accountCounts: { [`auth.${DOMAIN}`]: 2 },
    tokensDebconf: {},
    ...overrides,
  };
}

export const options: TokenOptions = { appId: 'backend', appSecret: SECRET, allowEmptyToken: false, roomCheck: true, allowWeakSecret: false };
export const generate = () => 'generated-secret-'.repeat(3);

export function plan(f: HostFacts, o: Partial<TokenOptions> = {}) {
  const { settings, domainFile } = resolveSettings(f, { ...options, ...o }, generate);
  return planTokenAuth(f, settings, domainFile);
}

