// jitsi-jwt apply and rotate-secret: flags in, the change engine run with
// progress, a confirmation and Ctrl-C handling, the outcome out as text or one
// JSON document.
import { SettingsError } from '../errors.js';
import { runChange, type ChangeCommand, type ChangeSettings } from '../run/change-run.js';
import { DEFAULT_DPKG_LOCK_TIMEOUT_SECONDS, DEFAULT_KEEP_BACKUPS } from '../settings/defaults.js';
import { readTokenOptions } from '../settings/settings.js';
import { hostsRequest, type FleetFlags } from './flags.js';
import { canAsk, confirm } from './prompt.js';
import { interruptibly, progressFor } from './progress.js';
import { printChangeDocument, printChangeText, renderPlans } from './run-output.js';

export interface ApplyFlags extends FleetFlags {
  yes?: boolean;
  rollback?: boolean;
  smoke?: boolean;
  dpkgLockTimeout?: number;
  keepBackups?: number;
  secretOut?: string;
  exec?: string;
  secretFrom?: string;
}

/** How the change itself runs, as apply's (and setup's) flags say. */
export function applyRunFlags(flags: ApplyFlags): Pick<ChangeSettings, 'dpkgLockTimeoutSeconds' | 'noRollback' | 'smoke' | 'keepBackups'> {
  return {
    dpkgLockTimeoutSeconds: flags.dpkgLockTimeout ?? DEFAULT_DPKG_LOCK_TIMEOUT_SECONDS,
    noRollback: flags.rollback === false,
    smoke: flags.smoke !== false,
    keepBackups: flags.keepBackups ?? DEFAULT_KEEP_BACKUPS,
  };
}

export async function changeCommand(command: ChangeCommand, targets: string[], flags: ApplyFlags): Promise<number> {
  const showSecret = Boolean(flags.showSecret);
  const json = Boolean(flags.json);
  const options = await readTokenOptions(flags);
  const hosts = await hostsRequest(command, targets, flags);
  const progress = progressFor(hosts.entries.length, json);
  const outcome = await interruptibly((interrupted) =>
    runChange(
      hosts,
      {
        command,
        options,
        secretFrom: flags.secretFrom,
        delivery: { secretOut: flags.secretOut, exec: flags.exec, showSecret },
        concurrency: hosts.concurrency,
        ...applyRunFlags(flags),
      },
      {
        interrupted,
        onEvent: (host, event) => progress.event(host, event),
        onWarning: (host, warning) => (json ? undefined : process.stderr.write(`warning: ${host}: ${warning}\n`)),
        onPlanned: (ready) => (json ? undefined : process.stdout.write(`${renderPlans(ready, showSecret)}\n`)),
        confirm: async (ready) => {
          if (flags.yes) return true;
          if (!canAsk()) {
            throw new SettingsError(`${command} changes ${ready.length === 1 ? 'a server' : 'servers'}: confirm with --yes when there is no terminal to ask on`, 'add --yes (after checking the plan, e.g. with jitsi-jwt plan)');
          }
          const go = await confirm(`Apply these changes to ${ready.length === 1 ? ready[0].host!.connector.label : `${ready.length} hosts`}?`);
          if (!go) process.stderr.write('Nothing changed.\n');
          return go;
        },
      },
    ),
  );
  progress.end(outcome.results.every((r) => !r.error || r.status === 'not-started') && !outcome.runError);
  if (json) printChangeDocument(outcome, showSecret);
  else printChangeText(outcome, { showSecret, secretOut: flags.secretOut });
  return outcome.exitCode;
}
