import { describe, expect, it } from 'vitest';
import { resolveHostConfig } from '../../../src/connector/host-config.js';
import { parseTarget } from '../../../src/connector/target.js';

const ENV = { home: '/home/op', localUser: 'op' };

const CONFIG = `
IdentityFile ~/.ssh/global_key

Host jitsi
  HostName 10.0.0.5
  User deploy
  Port 2222
  IdentityFile ~/.ssh/jitsi_ed25519
  IdentityFile %d/.ssh/second_%r_%h
  IdentitiesOnly yes
  UserKnownHostsFile ~/.ssh/known_hosts.jitsi /etc/other_known_hosts
  GlobalKnownHostsFile /dev/null
  HostKeyAlias jitsi-prod
  ConnectTimeout 7
  StrictHostKeyChecking accept-new

Host *.internal !bastion.internal
  ProxyJump admin@bastion.internal:2200
  User ops

Host behind
  HostName %h.lan
  ProxyJump jitsi

Host two-hops
  ProxyJump a,b

Host via-command
  ProxyCommand ssh -W %h:%p gateway

Host *
  User fallback
`;

const resolve = (target: string, config = CONFIG) => resolveHostConfig(parseTarget(target), config, ENV);

describe('resolveHostConfig', () => {
  it('applies an alias: HostName, User, Port, identities, known hosts files, host key alias, timeout', () => {
    expect(resolve('jitsi')).toEqual({
      alias: 'jitsi',
      host: '10.0.0.5',
      port: 2222,
      user: 'deploy',
      // in file order, as OpenSSH reads them
      identityFiles: ['/home/op/.ssh/global_key', '/home/op/.ssh/jitsi_ed25519', '/home/op/.ssh/second_deploy_10.0.0.5'],
      identitiesOnly: true,
      userKnownHostsFiles: ['/home/op/.ssh/known_hosts.jitsi', '/etc/other_known_hosts'],
      globalKnownHostsFiles: ['/dev/null'],
      hostKeyAlias: 'jitsi-prod',
      connectTimeoutMs: 7000,
      acceptNewHostKey: true,
    });
  });

  it.each([
    ['root@jitsi', { user: 'root', port: 2222, host: '10.0.0.5' }],
    ['jitsi:22', { user: 'deploy', port: 22 }],
    ['meet.example.org', { host: 'meet.example.org', user: 'fallback', port: 22, identityFiles: ['/home/op/.ssh/global_key'], acceptNewHostKey: false }],
    ['db.internal', { host: 'db.internal', user: 'ops', proxyJump: { user: 'admin', host: 'bastion.internal', port: 2200 } }],
    ['bastion.internal', { user: 'fallback' }],
    ['behind', { host: 'behind.lan', proxyJump: { host: 'jitsi' } }],
  ])('%s', (target, expected) => {
    expect(resolve(target)).toMatchObject(expected);
  });

  it('does without a config file', () => {
    expect(resolve('deploy@127.0.0.2', '')).toEqual({
      alias: '127.0.0.2',
      host: '127.0.0.2',
      port: 22,
      user: 'deploy',
      identityFiles: [],
      identitiesOnly: false,
      acceptNewHostKey: false,
    });
    expect(resolve('127.0.0.2', '').user).toBe('op');
  });

  it('leaves out the jump host proxy when the jump host itself matches no ProxyJump', () => {
    expect(resolve('bastion.internal').proxyJump).toBeUndefined();
  });

  it.each([
    ['two-hops', /several hops/],
    ['via-command', /ProxyCommand/],
  ])('refuses %s', (target, message) => {
    expect(() => resolve(target)).toThrow(message);
  });

  it('refuses a Port that is not a number', () => {
    expect(() => resolve('x', 'Host x\n  Port ssh\n')).toThrow(/not a port number/);
  });

  it.each(['abc', '0', '1.5', '-3'])('refuses ConnectTimeout %s, as OpenSSH does', (value) => {
    expect(() => resolve('x', `Host x\n  ConnectTimeout ${value}\n`)).toThrow(/ConnectTimeout in the ssh configuration for "x" .* is not a whole number/);
  });
});
