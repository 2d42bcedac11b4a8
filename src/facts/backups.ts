// The backups apply leaves on a host, one directory per run that wrote:
// /var/backups/jitsi-jwt/<stamp>/ with a manifest of what the run changed and
// the saved copies. Here: how they are named, the script that reads them, and
// the pure parsers of what it prints. The directories hold old secrets: they
// stay root-only, and only directories named like the tool's own stamps are
// ever listed or removed. Who owns them is read too, since a restore writes
// what a backup holds as root (plan/backup-trust.ts decides what to trust).
import { InternalError } from '../errors.js';
import { raw, sh, type ShellScript } from '../shell/script.js';

export const BACKUP_ROOT = '/var/backups/jitsi-jwt';

/** A backup's name: when its run started, ISO 8601 in UTC with ':' and '.' made '-', so names sort by time. */
const STAMP = /^(\d{4}-\d{2}-\d{2})T(\d{2})-(\d{2})-(\d{2})-(\d{3})Z$/;
export const STAMP_GLOB = raw('[0-9][0-9][0-9][0-9]-[0-9][0-9]-[0-9][0-9]T[0-9][0-9]-[0-9][0-9]-[0-9][0-9]-[0-9][0-9][0-9]Z');

export function backupStamp(date: Date): string {
  return date.toISOString().replace(/[:.]/g, '-');
}

export function isBackupId(text: string): boolean {
  return STAMP.test(text);
}

/** When a backup's run started, as ISO 8601 (its name with the punctuation put back). */
export function backupTime(id: string): string {
  const m = STAMP.exec(id);
  if (!m) throw new InternalError(`not a backup name: ${id}`);
  return `${m[1]}T${m[2]}:${m[3]}:${m[4]}.${m[5]}Z`;
}

/** What to read besides the list: nothing, the newest backup, or the one with this name. */
export type BackupChoice = undefined | 'latest' | string;

/**
 * Lists the backups with their manifests and, for the chosen one, the saved
 * copies and the current state of every path it names (file contents
 * base64-encoded, as the probe does), with who owns the directories and the
 * chosen manifest. Only reads. `root` is BACKUP_ROOT but in unit tests.
 */
export function backupsScript(choice: BackupChoice, root = BACKUP_ROOT): ShellScript {
  // Anything but "latest" or a stamp cannot name a backup: choose nothing, and the caller lists what there is.
  const wanted = choice === 'latest' || (choice !== undefined && isBackupId(choice)) ? choice : '';
  return sh`export LC_ALL=C
echo '@@backups'
root=${root}
tab=$(printf '\\t')
chosen=
wanted=${wanted}
owned() { # $1 path: what is there (links not followed), and for a directory or file its mode, owner's uid and name
	if [ -L "$1" ]; then printf link
	elif [ -d "$1" ]; then printf 'dir\\t%s' "$(stat --printf '%a\\t%u\\t%U' "$1")"
	elif [ -f "$1" ]; then printf 'file\\t%s' "$(stat --printf '%a\\t%u\\t%U' "$1")"
	elif [ -e "$1" ]; then printf other
	else printf missing
	fi
}
printf '@@root\\t%s\\n' "$(owned "$root")"
for d in "$root"/${STAMP_GLOB}; do
	[ -d "$d" ] && [ ! -L "$d" ] || continue
	printf '@@backup\\t%s\\t%s\\n' "\${d##*/}" "$(owned "$d")"
	[ -f "$d/manifest" ] && while IFS= read -r line; do printf '@@entry\\t%s\\n' "$line"; done < "$d/manifest"
	case "$wanted" in latest|"\${d##*/}") chosen=\${d##*/} ;; esac
done
copy() { # $1 tag, $2 the path it stands for, $3 the file to read: mode, owner, group and content, or nothing when missing
	# One that cannot be read counts as missing (restore then refuses it), never as an empty file.
	if [ -f "$3" ] && meta=$(stat -L --printf '%a\\t%U\\t%G' "$3") && content=$(base64 -w0 "$3"); then
		printf '@@%s\\t%s\\t%s\\t%s\\n' "$1" "$2" "$meta" "$content"
	else
		printf '@@%s\\t%s\\n' "$1" "$2"
	fi
}
if [ -n "$chosen" ]; then
	printf '@@chosen\\t%s\\n' "$chosen"
	printf '@@manifest\\t%s\\n' "$(owned "$root/$chosen/manifest")"
	[ -f "$root/$chosen/manifest" ] && while IFS="$tab" read -r kind path saved; do
		case "$kind:$path" in
		# debconf's databases (every package's answers, passwords too) are not read back: restore sets the answers it keeps in step itself.
		file:/var/cache/debconf/*) ;;
		file:*) copy saved "$path" "$saved"; copy current "$path" "$path" ;;
		new:*) copy current "$path" "$path" ;;
		link:* | unlink:*)
			if [ -L "$path" ]; then printf '@@link-now\\t%s\\tlink\\t%s\\n' "$path" "$(readlink "$path")"
			elif [ -e "$path" ]; then printf '@@link-now\\t%s\\tother\\n' "$path"
			else printf '@@link-now\\t%s\\tmissing\\n' "$path"
			fi ;;
		esac
	done < "$root/$chosen/manifest"
fi
echo '@@end'`;
}

/** One line of a backup's manifest: how to undo one step of the run that made it. */
export type ManifestEntry =
  /** the run replaced this file; `saved` is the copy of what it was */
  | { kind: 'file'; path: string; saved: string }
  /** the run made this link */
  | { kind: 'link'; path: string }
  /** the run removed (or replaced) this link, which pointed to `target` */
  | { kind: 'unlink'; path: string; target: string }
  /** the run made this file (a public key it published) */
  | { kind: 'new'; path: string };

export function parseManifest(lines: string[]): ManifestEntry[] {
  const entries: ManifestEntry[] = [];
  for (const line of lines) {
    const [kind, path, third] = line.split('\t');
    if (!path) continue;
    if (kind === 'file' && third) entries.push({ kind, path, saved: third });
    else if (kind === 'link' || kind === 'new') entries.push({ kind, path });
    else if (kind === 'unlink' && third) entries.push({ kind, path, target: third });
  }
  return entries;
}

/** What is at a path and who may change it, as the backups script read it (a link is not followed). */
export interface PathOwnership {
  kind: 'dir' | 'file' | 'link' | 'other' | 'missing';
  /** octal permission bits, e.g. "700" (a directory or file) */
  mode?: string;
  uid?: number;
  /** the owner's name ("UNKNOWN" when the uid has none) */
  owner?: string;
}

export interface BackupSummary {
  /** the directory's name */
  id: string;
  dir: string;
  /** the directory's owner and mode */
  ownership: PathOwnership;
  /** when its run started (ISO 8601) */
  createdAt: string;
  /** files the run replaced; the backup holds what they were */
  files: string[];
  /** links the run made (a restore removes them) */
  links: string[];
  /** links the run removed (a restore puts them back) */
  removedLinks: string[];
  entries: ManifestEntry[];
}

/** A file as the backups script read it. */
export interface FileCopy {
  mode: string;
  owner: string;
  group: string;
  /** undefined: not UTF-8 text (this tool only writes text) */
  text?: string;
}

export type LinkState = { kind: 'link'; target: string } | { kind: 'other' } | { kind: 'missing' };

/** The chosen backup, and what the host has now at every path it names. */
export interface BackupContents {
  /** the directory all backups are in */
  root: PathOwnership;
  backup: BackupSummary;
  manifest: PathOwnership;
  /** saved copies by the path they stand for; undefined: the copy is missing */
  saved: Map<string, FileCopy | undefined>;
  /** the files as they are now; undefined: no longer there */
  current: Map<string, FileCopy | undefined>;
  links: Map<string, LinkState>;
}

export interface BackupsReading {
  /** the directory all backups are in */
  root: PathOwnership;
  /** newest first */
  backups: BackupSummary[];
  chosen?: BackupContents;
}

export function summariseBackup(id: string, entries: ManifestEntry[], ownership: PathOwnership): BackupSummary {
  const paths = (kind: ManifestEntry['kind']) => [...new Set(entries.filter((e) => e.kind === kind).map((e) => e.path))];
  return { id, dir: `${BACKUP_ROOT}/${id}`, ownership, createdAt: backupTime(id), files: paths('file'), links: paths('link'), removedLinks: paths('unlink'), entries };
}

const KINDS: readonly PathOwnership['kind'][] = ['dir', 'file', 'link', 'other', 'missing'];

/** What owned() printed: `KIND` or `KIND<TAB>MODE<TAB>UID<TAB>NAME`; nothing at all reads as missing. */
function pathOwnership(fields: string[]): PathOwnership {
  const [kind, mode, uid, owner] = fields;
  if (!KINDS.includes(kind as PathOwnership['kind'])) return { kind: 'missing' };
  if (mode === undefined || !/^\d+$/.test(uid ?? '')) return { kind: kind as PathOwnership['kind'] };
  return { kind: kind as PathOwnership['kind'], mode, uid: Number(uid), owner };
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

function fileCopy(fields: string[]): FileCopy | undefined {
  const [mode, owner, group, content] = fields;
  if (mode === undefined || group === undefined) return undefined;
  let text: string | undefined;
  try {
    text = utf8.decode(Buffer.from(content ?? '', 'base64'));
  } catch {
    text = undefined;
  }
  return { mode, owner, group, text };
}

/** Reads what backupsScript printed; undefined when it did not run to its end. */
export function parseBackupsOutput(stdout: string): BackupsReading | undefined {
  const lines = stdout.split('\n');
  const start = lines.indexOf('@@backups');
  if (start < 0 || !lines.slice(start).includes('@@end')) return undefined;
  const manifests = new Map<string, string[]>();
  const ownerships = new Map<string, PathOwnership>();
  let root: PathOwnership = { kind: 'missing' };
  let manifest: PathOwnership = { kind: 'missing' };
  let current: string[] | undefined;
  let chosenId: string | undefined;
  const saved = new Map<string, FileCopy | undefined>();
  const now = new Map<string, FileCopy | undefined>();
  const links = new Map<string, LinkState>();
  for (const line of lines.slice(start + 1)) {
    if (line === '@@end') break;
    const [tag, ...fields] = line.split('\t');
    switch (tag) {
      case '@@root':
        root = pathOwnership(fields);
        break;
      case '@@backup':
        if (!isBackupId(fields[0] ?? '')) {
          current = undefined;
          break;
        }
        current = [];
        manifests.set(fields[0], current);
        ownerships.set(fields[0], pathOwnership(fields.slice(1)));
        break;
      case '@@manifest':
        manifest = pathOwnership(fields);
        break;
      case '@@entry':
        current?.push(fields.join('\t'));
        break;
      case '@@chosen':
        chosenId = fields[0];
        break;
      case '@@saved':
        saved.set(fields[0], fileCopy(fields.slice(1)));
        break;
      case '@@current':
        now.set(fields[0], fileCopy(fields.slice(1)));
        break;
      case '@@link-now':
        links.set(fields[0], fields[1] === 'link' ? { kind: 'link', target: fields[2] ?? '' } : fields[1] === 'other' ? { kind: 'other' } : { kind: 'missing' });
        break;
    }
  }
  const backups = [...manifests.entries()]
    .map(([id, lines]) => summariseBackup(id, parseManifest(lines), ownerships.get(id) ?? { kind: 'missing' }))
    .sort((a, b) => (a.id < b.id ? 1 : a.id > b.id ? -1 : 0));
  const chosen = backups.find((b) => b.id === chosenId);
  return { root, backups, ...(chosen ? { chosen: { root, backup: chosen, manifest, saved, current: now, links } } : {}) };
}

/** The backup a --backup value names: its name, its directory's path, or "latest". */
export function normaliseBackupChoice(text: string): BackupChoice {
  const trimmed = text.trim().replace(/\/+$/, '');
  return trimmed.startsWith(`${BACKUP_ROOT}/`) ? trimmed.slice(BACKUP_ROOT.length + 1) : trimmed;
}
