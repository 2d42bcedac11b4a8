import { describe, expect, it } from 'vitest';
import { formatHostPort, parseTarget } from '../../../src/connector/target.js';

describe('parseTarget', () => {
  it.each([
    ['meet.example.org', { host: 'meet.example.org' }],
    ['deploy@meet.example.org', { user: 'deploy', host: 'meet.example.org' }],
    ['deploy@meet.example.org:2222', { user: 'deploy', host: 'meet.example.org', port: 2222 }],
    ['127.0.0.2:22', { host: '127.0.0.2', port: 22 }],
    ['root@127.0.0.2', { user: 'root', host: '127.0.0.2' }],
    ['[2001:db8::1]:2222', { host: '2001:db8::1', port: 2222 }],
    ['admin@[2001:db8::1]:22', { user: 'admin', host: '2001:db8::1', port: 22 }],
    ['admin@[::1]', { user: 'admin', host: '::1' }],
    ['2001:db8::1', { host: '2001:db8::1' }],
    ['bookworm-1', { host: 'bookworm-1' }],
    ['first.last@corp.example@jump.example', { user: 'first.last@corp.example', host: 'jump.example' }],
    ['ssh://deploy@meet.example.org:2222', { user: 'deploy', host: 'meet.example.org', port: 2222 }],
    ['  root@host  ', { user: 'root', host: 'host' }],
  ])('%s', (text, expected) => {
    expect(parseTarget(text)).toEqual(expected);
  });

  it.each([
    ['', /empty/],
    ['@host', /user name/],
    ['root@', /host is empty/],
    ['host:', /not a port/],
    ['host:ssh', /not a port/],
    ['host:0', /outside/],
    ['host:65536', /outside/],
    ['[::1', /without "]"/],
    ['[::1]22', /after "]"/],
    ['ho st', /not a host/],
  ])('rejects %j', (text, message) => {
    expect(() => parseTarget(text)).toThrow(message);
    expect(() => parseTarget(text)).toThrow(expect.objectContaining({ code: 'settings' }));
  });
});

describe('formatHostPort', () => {
  it.each([
    ['127.0.0.2', 22, '127.0.0.2:22'],
    ['meet.example.org', 2222, 'meet.example.org:2222'],
    ['2001:db8::1', 22, '[2001:db8::1]:22'],
  ])('%s %d', (host, port, expected) => {
    expect(formatHostPort(host, port)).toBe(expected);
  });
});
