// The one JSON document --json prints, for every command that works on hosts
// (plan, apply, rotate-secret, rotate-key, smoke, setup without a terminal; restore adds its
// hosts' `backups`, cli/restore-command.ts). Its schema is
// schema/run.schema.json, documented in the README. Secrets appear only under
// --show-secret.
import { isOkStatus, type HostResult } from '../run/results.js';
import { summarisePlan } from './render.js';
import { shownDiff } from './secret-mask.js';

export const DOCUMENT_VERSION = 1;

export interface SecretSummary {
  source: 'kept' | 'given' | 'generated';
  /** some host's secret changed in this run */
  changed: boolean;
  /** where the new secret went: "secret-out", "exec" */
  delivered: string[];
  value?: string;
}

export interface RunDocument {
  version: number;
  command: string;
  ok: boolean;
  exitCode: number;
  seconds: number;
  appId: string | null;
  secret: SecretSummary | null;
  hosts: ReturnType<typeof hostDocument>[];
  error: { code: string; message: string; hint?: string } | null;
}

/** One host's part of the document; `secrets` are hidden wherever they appear in its diffs (besides those its files hold). */
export function hostDocument(result: HostResult, showSecret: boolean, secrets: readonly string[] = []) {
  const plan = result.plan;
  const report = result.report;
  return {
    name: result.name,
    target: result.target,
    domain: result.domain ?? plan?.domain ?? null,
    status: result.status,
    ok: isOkStatus(result.status),
    exitCode: result.exitCode,
    changes: plan ? summarisePlan(plan) : [],
    files: plan
      ? plan.files.map((file) => ({
          path: file.path,
          purpose: file.purpose,
          diff: shownDiff(plan, file, { showSecret, secrets }),
          mode: file.mode ?? null,
          owner: file.owner ?? null,
        }))
      : [],
    packages: plan?.packages ?? [],
    restarts: plan?.restarts ?? [],
    restartReasons: plan?.restartReasons ?? [],
    warnings: plan?.warnings ?? [],
    access: plan?.access ? { withoutToken: plan.access.identities, guests: plan.access.guests } : null,
    keys: plan?.keys ?? null,
    applied: report ? { changed: report.changed, installed: report.installed, backupDir: report.backupDir ?? null, restarted: report.restarted } : null,
    smoke: result.smoke
      ? {
          ok: result.smoke.ok,
          seconds: result.smoke.seconds,
          cases: result.smoke.cases,
          ...(result.smoke.unproven ? { unproven: result.smoke.unproven } : {}),
          ...(result.smoke.leftovers ? { leftovers: result.smoke.leftovers } : {}),
        }
      : null,
    timings: {
      connectSeconds: result.timings.connectSeconds ?? null,
      readSeconds: result.timings.readSeconds ?? null,
      applySeconds: result.timings.applySeconds ?? null,
      smokeSeconds: result.timings.smokeSeconds ?? null,
      totalSeconds: result.timings.totalSeconds,
      roundTrips: result.timings.roundTrips,
    },
    error: result.error ? { code: result.error.code, message: result.error.message, ...(result.error.hint ? { hint: result.error.hint } : {}) } : null,
  };
}

export function runDocument(
  command: string,
  results: HostResult[],
  run: { exitCode: number; seconds: number; showSecret: boolean; appId?: string; secret?: SecretSummary; error?: { code: string; message: string; hint?: string } },
): RunDocument {
  const secret = run.secret ? { ...run.secret } : null;
  if (secret && !run.showSecret) delete secret.value;
  return {
    version: DOCUMENT_VERSION,
    command,
    ok: run.exitCode === 0,
    exitCode: run.exitCode,
    seconds: run.seconds,
    appId: run.appId ?? null,
    secret,
    hosts: results.map((result) => hostDocument(result, run.showSecret, run.secret?.value ? [run.secret.value] : [])),
    error: run.error ?? null,
  };
}

export function printDocument(document: RunDocument): void {
  process.stdout.write(`${JSON.stringify(document, null, 2)}\n`);
}
