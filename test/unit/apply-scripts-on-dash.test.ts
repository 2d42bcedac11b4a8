// apply's host scripts run under dash against a temporary directory standing
// for the host, with their failures provoked: a step that fails must never be
// reported as done.
import { chmodSync, existsSync, lstatSync, mkdirSync, readdirSync, readFileSync, readlinkSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { spawn, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { HELD_MARK, installScript, lockScript, parseLockAnswer, parseScriptOutput, restartScript, restoreScript, writeScript, type FileWrite, type LinkWrite } from '../../src/apply/scripts.js';
import { sh } from '../../src/shell/script.js';
import { isRoot, NEEDS_ROOT, removeScratch, runDash, scratch, type DashOptions } from '../support/dash.js';

/** A host in a directory: a domain config to edit, a key file to add, a Lua module to link. */
function fakeHost(root: string) {
  const conf = join(root, 'etc/prosody/conf.avail');
  const config = join(conf, 'meet.test.cfg.lua');
  const keyDir = join(root, 'etc/prosody/jitsi-jwt-keys/meet.test');
  const key = join(keyDir, 'abc.pem');
  const luaShare = join(root, 'usr/share/lua/5.3');
  const linkPath = join(root, 'usr/local/share/lua/5.4/basexx.lua');
  mkdirSync(conf, { recursive: true });
  mkdirSync(luaShare, { recursive: true });
  writeFileSync(config, 'VirtualHost "meet.test"\n');
  chmodSync(config, 0o640);
  writeFileSync(join(luaShare, 'basexx.lua'), 'return {}\n');
  const backupDir = join(root, 'var/backups/jitsi-jwt/2026-01-02T03-04-05-006Z');
  const files: FileWrite[] = [
    { path: config, content: 'VirtualHost "meet.test"\n\tauthentication = "token"\n' },
    { path: key, content: '-----BEGIN PUBLIC KEY-----\n', create: true, ownership: { mode: '644', owner: `${process.getuid!()}:${process.getgid!()}` } },
  ];
  const links: LinkWrite[] = [{ path: linkPath, module: 'basexx.lua', target: join(luaShare, 'basexx.lua') }];
  const write = (options: DashOptions = {}) => runDash(writeScript({ backupDir, files, links, lua: 'lua5.4', luaModules: [] }), options);
  return { conf, config, key, keyDir, linkPath, backupDir, write };
}

describe('writeScript and restoreScript under dash', () => {
  let root: string;
  let host: ReturnType<typeof fakeHost>;
  beforeEach(() => {
    root = scratch();
    host = fakeHost(root);
  });
  afterEach(() => removeScratch(root));

  it('writes, and a restore puts every file and link back as it was', () => {
    const written = host.write();
    expect(written.stderr).toBe('');
    expect(written.code).toBe(0);
    expect(written.stdout).toContain('@@section end');
    expect(readFileSync(host.config, 'utf8')).toContain('authentication = "token"');
    expect(statSync(host.config).mode & 0o777).toBe(0o640);
    expect(readFileSync(host.key, 'utf8')).toBe('-----BEGIN PUBLIC KEY-----\n');
    expect(readlinkSync(host.linkPath)).toBe(join(root, 'usr/share/lua/5.3/basexx.lua'));
    expect(statSync(join(root, 'var/backups/jitsi-jwt')).mode & 0o777).toBe(0o700);

    const restored = runDash(restoreScript(host.backupDir));
    expect(restored).toMatchObject({ code: 0, stderr: '' });
    expect(restored.stdout).toContain('@@result restored yes');
    expect(readFileSync(host.config, 'utf8')).toBe('VirtualHost "meet.test"\n');
    expect(statSync(host.config).mode & 0o777).toBe(0o640);
    expect(existsSync(host.key)).toBe(false);
    expect(() => lstatSync(host.linkPath)).toThrow();
  });

  it('writes and restores under paths with quotes, substitutions, globs and spaces in them', () => {
    const odd = join(root, "it's $(touch PWNED) `touch PWNED` * -n");
    mkdirSync(odd);
    const other = fakeHost(odd);
    const written = other.write({ cwd: root });
    expect(written).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(other.config, 'utf8')).toContain('authentication = "token"');
    expect(runDash(restoreScript(other.backupDir), { cwd: root })).toMatchObject({ code: 0, stdout: '@@result restored yes\n' });
    expect(readFileSync(other.config, 'utf8')).toBe('VirtualHost "meet.test"\n');
    expect(existsSync(other.key)).toBe(false);
    expect(existsSync(join(root, 'PWNED'))).toBe(false);
  });

  it('fails, naming the file, when a saved copy is missing; and still undoes the rest', () => {
    expect(host.write().code).toBe(0);
    rmSync(join(host.backupDir, 'file-0'));
    const restored = runDash(restoreScript(host.backupDir));
    expect(restored.code).not.toBe(0);
    expect(restored.stdout).not.toContain('@@result restored yes');
    expect(restored.stderr).toContain(`could not restore ${host.config}`);
    expect(readdirSync(host.conf).filter((f) => f.startsWith('.jitsi-jwt.'))).toEqual([]);
    expect(existsSync(host.key)).toBe(false);
    expect(() => lstatSync(host.linkPath)).toThrow();
  });

  it('fails when the file\'s directory cannot be written', () => {
    expect(host.write().code).toBe(0);
    const restored = runDash(restoreScript(host.backupDir), { readOnly: [host.conf] });
    expect(restored.code).not.toBe(0);
    expect(restored.stdout).not.toContain('@@result restored yes');
    expect(restored.stderr).toContain(host.config);
    expect(readFileSync(host.config, 'utf8')).toContain('authentication = "token"');
  });

  it.skipIf(!isRoot)('fails when the file\'s file system is full', () => {
    expect(host.write().code).toBe(0);
    const restored = runDash(restoreScript(host.backupDir), { full: [host.conf] });
    expect(restored.code).not.toBe(0);
    expect(restored.stdout).not.toContain('@@result restored yes');
    expect(restored.stderr).toContain(host.config);
  });
  if (!isRoot) it.skip(`fails when the file's file system is full (${NEEDS_ROOT})`, () => {});

  it('stops when a directory it writes in cannot be written, and a restore undoes what it did before', () => {
    mkdirSync(host.keyDir, { recursive: true });
    const written = runDash(writeScript({ backupDir: host.backupDir, files: [{ path: host.key, content: 'key\n', create: true }], links: [], lua: 'lua5.4', luaModules: [] }), { readOnly: [host.keyDir] });
    expect(written.code).not.toBe(0);
    expect(written.stdout).not.toContain('@@section end');
    expect(existsSync(host.key)).toBe(false);
    expect(runDash(restoreScript(host.backupDir))).toMatchObject({ code: 0, stdout: '@@result restored yes\n' });
  });

  it('stops when the first file is written but the second cannot be, and a restore puts the first back', () => {
    mkdirSync(host.keyDir, { recursive: true });
    const files: FileWrite[] = [{ path: host.config, content: 'changed\n' }, { path: host.key, content: 'key\n', create: true }];
    const written = runDash(writeScript({ backupDir: host.backupDir, files, links: [], lua: 'lua5.4', luaModules: [] }), { readOnly: [host.keyDir] });
    expect(written.code).not.toBe(0);
    expect(written.stdout).not.toContain('@@section end');
    expect(readFileSync(host.config, 'utf8')).toBe('changed\n');
    expect(runDash(restoreScript(host.backupDir))).toMatchObject({ code: 0, stdout: '@@result restored yes\n' });
    expect(readFileSync(host.config, 'utf8')).toBe('VirtualHost "meet.test"\n');
  });

  it.skipIf(!isRoot)('changes nothing when the backup cannot be saved (a full file system)', () => {
    const backups = join(root, 'var/backups/jitsi-jwt');
    mkdirSync(backups, { recursive: true });
    const written = runDash(writeScript({ backupDir: host.backupDir, files: [{ path: host.config, content: 'changed\n' }], links: [], lua: 'lua5.4', luaModules: [] }), { full: [backups] });
    expect(written.code).not.toBe(0);
    expect(written.stdout).not.toContain('@@section end');
    expect(readFileSync(host.config, 'utf8')).toBe('VirtualHost "meet.test"\n');
  });
  if (!isRoot) it.skip(`changes nothing when the backup cannot be saved (${NEEDS_ROOT})`, () => {});

  it.skipIf(!isRoot)('stops when the configuration check cannot be kept in full (a full file system)', () => {
    const backups = join(root, 'var/backups/jitsi-jwt');
    mkdirSync(backups, { recursive: true });
    const prosodyctl = 'echo "Checking config..."; echo "Error: a finding"';
    const written = runDash(writeScript({ backupDir: host.backupDir, files: [], links: [], lua: 'lua5.4', luaModules: [] }), { full: [backups], stubs: { prosodyctl } });
    expect(written.code).not.toBe(0);
    expect(written.stdout).not.toContain('@@section end');
  });

  it('hands debconf the answers on stdin, and stops when they cannot be decoded', () => {
    const debconf = 'jitsi-meet-tokens jitsi-meet-tokens/appid string app\njitsi-meet-tokens jitsi-meet-tokens/appsecret password s3cret\n';
    const db = join(root, 'var/cache/debconf/config.dat');
    mkdirSync(join(root, 'var/cache/debconf'), { recursive: true });
    writeFileSync(db, 'Name: old\n');
    const script = writeScript({ backupDir: host.backupDir, files: [], links: [], lua: 'lua5.4', luaModules: [], debconf, root });
    const stubs = { 'debconf-set-selections': `cat > ${join(root, 'selections')}` };
    const written = runDash(script, { stubs });
    expect(written).toMatchObject({ code: 0, stderr: '' });
    expect(readFileSync(join(root, 'selections'), 'utf8')).toBe(debconf);
    expect(readFileSync(join(host.backupDir, 'manifest'), 'utf8')).toContain(`file\t${db}\t${join(host.backupDir, 'debconf-0')}\n`);
    rmSync(join(root, 'selections'));
    const broken = runDash(script, { stubs: { ...stubs, base64: 'exit 1' } });
    expect(broken.code).not.toBe(0);
    expect(broken.stdout).not.toContain('@@section end');
    expect(existsSync(join(root, 'selections'))).toBe(false);
  });

  it('stops when the target of a link it replaces cannot be read', () => {
    mkdirSync(join(root, 'usr/local/share/lua/5.4'), { recursive: true });
    symlinkSync('/usr/share/lua/5.1/basexx.lua', host.linkPath);
    const written = runDash(writeScript({ backupDir: host.backupDir, files: [], links: [{ path: host.linkPath, module: 'basexx.lua', target: join(root, 'usr/share/lua/5.3/basexx.lua') }], lua: 'lua5.4', luaModules: [] }), { stubs: { readlink: 'exit 1' } });
    expect(written.code).not.toBe(0);
    expect(written.stdout).not.toContain('@@section end');
    expect(readlinkSync(host.linkPath)).toBe('/usr/share/lua/5.1/basexx.lua');
  });

  it('does nothing and succeeds when the write step never started its manifest', () => {
    const restored = runDash(restoreScript(host.backupDir));
    expect(restored).toMatchObject({ code: 0, stderr: '' });
  });
});

describe('lockScript under dash', () => {
  let dir: string;
  let lockDir: string;
  beforeEach(() => {
    dir = scratch();
    lockDir = join(dir, 'jitsi-jwt');
  });
  afterEach(() => removeScratch(dir));

  it.skipIf(!isRoot)('takes the lock, runs what it holds it for, and says who holds it', async () => {
    const first = spawn('dash', ['-s'], { stdio: ['pipe', 'pipe', 'pipe'] });
    first.stdin.write(`${lockScript(sh`echo probed`, lockDir).text}\n`);
    let out = '';
    await new Promise<void>((resolve) => first.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()).includes(HELD_MARK) && resolve()));
    expect(out).toBe(`locked\nprobed\n${HELD_MARK}\n`);
    expect(statSync(lockDir).mode & 0o777).toBe(0o700);
    const busy = runDash(lockScript(sh`echo never`, lockDir));
    expect(parseLockAnswer(busy.stdout.split('\n')[0])).toMatchObject({ state: 'busy', pid: first.pid, user: 'root' });
    expect(busy.stdout).not.toContain('never');
    first.stdin.end();
    await new Promise((resolve) => first.on('exit', resolve));
    expect(runDash(lockScript(sh`:`, lockDir)).stdout.split('\n')[0]).toBe('locked');
  });
  if (!isRoot) it.skip('takes the lock (needs root: the lock directory must belong to root)', () => {});

  it.each<[string, (lockDir: string) => void, RegExp]>([
    ['a file where its directory should be', (d) => writeFileSync(d, ''), /^error .* is not a directory$/],
    ['a directory others may write to', (d) => mkdirSync(d, { mode: 0o777 }), /^error .* may be written by others than root/],
  ])('refuses %s', (_name, plant, answer) => {
    plant(lockDir);
    chmodSync(lockDir, 0o777);
    const result = runDash(lockScript(sh`echo never`, lockDir));
    expect(result.stdout.split('\n')[0]).toMatch(answer);
    expect(result.stdout).not.toContain('never');
  });

  it.skipIf(!isRoot)('says why when the lock file cannot be made', () => {
    mkdirSync(lockDir, { mode: 0o700 });
    const result = runDash(lockScript(sh`echo never`, lockDir), { readOnly: [lockDir] });
    expect(parseLockAnswer(result.stdout.split('\n')[0])).toEqual({ state: 'error', reason: expect.stringMatching(/^cannot open .*\/lock: .*Read-only file system/) });
    expect(result.stdout).not.toContain('never');
  });
});

describe('installScript under dash', () => {
  let dir: string;
  beforeEach(() => {
    dir = scratch();
  });
  afterEach(() => removeScratch(dir));
  /** apt-get answering each call with the next of `answers` (exit code, text); its calls are logged. */
  const apt = (...answers: [number, string][]) => `n=$(cat ${dir}/calls 2>/dev/null | wc -l); printf '%s\\n' "$*" >> ${dir}/calls
case $n in
${answers.map(([code, text], i) => `${i}) echo '${text}'; exit ${code} ;;`).join('\n')}
esac
exit 0`;
  const calls = () => readFileSync(join(dir, 'calls'), 'utf8').trim().split('\n');

  it('installs the packages, each one word', () => {
    const result = runDash(installScript(['lua-cjson', 'lua-basexx'], 120), { stubs: { 'apt-get': apt([0, 'ok']) } });
    expect(result).toMatchObject({ code: 0, stdout: '@@result installed yes\n' });
    expect(calls()).toEqual(['-o DPkg::Lock::Timeout=120 -o Acquire::Retries=2 -q -y install --no-install-recommends lua-cjson lua-basexx']);
  });

  it('updates the package lists and tries again once', () => {
    const result = runDash(installScript(['lua-cjson'], 5), { stubs: { 'apt-get': apt([100, 'E: Failed to fetch'], [0, 'updated'], [0, 'ok']) } });
    expect(result).toMatchObject({ code: 0, stdout: '@@result installed yes\n' });
    expect(calls().map((c) => c.split(' ').at(-1))).toEqual(['lua-cjson', 'update', 'lua-cjson']);
  });

  it.each<[string, [number, string][], string]>([
    ['the dpkg lock stays held', [[100, 'E: Could not get lock /var/lib/dpkg/lock-frontend']], '@@result dpkg-lock held\n'],
    ['the second try fails too', [[100, 'E: Failed to fetch'], [0, ''], [100, 'E: Unable to locate package lua-cjson']], ''],
  ])('fails, never saying installed, when %s', (_name, answers, stdout) => {
    const result = runDash(installScript(['lua-cjson'], 5), { stubs: { 'apt-get': apt(...answers) } });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe(stdout);
  });

  it('fails when it cannot make its log file', () => {
    const result = runDash(installScript(['lua-cjson'], 5), { stubs: { 'apt-get': apt([0, 'ok']) }, env: { TMPDIR: join(dir, 'missing') } });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('');
  });
});

/** The init system's command for fake daemons: each run of a service is a sleep whose pid goes where the service's pid is read. */
function initStub(root: string, behaviour: Record<string, string> = {}): string {
  return `name=$1; action=$2
[ "$1" = restart ] || [ "$1" = stop ] || [ "$1" = start ] && { action=$1; name=\${2%.service}; }
case "$name" in
prosody) pidfile=${root}/run/prosody/prosody.pid ;;
jicofo) pidfile=${root}/run/jicofo.pid ;;
jitsi-videobridge2) pidfile=${root}/run/jitsi-videobridge.pid ;;
esac
[ -n "$SYSTEMD" ] && pidfile=${root}/sys/fs/cgroup/system.slice/$name.service/cgroup.procs
mkdir -p "$(dirname "$pidfile")"
daemon=60
${Object.entries(behaviour).map(([when, then]) => `case "$name $action" in '${when}') ${then} ;; esac`).join('\n')}
stop() { [ -f "$pidfile" ] && kill "$(cat "$pidfile")" 2>/dev/null; rm -f "$pidfile"; }
start() { sleep "$daemon" </dev/null >/dev/null 2>&1 & echo $! > "$pidfile"; }
case "$action" in
restart) stop; start ;;
stop) stop ;;
start) start ;;
esac`;
}

/** systemctl show, as far as the service functions read it. */
const SYSTEMCTL_SHOW = `if [ "$1" = show ]; then printf 'ActiveState=active\\nControlGroup=/system.slice/%s\\n' "$6"; exit 0; fi`;
/** id -u USER for the services' users: this test's own uid, the user its fake daemons run as. */
const ID = `if [ "$1" = -u ] && [ -n "$2" ]; then exec /usr/bin/id -u; fi; exec /usr/bin/id "$@"`;

describe('restartScript under dash', () => {
  let root: string;
  const all = ['prosody', 'jicofo', 'jitsi-videobridge2'] as const;
  beforeEach(() => {
    root = scratch();
  });
  afterEach(() => {
    // Whatever fake daemons are left.
    spawnSync('sh', ['-c', sh`cat ${root}/run/*.pid ${root}/run/*/*.pid ${root}/sys/fs/cgroup/system.slice/*/cgroup.procs 2>/dev/null | xargs -r kill 2>/dev/null`.text]);
    removeScratch(root);
  });
  const run = (services: readonly (typeof all)[number][], init: 'sysv' | 'systemd', behaviour: Record<string, string> = {}, extra: { env?: Record<string, string>; full?: string[] } = {}) => {
    const stub = initStub(root, behaviour);
    if (init === 'systemd') mkdirSync(join(root, 'run/systemd/system'), { recursive: true });
    runDash(sh`for s in ${all}; do ${init === 'sysv' ? sh`service "$s" start` : sh`systemctl start "$s.service"`}; done`, { stubs: { service: stub, systemctl: stub }, env: { SYSTEMD: init === 'systemd' ? 'yes' : '' } });
    return runDash(restartScript([...services], init, { root }), {
      stubs: { service: stub, systemctl: `${SYSTEMCTL_SHOW}\n${stub}`, id: ID },
      env: { SYSTEMD: init === 'systemd' ? 'yes' : '', ...extra.env },
      full: extra.full,
    });
  };

  it.each(['sysv', 'systemd'] as const)('restarts every service on new processes (%s)', (init) => {
    const result = run(all, init);
    expect(result.stderr).toBe('');
    expect(result.code).toBe(0);
    const out = parseScriptOutput(result.stdout);
    for (const s of all) {
      expect(out.results.get(s)).toBe('restarted');
      expect(Number(out.results.get(`took-${s}`))).toBeGreaterThanOrEqual(0);
    }
  });

  it('stops and starts a service whose restart fails', () => {
    const out = parseScriptOutput(run(['jicofo'], 'sysv', { 'jicofo restart': 'exit 1' }).stdout);
    expect(out.results.get('jicofo')).toBe('restarted-by-stop-start');
  });

  it('fails, naming the service, when it will not start', () => {
    const result = run(['prosody', 'jicofo'], 'sysv', { 'jicofo restart': 'echo refused; exit 1', 'jicofo start': 'echo refused; exit 1' });
    expect(result.code).toBe(1);
    const out = parseScriptOutput(result.stdout);
    expect(out.results.get('prosody')).toBe('restarted');
    expect(out.results.get('jicofo')).toBe('failed');
    expect(out.logs).toContain('refused');
  });

  it('restarts nothing when it has nowhere to keep its records', () => {
    const result = run(['prosody'], 'sysv', {}, { env: { TMPDIR: join(root, 'missing') } });
    expect(result.code).toBe(1);
    expect(result.stdout).toBe('@@log cannot make a temporary directory to follow the restarts in\n');
  });

  it.skipIf(!isRoot)('restarts nothing when its records cannot be written (a full file system)', () => {
    const records = join(root, 'records');
    mkdirSync(records);
    const restarted = join(root, 'restarted');
    const result = run(['prosody'], 'sysv', { 'prosody restart': sh`touch ${restarted}`.text }, { env: { TMPDIR: records }, full: [records] });
    expect(result.code).toBe(1);
    expect(parseScriptOutput(result.stdout)).toMatchObject({ results: new Map([['prosody', 'failed']]), logs: ["cannot record prosody's processes before restarting it"] });
    expect(existsSync(restarted)).toBe(false);
  });
  if (!isRoot) it.skip(`restarts nothing when its records cannot be written (${NEEDS_ROOT})`, () => {});

  it('fails when a service dies right after starting', () => {
    const result = run(['jitsi-videobridge2'], 'systemd', { 'jitsi-videobridge2 restart': 'daemon=0.5' });
    expect(result.code).toBe(1);
    expect(parseScriptOutput(result.stdout).results.get('jitsi-videobridge2')).toBe('failed');
  });
});
