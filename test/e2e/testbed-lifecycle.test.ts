// `npm run testbed -- up` then `down`, through the real command: hosts without
// systemd come up on their own addresses, Debian 12's stock prosody init script
// is kept when asked for; a systemd host boots to "running" in Jitsi's unit
// layout; and `down` leaves no process, mount, cgroup or socket behind.
import { execa } from 'execa';
import fs from 'node:fs/promises';
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { TestBed, cgroupDirs } from '../../testbed/bed.js';
import { prosodyPid } from '../support/token-host.js';

const bed = new TestBed(`e2e-lifecycle-${process.pid}`);
const systemdBed = new TestBed(`e2e-lifecycle-systemd-${process.pid}`);
const testbed = (...args: string[]) => execa('npx', ['tsx', 'testbed/cli.ts', ...args, '--bed', bed.name], { all: true });

function leftovers(dir: string) {
  const processes: string[] = [];
  for (const entry of readdirProc()) {
    try {
      const root = readlinkSync(`/proc/${entry}/root`);
      const cmdline = readFileSync(`/proc/${entry}/cmdline`, 'utf8').replaceAll('\0', ' ');
      if (root.startsWith(dir) || cmdline.includes(dir)) processes.push(`${entry}: ${cmdline}`);
    } catch {
      /* exited meanwhile */
    }
  }
  const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').filter((line) => line.includes(dir));
  return { processes, mounts };
}

function readdirProc(): string[] {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry));
}

afterAll(async () => {
  await bed.down();
  await systemdBed.down();
});

describe('a bed of three', () => {
  it('comes up on three addresses and goes down without a trace', async () => {
    const up = await testbed('up', '--suite', 'bookworm', '--count', '3', '--init', 'sysv', '--broken-prosody-init');
    expect(up.exitCode).toBe(0);
    const hosts = await bed.hosts();
    expect(hosts.map((h) => h.name)).toEqual(['bookworm-sysv-1', 'bookworm-sysv-2', 'bookworm-sysv-3']);
    expect(new Set(hosts.map((h) => h.address)).size).toBe(3);
    for (const host of hosts) {
      expect((await bed.ssh(host.name, 'hostname')).stdout).toBe(host.name);
      expect(up.stdout).toContain(`${host.name}  ${host.address}  bookworm  meet.test  running  no systemd`);
    }

    const status = await testbed('status');
    expect(status.stdout).toContain(`ssh -F ${bed.sshConfigFile} deploy@bookworm-sysv-2`);

    // The stock Debian 12 script reports success but leaves the old Prosody running.
    const before = await prosodyPid(bed, 'bookworm-sysv-1');
    const restart = await bed.ssh('bookworm-sysv-1', 'service prosody restart', { reject: false });
    expect(restart.exitCode).toBe(0);
    expect(await prosodyPid(bed, 'bookworm-sysv-1')).toBe(before);
    const { stdout: processes } = await bed.ssh('bookworm-sysv-1', 'pgrep -c -u prosody lua5.4');
    expect(processes).toBe('1');

    const addresses = hosts.map((h) => h.address);
    const down = await testbed('down');
    expect(down.exitCode).toBe(0);
    expect(leftovers(bed.dir)).toEqual({ processes: [], mounts: [] });
    const { stdout: sockets } = await execa('ss', ['-Hltn']);
    expect(sockets.split('\n').filter((line) => addresses.some((a) => line.includes(`${a}:`)))).toEqual([]);
    await expect(fs.access(path.join(bed.dir, 'bed.json'))).rejects.toThrow();
  });
});

describe('a systemd host', () => {
  it('boots to "running" with Jitsi\'s units, and goes down without a process or cgroup left', async () => {
    await systemdBed.up({ suites: ['trixie'], count: 1, domain: 'meet.test', generation: '2026', brokenProsodyInit: false });
    const [host] = await systemdBed.hosts();
    const units = await systemdBed.ssh(
      host.name,
      'systemctl is-system-running; cat /proc/1/comm; for u in prosody jicofo jitsi-videobridge2; do systemctl show -p MainPID -p ActiveState -p SubState -p SourcePath --value $u | tr "\\n" " "; echo; done',
    );
    expect(units.stdout.split('\n')).toEqual([
      'running',
      'systemd',
      expect.stringMatching(/^[1-9]\d* active running {2}$/),
      // Made by systemd-sysv-generator from the SysV script: no MainPID.
      '0 active running /etc/init.d/jicofo ',
      expect.stringMatching(/^[1-9]\d* active running {2}$/),
    ]);
    const cgroup = (await systemdBed.host(host.name)).cgroup!;
    expect(cgroupDirs(cgroup).length).toBeGreaterThan(0);
    const processes = await systemdBed.processes(await systemdBed.host(host.name));
    expect(processes.length).toBeGreaterThan(5);

    await systemdBed.down();
    for (const dir of cgroupDirs(cgroup)) await expect(fs.access(dir)).rejects.toThrow();
    expect(processes.filter((pid) => existsSync(`/proc/${pid}`))).toEqual([]);
    expect(leftovers(systemdBed.dir)).toEqual({ processes: [], mounts: [] });
  });
});
