// What a run reports per host: its status, exit code, plan, apply report,
// smoke report, error and timings; and the small pieces every run shares
// (bounded parallelism, the worst exit code of many).
import type { ApplyReport } from '../apply/apply.js';
import { EXIT, errorInfo, exitCodeFor, type ErrorInfo } from '../errors.js';
import type { Plan } from '../plan/changes.js';
import type { SmokeReport } from '../smoke/smoke.js';
import type { HostEntry } from './inventory.js';
import type { Connector, HeldScript } from '../connector/types.js';

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

/** Ends a run that stopped before changing anything: the hosts that were fine did not start. */
export function notStarted(members: Member<unknown>[], why: string): void {
  for (const m of members) {
    if (m.result.error) continue;
    m.result.status = 'not-started';
    m.result.exitCode = EXIT.ok;
    m.result.error = { code: 'not-started', message: `nothing was changed: ${why}` };
  }
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
    hold(script, options): Promise<HeldScript> {
      count++;
      return inner.hold(script, options);
    },
    openTunnel(host, port) {
      count++;
      return inner.openTunnel(host, port);
    },
    close: () => inner.close(),
  };
}
