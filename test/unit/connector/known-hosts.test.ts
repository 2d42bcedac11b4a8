import { describe, expect, it } from 'vitest';
import {
  checkHostKey,
  entryMatchesHost,
  fingerprint,
  hostKeyAlgorithms,
  keyTypeOf,
  knownHostsLine,
  knownHostsName,
  knownKeyTypes,
  parseKnownHosts,
} from '../../../src/connector/known-hosts.js';

// Keys and fingerprints made with ssh-keygen (-t ed25519 / -t ecdsa; ssh-keygen -lf).
const KEY1 = 'AAAAC3NzaC1lZDI1NTE5AAAAIFcKCqTb4H85gHfRQTGEIkntFWhqmZ4nB/Aax6XEwht5';
const KEY1_FP = 'SHA256:24SCjX++Ecpuj+3fy52hZtP+0AEHRwghr5ZnTWIcR7o';
const KEY2 = 'AAAAC3NzaC1lZDI1NTE5AAAAIJG4+8SjMadFcZ/E7K40UCGfZ3u2raMuv1znO/UZ1Zpg';
const KEY2_FP = 'SHA256:4INCGUx1Hy62c3VSXKshy265ZRXEtUGwKBFw0HQ4TSk';
const ECDSA = 'AAAAE2VjZHNhLXNoYTItbmlzdHAyNTYAAAAIbmlzdHAyNTYAAABBBD6/OsfT0zMBTNVnK++Wj4GYKPGdo+e88nlhELt+TXJZNgSRi9k1+s1f1l24eafTlDdAc7lk7yzwA/4+i0nFVFI=';
const ECDSA_FP = 'SHA256:8JQKkwlF5fRWJqwXHL4jKMe+4Oe2aetiua7cGacetmY';
// `ssh-keygen -H` of "server.example <KEY1>" and "[server.example]:2222 <KEY2>".
const HASHED_22 = '|1|bYrhc0rlz4ac3rWBRxvsn+leCNk=|NNOrxau7QBZrfzNzkx2XTflB+5c=';
const HASHED_2222 = '|1|X8Cz8i9n5eJPAEAQwb05xIWh+dk=|5MHA4n5RL4WoXa7ZltGHrzmSugQ=';

const key = (base64: string) => Buffer.from(base64, 'base64');

describe('fingerprint and key type', () => {
  it.each([
    [KEY1, KEY1_FP, 'ssh-ed25519'],
    [KEY2, KEY2_FP, 'ssh-ed25519'],
    [ECDSA, ECDSA_FP, 'ecdsa-sha2-nistp256'],
  ])('%s', (base64, expected, type) => {
    expect(fingerprint(key(base64))).toBe(expected);
    expect(keyTypeOf(key(base64))).toBe(type);
  });

  it('reads a garbage blob as an unknown type', () => {
    expect(keyTypeOf(Buffer.from([0, 0]))).toBe('unknown');
    expect(keyTypeOf(Buffer.from([0xff, 0xff, 0xff, 0xff, 1]))).toBe('unknown');
  });
});

describe('knownHostsName and knownHostsLine', () => {
  it.each([
    ['127.0.0.2', 22, '127.0.0.2'],
    ['127.0.0.2', 2222, '[127.0.0.2]:2222'],
    ['2001:db8::1', 22, '2001:db8::1'],
    ['2001:db8::1', 2200, '[2001:db8::1]:2200'],
  ])('%s port %d is filed as %s', (host, port, expected) => {
    expect(knownHostsName(host, port)).toBe(expected);
  });

  it('writes the line OpenSSH writes', () => {
    expect(knownHostsLine('[127.0.0.2]:2222', key(KEY1))).toBe(`[127.0.0.2]:2222 ssh-ed25519 ${KEY1}`);
  });
});

describe('parseKnownHosts', () => {
  it('reads entries, markers and line numbers, and skips what OpenSSH skips', () => {
    const text = [
      '# a comment',
      '',
      `server.example,10.0.0.1 ssh-ed25519 ${KEY1} root@server`,
      `@revoked * ssh-ed25519 ${KEY2}`,
      `@cert-authority *.example ssh-ed25519 ${KEY2}`,
      `@unknown-marker host ssh-ed25519 ${KEY2}`,
      'half-a-line ssh-ed25519',
      `bad-base64 ssh-ed25519 !!!`,
      `${HASHED_22} ssh-ed25519 ${KEY1}`,
      `\t[server.example]:2222   ecdsa-sha2-nistp256 ${ECDSA}\r`,
    ].join('\n');
    const entries = parseKnownHosts(text, '/k');
    expect(entries.map((e) => [e.line, e.marker, e.hosts, e.keyType])).toEqual([
      [3, undefined, 'server.example,10.0.0.1', 'ssh-ed25519'],
      [4, 'revoked', '*', 'ssh-ed25519'],
      [5, 'cert-authority', '*.example', 'ssh-ed25519'],
      [9, undefined, HASHED_22, 'ssh-ed25519'],
      [10, undefined, '[server.example]:2222', 'ecdsa-sha2-nistp256'],
    ]);
    expect(entries[0].key.equals(key(KEY1))).toBe(true);
    expect(entries.every((e) => e.file === '/k')).toBe(true);
  });
});

describe('entryMatchesHost', () => {
  it.each([
    ['server.example', 'server.example', true],
    ['server.example', 'SERVER.example', true],
    ['server.example', 'other.example', false],
    ['server.example', '[server.example]:2222', false],
    ['[server.example]:2222', '[server.example]:2222', true],
    ['[server.example]:2222', 'server.example', false],
    ['10.0.0.1,server.example', 'server.example', true],
    ['*.example', 'server.example', true],
    ['*.example,!server.example', 'server.example', false],
    ['*.example,!server.example', 'other.example', true],
    ['serv?r.example', 'server.example', true],
    ['server.example', 'serverXexample', false],
    ['[*.example]:*', '[server.example]:2222', true],
    [HASHED_22, 'server.example', true],
    [HASHED_22, '[server.example]:22', false],
    [HASHED_22, 'other.example', false],
    [HASHED_2222, '[server.example]:2222', true],
    [HASHED_2222, 'server.example', false],
    ['|1|broken', 'server.example', false],
  ])('%s ~ %s → %s', (hosts, name, expected) => {
    expect(entryMatchesHost(hosts, name)).toBe(expected);
  });
});

describe('checkHostKey', () => {
  const file = (lines: string[]) => parseKnownHosts(lines.join('\n'), '/known_hosts');

  it.each([
    ['a plain match', [`server.example ssh-ed25519 ${KEY1}`], 'server.example', KEY1, 'known'],
    ['a hashed match', [`${HASHED_22} ssh-ed25519 ${KEY1}`], 'server.example', KEY1, 'known'],
    ['a hashed match on another port', [`${HASHED_2222} ssh-ed25519 ${KEY2}`], '[server.example]:2222', KEY2, 'known'],
    ['one of several keys of the same type', [`server.example ssh-ed25519 ${KEY2}`, `server.example ssh-ed25519 ${KEY1}`], 'server.example', KEY1, 'known'],
    ['another key of the same type', [`server.example ssh-ed25519 ${KEY2}`], 'server.example', KEY1, 'changed'],
    ['another key under the hashed name', [`${HASHED_22} ssh-ed25519 ${KEY2}`], 'server.example', KEY1, 'changed'],
    ['only a key of another type', [`server.example ecdsa-sha2-nistp256 ${ECDSA}`], 'server.example', KEY1, 'unknown'],
    ['the key of another type next to a known one', [`server.example ssh-ed25519 ${KEY1}`, `server.example ecdsa-sha2-nistp256 ${ECDSA}`], 'server.example', ECDSA, 'known'],
    ['nothing for the host', [`other.example ssh-ed25519 ${KEY1}`], 'server.example', KEY1, 'unknown'],
    ['the same key filed for port 22 only', [`server.example ssh-ed25519 ${KEY1}`], '[server.example]:2222', KEY1, 'unknown'],
    ['a revoked key', [`server.example ssh-ed25519 ${KEY1}`, `@revoked * ssh-ed25519 ${KEY1}`], 'server.example', KEY1, 'revoked'],
    ['a revoked other key', [`server.example ssh-ed25519 ${KEY1}`, `@revoked * ssh-ed25519 ${KEY2}`], 'server.example', KEY1, 'known'],
    ['a cert-authority line only', [`@cert-authority *.example ssh-ed25519 ${KEY1}`], 'server.example', KEY1, 'unknown'],
    ['an empty file', [], 'server.example', KEY1, 'unknown'],
  ])('%s', (_name, lines, name, presented, status) => {
    expect(checkHostKey(file(lines), name, key(presented)).status).toBe(status);
  });

  it('names the entries a changed key disagrees with, and the other known types of an unknown one', () => {
    const entries = file([`server.example ecdsa-sha2-nistp256 ${ECDSA}`, `server.example ssh-ed25519 ${KEY2}`]);
    const changed = checkHostKey(entries, 'server.example', key(KEY1));
    expect(changed).toMatchObject({ status: 'changed', expected: [{ line: 2, file: '/known_hosts' }] });
    const unknown = checkHostKey(file([`server.example ecdsa-sha2-nistp256 ${ECDSA}`]), 'server.example', key(KEY1));
    expect(unknown).toEqual({ status: 'unknown', otherTypes: ['ecdsa-sha2-nistp256'] });
  });
});

describe('host key algorithm preference', () => {
  it('asks for the known key types first', () => {
    const entries = parseKnownHosts(`h ssh-rsa ${KEY1}\nh ecdsa-sha2-nistp256 ${ECDSA}\nother ssh-ed25519 ${KEY2}`, '/k');
    expect(knownKeyTypes(entries, 'h')).toEqual(['ssh-rsa', 'ecdsa-sha2-nistp256']);
    expect(hostKeyAlgorithms(knownKeyTypes(entries, 'h'))).toEqual([
      'rsa-sha2-512',
      'rsa-sha2-256',
      'ssh-rsa',
      'ecdsa-sha2-nistp256',
      'ssh-ed25519',
      'ecdsa-sha2-nistp384',
      'ecdsa-sha2-nistp521',
    ]);
    expect(hostKeyAlgorithms([])[0]).toBe('ssh-ed25519');
    expect(hostKeyAlgorithms(['ssh-unheard-of'])[0]).toBe('ssh-ed25519');
  });
});
