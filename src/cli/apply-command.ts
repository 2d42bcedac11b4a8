// plan, apply and rotate-secret as commands, on one host or a fleet: read and
// plan every host, show the plans, confirm, apply all or nothing with
// progress, deliver a new secret, report (text, a table, or one JSON document).
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { applyPlan, type ApplyEvent } from '../apply/apply.js';
import { DEFAULT_KEEP_BACKUPS, pruneBackups } from '../apply/backups.js';
import type { Connector } from '../connector/types.js';
import { HostStateError, SettingsError } from '../errors.js';
import { applyFleet, errorInfo, fail, finishTimings, mapLimit, openMembers, seconds, worstExitCode, type HostResult, type Member } from '../fleet/engine.js';
import { fleetEntries, parseInventory, type HostEntry } from '../fleet/inventory.js';
import { checkSecretOut, execWithSecret, writeSecretFile } from '../fleet/secret-delivery.js';
import { sharedCredentials, type HostCredentialState, type SharedCredentials } from '../fleet/shared-credentials.js';
import { isEmpty } from '../plan/plan.js';
import { chooseDomain, currentTokenState, type CurrentTokenState } from '../plan/resolve.js';
import type { TokenOptions } from '../settings/settings.js';
import { expectationsFor, runSmoke, tunnelTarget, type SmokeReport } from '../smoke/smoke.js';
import { EXIT, exitCodeFor } from './exit-codes.js';
import { printDocument, runDocument, type SecretSummary } from './run-document.js';
import { renderBackend, renderFleetTable, renderPlan, renderReport, styleFor, writeError } from './render.js';
import { connect, lockAndRead, newSecret, planOn, readSudoPassword, tokenOptions, type CommonFlags, type OpenHost, type Planned } from './session.js';
import { confirm } from './prompt.js';
import { Progress } from './progress.js';

/** Options every command that works on several hosts takes. */
export interface FleetFlags extends CommonFlags {
  inventory?: string;
  concurrency?: number;
}

export interface ApplyFlags extends FleetFlags {
  yes?: boolean;
  rollback?: boolean;
  smoke?: boolean;
  dpkgLockTimeout?: number;
  secretOut?: string;
  exec?: string;
  secretFrom?: string;
  keepBackups?: number;
}

export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_DPKG_LOCK_TIMEOUT_SECONDS = 120;

/** The run's hosts, from TARGETs, --inventory, or --local. */
export async function resolveEntries(targets: string[], flags: FleetFlags, command: string): Promise<HostEntry[]> {
  if (flags.local) {
    if (targets.length > 0 || flags.inventory) throw new SettingsError(`--local works on this machine; it takes no target or inventory (got "${[...targets, flags.inventory].filter(Boolean).join(' ')}")`, 'drop the targets, or drop --local');
    return [{ name: 'local', target: '' }];
  }
  let inventory: HostEntry[] = [];
  if (flags.inventory) {
    let text: string;
    try {
      text = await readFile(flags.inventory, 'utf8');
    } catch (error) {
      throw new SettingsError(`cannot read the inventory ${flags.inventory}: ${(error as Error).message}`, 'give a readable YAML file with --inventory');
    }
    inventory = parseInventory(text, flags.inventory);
  }
  const entries = fleetEntries(targets, inventory);
  if (entries.length === 0) {
    throw new SettingsError('no target given', `name the server: jitsi-jwt ${command} [user@]host[:port] (or an alias from ~/.ssh/config), several of them, --inventory FILE, or --local on the server itself`);
  }
  return entries;
}

/** Each host's sudo password: its sudo_password_env, or the one line of --sudo-password-stdin. */
export async function sudoPasswordsFor(entries: HostEntry[], flags: FleetFlags): Promise<(entry: HostEntry) => string | undefined> {
  const fromStdin = await readSudoPassword(flags);
  for (const entry of entries) {
    if (entry.sudoPasswordEnv && !process.env[entry.sudoPasswordEnv]) {
      throw new SettingsError(`${entry.name}: sudo_password_env names ${entry.sudoPasswordEnv}, which is not set or empty`, `export ${entry.sudoPasswordEnv} with that host's sudo password`);
    }
    if (entry.sudo === 'password' && !entry.sudoPasswordEnv && fromStdin === undefined) {
      throw new SettingsError(`${entry.name} needs a sudo password (sudo: password in the inventory)`, 'pipe it in with --sudo-password-stdin, or name a variable with sudo_password_env');
    }
  }
  return (entry) => (entry.sudoPasswordEnv ? process.env[entry.sudoPasswordEnv] : fromStdin);
}

/** Opens every host of the run: connect, lock, read. */
export async function openFleet(entries: HostEntry[], flags: FleetFlags, concurrency: number): Promise<Member<OpenHost>[]> {
  const passwordFor = await sudoPasswordsFor(entries, flags);
  return openMembers<OpenHost>(entries, concurrency, (entry) => connectEntry(entry, flags, passwordFor(entry)), (connector) => lockAndRead(connector));
}

export function connectEntry(entry: HostEntry, flags: FleetFlags, sudoPassword: string | undefined): Promise<Connector> {
  if (flags.local) return connect(undefined, flags, { sudoPassword });
  return connect(entry.target, { ...flags, identity: entry.identity ?? flags.identity }, { sudoPassword });
}

export async function releaseAll(members: Member<{ release(): Promise<void> }>[]): Promise<void> {
  await Promise.all(members.map((m) => m.host?.release()));
}

/** Ends a run that stopped before changing anything: the hosts that were fine did not start. */
function notStartedAfter(members: Member<unknown>[], why: string): void {
  for (const m of members) {
    if (m.result.error) continue;
    m.result.status = 'not-started';
    m.result.exitCode = EXIT.ok;
    m.result.error = { code: 'not-started', message: `nothing was changed: ${why}` };
  }
}

interface Planning {
  members: Member<OpenHost>[];
  planned: Map<Member<OpenHost>, Planned>;
  shared?: SharedCredentials;
  /** a reason the run cannot go on (bad shared credentials); nothing was changed */
  runError?: unknown;
}

/** Reads each host's token state, decides the fleet's shared app_id and secret, and plans every host. */
function planFleet(members: Member<OpenHost>[], options: TokenOptions, request: { rotate: boolean; secretFrom?: string }): Planning {
  const planned = new Map<Member<OpenHost>, Planned>();
  const currents = new Map<Member<OpenHost>, CurrentTokenState>();
  const states: HostCredentialState[] = [];
  for (const m of members) {
    if (!m.host) continue;
    try {
      const chosen = chooseDomain(m.host.facts, m.entry.domain ?? options.domain);
      const current = currentTokenState(chosen);
      m.result.domain = chosen.domain;
      if (request.rotate && (!current.tokenAuth || !current.appSecret)) {
        throw new HostStateError(`${chosen.domain} on ${m.host.connector.label} does not use token authentication yet, so it has no secret to rotate`, 'run jitsi-jwt apply on it first');
      }
      currents.set(m, current);
      states.push({ name: m.entry.name, appId: current.appId, appSecret: current.appSecret });
    } catch (error) {
      fail(m, error);
    }
  }
  if (members.some((m) => m.result.error)) return { members, planned };
  let shared: SharedCredentials;
  try {
    shared = sharedCredentials(states, { appId: options.appId, appSecret: options.appSecret, secretFrom: request.secretFrom, rotate: request.rotate }, newSecret);
  } catch (error) {
    return { members, planned, runError: error };
  }
  for (const m of members) {
    const current = currents.get(m)!;
    const hostOptions: TokenOptions = {
      ...options,
      domain: m.entry.domain ?? options.domain,
      appId: shared.appId,
      appSecret: shared.source === 'generated' ? undefined : shared.appSecret,
      newSecret: shared.source === 'generated',
      // A secret the hosts already share was accepted when it was set.
      allowWeakSecret: options.allowWeakSecret || shared.source === 'kept',
      // Rotation changes the secret and nothing else.
      ...(request.rotate
        ? { allowEmptyToken: current.allowEmptyToken, roomCheck: current.roomCheck, moderatorFromToken: undefined, issuers: current.issuers, audiences: current.audiences }
        : {}),
    };
    try {
      const p = planOn(m.host!, hostOptions, () => shared.appSecret);
      if (shared.source === 'kept' && p.settings.secretSource === 'given') p.settings.secretSource = p.plan.secretSource = 'shared';
      planned.set(m, p);
      m.result.plan = p.plan;
      m.result.status = isEmpty(p.plan) ? 'converged' : 'pending';
    } catch (error) {
      fail(m, error);
    }
  }
  return { members, planned, shared };
}

function smokeFor(planned: Planned, previousSecrets: string[]): () => Promise<SmokeReport> {
  return () => runSmoke(tunnelTarget(planned.connector, planned.facts, planned.plan.domain), expectationsFor(planned.settings, previousSecrets));
}

function describeEvent(event: ApplyEvent): string | undefined {
  switch (event.step) {
    case 'install':
      return `installing ${event.packages.join(', ')}`;
    case 'write':
      return `backing up to ${event.backupDir}, writing, checking the config`;
    case 'restart':
      return `restarting ${event.services.join(', ')}`;
    case 'smoke':
      return 'smoke-testing with fresh tokens';
    case 'rollback':
      return `rolling back: ${event.reason}`;
    default:
      return undefined;
  }
}

/** Progress on stderr: spinners for one host at a terminal, "→ host: step" lines for several. */
function progressFor(count: number, json: boolean) {
  if (json) return { event: () => {}, fail: () => {}, done: () => {} };
  if (count === 1) {
    const progress = new Progress();
    return {
      event: (_name: string, event: ApplyEvent) => {
        const line = describeEvent(event);
        if (line) progress.step(line);
        else progress.finish(true);
      },
      fail: () => progress.finish(false),
      done: () => progress.finish(true),
    };
  }
  return {
    event: (name: string, event: ApplyEvent) => {
      const line = describeEvent(event) ?? (event.step === 'done' ? 'done' : undefined);
      if (line) process.stderr.write(`→ ${name}: ${line}\n`);
    },
    fail: () => {},
    done: () => {},
  };
}

function printPlans(planning: Planning, showSecret: boolean): void {
  const style = styleFor(process.stdout);
  const several = planning.planned.size > 1;
  const texts = [...planning.planned.entries()].map(([m, p]) =>
    renderPlan(p.plan, several && !p.connector.label.startsWith(m.entry.name) ? `${m.entry.name} (${p.connector.label})` : p.connector.label, { showSecret }, style),
  );
  if (texts.length > 0) process.stdout.write(`${texts.join('\n\n')}\n`);
}

/** Text output for a run that ended: the host's own lines for one host, a table for several. */
function printOutcome(results: HostResult[], runError: { message: string; hint?: string } | undefined): void {
  if (results.length > 1) {
    process.stdout.write(`\n${renderFleetTable(results, styleFor(process.stdout))}\n`);
  } else {
    const error = results[0]?.error;
    if (error && error.code !== 'not-started') writeError(error);
  }
  if (runError) writeError(runError);
}

export async function planCommand(targets: string[], flags: FleetFlags & { detailedExitcode?: boolean }): Promise<number> {
  const started = performance.now();
  const options = await tokenOptions(flags);
  const entries = await resolveEntries(targets, flags, 'plan');
  const members = await openFleet(entries, flags, flags.concurrency ?? DEFAULT_CONCURRENCY);
  try {
    const planning = planFleet(members, options, { rotate: false });
    const runError = planning.runError ? errorInfo(planning.runError) : undefined;
    members.forEach(finishTimings);
    const results = members.map((m) => m.result);
    let exitCode = worstExitCode([...results.map((r) => r.exitCode), ...(planning.runError ? [exitCodeFor(planning.runError)] : [])]);
    if (exitCode === EXIT.ok && flags.detailedExitcode && results.some((r) => r.status === 'pending')) exitCode = EXIT.changesPending;
    if (flags.json) {
      printDocument(runDocument('plan', results, { exitCode, seconds: seconds(performance.now() - started), showSecret: Boolean(flags.showSecret), appId: planning.shared?.appId, secret: secretSummary(planning.shared, Boolean(flags.showSecret)), error: runError }));
    } else {
      printPlans(planning, Boolean(flags.showSecret));
      if (results.length > 1 || results.some((r) => r.error) || runError) printOutcome(results, runError);
    }
    return exitCode;
  } finally {
    await releaseAll(members);
  }
}

function secretSummary(shared: SharedCredentials | undefined, showSecret: boolean, changed = false, delivered: string[] = []): SecretSummary | undefined {
  if (!shared) return undefined;
  return { source: shared.source, changed, delivered, ...(showSecret ? { value: shared.appSecret } : {}) };
}

/** apply and rotate-secret: every host switches, or none does. */
export async function changeCommand(command: 'apply' | 'rotate-secret', targets: string[], flags: ApplyFlags): Promise<number> {
  const started = performance.now();
  const rotate = command === 'rotate-secret';
  const showSecret = Boolean(flags.showSecret);
  const options = await tokenOptions(flags);
  const entries = await resolveEntries(targets, flags, command);
  const concurrency = flags.concurrency ?? DEFAULT_CONCURRENCY;
  const keepBackups = flags.keepBackups ?? DEFAULT_KEEP_BACKUPS;
  if (flags.secretOut) await checkSecretOut(flags.secretOut);
  if (flags.exec !== undefined && flags.exec.trim() === '') throw new SettingsError('--exec is empty', 'give a command that reads the secret on stdin, e.g. --exec "vault kv put secret/jitsi app_secret=-"');
  if (rotate && options.appSecret === undefined && !flags.secretOut && flags.exec === undefined && !showSecret) {
    throw new SettingsError(
      'the new secret would reach nobody: rotate-secret never prints it unless asked',
      'give --secret-out FILE (mode 0600), --exec CMD (gets it on stdin), or --show-secret (with --json: in the document); or choose the new secret yourself with --app-secret-file',
    );
  }

  const members = await openFleet(entries, flags, concurrency);
  let runError: { code: string; message: string; hint?: string } | undefined;
  let shared: SharedCredentials | undefined;
  let secretChanged = false;
  let ready: Member<Planned>[] = [];
  let applied = false;
  const delivered: string[] = [];
  const finish = (exitCode: number) => {
    members.forEach(finishTimings);
    const results = members.map((m) => m.result);
    if (flags.json) {
      printDocument(runDocument(command, results, { exitCode, seconds: seconds(performance.now() - started), showSecret, appId: shared?.appId, secret: secretSummary(shared, showSecret, secretChanged, delivered), error: runError }));
      return exitCode;
    }
    const style = styleFor(process.stdout);
    const first = ready[0]?.host;
    const single = results.length === 1 ? results[0] : undefined;
    if (applied && first && single && (!single.error || single.status === 'smoke-failed')) {
      const report = single.report ?? { changed: false, installed: [], restarted: [], newFindings: [] };
      process.stdout.write(`\n${renderReport(report, first.plan, { showSecret, secret: first.settings.appSecret, issuer: first.settings.issuers?.[0], audience: first.settings.audiences?.[0] }, style)}\n`);
      if (single.error) printOutcome(results, undefined);
    } else {
      printOutcome(results, undefined);
      if (applied && results.length > 1 && exitCode === EXIT.ok && first) {
        process.stdout.write(`\n${renderBackend(first.plan, { showSecret, secret: first.settings.appSecret, issuer: first.settings.issuers?.[0], audience: first.settings.audiences?.[0], where: 'each host' }, style)}\n`);
      }
    }
    if (runError) writeError(runError);
    if (delivered.length > 0) process.stdout.write(`new app_secret delivered to: ${delivered.map((d) => (d === 'secret-out' ? flags.secretOut : '--exec')).join(', ')}\n`);
    return exitCode;
  };
  try {
    const broken = () => members.filter((m) => m.result.error).map((m) => m.entry.name);
    if (broken().length > 0) {
      notStartedAfter(members, `${broken().join(', ')} could not be opened`);
      return finish(worstExitCode(members.map((m) => m.result.exitCode)));
    }
    const planning = planFleet(members, options, { rotate, secretFrom: flags.secretFrom });
    shared = planning.shared;
    if (planning.runError) {
      runError = errorInfo(planning.runError);
      notStartedAfter(members, 'the hosts cannot share one app_id and secret as asked');
      return finish(exitCodeFor(planning.runError));
    }
    if (broken().length > 0) {
      notStartedAfter(members, `${broken().join(', ')} could not be planned`);
      return finish(worstExitCode(members.map((m) => m.result.exitCode)));
    }
    ready = members.map((m) => ({ ...m, host: planning.planned.get(m)! }));
    if (!flags.json) printPlans(planning, showSecret);
    const converged = ready.every((m) => isEmpty(m.host!.plan));
    const secretWillChange = ready.some((m) => m.host!.settings.previousSecret !== m.host!.settings.appSecret);
    if (!converged && !flags.yes) {
      if (!process.stdin.isTTY) {
        runError = errorInfo(new SettingsError(`${command} changes ${ready.length === 1 ? 'a server' : 'servers'}: confirm with --yes when there is no terminal to ask on`, 'add --yes (after checking the plan, e.g. with jitsi-jwt plan)'));
        notStartedAfter(members, 'not confirmed');
        return finish(EXIT.badInput);
      }
      if (!(await confirm(`Apply these changes to ${ready.length === 1 ? ready[0].host!.connector.label : `${ready.length} hosts`}?`))) {
        process.stderr.write('Nothing changed.\n');
        notStartedAfter(members, 'not confirmed');
        return flags.json ? finish(EXIT.ok) : EXIT.ok;
      }
    }

    const deliver = async () => {
      if (secretWillChange && flags.exec !== undefined) {
        await execWithSecret(flags.exec, shared!.appSecret, { JITSI_JWT_APP_ID: shared!.appId ?? '', JITSI_JWT_HOSTS: ready.map((m) => m.entry.name).join(' ') });
        delivered.push('exec');
      }
      if (flags.secretOut && (await writeSecretFile(flags.secretOut, shared!.appSecret)) === 'written') delivered.push('secret-out');
    };

    const progress = progressFor(ready.length, Boolean(flags.json));
    const outcome = await interruptibly((interrupted) =>
      applyFleet(ready, {
        concurrency,
        dpkgLockTimeoutSeconds: flags.dpkgLockTimeout ?? DEFAULT_DPKG_LOCK_TIMEOUT_SECONDS,
        noRollback: flags.rollback === false,
        interrupted,
        smoke: flags.smoke === false ? undefined : (member) => smokeFor(member.host!, shared!.previousSecrets),
        onEvent: (member, event) => progress.event(member.entry.name, event),
        beforeCommit: deliver,
      }),
    );
    applied = true;
    secretChanged = ready.some((m) => (m.result.status === 'applied' || m.result.status === 'smoke-failed') && m.host!.settings.previousSecret !== m.host!.settings.appSecret);
    if (ready.some((m) => m.result.error && m.result.status !== 'not-started') || outcome.commitError) progress.fail();
    else progress.done();
    if (outcome.commitError) runError = outcome.commitError;
    if (!outcome.interrupted && !outcome.commitError && ready.every((m) => !m.result.error)) {
      await mapLimit(ready.filter((m) => m.result.status === 'applied' && m.result.report?.backupDir), concurrency, (m) => pruneOldBackups(m.host!, keepBackups, Boolean(flags.json)));
    }
    return finish(outcome.interrupted ? EXIT.interrupted : worstExitCode([...members.map((m) => m.result.exitCode), ...(outcome.commitError ? [EXIT.rolledBack] : [])]));
  } finally {
    await releaseAll(members);
  }
}

/**
 * After a run that succeeded and wrote: the host keeps only its newest `keep`
 * backups. Failing to remove old ones leaves the run as it is, with a warning.
 */
async function pruneOldBackups(planned: Planned, keep: number, json: boolean): Promise<void> {
  try {
    await pruneBackups(planned.connector, keep);
  } catch (error) {
    const warning = `could not remove backups beyond the newest ${keep}: ${(error as Error).message}`;
    planned.plan.warnings.push(warning);
    if (!json) process.stderr.write(`warning: ${planned.connector.label}: ${warning}\n`);
  }
}

/** Applies a plan already shown and agreed to on one host, with progress, smoke test and report (setup). */
export async function executePlan(planned: Planned, flags: ApplyFlags, extra: { shouldStop?: () => boolean } = {}) {
  const { plan, connector, facts, settings } = planned;
  const showSecret = Boolean(flags.showSecret);
  const progress = progressFor(1, false);
  const report = await applyPlan(connector, facts, plan, {
    dpkgLockTimeoutSeconds: flags.dpkgLockTimeout ?? DEFAULT_DPKG_LOCK_TIMEOUT_SECONDS,
    noRollback: flags.rollback === false,
    shouldStop: extra.shouldStop,
    onEvent: (event) => progress.event(connector.label, event),
    smoke: flags.smoke === false ? undefined : smokeFor(planned, settings.previousSecret ? [settings.previousSecret] : []),
  }).catch((error: unknown) => {
    progress.fail();
    throw error;
  });
  progress.done();
  if (report.backupDir && !(report.smoke && !report.smoke.ok)) await pruneOldBackups(planned, flags.keepBackups ?? DEFAULT_KEEP_BACKUPS, false);
  process.stdout.write(`\n${renderReport(report, plan, { showSecret, secret: settings.appSecret, issuer: settings.issuers?.[0], audience: settings.audiences?.[0] }, styleFor(process.stdout))}\n`);
  return { report, exitCode: report.smoke && !report.smoke.ok ? EXIT.smokeFailed : EXIT.ok };
}

/** Ctrl-C during apply: finish the step under way, then put the hosts back. */
export function interruptibly<T>(body: (shouldStop: () => boolean) => Promise<T>): Promise<T> {
  let stop = false;
  const onSignal = () => {
    if (stop) return;
    stop = true;
    process.stderr.write('\ninterrupted: finishing the current step, then putting the host back as it was (every host, on a fleet)\n');
  };
  process.on('SIGINT', onSignal);
  return body(() => stop).finally(() => process.off('SIGINT', onSignal));
}

