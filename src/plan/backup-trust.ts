// Which backups a restore may trust, and what it may put back. A restore
// writes what a backup holds, as root: a backup anyone but root could have
// written (or that sits in a directory anyone but root could write) is refused,
// and whatever a manifest says, only the paths this tool itself writes are ever
// put back. Pure: what the backups script read in, a refusal or nothing out.
import { BACKUP_ROOT, type BackupContents, type BackupSummary, type ManifestEntry, type PathOwnership } from '../facts/backups.js';
import { HostStateError } from '../errors.js';
import { KEY_DIR, WEB_CONFIG_DIR } from '../facts/probe.js';
import { DEBCONF_DATABASES } from './changes.js';
import { JICOFO_CONF, PURE_LUA_MODULES } from './plan.js';

const WRITABLE_BY_GROUP_OR_WORLD = 0o022;

/** Why someone other than root could have written this directory or file; undefined when only root could. */
export function notRootsAlone(what: PathOwnership, expected: 'dir' | 'file'): string | undefined {
  if (what.kind === 'missing') return 'is missing';
  if (what.kind === 'link') return 'is a symbolic link';
  if (what.kind !== expected) return `is not a ${expected === 'dir' ? 'directory' : 'regular file'}`;
  const mode = Number.parseInt(what.mode ?? '', 8);
  const owner = `owner ${what.owner ?? '?'}${what.uid === undefined ? '' : ` (uid ${what.uid})`}, mode ${what.mode ?? '?'}`;
  if (what.uid !== 0) return `is not root's (${owner})`;
  if (!Number.isInteger(mode) || (mode & WRITABLE_BY_GROUP_OR_WORLD) !== 0) return `can be written by others than root (${owner})`;
  return undefined;
}

/** Refuses a backup directory that anyone but root could have filled. A missing one holds no backups: nothing to refuse. */
export function checkBackupRoot(root: PathOwnership): void {
  if (root.kind === 'missing') return;
  const problem = notRootsAlone(root, 'dir');
  if (!problem) return;
  throw new HostStateError(
    `${BACKUP_ROOT} ${problem}: whoever can write there can plant a backup that restore would write to any file as root, so restore trusts none of them`,
    `as root, look at what is in it (ls -la ${BACKUP_ROOT}), remove whatever jitsi-jwt did not make, then: chown root:root ${BACKUP_ROOT} && chmod 700 ${BACKUP_ROOT} (the next apply or rotate-secret also makes it root's); restore refuses any backup in it that is not root's`,
  );
}

/** Why restore refuses this backup's directory; undefined when only root could have written it. */
export function backupProblem(backup: BackupSummary): string | undefined {
  const problem = notRootsAlone(backup.ownership, 'dir');
  return problem && `${backup.dir} ${problem}`;
}

const LUA_MODULE_FILES = PURE_LUA_MODULES.map((m) => `${m}.lua`).join('|');
const DOMAIN_NAME = '[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?';
/** The files this tool writes (and backs up): the domain configs, jicofo.conf, config.js, the public keys it publishes, debconf's databases. */
const MANAGED_FILES = [
  /^\/etc\/prosody\/conf\.(avail|d)\/[^/]+\.cfg\.lua$/,
  new RegExp(`^${literal(JICOFO_CONF)}$`),
  new RegExp(`^${literal(WEB_CONFIG_DIR)}/[^/]+-config\\.js$`),
  ...DEBCONF_DATABASES.map((path) => new RegExp(`^${literal(path)}$`)),
];
const KEY_FILE = new RegExp(`^${literal(KEY_DIR)}/${DOMAIN_NAME}/[0-9a-f]{64}\\.pem$`);
/** The links it makes: a pure-Lua module for Prosody's Lua, to Debian's copy for an older Lua. */
const LUA_LINK = new RegExp(`^/usr/local/share/lua/5\\.\\d+/(${LUA_MODULE_FILES})$`);
const LUA_LINK_TARGET = /^\/usr\/share\/lua\/5\.\d+\/([^/]+)$/;

function literal(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}

/**
 * What is wrong with a manifest entry: a path this tool never writes, a saved
 * copy outside the backup's own directory, a link to anything but Debian's
 * copy of the module. `domainFiles`: the domain configs Prosody reads on the
 * host now, which the tool edits wherever they are.
 */
export function unmanagedEntry(entry: ManifestEntry, backup: BackupSummary, domainFiles: readonly string[] = []): string | undefined {
  switch (entry.kind) {
    case 'file': {
      const managed = MANAGED_FILES.some((re) => re.test(entry.path)) || KEY_FILE.test(entry.path) || domainFiles.includes(entry.path);
      if (!managed) return `${entry.path}, which jitsi-jwt never writes`;
      if (!new RegExp(`^${literal(backup.dir)}/(file|debconf)-\\d+$`).test(entry.saved)) return `${entry.saved} as the copy of ${entry.path}, which is not a file of the backup itself`;
      return undefined;
    }
    case 'new':
      return KEY_FILE.test(entry.path) ? undefined : `${entry.path} as a file to remove, which is not a public key jitsi-jwt published`;
    case 'link':
      return LUA_LINK.test(entry.path) ? undefined : `${entry.path} as a link to remove, which is not a Lua link jitsi-jwt makes`;
    case 'unlink': {
      if (!LUA_LINK.test(entry.path)) return `${entry.path} as a link to make, which is not a Lua link jitsi-jwt makes`;
      const module = entry.path.slice(entry.path.lastIndexOf('/') + 1);
      return LUA_LINK_TARGET.exec(entry.target)?.[1] === module ? undefined : `a link ${entry.path} to ${entry.target}, which is not Debian's copy of ${module}`;
    }
  }
}

/**
 * Refuses, before anything is changed, a backup that someone other than root
 * could have written (its directory, the one holding it, its manifest) or
 * whose manifest names anything this tool does not manage.
 */
export function checkRestorable(contents: BackupContents, domainFiles: readonly string[] = []): void {
  checkBackupRoot(contents.root);
  const { backup } = contents;
  const dirProblem = backupProblem(backup);
  // Without a manifest a backup names nothing to put back.
  const manifestProblem = contents.manifest.kind === 'missing' ? undefined : notRootsAlone(contents.manifest, 'file');
  if (dirProblem || manifestProblem) {
    throw new HostStateError(
      `backup ${backup.id} cannot be trusted: ${dirProblem ?? `${backup.dir}/manifest ${manifestProblem}`}; someone other than root could have written what restore would write as root`,
      `if jitsi-jwt did not make it, look at what it holds and remove it as root (rm -rf ${backup.dir}); choose a backup that is root's (jitsi-jwt restore TARGET lists them)`,
    );
  }
  const unmanaged = backup.entries.map((entry) => unmanagedEntry(entry, backup, domainFiles)).filter((p): p is string => p !== undefined);
  if (unmanaged.length > 0) {
    throw new HostStateError(
      `backup ${backup.id} names what jitsi-jwt does not manage, so nothing of it is restored: ${unmanaged.join('; ')}`,
      `jitsi-jwt did not write this manifest (${backup.dir}/manifest); look at who did, remove the backup as root (rm -rf ${backup.dir}), and choose another one`,
    );
  }
}
