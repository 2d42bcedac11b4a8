// Runs one change on many hosts, all or nothing: hosts apply in parallel (up
// to a limit); when one fails, the others stop at their next step and every
// host that already switched is put back. A new secret is delivered once every
// host passed, and a host is never left on a secret nobody received.
import type { Connector } from '../connector/types.js';
import { applyPlan, revertApply, type ApplyEvent } from '../apply/apply.js';
import { EXIT, RolledBackError, RollbackFailedError, errorInfo, type ErrorInfo } from '../errors.js';
import type { Plan } from '../plan/changes.js';
import type { HostFacts } from '../facts/probe.js';
import type { SmokeReport } from '../smoke/smoke.js';
import { fail, mapLimit, seconds, type Member } from './results.js';

export interface PlannedHost {
  connector: Connector;
  facts: HostFacts;
  plan: Plan;
}

export interface ApplyHostsOptions<Host extends PlannedHost> {
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
  /** what the host's record of the run says: the command, and whether it gives this host a new secret */
  run?: (member: Member<Host>) => { command: string; newSecret: boolean };
}

export interface ApplyHostsOutcome {
  /** the first host that failed, or the step before commit that did */
  failedAt?: string;
  commitError?: ErrorInfo;
  interrupted: boolean;
}

/** Applies every member's plan, all or nothing. Members must all be open and planned. */
export async function applyHosts<Host extends PlannedHost>(members: Member<Host>[], options: ApplyHostsOptions<Host>): Promise<ApplyHostsOutcome> {
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
        run: options.run?.(member),
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
