// apply, rotate-secret and rotate-key (and setup, for its one host) as one engine: open
// every host, plan every host, let the caller confirm, change all hosts or
// none, deliver a new secret, keep the newest backups. No terminal I/O:
// progress, questions and the confirmation come in as callbacks; the outcome
// goes back as data for the caller to render.
import { performance } from 'node:perf_hooks';
import type { ApplyEvent } from '../apply/apply.js';
import { clearJournal, pruneBackups } from '../apply/backups.js';
import { EXIT, SettingsError, errorInfo, exitCodeFor, type ErrorInfo } from '../errors.js';
import { isEmpty } from '../plan/changes.js';
import type { TokenOptions } from '../settings/settings.js';
import { applyHosts } from './apply-hosts.js';
import { closeHosts, openHosts, type HostsRequest, type OpenHost } from './hosts.js';
import type { Planned, Planning } from './planning.js';
import { finishTimings, mapLimit, notStarted, seconds, worstExitCode, type HostResult, type Member } from './results.js';
import { checkExecEnv, checkSecretOut, execWithSecret, writeSecretFile } from './secret-delivery.js';
import { describeInterruption, interruptedRun } from '../facts/run-journal.js';
import type { SharedCredentials } from './shared-credentials.js';

export type ChangeCommand = 'apply' | 'rotate-secret' | 'rotate-key';

/** Where a new secret goes besides the hosts, once every host passed. */
export interface SecretDelivery {
  /** a local file, mode 0600, written atomically */
  secretOut?: string;
  /** a local command that gets the secret on stdin */
  exec?: string;
  /** variables of our environment the exec command gets besides the minimal ones */
  execEnv?: string[];
  /** the secret is shown in the output (counts as delivered) */
  showSecret: boolean;
}

export interface ChangeSettings {
  command: ChangeCommand;
  options: TokenOptions;
  secretFrom?: string;
  delivery: SecretDelivery;
  concurrency: number;
  dpkgLockTimeoutSeconds: number;
  /** keep the new state even when the smoke test fails */
  noRollback: boolean;
  smoke: boolean;
  keepBackups: number;
}

export interface ChangeCallbacks {
  /** the step a host's apply is on */
  onEvent?(host: string, event: ApplyEvent): void;
  /** Ctrl-C: stop every host at its next step and put it back */
  interrupted?(): boolean;
  /** every host planned (to show the plans), whether or not anything is to change */
  onPlanned?(ready: Member<Planned>[]): void;
  /** there are changes: go on (true), stop with nothing changed (false), or throw to refuse (e.g. no --yes without a terminal) */
  confirm?(ready: Member<Planned>[]): Promise<boolean>;
  /** something that did not stop the run, for the user to know */
  onWarning?(host: string, warning: string): void;
}

export interface ChangeOutcome {
  command: ChangeCommand;
  members: Member<OpenHost>[];
  /** every host, planned (empty when the run stopped before) */
  ready: Member<Planned>[];
  shared?: SharedCredentials;
  /** the run reached the step of changing hosts */
  applied: boolean;
  /** some host's secret changed and stayed changed */
  secretChanged: boolean;
  delivered: ('exec' | 'secret-out')[];
  /** what stopped the run as a whole (not one host's failure) */
  runError?: ErrorInfo;
  exitCode: number;
  seconds: number;
  results: HostResult[];
}

/** Refusals that need no host: checked before anything connects. */
export async function checkChange(settings: Pick<ChangeSettings, 'command' | 'options' | 'delivery'>): Promise<void> {
  const { delivery } = settings;
  if (delivery.secretOut) await checkSecretOut(delivery.secretOut);
  if (delivery.exec !== undefined && delivery.exec.trim() === '') {
    throw new SettingsError('--exec is empty', 'give a command that reads the secret on stdin, e.g. --exec "vault kv put secret/jitsi app_secret=-"');
  }
  checkExecEnv(delivery.execEnv ?? [], delivery.exec);
  if (settings.command === 'rotate-secret' && settings.options.appSecret === undefined && !delivery.secretOut && delivery.exec === undefined && !delivery.showSecret) {
    throw new SettingsError(
      'the new secret would reach nobody: rotate-secret never prints it unless asked',
      'give --secret-out FILE (mode 0600), --exec CMD (gets it on stdin), or --show-secret (with --json: in the document); or choose the new secret yourself with --app-secret-file',
    );
  }
}

/** Opens, plans, confirms and changes every host of the run; always closes them. */
export async function runChange(hosts: HostsRequest, settings: ChangeSettings, callbacks: ChangeCallbacks = {}): Promise<ChangeOutcome> {
  const started = performance.now();
  await checkChange(settings);
  // The planner (Lua parser, templates) loads while the hosts connect and are read.
  const planner = import('./planning.js');
  const members = await openHosts(hosts);
  try {
    const broken = members.filter((m) => m.result.error).map((m) => m.entry.name);
    if (broken.length > 0) {
      notStarted(members, `${broken.join(', ')} could not be opened`);
      return outcome(settings.command, members, started, {});
    }
    const { planHosts } = await planner;
    const planning = planHosts(members, settings.options, { rotate: settings.command === 'rotate-secret', keysOnly: settings.command === 'rotate-key', secretFrom: settings.secretFrom });
    return await changePlanned(planning, settings, callbacks, started);
  } finally {
    await closeHosts(members);
  }
}

/**
 * Confirms and changes hosts already open and planned (setup opens and plans
 * its one host itself, between its questions). The caller closes the hosts.
 */
export async function changePlanned(planning: Planning, settings: ChangeSettings, callbacks: ChangeCallbacks = {}, started = performance.now()): Promise<ChangeOutcome> {
  const { members, shared } = planning;
  if (planning.runError) {
    notStarted(members, 'the hosts cannot share one app_id and secret as asked');
    return outcome(settings.command, members, started, { shared, runError: errorInfo(planning.runError), exitCode: exitCodeFor(planning.runError) });
  }
  const ready = planning.ready;
  if (!ready) {
    notStarted(members, `${members.filter((m) => m.result.error).map((m) => m.entry.name).join(', ')} could not be planned`);
    return outcome(settings.command, members, started, { shared });
  }
  if ((settings.delivery.secretOut || settings.delivery.exec !== undefined) && !ready.some(onSharedSecret)) {
    const error = new SettingsError('--secret-out and --exec hand out the app secret, and these hosts verify RS256 tokens with public keys: there is none', 'drop them: your backend signs with its private key');
    notStarted(members, 'there is no secret to hand out');
    return outcome(settings.command, members, started, { shared, ready, runError: errorInfo(error), exitCode: exitCodeFor(error) });
  }
  callbacks.onPlanned?.(ready);
  const converged = ready.every((m) => isEmpty(m.host!.plan));
  if (!converged && callbacks.confirm) {
    let go: boolean;
    try {
      go = await callbacks.confirm(ready);
    } catch (error) {
      notStarted(members, 'not confirmed');
      return outcome(settings.command, members, started, { shared, ready, runError: errorInfo(error), exitCode: exitCodeFor(error) });
    }
    if (!go) {
      notStarted(members, 'not confirmed');
      return outcome(settings.command, members, started, { shared, ready, exitCode: EXIT.ok });
    }
  }

  const delivered: ChangeOutcome['delivered'] = [];
  const { delivery } = settings;
  // A run that died before handing out the secret it made for a host left a secret nobody has: this run hands it out, or does not start.
  // (A secret the user gives is one they have.)
  const secretGiven = settings.options.appSecret !== undefined;
  const undelivered = secretGiven ? [] : ready.filter((m) => onSharedSecret(m) && !secretChanges(m) && interruptedRun(m.host!.facts.runJournal)?.newSecret);
  if (undelivered.length > 0 && !delivery.secretOut && delivery.exec === undefined && !delivery.showSecret) {
    const journal = interruptedRun(undelivered[0].host!.facts.runJournal)!;
    const error = new SettingsError(
      `${describeInterruption(journal)} on ${undelivered.map((m) => m.entry.name).join(', ')}, after switching to a new app_secret that never reached anyone; keeping it would leave a secret no backend has`,
      `finish it and receive that secret with --secret-out FILE or --exec CMD, or put the previous state back with: jitsi-jwt restore ${undelivered[0].entry.target || 'TARGET'} --backup ${journal.backup.split('/').pop()}`,
    );
    notStarted(members, 'an earlier run left a secret nobody has');
    return outcome(settings.command, members, started, { shared, ready, runError: errorInfo(error), exitCode: exitCodeFor(error) });
  }
  const secretWillChange = ready.some(secretChanges) || undelivered.length > 0;
  const deliver = async () => {
    if (secretWillChange && delivery.exec !== undefined) {
      await execWithSecret(delivery.exec, shared!.appSecret, { JITSI_JWT_APP_ID: shared!.appId ?? '', JITSI_JWT_HOSTS: ready.map((m) => m.entry.name).join(' ') }, { pass: delivery.execEnv });
      delivered.push('exec');
    }
    if (delivery.secretOut && (await writeSecretFile(delivery.secretOut, shared!.appSecret)) === 'written') delivered.push('secret-out');
  };
  const applied = await applyHosts(ready, {
    concurrency: settings.concurrency,
    dpkgLockTimeoutSeconds: settings.dpkgLockTimeoutSeconds,
    noRollback: settings.noRollback,
    interrupted: callbacks.interrupted,
    smoke: settings.smoke ? (member) => smokeFor(member.host!, shared!.previousSecrets, settings.options) : undefined,
    onEvent: (member, event) => callbacks.onEvent?.(member.entry.name, event),
    beforeCommit: deliver,
    run: (member) => ({ command: settings.command, newSecret: secretChanges(member) && !secretGiven }),
  });
  const secretChanged = ready.some((m) => (m.result.status === 'applied' || m.result.status === 'smoke-failed') && secretChanges(m));
  if (!applied.interrupted && !applied.commitError && ready.every((m) => !m.result.error)) {
    // Only after a run that succeeded: the newest backup and the host's record of a run are then this run's own.
    await mapLimit(
      ready.filter((m) => m.result.status === 'applied' && (m.result.report?.backupDir || interruptedRun(m.host!.facts.runJournal))),
      settings.concurrency,
      async (m) => {
        try {
          if (m.result.report?.backupDir) await pruneBackups(m.host!.connector, settings.keepBackups);
          else await clearJournal(m.host!.connector);
        } catch (error) {
          const warning = `could not remove backups beyond the newest ${settings.keepBackups} or this run's record on the host: ${(error as Error).message}`;
          m.host!.plan.warnings.push(warning);
          callbacks.onWarning?.(m.entry.name, warning);
        }
      },
    );
  } else if (settings.noRollback) {
    // Hosts that keep their new state although the run failed: the state is chosen, not half-way.
    await mapLimit(
      ready.filter((m) => m.result.status === 'smoke-failed' && m.result.report?.backupDir),
      settings.concurrency,
      (m) => clearJournal(m.host!.connector).catch(() => undefined),
    );
  }
  const exitCode = applied.interrupted ? EXIT.interrupted : worstExitCode([...members.map((m) => m.result.exitCode), ...(applied.commitError ? [EXIT.rolledBack] : [])]);
  return outcome(settings.command, members, started, { shared, ready, applied: true, secretChanged, delivered, runError: applied.commitError, exitCode });
}

/** A host that verifies tokens with the shared secret once planned (hosts on public keys hold none). */
function onSharedSecret(m: Member<Planned>): boolean {
  return m.host!.settings.keys.mode === 'secret';
}

/** A host whose shared secret the run changes. */
function secretChanges(m: Member<Planned>): boolean {
  return onSharedSecret(m) && m.host!.settings.previousSecret !== m.host!.settings.appSecret;
}

function smokeFor(planned: Planned, previousSecrets: string[], options: TokenOptions) {
  return async () => {
    // The XMPP client and the token signer are loaded by the runs that smoke-test.
    const [{ expectationsFor, runSmoke, tunnelTarget }, { HostAccounts }, { accessAfterPlan }, { publicKeyExpectations }] = await Promise.all([
      import('../smoke/smoke.js'), import('../smoke/accounts.js'), import('../plan/access.js'), import('./signers.js'),
    ]);
    const { settings } = planned;
    const publicKeys = publicKeyExpectations(settings.keys, settings.previousKeys, options.privateKeys ?? [], options.signingKid, planned.connector.label);
    // Secrets the host had before a switch to public keys: tokens signed with them must be refused now.
    const before = settings.keys.mode !== 'secret' && settings.previousSecret ? [settings.previousSecret] : previousSecrets;
    return runSmoke(
      tunnelTarget(planned.connector, planned.facts, planned.plan.domain),
      expectationsFor(settings, before, accessAfterPlan(planned.facts, planned.plan), publicKeys),
      { accounts: new HostAccounts(planned.connector) },
    );
  };
}

function outcome(command: ChangeCommand, members: Member<OpenHost>[], started: number, fields: Partial<Omit<ChangeOutcome, 'command' | 'members' | 'seconds' | 'results'>>): ChangeOutcome {
  members.forEach(finishTimings);
  return {
    command,
    members,
    ready: [],
    applied: false,
    secretChanged: false,
    delivered: [],
    exitCode: worstExitCode(members.map((m) => m.result.exitCode)),
    ...fields,
    seconds: seconds(performance.now() - started),
    results: members.map((m) => m.result),
  };
}
