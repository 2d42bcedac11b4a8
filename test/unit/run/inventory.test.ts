import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { fleetEntries, parseInventory } from '../../../src/run/inventory.js';
import { SettingsError } from '../../../src/errors.js';

const FILE = '/srv/ops/fleet.yml';

describe('parseInventory', () => {
  it('reads a list of TARGET strings and mappings, with defaults and per-host overrides', async () => {
    const entries = await parseInventory(
      [
        'defaults:',
        '  user: deploy',
        '  identity: keys/jitsi',
        'hosts:',
        '  - meet1.example.com',
        '  - admin@meet2.example.com:2200',
        '  - host: 10.0.0.12',
        '    name: shard-2',
        '    user: root',
        '    port: 2222',
        '    domain: Meet.Example.com',
        '    identity: ~/.ssh/shard2',
        '    sudo: password',
        '  - host: "2001:db8::7"',
        '    sudo_password_env: SHARD3_SUDO',
      ].join('\n'),
      FILE,
    );
    expect(entries).toEqual([
      { name: 'meet1.example.com', target: 'deploy@meet1.example.com', identity: '/srv/ops/keys/jitsi' },
      { name: 'admin@meet2.example.com:2200', target: 'admin@meet2.example.com:2200', identity: '/srv/ops/keys/jitsi' },
      { name: 'shard-2', target: 'root@10.0.0.12:2222', domain: 'meet.example.com', identity: path.join(os.homedir(), '.ssh/shard2'), sudo: 'password' },
      { name: '2001:db8::7', target: 'deploy@[2001:db8::7]', identity: '/srv/ops/keys/jitsi', sudoPasswordEnv: 'SHARD3_SUDO' },
    ]);
  });

  it('lets a bare TARGET keep its own user while defaults fill the rest', async () => {
    // A string entry is a whole TARGET: its user wins over defaults.user only when it names one.
    const [entry] = await parseInventory('defaults: { user: deploy, port: 2222 }\nhosts: [ops@meet.example.com]\n', FILE);
    expect(entry.target).toBe('ops@meet.example.com:2222');
  });

  it('reads hosts as a mapping, the key naming the host', async () => {
    const entries = await parseInventory('hosts:\n  meet1.example.com:\n  shard-2:\n    host: 10.0.0.2\n    port: 2200\n', FILE);
    expect(entries).toEqual([
      { name: 'meet1.example.com', target: 'meet1.example.com' },
      { name: 'shard-2', target: '10.0.0.2:2200' },
    ]);
  });

  it.each([
    ['hosts: [a, b', /fleet\.yml:1:\d+ is not valid YAML/],
    ['- a\n- b\n', /top level must be a mapping/],
    ['defaults: {user: x}\n', /no "hosts" key/],
    ['hosts: []\n', /"hosts" is empty/],
    ['hosts:\n  - host: a\n    prot: 22\n', /fleet\.yml:3: host 1: unknown key "prot" \(known: host, name, user, port/],
    ['hostz:\n  - a\n', /fleet\.yml:1: unknown key "hostz" at the top level/],
    ['hosts:\n  - host: a\n    port: 70000\n', /port "70000" is not a port number/],
    ['hosts:\n  - host: a\n    domain: not a domain\n', /"not a domain" is not a valid domain name/],
    ['hosts:\n  - host: a\n    sudo: always\n', /"sudo" must be "auto" or "password"/],
    ['hosts:\n  - host: a\n    sudo_password_env: "1X"\n', /must name an environment variable/],
    ['hosts:\n  - host: a b\n', /is not an SSH target/],
    ['hosts:\n  - name: x\n', /a host needs "host"/],
    ['hosts:\n  - host: [a]\n', /"host" must be a single value/],
    ['defaults:\n  name: x\nhosts: [a]\n', /"name" cannot be a default/],
    ['hosts:\n  - a\n  - a\n', /host "a" is named twice/],
    ['hosts:\n  a: 1\n  a: 2\n', /not valid YAML: Map keys must be unique/],
  ])('refuses %j, naming the problem', async (text, message) => {
    const parse = async () => fleetEntries([], await parseInventory(text, FILE));
    await expect(parse()).rejects.toThrow(SettingsError);
    await expect(parse()).rejects.toThrow(message);
  });

  it('shows what an inventory looks like in the hint', async () => {
    try {
      await parseInventory('hosts: 3\n', FILE);
      expect.unreachable();
    } catch (error) {
      expect((error as SettingsError).hint).toMatch(/defaults:[\s\S]*hosts:[\s\S]*sudo: password/);
    }
  });
});

describe('fleetEntries', () => {
  it('puts inventory hosts first, then TARGETs', () => {
    expect(fleetEntries(['b.example.com'], [{ name: 'a', target: 'a.example.com' }]).map((e) => e.name)).toEqual(['a', 'b.example.com']);
  });

  it('refuses the same host named twice across inventory and TARGETs', () => {
    expect(() => fleetEntries(['a'], [{ name: 'a', target: 'a' }])).toThrow(/named twice/);
  });
});
