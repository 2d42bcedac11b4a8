// Pruning the backups apply leaves on a host (facts/backups.ts names and reads
// them): after a run that wrote and succeeded, the newest N stay.
import type { Connector } from '../connector/types.js';
import { ScriptExitedError } from '../connector/errors.js';
import { BACKUP_ROOT, STAMP_GLOB, shQuote } from '../facts/backups.js';
import { InternalError } from '../errors.js';
import { clearJournalScript } from '../facts/run-journal.js';
import { STEP_TIME_LIMITS_SECONDS } from '../settings/defaults.js';

/**
 * Removes all but the newest `keep` backups (by name, which is by time) of
 * those root owns, and the record of the run in progress. Only run after a
 * run that wrote succeeded, so the newest backup and the record are that
 * run's own.
 */
export function pruneScript(keep: number): string {
  if (!Number.isInteger(keep) || keep < 1) throw new InternalError(`keep must be a whole number of at least 1, not ${keep}`);
  return `export LC_ALL=C
root=${shQuote(BACKUP_ROOT)}
[ -d "$root" ] && [ ! -L "$root" ] || exit 0
chmod 700 "$root"
# The glob lists the stamps in C order: oldest first. Only root's count and go: a directory someone
# else made there under a later name is not a backup, and must not push the run's own out.
set --
for d in "$root"/${STAMP_GLOB}; do
	[ -d "$d" ] && [ ! -L "$d" ] && [ "$(stat -c %u "$d")" = 0 ] && set -- "$@" "$d"
done
while [ $# -gt ${keep} ]; do
	rm -rf -- "$1"
	printf '@@removed %s\\n' "\${1##*/}"
	shift
done
${clearJournalScript()} >/dev/null
echo '@@end'`;
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
  const result = await connector.run(pruneScript(keep), { timeoutMs: STEP_TIME_LIMITS_SECONDS.cleanup * 1000 });
  const out = parsePruneOutput(result.stdout);
  if (result.code !== 0 || !out.complete) throw new ScriptExitedError(connector.label, result.code, result.stderr);
  return out.removed;
}

/** Removes the host's record of a run: the run ended with the host in a state it chose. */
export async function clearJournal(connector: Connector): Promise<void> {
  const result = await connector.run(clearJournalScript(), { timeoutMs: STEP_TIME_LIMITS_SECONDS.cleanup * 1000 });
  if (result.code !== 0) throw new ScriptExitedError(connector.label, result.code, result.stderr);
}
