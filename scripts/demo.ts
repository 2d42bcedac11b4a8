// npm run demo: boots a test host shaped like a stock Jitsi server and shows
// token authentication on it: refused before the Lua libraries and the token
// config are in place, then a valid token admitted and a forged one refused.
import { randomBytes } from 'node:crypto';
import { TestBed } from '../testbed/bed.js';
import { mintToken } from '../src/token/mint.js';
import {
  attemptJoin,
  installTokenLuaPackages,
  linkPureLuaModules,
  restartProsody,
  switchToTokenAuth,
  waitForFocus,
} from '../test/support/token-host.js';

const say = (line: string) => process.stdout.write(`${line}\n`);
const bed = new TestBed('demo');
const domain = 'meet.test';

await bed.up({ suites: ['bookworm'], count: 1, domain, generation: '2026', brokenProsodyInit: false }, say);
const host = await bed.host('bookworm-1');
await bed.reset([host.name]);
const url = `http://${host.address}:5280/http-bind`;
const appId = 'demo_app';
const appSecret = randomBytes(32).toString('base64url');

say(`\n${host.name} (${host.address}) runs a stock Jitsi-shaped Prosody for ${domain}.`);
await switchToTokenAuth(bed, host.name, domain, appId, appSecret);
await restartProsody(bed, host.name);
const early = await attemptJoin({ url, domain, room: 'demo', token: await mintToken({ appId, appSecret, room: 'demo', sub: domain }) });
say(`token auth switched on without the Lua libraries: ${early.auth.ok ? 'admitted (unexpected)' : `refused (${early.auth.condition})`}`);

await installTokenLuaPackages(bed, host.name);
await linkPureLuaModules(bed, host.name);
await restartProsody(bed, host.name);
await waitForFocus({ url, domain, token: await mintToken({ appId, appSecret, room: '*', sub: domain }) });
const valid = await attemptJoin({ url, domain, room: 'demo', token: await mintToken({ appId, appSecret, room: 'demo', sub: domain }) });
say(`valid token for room "demo":  ${valid.join?.ok ? 'joined' : `refused (${JSON.stringify(valid)})`}`);
const forged = await attemptJoin({ url, domain, room: 'demo', token: await mintToken({ appId, appSecret: 'not-the-secret', room: 'demo', sub: domain }) });
say(`token signed with another key: ${forged.auth.ok ? 'admitted (unexpected)' : `refused (${forged.auth.condition}: ${forged.auth.text})`}`);
say(`\nThe host keeps running: ${bed.sshCommand(host)}\nStop it with: npm run testbed -- down --bed demo`);
