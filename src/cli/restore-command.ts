// jitsi-jwt restore: list a host's backups, or put one back. Putting back is a
// Plan run by the same applyPlan as apply: the host's lock, a backup of the
// current state first (so a restore can itself be undone), atomic writes, the
// configuration check before and after, restarts confirmed, a smoke test with
// the restored credentials, and a rollback to the state before the restore
// when any of it fails.
import { performance } from 'node:perf_hooks';
import type { Command } from 'commander';
import { option } from './options.js';
import { applyPlan, type ApplyEvent } from '../apply/apply.js';
import { backupsScript, normaliseBackupChoice, parseBackupsOutput, type BackupSummary, type BackupsReading } from '../apply/backups.js';
import { BACKUP_ROOT, lockScript, parseLockAnswer } from '../apply/scripts.js';
import { ScriptExitedError } from '../connector/errors.js';
import type { HeldScript } from '../connector/types.js';
import { LockError, LockHeldError, RolledBackError, SettingsError } from '../errors.js';
import { parseFacts, probeScript, TOKEN_LUA_MODULES, type HostFacts } from '../facts/probe.js';
import { countRoundTrips, errorInfo, fail, finishTimings, newMember, seconds, type CountedConnector, type Member } from '../fleet/engine.js';
import { isEmpty, type Plan } from '../plan/plan.js';
import { planRestore, type RestorePlanning } from '../plan/restore.js';
import { expectationsFor, runSmoke, tunnelTarget } from '../smoke/smoke.js';
import { EXIT } from './exit-codes.js';
import { confirm } from './prompt.js';
import { Progress } from './progress.js';
import { bold, dim, green, renderDiff, renderSmoke, styleFor, writeError, yellow, type Style } from './render.js';
import { shownDiff } from './secret-mask.js';
import { printDocument, runDocument, type RunDocument } from './run-document.js';
import { interruptibly } from './apply-command.js';
import { connect, type CommonFlags } from './session.js';

interface RestoreFlags extends CommonFlags {
  backup?: string;
  yes?: boolean;
  smoke?: boolean;
}

/** A backup as the run document shows it. */
function backupDocument(backup: BackupSummary) {
  return { id: backup.id, dir: backup.dir, createdAt: backup.createdAt, files: backup.files, links: backup.links, removedLinks: backup.removedLinks };
}

/** The run document, with the host's backups (all of them, or the one restored) and the restore's own summary of changes. */
type RestoreDocument = Omit<RunDocument, 'hosts'> & { hosts: (RunDocument['hosts'][number] & { backups: ReturnType<typeof backupDocument>[] })[] };

const when = (backup: BackupSummary) => backup.createdAt.replace('T', ' ').replace(/\.\d+Z$/, ' UTC');

/** One line per change, for the text plan and the document's `changes`. */
export function summariseRestore(plan: Plan, backup: BackupSummary, verification: string): string[] {
  const lines: string[] = [];
  for (const file of plan.files) {
    if (file.before !== file.after) lines.push(`put back ${file.path} ${file.purpose}`);
    if (file.mode && file.owner && (file.mode.from !== file.mode.to || file.owner.from !== file.owner.to)) {
      lines.push(`set ${file.path} to ${file.owner.to} mode ${file.mode.to} (now ${file.owner.from} ${file.mode.from}), as in backup ${backup.id}`);
    }
  }
  for (const link of plan.unlinks ?? []) lines.push(`remove the link ${link.path} (${link.reason})`);
  for (const link of plan.links) lines.push(`link ${link.path} to ${link.target} again (${link.reason})`);
  if (plan.restarts.length > 0) {
    const others = plan.restarts.filter((s) => s !== 'prosody');
    const order = [...(plan.restarts.includes('prosody') ? ['prosody'] : []), ...(others.length > 0 ? [others.join(' and ')] : [])].join(', then ');
    lines.push(`restart ${order}: ${plan.restartReasons.join('; ')}`);
  }
  if (!isEmpty(plan)) lines.push(`verify: ${verification}`);
  return lines;
}

function verificationOf(planning: RestorePlanning, smoke: boolean): string {
  const { restored } = planning;
  if (!restored.tokenAuth) return `the services run again (the restored config for ${planning.plan.domain} does not use token authentication)`;
  if (!restored.appId || !restored.appSecret) return `the services run again (the restored config has no app_id/app_secret to sign test tokens with)`;
  return smoke ? `smoke test with the restored app_id "${restored.appId}" and its secret` : 'the services run again (--no-smoke)';
}

function renderListing(backups: BackupSummary[], host: string, style: Style): string {
  if (backups.length === 0) return `No backups on ${host} (${BACKUP_ROOT}): no run has written anything there yet.`;
  const rows = backups.map((b) => [
    b.id,
    when(b),
    b.files.length > 0 ? b.files.join(', ') : '-',
    [b.links.length > 0 ? `${b.links.length} made` : '', b.removedLinks.length > 0 ? `${b.removedLinks.length} removed` : ''].filter(Boolean).join(', ') || '-',
  ]);
  const header = ['ID', 'WHEN', 'FILES', 'LINKS'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd();
  return [
    bold(style, `Backups on ${host} (${BACKUP_ROOT}), newest first:`),
    bold(style, line(header)),
    ...rows.map(line),
    '',
    dim(style, 'Each holds the files as they were before the run that made it. Restore one with: jitsi-jwt restore TARGET --backup ID (or --backup latest)'),
  ].join('\n');
}

function renderRestorePlan(planning: RestorePlanning, backup: BackupSummary, host: string, verification: string, style: Style): string {
  const { plan } = planning;
  const out = [bold(style, `Restore plan for ${host} — backup ${backup.id} (${when(backup)}), Jitsi domain ${plan.domain}`)];
  if (isEmpty(plan)) {
    out.push(green(style, `No changes: the host already holds what backup ${backup.id} holds. Nothing to write, nothing to restart.`));
  } else {
    for (const line of summariseRestore(plan, backup, verification)) out.push(`  • ${line}`);
    out.push(`  • first, the current state is backed up to a new directory in ${BACKUP_ROOT} (so this restore can be undone the same way)`);
    for (const file of plan.files.filter((f) => f.diff)) out.push('', renderDiff(shownDiff(plan, file, { showSecret: false }), style).trimEnd());
  }
  for (const warning of plan.warnings) out.push(yellow(style, `warning: ${warning}`));
  return out.join('\n');
}

function describeEvent(event: ApplyEvent): string | undefined {
  switch (event.step) {
    case 'write':
      return `backing up the current state to ${event.backupDir}, putting the backup's files back, checking the config`;
    case 'restart':
      return `restarting ${event.services.join(', ')}`;
    case 'smoke':
      return 'smoke-testing with the restored credentials';
    case 'rollback':
      return `rolling back: ${event.reason}`;
    default:
      return undefined;
  }
}

/** The host's lock and, in one script, what restore reads (the probe only when it plans). The caller must release(). */
async function lockAndReadBackups(connector: CountedConnector, choice: string | undefined): Promise<{ reading: BackupsReading; facts?: HostFacts; release(): Promise<void> }> {
  let held: HeldScript | undefined;
  try {
    held = await connector.hold(lockScript());
    const answer = parseLockAnswer(held.firstLine);
    if (answer.state === 'busy') throw new LockHeldError(connector.label, answer);
    if (answer.state === 'error') throw new LockError(connector.label, answer.reason);
    const result = await connector.run(choice === undefined ? backupsScript(undefined) : `${probeScript()}\n${backupsScript(choice)}`);
    const reading = parseBackupsOutput(result.stdout);
    if (!reading) throw new ScriptExitedError(connector.label, result.code, result.stderr);
    const facts = choice === undefined ? undefined : parseFacts(result.stdout.slice(0, result.stdout.indexOf('\n@@backups\n') + 1));
    const lock = held;
    return { reading, facts, release: () => lock.release().catch(() => {}) };
  } catch (error) {
    await held?.release().catch(() => {});
    throw error;
  }
}

async function restoreCommand(target: string | undefined, flags: RestoreFlags): Promise<number> {
  const started = performance.now();
  if (flags.backup !== undefined && flags.backup.trim() === '') throw new SettingsError('--backup is empty', 'give a backup ID from the listing (jitsi-jwt restore TARGET), or --backup latest');
  if (flags.backup === undefined && flags.yes) {
    throw new SettingsError('--yes restores without asking, but no backup was named', 'add --backup ID (or --backup latest); without both, restore only lists the backups');
  }
  const choice = flags.backup === undefined ? undefined : normaliseBackupChoice(flags.backup);
  const json = Boolean(flags.json);
  const style = styleFor(process.stdout);
  const member: Member<never> = newMember({ name: flags.local ? 'local' : (target ?? ''), target: target ?? '' });
  const result = member.result;
  let backups: BackupSummary[] = [];
  let appId: string | undefined;
  let changes: string[] | undefined;

  const finish = (exitCode: number): number => {
    finishTimings(member);
    if (json) {
      const document = runDocument('restore', [result], { exitCode, seconds: seconds(performance.now() - started), showSecret: false, appId });
      const restoreDocument: RestoreDocument = {
        ...document,
        hosts: document.hosts.map((host) => ({ ...host, changes: changes ?? host.changes, backups: backups.map(backupDocument) })),
      };
      printDocument(restoreDocument);
    } else if (result.error && result.error.code !== 'not-started') {
      writeError(result.error);
    }
    return exitCode;
  };

  let release: (() => Promise<void>) | undefined;
  try {
    const connector = countRoundTrips(await connect(target, flags));
    member.connector = connector;
    result.timings.connectSeconds = seconds(performance.now() - started);
    result.target = target ?? connector.label;
    if (!result.name) result.name = connector.label;
    try {
      const t0 = performance.now();
      const opened = await lockAndReadBackups(connector, choice);
      release = opened.release;
      result.timings.readSeconds = seconds(performance.now() - t0);
      const { reading } = opened;

      if (choice === undefined) {
        backups = reading.backups;
        result.status = 'unchanged';
        result.exitCode = EXIT.ok;
        if (!json) process.stdout.write(`${renderListing(backups, connector.label, style)}\n`);
        return finish(EXIT.ok);
      }

      if (!reading.chosen) {
        backups = reading.backups;
        const ids = backups.map((b) => b.id);
        throw new SettingsError(
          `${connector.label} has no backup "${flags.backup}"`,
          ids.length > 0 ? `its backups, newest first: ${ids.join(', ')} (or --backup latest)` : `it has no backups in ${BACKUP_ROOT}: no run has written anything there yet`,
        );
      }
      const backup = reading.chosen.backup;
      backups = [backup];
      const facts = opened.facts!;
      const planning = planRestore(facts, reading.chosen, { domain: flags.domain });
      const { plan, restored } = planning;
      const smokeWanted = flags.smoke !== false && restored.tokenAuth && Boolean(restored.appId && restored.appSecret);
      const verification = verificationOf(planning, flags.smoke !== false);
      result.plan = plan;
      result.domain = plan.domain;
      appId = restored.appId;
      changes = summariseRestore(plan, backup, verification);
      if (!json) process.stdout.write(`${renderRestorePlan(planning, backup, connector.label, verification, style)}\n`);

      if (isEmpty(plan)) {
        result.status = 'unchanged';
        result.exitCode = EXIT.ok;
        return finish(EXIT.ok);
      }
      if (!flags.yes) {
        if (!process.stdin.isTTY) {
          result.status = 'not-started';
          result.exitCode = EXIT.badInput;
          result.error = errorInfo(new SettingsError('restore changes a server: confirm with --yes when there is no terminal to ask on', `add --yes after checking the plan (jitsi-jwt restore TARGET --backup ${backup.id} shows it)`));
          return finish(EXIT.badInput);
        }
        if (!(await confirm(`Restore backup ${backup.id} on ${connector.label}?`))) {
          process.stderr.write('Nothing changed.\n');
          result.status = 'not-started';
          result.error = { code: 'not-started', message: 'nothing was changed: not confirmed' };
          return finish(EXIT.ok);
        }
      }

      // Tokens signed with the secret the host has now must stop working once the backup's is back.
      const previousSecrets = planning.current?.appSecret && planning.current.appSecret !== restored.appSecret ? [planning.current.appSecret] : [];
      const smoke = smokeWanted
        ? async () => {
            const smokeStarted = performance.now();
            const report = await runSmoke(
              tunnelTarget(connector, facts, plan.domain),
              expectationsFor(
                {
                  appId: restored.appId!,
                  appSecret: restored.appSecret!,
                  allowEmptyToken: restored.allowEmptyToken,
                  roomCheck: restored.roomCheck,
                  issuers: restored.issuers,
                  audiences: restored.audiences,
                  moderatorFromToken: restored.moderatorFromToken || undefined,
                },
                previousSecrets,
              ),
            );
            result.smoke = report;
            result.timings.smokeSeconds = seconds(performance.now() - smokeStarted);
            return report;
          }
        : undefined;
      const progress = json ? undefined : new Progress();
      const t1 = performance.now();
      try {
        result.report = await interruptibly((shouldStop) =>
          applyPlan(connector, facts, plan, {
            dpkgLockTimeoutSeconds: 0,
            shouldStop,
            smoke,
            luaModules: restored.tokenAuth ? TOKEN_LUA_MODULES : [],
            onEvent: (event) => {
              const line = describeEvent(event);
              if (line) progress?.step(line);
            },
          }),
        );
        progress?.finish(true);
      } catch (error) {
        progress?.finish(false);
        throw error;
      } finally {
        result.timings.applySeconds = seconds(performance.now() - t1);
      }
      result.status = 'applied';
      result.exitCode = EXIT.ok;
      if (!json) {
        const report = result.report;
        const out = [`restored backup ${backup.id} on ${connector.label}`];
        if (report.backupDir) out.push(`the state before the restore is backed up in ${report.backupDir} (restore that to undo this)`);
        if (report.restarted.length > 0) out.push(`restarted: ${report.restarted.map((r) => `${r.service}${r.how === 'restarted' ? '' : ` (${r.how})`}`).join(', ')}`);
        if (report.smoke) out.push('', renderSmoke(report.smoke, style));
        process.stdout.write(`\n${out.join('\n')}\n`);
      }
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

export function addRestoreCommand(program: Command, withOptions: (command: Command) => Command): void {
  withOptions(program.command('restore'))
    .description("list a host's backups (newest first), or put one back: shows the diff, asks, backs up the current state, restores, restarts and proves it; rolls back on failure")
    .addOption(option('--backup <id>', 'the backup to put back: an ID from the listing, or "latest"', { type: 'string' }, { env: false }))
    .addOption(option('--domain <domain>', 'the Jitsi domain to prove afterwards (default: detected on the host)', { type: 'string' }))
    .addOption(option('-y, --yes', 'restore without asking', { type: 'boolean' }, { env: false }))
    .addOption(option('--no-smoke', 'skip the smoke test after restoring a token configuration', { type: 'boolean' }))
    .action(async (target, flags) => {
      process.exitCode = await restoreCommand(target, flags);
    });
}
