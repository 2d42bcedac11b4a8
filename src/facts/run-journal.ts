// The record a changing run keeps on the host while the host is between its
// old and its new state: which run (command, controller, pid, since when),
// which backup holds the old state, whether the run gives the host a new
// secret, and the step it reached. A controller that dies where no signal can
// be caught (SIGKILL, an OOM kill, a reboot, a lost network) leaves it behind,
// and the next plan, apply, doctor or restore finds it. It lives in a
// root-only directory that survives a reboot, is replaced whole, and is
// removed once the run ended with the host in a state it chose.
import { sh, type ShellScript } from '../shell/script.js';

/** Where the host-wide lock lives: a directory only root can write, so no local user can hold or plant it. */
export const LOCK_DIR = '/run/jitsi-jwt';
export const LOCK_FILE = `${LOCK_DIR}/lock`;
/** Who holds the lock now: "PID SINCE USER", written by each new holder. */
export const LOCK_HOLDER = `${LOCK_DIR}/holder`;

export const JOURNAL_DIR = '/var/lib/jitsi-jwt';
export const JOURNAL_FILE = `${JOURNAL_DIR}/run-in-progress`;

/** The steps a run records, in order: after `smoke` only the secret's delivery (on the controller) is left. */
export const JOURNAL_STEPS = ['write', 'restart', 'smoke'] as const;
export type JournalStep = (typeof JOURNAL_STEPS)[number];

export interface RunJournal {
  command: string;
  /** the controller's process id and host name, and the local user */
  pid: number;
  controller: string;
  user: string;
  /** when the run started writing, seconds since the epoch */
  started: number;
  backup: string;
  /** the run gives the host an app_secret it did not have: until delivered, nobody else has it */
  newSecret: boolean;
  step: JournalStep;
}

/** What the probe says about a journal: the record (if any), and whether a live run holds the host's lock right now. */
export interface JournalFacts {
  journal?: RunJournal;
  /** another run holds the lock (so the record may be that run's own, still working) */
  lockHeldByOther: boolean;
}

const oneLine = (value: string) => value.replace(/[\r\n\t]/g, ' ');

/** The record's text: one `key value` line each. */
export function journalText(journal: RunJournal): string {
  return [
    ['command', journal.command],
    ['pid', String(journal.pid)],
    ['controller', journal.controller],
    ['user', journal.user],
    ['started', String(journal.started)],
    ['backup', journal.backup],
    ['secret', journal.newSecret ? 'new' : 'same'],
    ['step', journal.step],
  ]
    .map(([key, value]) => `${key} ${oneLine(value)}\n`)
    .join('');
}

/** Shell lines that put the record in place atomically (root-only directory, temp file, rename); under `set -e` a failure stops the script. */
export function writeJournalLines(journal: RunJournal): ShellScript {
  return sh`install -d -m 700 ${JOURNAL_DIR}
# Root's alone, whoever made it: the next run trusts only a record no one else could have written.
chown 0:0 ${JOURNAL_DIR}
chmod 700 ${JOURNAL_DIR}
journal_tmp=$(mktemp ${`${JOURNAL_DIR}/.run.XXXXXX`})
printf '%s' ${journalText(journal)} > "$journal_tmp"
mv -f "$journal_tmp" ${JOURNAL_FILE}`;
}

/** A shell line that moves an existing record on to `step` (nothing when there is none); it never fails the script it is in. */
export function journalStepLine(step: JournalStep): ShellScript {
  return sh`{ if [ -f ${JOURNAL_FILE} ]; then sed ${`s/^step .*/step ${step}/`} ${JOURNAL_FILE} > ${`${JOURNAL_FILE}.new`} && mv -f ${`${JOURNAL_FILE}.new`} ${JOURNAL_FILE}; fi; } 2>/dev/null || :`;
}

/** Removes the record: the run ended with the host in a state it chose. */
export function clearJournalScript(file = JOURNAL_FILE): ShellScript {
  return sh`rm -f ${file} ${`${file}.new`} && echo '@@result journal cleared'`;
}

/**
 * The probe's section: the record, then `@@lock held|free|self`. Under the
 * lock (the probe of a changing run runs inside the lock script, which sets
 * `jitsi_jwt_holding`) the record is from an earlier run by definition. A
 * record in a directory or file others than root could have written is not
 * read: nobody but a run of this tool may make the next one restart services
 * or refuse to start.
 */
export function journalProbeLines(lockFile = LOCK_FILE): ShellScript {
  const rootOnly = (path: string) => sh`[ "$(stat -c %u ${path} 2>/dev/null)" = 0 ] && [ $((0$(stat -c %a ${path}) & 022)) = 0 ]`;
  return sh`if [ -f ${JOURNAL_FILE} ] && [ ! -L ${JOURNAL_FILE} ] && ${rootOnly(JOURNAL_DIR)} && ${rootOnly(JOURNAL_FILE)}; then cat ${JOURNAL_FILE}; fi
if [ "\${jitsi_jwt_holding:-}" = 1 ]; then echo '@@lock self'
elif [ -e ${lockFile} ] && ! flock -n -E 75 ${lockFile} true 2>/dev/null; then echo '@@lock held'
else echo '@@lock free'; fi`;
}

export function parseJournalSection(lines: string[]): JournalFacts {
  const fields = new Map<string, string>();
  let lock = 'free';
  for (const line of lines) {
    if (line.startsWith('@@lock ')) lock = line.slice(7).trim();
    else {
      const space = line.indexOf(' ');
      if (space > 0) fields.set(line.slice(0, space), line.slice(space + 1));
    }
  }
  const step = fields.get('step') as JournalStep | undefined;
  const journal =
    fields.has('command') && fields.has('backup') && step && (JOURNAL_STEPS as readonly string[]).includes(step)
      ? {
          command: fields.get('command')!,
          pid: Number(fields.get('pid')) || 0,
          controller: fields.get('controller') ?? '',
          user: fields.get('user') ?? '',
          started: Number(fields.get('started')) || 0,
          backup: fields.get('backup')!,
          newSecret: fields.get('secret') === 'new',
          step,
        }
      : undefined;
  return { ...(journal ? { journal } : {}), lockHeldByOther: lock === 'held' };
}

/** "an earlier apply (pid 4242 on ci-runner-7, by alice) was interrupted at restart on 2026-12-08 01:23:45 UTC" */
export function describeInterruption(journal: RunJournal): string {
  const when = journal.started > 0 ? ` started ${new Date(journal.started * 1000).toISOString().replace('T', ' ').replace(/\.\d+Z$/, ' UTC')}` : '';
  const who = [journal.pid ? `pid ${journal.pid}` : '', journal.controller ? `on ${journal.controller}` : '', journal.user ? `by ${journal.user}` : ''].filter(Boolean).join(' ');
  return `an earlier ${journal.command} run (${who}${when}) was interrupted at its ${journal.step} step`;
}

/** The record of an earlier run that died on the host mid-change: none while a live run holds the host's lock (the record may be its own). */
export function interruptedRun(facts: JournalFacts | undefined): RunJournal | undefined {
  return facts?.lockHeldByOther ? undefined : facts?.journal;
}
