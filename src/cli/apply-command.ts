// jitsi-jwt apply, rotate-secret and rotate-key: flags in, the change engine run with
// progress, a confirmation and Ctrl-C handling, the outcome out as text or one
// JSON document.
import { SettingsError } from '../errors.js';
import { runChange, type ChangeCommand, type ChangeSettings } from '../run/change-run.js';
import { DEFAULT_DPKG_LOCK_TIMEOUT_SECONDS, DEFAULT_KEEP_BACKUPS } from '../settings/defaults.js';
import { readSigningOptions, readTokenOptions, type TokenOptions } from '../settings/settings.js';
import { readPublicKey, validateKid } from '../token/keys.js';
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
  execEnv?: string[];
  secretFrom?: string;
  addPublicKey?: string;
  retireKid?: string;
}

/** rotate-key: the key to add and the kid to retire, and nothing else about the hosts changes. */
async function rotateKeyOptions(flags: ApplyFlags): Promise<TokenOptions> {
  if (flags.addPublicKey === undefined && flags.retireKid === undefined) {
    throw new SettingsError('rotate-key needs --add-public-key FILE --kid ID, or --retire-kid ID', 'add the new key first; retire the old one once your backend signs with the new one');
  }
  if (flags.addPublicKey !== undefined && flags.kid === undefined) {
    throw new SettingsError('--add-public-key needs --kid: the key id your backend will put in tokens signed with the new key', 'e.g. --add-public-key jitsi-2027.pub --kid jitsi-2027');
  }
  const add = flags.addPublicKey !== undefined ? [{ kid: validateKid(flags.kid!), pem: await readPublicKey(flags.addPublicKey) }] : [];
  const retire = flags.retireKid !== undefined ? [validateKid(flags.retireKid, '--retire-kid')] : [];
  if (add.some((a) => retire.includes(a.kid))) throw new SettingsError(`--kid and --retire-kid both name "${retire[0]}"`, 'a new key needs a new kid');
  // --kid names the new key here, so the private keys are matched to their kids by their public halves only.
  const { privateKeys } = await readSigningOptions({ privateKey: flags.privateKey });
  return { domain: flags.domain, allowEmptyToken: false, roomCheck: true, allowWeakSecret: true, keySource: { kind: 'published-change', add, retire }, ...(privateKeys ? { privateKeys } : {}) };
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
  const options = command === 'rotate-key' ? await rotateKeyOptions(flags) : await readTokenOptions(flags);
  const hosts = await hostsRequest(command, targets, flags);
  const progress = progressFor(hosts.entries.length, json);
  const outcome = await interruptibly((interrupted) =>
    runChange(
      hosts,
      {
        command,
        options,
        secretFrom: flags.secretFrom,
        delivery: { secretOut: flags.secretOut, exec: flags.exec, execEnv: flags.execEnv, showSecret },
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
          const cutOver = ready.find((m) => m.host!.plan.keys?.cutOver)?.host!.plan.keys!.cutOver;
          const warning = cutOver ? `This is a hard cut-over to ${cutOver.to}: tokens your backend signs today are refused from the restart on. ` : '';
          const go = await confirm(`${warning}Apply these changes to ${ready.length === 1 ? ready[0].host!.connector.label : `${ready.length} hosts`}?`);
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
