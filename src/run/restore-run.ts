// restore as a run: one host's lock, its backups read (and, to put one back,
// the probe, in the same round trip); a listing, or a restore planned as an
// ordinary Plan and run by the same applyPlan as apply: a backup of the
// current state first, atomic writes, the configuration check, restarts, the
// smoke test with the restored credentials, and a rollback when any fails.
import { performance } from 'node:perf_hooks';
import { applyPlan, type ApplyEvent } from '../apply/apply.js';
import { clearJournal } from '../apply/backups.js';
import { BACKUP_ROOT, backupsScript, parseBackupsOutput, type BackupSummary, type BackupsReading } from '../facts/backups.js';
import { EXIT, ProbeFailedError, RolledBackError, SettingsError, errorInfo, exitCodeFor, type ErrorInfo } from '../errors.js';
import { parseFacts, probeScript, TOKEN_LUA_MODULES, type HostFacts } from '../facts/probe.js';
import { isEmpty } from '../plan/changes.js';
import { joinLines } from '../shell/script.js';
import { planRestore, type RestorePlanning } from '../plan/restore.js';
import { checkBackupRoot } from '../plan/backup-trust.js';
import { connectHost, takeLock, type HostsRequest } from './hosts.js';
import type { HostEntry } from './inventory.js';
import { countRoundTrips, fail, finishTimings, newMember, seconds, type CountedConnector, type HostResult } from './results.js';

export interface RestoreRequest {
  /** a backup ID or "latest"; undefined: list the backups */
  backup?: string;
  /** the Jitsi domain to prove afterwards (default: detected) */
  domain?: string;
  smoke: boolean;
}

/** What restore is about to do, for the caller to show and confirm. */
export interface RestoreProposal {
  host: string;
  backup: BackupSummary;
  planning: RestorePlanning;
  /** a smoke test proves the result (the restored config uses tokens, and it was not switched off) */
  smoke: boolean;
}

export interface RestoreCallbacks {
  /** the restore is planned and changes something: go on (true) or not (false); throw to refuse */
  confirm?(proposal: RestoreProposal): Promise<boolean>;
  /** the plan, whether or not it changes anything (shown before confirming) */
  onPlanned?(proposal: RestoreProposal): void;
  onEvent?(event: ApplyEvent): void;
  interrupted?(): boolean;
}

export interface RestoreOutcome {
  result: HostResult;
  /** all of them when listing (or when the one asked for is not there), else the one restored */
  backups: BackupSummary[];
  proposal?: RestoreProposal;
  /** the connection's label, e.g. deploy@host:22 */
  label?: string;
  exitCode: number;
  seconds: number;
  error?: ErrorInfo;
}

/**
 * The script reading the backups stopped before its end (its shell died, the
 * connection dropped): where it stopped, named by the last record it printed
 * whole. Only a backup's name or a path is shown, never the rest of the
 * output: it holds the saved configs, base64-encoded, and so old secrets.
 */
export function backupsReadError(host: string, output: string): ProbeFailedError {
  const lines = output.split('\n').slice(0, -1);
  const start = lines.indexOf('@@backups');
  let where = start < 0 ? 'before listing the backups' : 'before listing any backup';
  for (const line of start < 0 ? [] : lines.slice(start + 1)) {
    const [tag, name] = line.split('\t');
    if (tag === '@@backup') where = `after listing the backup ${name}`;
    else if (tag === '@@chosen') where = `after choosing the backup ${name}`;
    else if (tag === '@@saved') where = `after reading the backup's copy of ${name}`;
    else if (tag === '@@current') where = `after reading ${name} as it is now`;
    else if (tag === '@@link-now') where = `after reading the link ${name}`;
  }
  return new ProbeFailedError(
    `the script that reads the backups on ${host} did not run to its end (it stopped ${where})`,
    `nothing was changed; run again, and if it stops the same way, look at ${BACKUP_ROOT} as root on the host (its output is not shown: the backups hold old secrets)`,
  );
}

/** The host's lock and, in one script, what restore reads (the probe only when it plans). The caller must release(). */
async function lockAndReadBackups(connector: CountedConnector, choice: string | undefined): Promise<{ reading: BackupsReading; facts?: HostFacts; release(): Promise<void> }> {
  // The lock, and what restore reads under it, in one round trip.
  const held = await takeLock(connector, choice === undefined ? backupsScript(undefined) : joinLines([probeScript(), backupsScript(choice)]));
  const output = held.output;
  const reading = parseBackupsOutput(output);
  if (!reading) {
    await held.release().catch(() => {});
    throw backupsReadError(connector.label, output);
  }
  const facts = choice === undefined ? undefined : parseFacts(output.slice(0, output.indexOf('\n@@backups\n') + 1));
  return { reading, facts, release: () => held.release().catch(() => {}) };
}

export async function runRestore(entry: HostEntry, hosts: Omit<HostsRequest, 'entries' | 'concurrency'>, request: RestoreRequest, callbacks: RestoreCallbacks = {}): Promise<RestoreOutcome> {
  const started = performance.now();
  const member = newMember<never>(entry);
  const result = member.result;
  const outcome: RestoreOutcome = { result, backups: [], exitCode: EXIT.ok, seconds: 0 };
  const finish = (exitCode: number): RestoreOutcome => {
    finishTimings(member);
    return { ...outcome, exitCode, seconds: seconds(performance.now() - started), error: result.error };
  };
  try {
    const connector = countRoundTrips(await connectHost(entry, hosts.connection, hosts.sudoPassword(entry), hosts.questions));
    member.connector = connector;
    outcome.label = connector.label;
    result.timings.connectSeconds = seconds(performance.now() - started);
    result.target = entry.target || connector.label;
    if (!result.name) result.name = connector.label;
    let release: (() => Promise<void>) | undefined;
    try {
      const t0 = performance.now();
      const opened = await lockAndReadBackups(connector, request.backup);
      release = opened.release;
      result.timings.readSeconds = seconds(performance.now() - t0);
      const { reading } = opened;
      // What a directory others can write holds may be planted: not even listed as backups.
      checkBackupRoot(reading.root);
      if (request.backup === undefined) {
        outcome.backups = reading.backups;
        result.status = 'unchanged';
        return finish(EXIT.ok);
      }
      if (!reading.chosen) {
        outcome.backups = reading.backups;
        const ids = reading.backups.map((b) => b.id);
        throw new SettingsError(
          `${connector.label} has no backup "${request.backup}"`,
          ids.length > 0 ? `its backups, newest first: ${ids.join(', ')} (or --backup latest)` : `it has no backups in ${BACKUP_ROOT}: no run has written anything there yet`,
        );
      }
      const backup = reading.chosen.backup;
      outcome.backups = [backup];
      const facts = opened.facts!;
      const planning = planRestore(facts, reading.chosen, { domain: request.domain });
      const { plan, restored } = planning;
      const proposal: RestoreProposal = { host: connector.label, backup, planning, smoke: request.smoke && restored.tokenAuth && Boolean(restored.appId && (restored.appSecret || restored.keys.mode !== 'secret')) };
      outcome.proposal = proposal;
      result.plan = plan;
      result.domain = plan.domain;
      callbacks.onPlanned?.(proposal);
      if (isEmpty(plan)) {
        result.status = 'unchanged';
        return finish(EXIT.ok);
      }
      if (callbacks.confirm) {
        let go: boolean;
        try {
          go = await callbacks.confirm(proposal);
        } catch (error) {
          result.status = 'not-started';
          result.exitCode = exitCodeFor(error);
          result.error = errorInfo(error);
          return finish(result.exitCode);
        }
        if (!go) {
          result.status = 'not-started';
          result.error = { code: 'not-started', message: 'nothing was changed: not confirmed' };
          return finish(EXIT.ok);
        }
      }

      // Tokens signed with the secret the host has now must stop working once the backup's is back.
      const previousSecrets = planning.current?.appSecret && planning.current.appSecret !== restored.appSecret ? [planning.current.appSecret] : [];
      const smoke = proposal.smoke
        ? async () => {
            const smokeStarted = performance.now();
            const [{ expectationsFor, runSmoke, tunnelTarget }, { publicKeyExpectations }] = await Promise.all([import('../smoke/smoke.js'), import('./signers.js')]);
            // A restored config on public keys: no private key here, so the refusals are proven and admission is not.
            const publicKeys = publicKeyExpectations(restored.keys, undefined, [], undefined, connector.label);
            const report = await runSmoke(
              tunnelTarget(connector, facts, plan.domain),
              expectationsFor(
                {
                  appId: restored.appId!,
                  appSecret: restored.appSecret,
                  allowEmptyToken: restored.allowEmptyToken,
                  roomCheck: restored.roomCheck,
                  issuers: restored.issuers,
                  audiences: restored.audiences,
                  moderatorFromToken: restored.moderatorFromToken || undefined,
                },
                previousSecrets,
                undefined,
                publicKeys,
              ),
            );
            result.smoke = report;
            result.timings.smokeSeconds = seconds(performance.now() - smokeStarted);
            return report;
          }
        : undefined;
      const t1 = performance.now();
      try {
        result.report = await applyPlan(connector, facts, plan, {
          dpkgLockTimeoutSeconds: 0,
          shouldStop: callbacks.interrupted,
          smoke,
          luaModules: restored.tokenAuth ? TOKEN_LUA_MODULES : [],
          onEvent: callbacks.onEvent,
          run: { command: 'restore', newSecret: false },
        });
        // The backup is back and proven: this run's record, and that of an earlier run it undid, go.
        await clearJournal(connector);
      } finally {
        result.timings.applySeconds = seconds(performance.now() - t1);
      }
      result.status = 'applied';
      result.exitCode = EXIT.ok;
      return finish(EXIT.ok);
    } finally {
      await release?.();
      await connector.close().catch(() => {});
    }
  } catch (error) {
    fail(member, error, error instanceof RolledBackError ? 'rolled-back' : 'failed');
    return finish(result.exitCode);
  }
}
