// plan and apply as commands: print the plan, confirm, execute with progress,
// smoke-test and report; shared with setup, which asks before it applies.
import { applyPlan, type ApplyEvent } from '../apply/apply.js';
import { isEmpty } from '../plan/plan.js';
import { prosodyHttpAddress } from '../facts/probe.js';
import { runSmoke } from '../smoke/smoke.js';
import { EXIT } from './exit-codes.js';
import { renderPlan, renderReport, styleFor, summarisePlan, maskSecrets } from './render.js';
import { readAndPlan, type CommonFlags, type Planned } from './session.js';
import { confirm } from './prompt.js';
import { Progress } from './progress.js';

function planJson(planned: Planned, showSecret: boolean) {
  const { plan } = planned;
  return {
    host: planned.connector.label,
    domain: plan.domain,
    appId: plan.appId,
    secretSource: plan.secretSource,
    ...(showSecret ? { appSecret: planned.settings.appSecret } : {}),
    converged: isEmpty(plan),
    changes: summarisePlan(plan),
    files: plan.files.map((file) => ({ path: file.path, purpose: file.purpose, diff: showSecret ? file.diff : maskSecrets(file.diff), mode: file.mode, owner: file.owner })),
    packages: plan.packages,
    links: plan.links,
    restarts: plan.restarts,
    restartReasons: plan.restartReasons,
    warnings: plan.warnings,
  };
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

export async function planCommand(target: string | undefined, flags: CommonFlags & { detailedExitcode?: boolean }): Promise<number> {
  const planned = await readAndPlan(target, flags);
  try {
    const showSecret = Boolean(flags.showSecret);
    if (flags.json) process.stdout.write(`${JSON.stringify(planJson(planned, showSecret), null, 2)}\n`);
    else process.stdout.write(`${renderPlan(planned.plan, planned.connector.label, { showSecret }, styleFor(process.stdout))}\n`);
    return flags.detailedExitcode && !isEmpty(planned.plan) ? EXIT.changesPending : EXIT.ok;
  } finally {
    await planned.release();
  }
}

export interface ApplyFlags extends CommonFlags {
  yes?: boolean;
  rollback?: boolean;
  smoke?: boolean;
  dpkgLockTimeout?: string;
}

/** Applies a plan already shown and agreed to, with progress, smoke test and report. */
export async function executePlan(planned: Planned, flags: ApplyFlags, extra: { shouldStop?: () => boolean } = {}) {
  const { plan, connector, facts, settings } = planned;
  const style = styleFor(process.stdout);
  const showSecret = Boolean(flags.showSecret);
  const httpAddress = prosodyHttpAddress(facts) ?? '127.0.0.1';
  const progress = new Progress();
  const report = await applyPlan(connector, facts, plan, {
    dpkgLockTimeoutSeconds: Number(flags.dpkgLockTimeout ?? 120),
    noRollback: flags.rollback === false,
    shouldStop: extra.shouldStop,
    onEvent: (event) => {
      const line = describeEvent(event);
      if (flags.json) return;
      if (line) progress.step(line);
      else progress.finish(true);
    },
    smoke:
      flags.smoke === false
        ? undefined
        : () =>
            runSmoke(
              { url: `http://${httpAddress}:5280/http-bind`, domain: plan.domain, openStream: () => connector.openTunnel(httpAddress, 5280) },
              { appId: settings.appId, appSecret: settings.appSecret, allowEmptyToken: settings.allowEmptyToken, roomCheck: settings.roomCheck, audience: settings.audiences?.[0], issuer: settings.issuers?.[0], moderatorFromToken: settings.moderatorFromToken },
            ),
  }).catch((error: unknown) => {
    progress.finish(false);
    throw error;
  });
  progress.finish(true);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ...planJson(planned, showSecret), applied: report }, null, 2)}\n`);
  } else {
    process.stdout.write(`\n${renderReport(report, plan, { showSecret, secret: settings.appSecret, issuer: settings.issuers?.[0], audience: settings.audiences?.[0] }, style)}\n`);
  }
  return { report, exitCode: report.smoke && !report.smoke.ok ? EXIT.smokeFailed : EXIT.ok };
}

/** Ctrl-C during apply: finish the step under way, then put the host back. */
export function interruptibly<T>(body: (shouldStop: () => boolean) => Promise<T>): Promise<T> {
  let stop = false;
  const onSignal = () => {
    if (stop) return;
    stop = true;
    process.stderr.write('\ninterrupted: finishing the current step, then putting the host back as it was\n');
  };
  process.on('SIGINT', onSignal);
  return body(() => stop).finally(() => process.off('SIGINT', onSignal));
}

export async function applyFromFlags(target: string | undefined, flags: ApplyFlags): Promise<number> {
  const planned = await readAndPlan(target, flags);
  try {
    const { plan, connector } = planned;
    if (!flags.json) process.stdout.write(`${renderPlan(plan, connector.label, { showSecret: Boolean(flags.showSecret) }, styleFor(process.stdout))}\n`);
    if (!isEmpty(plan) && !flags.yes) {
      if (!process.stdin.isTTY) {
        process.stderr.write('apply changes a server: confirm with --yes when there is no terminal to ask on\n');
        return EXIT.badInput;
      }
      if (!(await confirm(`Apply these changes to ${connector.label}?`))) {
        process.stderr.write('Nothing changed.\n');
        return EXIT.ok;
      }
    }
    return (await interruptibly((shouldStop) => executePlan(planned, flags, { shouldStop }))).exitCode;
  } finally {
    await planned.release();
  }
}

