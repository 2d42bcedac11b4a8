// Turns an unpacked Debian root file system into a Jitsi-shaped test host, the
// way Jitsi's packages leave a real box: users and keys, sshd and Prosody bound
// to the host's own address, the stock domain config and web config.js,
// certificates, the focus account, Jibri's recorder and Jigasi's accounts,
// token plugin stand-ins (or given plugins), jicofo and videobridge stand-ins.
// Runs before the host boots, from outside it.
import { createHash, createHmac, pbkdf2Sync, randomUUID } from 'node:crypto';
import fs from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { execa } from 'execa';
import type { Suite } from './rootfs-image.js';

const HERE = path.dirname(fileURLToPath(import.meta.url));
export const ROOTFS_OVERLAY = path.join(HERE, 'rootfs');
export const STANDIN_PLUGINS = path.join(HERE, 'plugins');
export const STOCK_DOMAIN_CONFIGS = { '2024': path.join(HERE, 'domain', 'jitsi-meet-2024.cfg.lua'), '2026': path.join(HERE, 'domain', 'jitsi-meet-2026.cfg.lua') };
export const STOCK_WEB_CONFIG = path.join(HERE, 'web', 'config.js');
export const PLUGIN_DIR = '/usr/share/jitsi-meet/prosody-plugins';

/** What runs as the host's PID 1: systemd (as on real servers), or the test bed's own init (a container without systemd). */
export type InitSystem = 'systemd' | 'sysv';

export interface HostSpec {
  name: string;
  suite: Suite;
  address: string;
  domain: string;
  /** which generation of Jitsi's stock domain file to lay down: 2024 has no WebSocket */
  generation: '2024' | '2026';
  pluginsDir?: string;
  domainConfigFile?: string;
  /** keep Debian 12's prosody init script, which silently fails to restart Prosody on Lua 5.4 */
  brokenProsodyInit: boolean;
  init: InitSystem;
  focusPassword: string;
}

export interface Credentials {
  hostKey: string;
  userPublicKey: string;
  sudoPassword: string;
}

/** An XMPP account a Jitsi component logs in with (password auth on an internal_hashed host). */
export interface ServiceAccount {
  user: string;
  /** the Prosody VirtualHost it lives on */
  host: string;
  jid: string;
  password: string;
}

/**
 * The accounts every test host has besides focus, as Jitsi's components leave
 * them: Jibri's recorder (recorder@recorder.<domain>, registered by hand as
 * Jibri's README says) and Jigasi (jigasi@auth.<domain>, registered by
 * jigasi's package script). Their passwords derive from the host's focus
 * password, so a test reads them from the host record; on the host they are
 * in /etc/jitsi-testbed/host.env as RECORDER_PASSWORD and JIGASI_PASSWORD.
 */
export function serviceAccounts(host: Pick<HostSpec, 'domain' | 'focusPassword'>): { recorder: ServiceAccount; jigasi: ServiceAccount } {
  const account = (user: string, on: string): ServiceAccount => ({
    user,
    host: on,
    jid: `${user}@${on}`,
    password: createHmac('sha256', host.focusPassword).update(`jitsi-testbed ${user}@${on}`).digest('base64url').slice(0, 16),
  });
  return { recorder: account('recorder', `recorder.${host.domain}`), jigasi: account('jigasi', `auth.${host.domain}`) };
}

/** A host's or store's directory name under /var/lib/prosody, escaped as Prosody's datamanager does. */
function prosodyStoreDir(name: string): string {
  return name.replace(/[^A-Za-z0-9]/g, (c) => `%${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}

/**
 * The accounts/<user>.dat file mod_auth_internal_hashed writes for a new
 * account (SCRAM-SHA-1 with Prosody's default 10000 iterations); Prosody 13
 * also records when it was created and updated.
 */
export function internalHashedAccount(password: string, suite: Suite, salt = randomUUID(), now = Math.floor(Date.now() / 1000)): string {
  const iterations = 10000;
  const salted = pbkdf2Sync(password, salt, iterations, 20, 'sha1');
  const storedKey = createHash('sha1').update(createHmac('sha1', salted).update('Client Key').digest()).digest('hex');
  const serverKey = createHmac('sha1', salted).update('Server Key').digest('hex');
  const fields: [string, string | number][] = [
    ...(suite === 'trixie' ? ([['created', now]] as [string, number][]) : []),
    ['iteration_count', iterations],
    ['salt', salt],
    ['server_key', serverKey],
    ['stored_key', storedKey],
    ...(suite === 'trixie' ? ([['updated', now]] as [string, number][]) : []),
  ];
  const lines = fields.map(([key, value]) => `\t["${key}"] = ${typeof value === 'number' ? value : `"${value}"`};`);
  return `return {\n${lines.join('\n')}\n};\n`;
}

/** The stock web config.js with the placeholder replaced, as jitsi-meet-web-config's install script does; the 2024 generation has WebSocket commented out. */
export function stockWebConfig(template: string, domain: string, generation: HostSpec['generation']): string {
  const text = generation === '2024' ? template.replace(/^ {4}websocket: /m, '    // websocket: ') : template;
  return text.replaceAll('jitsi-meet.example.com', domain);
}

async function write(root: string, file: string, content: string, mode = 0o644): Promise<void> {
  const target = path.join(root, file);
  await fs.mkdir(path.dirname(target), { recursive: true });
  await fs.writeFile(target, content, { mode });
  await fs.chmod(target, mode);
}

function inHost(root: string, command: string, input?: string) {
  return execa('chroot', [root, '/bin/sh', '-ec', command], { input: input ?? '', env: { PATH: '/usr/sbin:/usr/bin:/sbin:/bin' }, extendEnv: false });
}

/** The stock domain file with the placeholders replaced, as jitsi-meet-prosody's install script does. */
export function stockDomainConfig(template: string, domain: string, turnSecret: string): string {
  return template.replaceAll('jitmeet.example.com', domain).replaceAll('focusUser', 'focus').replaceAll('__turnSecret__', turnSecret);
}

export async function provisionHost(root: string, host: HostSpec, credentials: Credentials): Promise<void> {
  const { domain, address } = host;
  await fs.cp(ROOTFS_OVERLAY, root, { recursive: true });
  await fs.copyFile('/etc/resolv.conf', path.join(root, 'etc/resolv.conf')).catch(() => {});
  await write(root, 'etc/hostname', `${host.name}\n`);
  await write(root, 'etc/hosts', `127.0.0.1 localhost\n${address} ${host.name} ${domain} auth.${domain}\n`);
  const accounts = serviceAccounts(host);
  await write(
    root,
    'etc/jitsi-testbed/host.env',
    `DOMAIN=${domain}\nADDRESS=${address}\nFOCUS_PASSWORD=${host.focusPassword}\n` +
      `RECORDER_PASSWORD=${accounts.recorder.password}\nJIGASI_PASSWORD=${accounts.jigasi.password}\n`,
    0o600,
  );

  // Users: root and two sudoers, all by key; one needs its password for sudo.
  await inHost(
    root,
    [
      'groupadd --system jitsi',
      'useradd --system --gid jitsi --home-dir /usr/share/jicofo --shell /usr/sbin/nologin jicofo',
      'useradd --system --gid jitsi --home-dir /usr/share/jitsi-videobridge --shell /usr/sbin/nologin jvb',
      'useradd --create-home --shell /bin/bash --groups sudo deploy',
      'useradd --create-home --shell /bin/bash --groups sudo sysadmin',
      'chpasswd',
    ].join('\n'),
    `sysadmin:${credentials.sudoPassword}\n`,
  );
  await write(root, 'etc/sudoers.d/deploy', 'deploy ALL=(ALL:ALL) NOPASSWD: ALL\n', 0o440);
  for (const [user, home] of [['root', '/root'], ['deploy', '/home/deploy'], ['sysadmin', '/home/sysadmin']] as const) {
    await write(root, `${home}/.ssh/authorized_keys`, credentials.userPublicKey, 0o600);
    await inHost(root, `chmod 700 ${home}/.ssh && chown -R ${user}: ${home}/.ssh`);
  }

  // sshd: keys only, on this host's address only, with the bed's host key.
  for (const entry of await fs.readdir(path.join(root, 'etc/ssh'))) {
    if (entry.startsWith('ssh_host_')) await fs.rm(path.join(root, 'etc/ssh', entry));
  }
  await fs.copyFile(credentials.hostKey, path.join(root, 'etc/ssh/ssh_host_ed25519_key'));
  await fs.chmod(path.join(root, 'etc/ssh/ssh_host_ed25519_key'), 0o600);
  await fs.copyFile(`${credentials.hostKey}.pub`, path.join(root, 'etc/ssh/ssh_host_ed25519_key.pub'));
  await write(
    root,
    'etc/ssh/sshd_config.d/jitsi-testbed.conf',
    [
      `ListenAddress ${address}`,
      'HostKey /etc/ssh/ssh_host_ed25519_key',
      'PermitRootLogin prohibit-password',
      'PasswordAuthentication no',
      'KbdInteractiveAuthentication no',
      'PidFile /run/sshd.pid',
      '',
    ].join('\n'),
  );

  // Prosody: bound to this host's address only (all test hosts share one
  // network namespace), everything else as Debian ships it.
  const prosodyConfig = path.join(root, 'etc/prosody/prosody.cfg.lua');
  const bind = [
    `-- jitsi-jwt test bed: this host listens on its own loopback address only`,
    `interfaces = { "${address}" }`,
    `local_interfaces = { "${address}" }`,
    `http_interfaces = { "${address}" }`,
    `https_interfaces = { "${address}" }`,
    '',
  ].join('\n');
  await fs.writeFile(prosodyConfig, bind + (await fs.readFile(prosodyConfig, 'utf8')));
  const initScript = path.join(root, 'etc/init.d/prosody');
  let init = await fs.readFile(initScript, 'utf8');
  if (host.suite === 'bookworm' && !host.brokenProsodyInit) {
    // Debian 12's script looks for a process named lua5.2; Prosody runs as lua5.4.
    init = init.replaceAll('lua5.2', 'lua5.4');
  }
  // The same fault switch as the jicofo and videobridge stand-ins: a file
  // /etc/jitsi-testbed/fail-start-prosody (empty, or a shell condition) makes starts fail.
  const faultCheck = [
    'start_prosody () {',
    '\tfault=/etc/jitsi-testbed/fail-start-prosody',
    '\tif [ -e "$fault" ] && { [ ! -s "$fault" ] || sh "$fault" >/dev/null 2>&1; }; then echo "prosody: refusing to start ($fault)" >&2; return 1; fi',
  ].join('\n');
  if (!/^start_prosody \(\) \{$/m.test(init)) throw new Error(`${initScript} has no start_prosody function to add the fault switch to`);
  await fs.writeFile(initScript, init.replace(/^start_prosody \(\) \{$/m, faultCheck));

  const template = await fs.readFile(host.domainConfigFile ?? STOCK_DOMAIN_CONFIGS[host.generation], 'utf8');
  const turnSecret = host.focusPassword.split('').reverse().join('');
  await write(root, `etc/prosody/conf.avail/${domain}.cfg.lua`, stockDomainConfig(template, domain, turnSecret));
  await fs.symlink(`/etc/prosody/conf.avail/${domain}.cfg.lua`, path.join(root, `etc/prosody/conf.d/${domain}.cfg.lua`));

  // As jicofo's package script does (prosodyctl mod_roster_command subscribe
  // focus.<domain> focus@auth.<domain>): focus's roster lets client_proxy on
  // focus.<domain> see focus's presence from its first login on, whatever the
  // order Prosody and Jicofo start in.
  const storeDir = prosodyStoreDir;
  const roster = `/var/lib/prosody/${storeDir(`auth.${domain}`)}/roster`;
  await write(
    root,
    `${roster}/focus.dat`,
    `return {\n\t[false] = {\n\t\t["version"] = 1;\n\t\t["pending"] = {};\n\t};\n\t["focus.${domain}"] = {\n\t\t["groups"] = {};\n\t\t["subscription"] = "from";\n\t};\n};\n`,
    0o640,
  );
  await inHost(root, `chown -R prosody:prosody /var/lib/prosody/${storeDir(`auth.${domain}`)} && chmod 750 /var/lib/prosody/${storeDir(`auth.${domain}`)} ${roster}`);

  // Jibri's recorder and Jigasi's accounts, as `prosodyctl register` leaves
  // them (written directly: Prosody 13's prosodyctl needs the running server).
  for (const account of [accounts.recorder, accounts.jigasi]) {
    const hostDir = `/var/lib/prosody/${storeDir(account.host)}`;
    await write(root, `${hostDir}/accounts/${storeDir(account.user)}.dat`, internalHashedAccount(account.password, host.suite), 0o640);
    await inHost(root, `chown -R prosody:prosody ${hostDir} && chmod 750 ${hostDir} ${hostDir}/accounts`);
  }

  // The web client's config, as jitsi-meet-web-config copies it (root-owned, world-readable: nginx serves it).
  await write(root, `etc/jitsi/meet/${domain}-config.js`, stockWebConfig(await fs.readFile(STOCK_WEB_CONFIG, 'utf8'), domain, host.generation), 0o644);

  for (const name of [domain, `auth.${domain}`]) {
    const key = path.join(root, `etc/prosody/certs/${name}.key`);
    await execa('openssl', [
      'req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '3650',
      '-subj', `/CN=${name}`, '-addext', `subjectAltName=DNS:${name}`,
      '-keyout', key, '-out', path.join(root, `etc/prosody/certs/${name}.crt`),
    ]);
    await inHost(root, `chown root:prosody /etc/prosody/certs/${name}.key && chmod 640 /etc/prosody/certs/${name}.key`);
  }

  const plugins = path.join(root, PLUGIN_DIR);
  await fs.rm(plugins, { recursive: true, force: true });
  await fs.mkdir(path.dirname(plugins), { recursive: true });
  await fs.cp(host.pluginsDir ?? STANDIN_PLUGINS, plugins, { recursive: true });

  await write(root, 'etc/jitsi/jicofo/jicofo.conf', jicofoConf(host), 0o640);
  await inHost(root, 'chown root:jitsi /etc/jitsi/jicofo/jicofo.conf && mkdir -p /var/log/jitsi && chown root:jitsi /var/log/jitsi && chmod 775 /var/log/jitsi');
  await provisionSystemd(root);
}

/**
 * Units that reach outside the host or make no sense in a container on a
 * shared network namespace: masked, so a systemd host boots to "running".
 */
export const MASKED_UNITS = [
  'apt-daily.timer', 'apt-daily.service', 'apt-daily-upgrade.timer', 'apt-daily-upgrade.service',
  'systemd-timesyncd.service', 'systemd-networkd.service', 'systemd-networkd.socket', 'systemd-networkd-wait-online.service',
  'systemd-resolved.service', 'getty@.service', 'console-getty.service', 'serial-getty@.service', 'getty-static.service',
  'e2scrub_all.timer', 'e2scrub_reap.service', 'fstrim.timer', 'systemd-pstore.service', 'dpkg-db-backup.timer',
  'man-db.timer', 'logrotate.timer', 'systemd-tmpfiles-clean.timer',
];

/**
 * The services in Jitsi's layout under systemd: Debian's prosody unit, jicofo
 * from its SysV script only (the generator wraps it), the videobridge's native
 * unit; the test bed's first-boot and ready units; a volatile journal and an
 * empty machine-id, as an image has. Hosts without systemd ignore all of it.
 */
async function provisionSystemd(root: string): Promise<void> {
  await write(root, 'etc/machine-id', '', 0o444);
  await write(root, 'etc/systemd/journald.conf.d/jitsi-testbed.conf', '[Journal]\nStorage=volatile\nRuntimeMaxUse=8M\n');
  await inHost(
    root,
    [
      `for u in ${MASKED_UNITS.join(' ')}; do ln -sf /dev/null "/etc/systemd/system/$u"; done`,
      'update-rc.d jicofo defaults >/dev/null',
      'systemctl enable jitsi-videobridge2.service jitsi-testbed-firstboot.service jitsi-testbed-ready.service 2>/dev/null',
    ].join('\n'),
  );
}

/** /etc/jitsi/jicofo/jicofo.conf in the shape jicofo's package writes it. */
export function jicofoConf(host: Pick<HostSpec, 'domain' | 'address' | 'focusPassword'>): string {
  const { domain } = host;
  return `# Jicofo HOCON configuration. See reference.conf in /usr/share/jicofo/jicofo.jar for
#available options, syntax, and default values.
jicofo {
  xmpp: {
    client: {
      hostname: "${host.address}"
      client-proxy: focus.${domain}
      xmpp-domain: ${domain}
      domain: auth.${domain}
      username: focus
      password: "${host.focusPassword}"
    }
    trusted-domains: [ "recorder.${domain}" ]
  }
  bridge: {
    brewery-jid: "JvbBrewery@internal.auth.${domain}"
  }
}
`;
}
