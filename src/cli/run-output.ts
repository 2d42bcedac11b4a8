// Text output of plan, apply, rotate-secret and rotate-key outcomes: the plans as diffs,
// the report of one host, a table for several, and the errors that stopped
// the run. (--json goes through run-document.ts instead.)
import type { ChangeOutcome } from '../run/change-run.js';
import type { Planned } from '../run/planning.js';
import type { HostResult, Member } from '../run/results.js';
import type { SharedCredentials } from '../run/shared-credentials.js';
import { printDocument, runDocument, type SecretSummary } from './run-document.js';
import { renderBackend, renderFleetTable, renderPlan, renderReport, styleFor, writeError } from './render.js';

/** Each planned host's plan, with its name where several hosts are shown. */
export function renderPlans(ready: Member<Planned>[], showSecret: boolean): string {
  const style = styleFor(process.stdout);
  const several = ready.length > 1;
  return ready
    .map((m) => {
      const { connector, plan } = m.host!;
      const label = several && !connector.label.startsWith(m.entry.name) ? `${m.entry.name} (${connector.label})` : connector.label;
      return renderPlan(plan, label, { showSecret }, style);
    })
    .join('\n\n');
}

/** The end of a run in text: the host's own error for one host, a table for several, then what stopped the run. */
export function printOutcome(results: HostResult[], runError: { message: string; hint?: string } | undefined): void {
  if (results.length > 1) {
    process.stdout.write(`\n${renderFleetTable(results, styleFor(process.stdout))}\n`);
  } else {
    const error = results[0]?.error;
    if (error && error.code !== 'not-started') writeError(error);
  }
  if (runError) writeError(runError);
}

export function secretSummary(shared: SharedCredentials | undefined, showSecret: boolean, changed = false, delivered: string[] = []): SecretSummary | undefined {
  if (!shared) return undefined;
  return { source: shared.source, changed, delivered, ...(showSecret ? { value: shared.appSecret } : {}) };
}

/** A change's outcome as the one JSON document. */
export function printChangeDocument(outcome: ChangeOutcome, showSecret: boolean, command: string = outcome.command): void {
  printDocument(
    runDocument(command, outcome.results, {
      exitCode: outcome.exitCode,
      seconds: outcome.seconds,
      showSecret,
      appId: outcome.shared?.appId,
      secret: secretSummary(outcome.shared, showSecret, outcome.secretChanged, outcome.delivered),
      error: outcome.runError,
    }),
  );
}

/** A change's outcome in text: the report of one host (with what a backend needs), or the table of several. */
export function printChangeText(outcome: ChangeOutcome, options: { showSecret: boolean; secretOut?: string }): void {
  const { results, applied, runError, exitCode } = outcome;
  const style = styleFor(process.stdout);
  const first = outcome.ready[0]?.host;
  const single = results.length === 1 ? results[0] : undefined;
  const backend = first && { showSecret: options.showSecret, secret: first.settings.appSecret, issuer: first.settings.issuers?.[0], audience: first.settings.audiences?.[0] };
  if (applied && first && backend && single && (!single.error || single.status === 'smoke-failed')) {
    const report = single.report ?? { changed: false, installed: [], restarted: [], newFindings: [] };
    process.stdout.write(`\n${renderReport(report, first.plan, backend, style)}\n`);
    if (single.error) printOutcome(results, undefined);
  } else {
    printOutcome(results, undefined);
    if (applied && results.length > 1 && exitCode === 0 && first && backend) {
      process.stdout.write(`\n${renderBackend(first.plan, { ...backend, where: 'each host' }, style)}\n`);
    }
  }
  if (runError) writeError(runError);
  if (outcome.delivered.length > 0) process.stdout.write(`new app_secret delivered to: ${outcome.delivered.map((d) => (d === 'secret-out' ? options.secretOut : '--exec')).join(', ')}\n`);
}
