// jitsi-jwt plan: what apply would change on each host, as diffs or one JSON
// document; changes nothing.
import { runPlan } from '../run/plan-run.js';
import { readTokenOptions } from '../settings/settings.js';
import { hostsRequest, type FleetFlags } from './flags.js';
import { printDocument, runDocument } from './run-document.js';
import { printOutcome, renderPlans, secretSummary } from './run-output.js';

export async function planCommand(targets: string[], flags: FleetFlags & { detailedExitcode?: boolean }): Promise<number> {
  const showSecret = Boolean(flags.showSecret);
  const options = await readTokenOptions(flags);
  const outcome = await runPlan(await hostsRequest('plan', targets, flags), options, { detailedExitcode: Boolean(flags.detailedExitcode) });
  const { planning, results, runError, exitCode } = outcome;
  if (flags.json) {
    printDocument(runDocument('plan', results, { exitCode, seconds: outcome.seconds, showSecret, appId: planning.shared?.appId, secret: secretSummary(planning.shared, showSecret), error: runError }));
    return exitCode;
  }
  if (planning.planned.length > 0) process.stdout.write(`${renderPlans(planning.planned, showSecret)}\n`);
  if (results.length > 1 || results.some((r) => r.error) || runError) printOutcome(results, runError);
  return exitCode;
}
