// Runs a plan on a host: install, back up, write atomically, validate, restart
// and confirm, smoke-test; on any failure after the first write, put the host
// back as it was. Every step is one round trip on the run's single connection.
import os from 'node:os';
import type { Connector } from '../connector/types.js';
import type { HostFacts } from '../facts/probe.js';
import { TOKEN_LUA_MODULES } from '../facts/probe.js';
import type { ServiceName } from '../facts/services.js';
import { PackageInstallError, RollbackFailedError, RolledBackError } from '../errors.js';
import type { SmokeReport } from '../smoke/smoke.js';
import { isEmpty, type Plan } from '../plan/changes.js';
import { BACKUP_ROOT, backupStamp } from '../facts/backups.js';
import { clearJournalScript } from '../facts/run-journal.js';
import { STEP_TIME_LIMITS_SECONDS } from '../settings/defaults.js';

/** The exit code of a remote step stopped at its time limit (as timeout(1) reports it). */
const TIMED_OUT = 124;
import { installScript, parseScriptOutput, restartScript, restoreScript, writeScript } from './scripts.js';

export type ApplyEvent =
  | { step: 'install'; packages: string[] }
  | { step: 'write'; backupDir: string }
  | { step: 'restart'; services: ServiceName[] }
  /** the restarts were confirmed, each with how long it took */
  | { step: 'restarted'; restarted: ApplyReport['restarted'] }
  | { step: 'smoke' }
  | { step: 'rollback'; reason: string }
  | { step: 'done' };

export interface ApplyOptions {
  dpkgLockTimeoutSeconds: number;
  /** runs after the restarts; a failing report rolls the host back unless noRollback */
  smoke?: () => Promise<SmokeReport>;
  noRollback?: boolean;
  /** asked between steps (Ctrl-C): true stops there and puts the host back */
  shouldStop?: () => boolean;
  onEvent?: (event: ApplyEvent) => void;
  now?: Date;
  /** Lua modules that must load under Prosody's Lua after the write (default: the token plugins'; a restore to a config without tokens needs none) */
  luaModules?: readonly string[];
  /** the run, for the record kept on the host from the first write until the run ends (see facts/run-journal.ts) */
  run?: { command: string; newSecret: boolean };
}

export interface ApplyReport {
  changed: boolean;
  installed: string[];
  backupDir?: string;
  /** each service restarted, how, and how long it took to run on new processes (Prosody: until it listened again) */
  restarted: { service: ServiceName; how: string; seconds?: number }[];
  smoke?: SmokeReport;
  /** configuration check findings the change introduced (always empty on success) */
  newFindings: string[];
}

/**
 * Lines `prosodyctl check config` prints after the change beyond those it
 * printed before. Positions (`file.cfg.lua:75:`) are left out of the
 * comparison, since lines the change inserts renumber every finding below
 * them, and findings are counted: a warning already there does not block, a
 * second copy of it (the change duplicated an option) does.
 */
export function introducedFindings(before: string[], after: string[]): string[] {
  const key = (line: string) => line.trim().replace(/^startup\s+warn\s+/, '').replace(/(\.lua):\d+:/g, '$1:');
  const counts = new Map<string, number>();
  for (const line of before) counts.set(key(line), (counts.get(key(line)) ?? 0) + 1);
  const introduced: string[] = [];
  for (const line of after) {
    const k = key(line);
    if (k === '' || /^(All checks passed|Done\.?)/i.test(k)) continue;
    const left = counts.get(k) ?? 0;
    if (left > 0) counts.set(k, left - 1);
    else introduced.push(line.trim());
  }
  return introduced;
}

export async function applyPlan(connector: Connector, facts: HostFacts, plan: Plan, options: ApplyOptions): Promise<ApplyReport> {
  const emit = options.onEvent ?? (() => {});
  const report: ApplyReport = { changed: false, installed: [], restarted: [], newFindings: [] };
  if (isEmpty(plan)) return report;
  report.changed = true;

  if (plan.packages.length > 0) {
    emit({ step: 'install', packages: plan.packages });
    const result = await connector.run(installScript(plan.packages, options.dpkgLockTimeoutSeconds), { timeoutMs: (options.dpkgLockTimeoutSeconds + 600) * 1000 });
    const out = parseScriptOutput(result.stdout);
    if (result.code !== 0) {
      if (out.results.get('dpkg-lock') === 'held') {
        throw new PackageInstallError(
          `the dpkg lock on ${connector.label} stayed held for ${options.dpkgLockTimeoutSeconds} s (another apt or unattended-upgrades is running); nothing was changed`,
          'wait for the other package run to finish (or raise --dpkg-lock-timeout), then run again',
        );
      }
      throw new PackageInstallError(`apt-get could not install ${plan.packages.join(' ')} on ${connector.label}; nothing else was changed:\n${result.stderr.trim()}`, 'check the host can reach its Debian mirror (apt-get update), then run again');
    }
    report.installed = plan.packages;
  }

  const interrupted = () => new RolledBackError('interrupted', `interrupted on ${connector.label}; the host is back as it was`);
  if (options.shouldStop?.()) throw new RolledBackError('interrupted', `interrupted on ${connector.label} before anything but packages changed; nothing else was touched`);

  const backupDir = `${BACKUP_ROOT}/${backupStamp(options.now ?? new Date())}`;
  const touchesFiles = plan.files.length > 0 || plan.links.length > 0 || (plan.unlinks ?? []).length > 0 || plan.debconf !== undefined;
  if (touchesFiles) {
    emit({ step: 'write', backupDir });
    report.backupDir = backupDir;
    const lua = facts.prosody.lua ?? 'lua5.4';
    const result = await connector.run(
      writeScript({
        backupDir,
        files: plan.files.map((file) => ({
          path: file.path,
          content: file.remove || (file.before === file.after && !file.create) ? undefined : file.after,
          ownership: file.mode && file.owner ? { mode: file.mode.to, owner: file.owner.to } : undefined,
          create: file.create,
          remove: file.remove,
        })),
        links: plan.links.map((l) => ({ path: l.path, module: l.module, target: l.target })),
        unlinks: (plan.unlinks ?? []).map((l) => l.path),
        lua,
        luaModules: options.luaModules ?? TOKEN_LUA_MODULES,
        debconf: plan.debconf && plan.debconf.selections.map((s) => `${plan.debconf!.package} ${s.question} ${s.type} ${s.value}\n`).join(''),
        journal: {
          command: options.run?.command ?? 'apply',
          newSecret: options.run?.newSecret ?? false,
          ...controller(),
          started: Math.floor((options.now ?? new Date()).getTime() / 1000),
          backup: backupDir,
          step: 'write',
        },
      }),
      { timeoutMs: STEP_TIME_LIMITS_SECONDS.write * 1000 },
    );
    const out = parseScriptOutput(result.stdout);
    if (result.code !== 0 || !out.sections.has('end')) {
      const why = result.code === TIMED_OUT ? `did not finish within ${STEP_TIME_LIMITS_SECONDS.write} s (backup, write, prosodyctl check config)` : `failed: ${result.stderr.trim()}`;
      await rollback(connector, facts, backupDir, [], `writing the changes ${why}`, emit);
      throw new RolledBackError('write', `writing the changes on ${connector.label} ${result.code === TIMED_OUT ? `did not finish within ${STEP_TIME_LIMITS_SECONDS.write} s (backup, write, prosodyctl check config)` : `failed: ${result.stderr.trim() || 'no output'}`}; the host is back as it was`);
    }
    report.newFindings = introducedFindings(out.sections.get('check-before') ?? [], out.sections.get('check-after') ?? []);
    if (report.newFindings.length > 0) {
      await rollback(connector, facts, backupDir, [], 'prosodyctl check config found new problems', emit);
      throw new RolledBackError(
        'validate',
        `Prosody's configuration check on ${connector.label} found problems the change would introduce:\n  ${report.newFindings.join('\n  ')}\nThe host is back as it was; nothing was restarted.`,
        'fix what it names (or report it if the change itself is at fault), then run again',
      );
    }
    const missing = (out.sections.get('lua-modules') ?? []).filter((line) => !/\tok$/.test(line) && line.trim() !== '');
    if (missing.length > 0) {
      await rollback(connector, facts, backupDir, [], 'Lua modules still do not load', emit);
      throw new RolledBackError(
        'lua',
        `after installing, these Lua modules still do not load under Prosody's ${lua} on ${connector.label}:\n  ${missing.join('\n  ')}\nThe host is back as it was; nothing was restarted.`,
        'check the packages above installed cleanly (dpkg -l lua-cjson lua-luaossl lua-basexx lua-inspect lua-sec)',
      );
    }
  }

  if (options.shouldStop?.()) {
    if (touchesFiles) await rollback(connector, facts, backupDir, [], 'interrupted', emit);
    throw interrupted();
  }

  if (plan.restarts.length > 0) {
    emit({ step: 'restart', services: plan.restarts });
    const result = await connector.run(restartScript(plan.restarts, facts.init, { journal: touchesFiles }), { timeoutMs: STEP_TIME_LIMITS_SECONDS.restart * 1000 });
    const out = parseScriptOutput(result.stdout);
    report.restarted = restartedServices(plan.restarts, out.results);
    if (result.code !== 0) {
      const failed = plan.restarts.find((s) => out.results.get(s) === 'failed') ?? plan.restarts.find((s) => !report.restarted.some((r) => r.service === s))!;
      const late = result.code === TIMED_OUT ? ` within ${STEP_TIME_LIMITS_SECONDS.restart} s` : '';
      const reason = `${failed} did not come back after a restart${late}${out.logs.length ? `:\n  ${out.logs.join('\n  ')}` : ''}`;
      if (touchesFiles) {
        await rollback(connector, facts, backupDir, plan.restarts, reason, emit);
        throw new RolledBackError('restart', `${reason}\nThe host is back on its previous configuration and its services were restarted on it.`, `look at ${failed}'s log on the host, then run again`);
      }
      throw new RolledBackError('restart', `${reason}\nNo file was changed.`, `look at ${failed}'s log on the host`);
    }
    emit({ step: 'restarted', restarted: report.restarted });
  }

  if (options.shouldStop?.()) {
    if (touchesFiles) await rollback(connector, facts, backupDir, afterRollback(plan), 'interrupted', emit);
    throw interrupted();
  }

  if (options.smoke) {
    emit({ step: 'smoke' });
    report.smoke = await options.smoke();
    if (!report.smoke.ok && !options.noRollback && touchesFiles) {
      const failed = report.smoke.cases.filter((c) => !c.ok).map((c) => `${c.name}: expected ${c.expected}, ${c.observed}`);
      await rollback(connector, facts, backupDir, afterRollback(plan), 'the smoke test failed', emit);
      throw new RolledBackError(
        'smoke',
        `the smoke test failed on ${connector.label}:\n  ${failed.join('\n  ')}\nThe host is back on its previous configuration.`,
        'rerun with --no-rollback to keep the new state and investigate',
      );
    }
  }
  emit({ step: 'done' });
  return report;
}

/**
 * Puts a host that applied successfully back as it was: the run it belonged to
 * failed elsewhere (another host of the fleet, or the secret's delivery).
 */
export async function revertApply(connector: Connector, facts: HostFacts, plan: Plan, report: ApplyReport, reason: string, onEvent?: (event: ApplyEvent) => void): Promise<void> {
  if (!report.changed || !report.backupDir) return;
  await rollback(connector, facts, report.backupDir, afterRollback(plan), reason, onEvent ?? (() => {}));
}

/**
 * What restarts after a rollback that follows the restarts or the smoke test:
 * the plan's own restarts, or, for a plan that only added public keys,
 * Prosody and the rest: the smoke test made Prosody fetch the new keys, and it
 * keeps them in memory until it restarts.
 */
function afterRollback(plan: Plan): ServiceName[] {
  return plan.restarts.length > 0 ? plan.restarts : (plan.rollbackRestarts ?? []);
}

async function rollback(connector: Connector, facts: HostFacts, backupDir: string, restarts: ServiceName[], reason: string, emit: (event: ApplyEvent) => void): Promise<void> {
  emit({ step: 'rollback', reason });
  const restored = await connector.run(restoreScript(backupDir), { timeoutMs: STEP_TIME_LIMITS_SECONDS.restore * 1000 });
  if (restored.code !== 0) {
    const why = restored.code === TIMED_OUT ? `did not finish within ${STEP_TIME_LIMITS_SECONDS.restore} s` : `failed too: ${restored.stderr.trim()}`;
    throw new RollbackFailedError(
      `${reason}, and restoring the saved files on ${connector.label} ${why}`,
      `the originals are in ${backupDir} on the host (see its manifest); copy them back by hand`,
    );
  }
  if (restarts.length > 0) {
    const result = await connector.run(restartScript(restarts, facts.init), { timeoutMs: STEP_TIME_LIMITS_SECONDS.restart * 1000 });
    if (result.code !== 0) {
      const out = parseScriptOutput(result.stdout);
      const back = restartedServices(restarts, out.results).map((r) => r.service);
      const notBack = restarts.filter((s) => !back.includes(s));
      throw new RollbackFailedError(
        `${reason}; the previous files are back on ${connector.label}, but ${notBack.join(', ')} did not come back on them${back.length ? ` (${back.join(', ')} did)` : ''}${out.logs.length ? `:\n  ${out.logs.join('\n  ')}` : ''}`,
        `restart ${notBack.join(' and ')} on the host by hand and check ${notBack.length > 1 ? 'their logs' : 'its log'}`,
      );
    }
  }
  // Back where it started: the record of this run goes. A record that stays only makes the next run restart and prove the host.
  await connector.run(clearJournalScript(), { timeoutMs: STEP_TIME_LIMITS_SECONDS.cleanup * 1000 }).catch(() => undefined);
}

/** Who runs this change, for the host's record of it. */
function controller(): { pid: number; controller: string; user: string } {
  let user = '';
  try {
    user = os.userInfo().username;
  } catch {
    /* no passwd entry for this uid */
  }
  return { pid: process.pid, controller: os.hostname(), user };
}

/** The services a restart script confirmed on new processes, with how long each took. */
function restartedServices(services: ServiceName[], results: Map<string, string>): ApplyReport['restarted'] {
  return services.flatMap((service) => {
    const how = results.get(service);
    if (!how || how === 'failed') return [];
    const ms = Number(results.get(`took-${service}`));
    return [{ service, how, ...(Number.isFinite(ms) && ms >= 0 ? { seconds: ms / 1000 } : {}) }];
  });
}
