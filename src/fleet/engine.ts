// Runs one change on many hosts, all or nothing: every host is read and
// planned before any is touched; hosts apply in parallel (up to a limit);
// when one fails, the others stop at their next step and every host that
// already switched is put back. One SSH connection per host throughout.
import type { Connector, HeldScript } from '../connector/types.js';
import { applyPlan, revertApply, type ApplyEvent, type ApplyReport } from '../apply/apply.js';
import { InternalError, JitsiJwtError, RolledBackError, RollbackFailedError } from '../errors.js';
import type { Plan } from '../plan/plan.js';
import type { HostFacts } from '../facts/probe.js';
import type { SmokeReport } from '../smoke/smoke.js';
import { EXIT, exitCodeFor } from '../cli/exit-codes.js';
import type { HostEntry } from './inventory.js';

export type HostStatus =
  /** plan: nothing to do / changes pending */
  | 'converged'
  | 'pending'
  /** apply: nothing needed doing / switched and proven */
  | 'unchanged'
  | 'applied'
  /** apply: this host failed and was put back */
  | 'rolled-back'
  /** apply: this host had switched (or was switching) and was put back because the run failed elsewhere */
  | 'reverted'
  /** apply: not started because the run had already failed */
  | 'not-started'
  /** apply --no-rollback: the new state stays although its smoke test failed */
  | 'smoke-failed'
  /** smoke: every case behaved */
  | 'passed'
  /** anything else that went wrong (connect, read, plan, smoke, rollback) */
  | 'failed';

/** The statuses of a host that ended as asked (or, for plan, can). */
const OK_STATUSES: ReadonlySet<HostStatus> = new Set(['converged', 'pending', 'unchanged', 'applied', 'passed']);

export function isOkStatus(status: HostStatus): boolean {
  return OK_STATUSES.has(status);
}

export interface ErrorInfo {
  code: string;
  message: string;
  hint?: string;
}

export interface Timings {
  /** connect, log in, become root */
  connectSeconds?: number;
  /** take the lock, read the host */
  readSeconds?: number;
  applySeconds?: number;
  smokeSeconds?: number;
  totalSeconds: number;
  /** commands and tunnels over the host's connection after login */
  roundTrips: number;
}

export interface HostResult {
  name: string;
  target: string;
  domain?: string;
  status: HostStatus;
  exitCode: number;
  plan?: Plan;
  report?: ApplyReport;
  smoke?: SmokeReport;
  error?: ErrorInfo;
  timings: Timings;
}

/** A connector that counts its round trips. */
export interface CountedConnector extends Connector {
  readonly roundTrips: number;
}

export function countRoundTrips(inner: Connector): CountedConnector {
  let count = 0;
  return {
    get label() {
      return inner.label;
    },
    get roundTrips() {
      return count;
    },
    run(script, options) {
      count++;
      return inner.run(script, options);
    },
    hold(script): Promise<HeldScript> {
      count++;
      return inner.hold(script);
    },
    openTunnel(host, port) {
      count++;
      return inner.openTunnel(host, port);
    },
    close: () => inner.close(),
  };
}

/** An error as the output shows it; one from outside the tool's hierarchy is a bug in the tool (code internal). */
export function errorInfo(error: unknown): ErrorInfo {
  const known = error instanceof JitsiJwtError ? error : new InternalError((error as Error)?.message ?? String(error));
  return { code: known.code, message: known.message, ...(known.hint ? { hint: known.hint } : {}) };
}

/** Runs fn over items, at most `limit` at a time, results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const index = next++;
      results[index] = await fn(items[index], index);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * Worst first: a host that needs a person, an unexpected failure, a smoke
 * test that failed on a kept state, a host put back, then the refusals that
 * touched nothing, then pending changes, then success.
 */
const SEVERITY: number[] = [EXIT.rollbackFailed, EXIT.failed, EXIT.smokeFailed, EXIT.rolledBack, EXIT.connection, EXIT.hostState, EXIT.locked, EXIT.badInput, EXIT.changesPending, EXIT.ok];

export function worstExitCode(codes: number[]): number {
  let worst: number = EXIT.ok;
  const rank = (code: number) => {
    const i = SEVERITY.indexOf(code);
    return i < 0 ? 0 : i;
  };
  for (const code of codes) if (rank(code) < rank(worst)) worst = code;
  return worst;
}

/** One host of a fleet run, from its entry to its result. */
export interface Member<Host> {
  entry: HostEntry;
  result: HostResult;
  connector?: CountedConnector;
  host?: Host;
  started: number;
}

export function newMember<Host>(entry: HostEntry): Member<Host> {
  return { entry, started: performance.now(), result: { name: entry.name, target: entry.target, status: 'failed', exitCode: EXIT.ok, timings: { totalSeconds: 0, roundTrips: 0 } } };
}

export function fail<Host>(member: Member<Host>, error: unknown, status: HostStatus = 'failed'): void {
  member.result.status = status;
  member.result.error = errorInfo(error);
  member.result.exitCode = exitCodeFor(error);
}

export function finishTimings<Host>(member: Member<Host>): void {
  member.result.timings.totalSeconds = seconds(performance.now() - member.started);
  member.result.timings.roundTrips = member.connector?.roundTrips ?? 0;
}

export const seconds = (ms: number) => Math.round(ms) / 1000;

/** Connects to every host (at most `concurrency` at once) and opens each with `open`; failures land in the host's result. */
export async function openMembers<Host>(
  entries: HostEntry[],
  concurrency: number,
  connect: (entry: HostEntry) => Promise<Connector>,
  open: (connector: CountedConnector, entry: HostEntry) => Promise<Host>,
): Promise<Member<Host>[]> {
  const members = entries.map((entry) => newMember<Host>(entry));
  await mapLimit(members, concurrency, async (member) => {
    try {
      const t0 = performance.now();
      member.connector = countRoundTrips(await connect(member.entry));
      const t1 = performance.now();
      member.result.timings.connectSeconds = seconds(t1 - t0);
      member.host = await open(member.connector, member.entry);
      member.result.timings.readSeconds = seconds(performance.now() - t1);
    } catch (error) {
      fail(member, error);
    }
  });
  return members;
}

export interface PlannedHost {
  connector: Connector;
  facts: HostFacts;
  plan: Plan;
}

export interface FleetApplyOptions<Host extends PlannedHost> {
  concurrency: number;
  dpkgLockTimeoutSeconds: number;
  noRollback: boolean;
  /** the smoke test for a host, run after its restarts */
  smoke?: (member: Member<Host>) => () => Promise<SmokeReport>;
  /** Ctrl-C: stop every host at its next step and put it back */
  interrupted?: () => boolean;
  onEvent?: (member: Member<Host>, event: ApplyEvent) => void;
  /** runs once every host has switched and passed (delivering the secret); throwing puts every host back */
  beforeCommit?: () => Promise<void>;
}

export interface FleetApplyOutcome {
  /** the first host that failed, or the step before commit that did */
  failedAt?: string;
  commitError?: ErrorInfo;
  interrupted: boolean;
}

/** Applies every member's plan, all or nothing. Members must all be open and planned. */
export async function applyFleet<Host extends PlannedHost>(members: Member<Host>[], options: FleetApplyOptions<Host>): Promise<FleetApplyOutcome> {
  let failedAt: string | undefined;
  const userStop = () => options.interrupted?.() ?? false;
  // With --no-rollback a failed host keeps its new state, and so do the others.
  const stopping = () => userStop() || (failedAt !== undefined && !options.noRollback);

  await mapLimit(members, options.concurrency, async (member) => {
    const host = member.host!;
    const result = member.result;
    if (stopping()) {
      result.status = 'not-started';
      result.exitCode = userStop() ? EXIT.interrupted : EXIT.ok;
      result.error = { code: 'not-started', message: userStop() ? 'not started: interrupted' : `not started: ${failedAt} failed first; nothing was changed here` };
      return;
    }
    const t0 = performance.now();
    let smokeStarted = 0;
    try {
      const smoke = options.smoke?.(member);
      const report = await applyPlan(host.connector, host.facts, host.plan, {
        dpkgLockTimeoutSeconds: options.dpkgLockTimeoutSeconds,
        noRollback: options.noRollback,
        shouldStop: stopping,
        onEvent: (event) => {
          if (event.step === 'smoke') smokeStarted = performance.now();
          options.onEvent?.(member, event);
        },
        smoke: smoke && (async () => {
          const report = await smoke();
          result.smoke = report;
          return report;
        }),
      });
      member.result.report = report;
      if (report.smoke && !report.smoke.ok) {
        result.status = 'smoke-failed';
        result.exitCode = EXIT.smokeFailed;
        result.error = { code: 'smoke-failed', message: `the smoke test failed on ${host.connector.label}; the new state was kept (--no-rollback)` };
        failedAt ??= member.entry.name;
      } else {
        result.status = report.changed ? 'applied' : 'unchanged';
        result.exitCode = EXIT.ok;
      }
    } catch (error) {
      if (error instanceof RolledBackError && error.step === 'interrupted' && !userStop()) {
        fail(member, new RolledBackError('stopped', `put back as it was: ${failedAt} failed`), 'reverted');
      } else {
        fail(member, error, error instanceof RolledBackError ? 'rolled-back' : 'failed');
        failedAt ??= member.entry.name;
      }
    } finally {
      result.timings.applySeconds = seconds(performance.now() - t0);
      if (smokeStarted) result.timings.smokeSeconds = seconds(performance.now() - smokeStarted);
    }
  });

  // Hosts now on the new state: switched and proven, or kept although their smoke test failed (--no-rollback).
  const switched = () => members.filter((m) => (m.result.status === 'applied' || m.result.status === 'smoke-failed') && m.result.report?.changed);
  let commitError: ErrorInfo | undefined;
  let committed = false;
  // A host left on a new secret always has it delivered: after a clean run, or
  // under --no-rollback whatever failed, as long as some host keeps the new state.
  if ((failedAt === undefined && !userStop()) || (options.noRollback && switched().length > 0)) {
    try {
      await options.beforeCommit?.();
      // Delivered: from here on the new state stays, even if Ctrl-C came during the delivery.
      committed = true;
    } catch (error) {
      commitError = errorInfo(error);
      failedAt ??= 'the secret delivery';
    }
  }

  // An undelivered secret is never kept, not even under --no-rollback: nobody would have it.
  if (!committed && (commitError || (stopping() && !options.noRollback))) {
    const reason = commitError ? `put back as it was: ${commitError.message}` : userStop() ? 'interrupted' : `put back as it was: ${failedAt} failed`;
    await mapLimit(switched(), options.concurrency, async (member) => {
      const host = member.host!;
      const failedHere = member.result.status === 'smoke-failed';
      try {
        await revertApply(host.connector, host.facts, host.plan, member.result.report!, reason, (event) => options.onEvent?.(member, event));
        fail(member, new RolledBackError(userStop() && !commitError ? 'interrupted' : 'stopped', failedHere ? `the smoke test failed on ${host.connector.label}, and the new secret could not be delivered (${commitError?.message}); ${reason}` : reason), failedHere ? 'rolled-back' : 'reverted');
      } catch (error) {
        fail(member, error instanceof RollbackFailedError ? error : new RollbackFailedError(`${reason}, and putting ${host.connector.label} back failed: ${(error as Error).message}`, 'restore it from its backup by hand'));
      }
    });
  }
  return { failedAt, commitError, interrupted: userStop() && !committed };
}
