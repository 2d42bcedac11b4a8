// Pruning the backups apply leaves on a host (facts/backups.ts names and reads
// them): after a run that wrote and succeeded, the newest N stay.
import type { Connector } from '../connector/types.js';
import { ScriptExitedError } from '../connector/errors.js';
import { BACKUP_ROOT, STAMP_GLOB } from '../facts/backups.js';
import { HostStateError, InternalError } from '../errors.js';
import { JOURNAL_FILE, clearJournalScript } from '../facts/run-journal.js';
import { STEP_TIME_LIMITS_SECONDS } from '../settings/defaults.js';
import { sh, type ShellScript } from '../shell/script.js';

/**
 * Removes all but the newest `keep` backups (by name, which is by time) of
 * those root owns, and the record of the run in progress. Only run after a
 * run that wrote succeeded, so the newest backup and the record are that
 * run's own.
 */
export function pruneScript(keep: number, root = BACKUP_ROOT, journal?: string): ShellScript {
  if (!Number.isInteger(keep) || keep < 1) throw new InternalError(`keep must be a whole number of at least 1, not ${keep}`);
  return sh`export LC_ALL=C
root=${root}
[ -d "$root" ] && [ ! -L "$root" ] || exit 0
failed=
chmod 700 "$root" || failed=yes
# The glob lists the stamps in C order: oldest first. Only root's count and go: a directory someone
# else made there under a later name is not a backup, and must not push the run's own out.
set --
for d in "$root"/${STAMP_GLOB}; do
	[ -d "$d" ] && [ ! -L "$d" ] && [ "$(stat -c %u "$d")" = 0 ] && set -- "$@" "$d"
done
while [ $# -gt ${keep} ]; do
	# A backup that could not be removed (or only in part) is not reported as removed.
	if rm -rf -- "$1"; then printf '@@removed %s\\n' "\${1##*/}"; else failed=yes; fi
	shift
done
${journal === undefined ? sh`:` : sh`${clearJournalScript(journal)} >/dev/null || failed=yes`}
echo '@@end'
[ -z "$failed" ]`;
}

/** The names of the backups a prune script removed. */
export function parsePruneOutput(stdout: string): { removed: string[]; complete: boolean } {
  const lines = stdout.split('\n');
  return {
    removed: lines.filter((l) => l.startsWith('@@removed ')).map((l) => l.slice('@@removed '.length)),
    complete: lines.includes('@@end'),
  };
}

/** Prunes a host's backups down to the newest `keep`; returns the names removed. */
export async function pruneBackups(connector: Connector, keep: number): Promise<string[]> {
  const result = await connector.run(pruneScript(keep, BACKUP_ROOT, JOURNAL_FILE), { timeoutMs: STEP_TIME_LIMITS_SECONDS.cleanup * 1000 });
  const out = parsePruneOutput(result.stdout);
  if (!out.complete) throw new ScriptExitedError(connector.label, result.code, result.stderr);
  if (result.code !== 0) throw new HostStateError(`${connector.label}: ${result.stderr.trim() || `the prune script exited with code ${result.code}`}`);
  return out.removed;
}

/** Removes the host's record of a run: the run ended with the host in a state it chose. */
export async function clearJournal(connector: Connector): Promise<void> {
  const result = await connector.run(clearJournalScript(), { timeoutMs: STEP_TIME_LIMITS_SECONDS.cleanup * 1000 });
  if (result.code !== 0) throw new ScriptExitedError(connector.label, result.code, result.stderr);
}
