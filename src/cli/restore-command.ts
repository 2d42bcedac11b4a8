// jitsi-jwt restore: list a host's backups, or put one back. Putting back is a
// Plan run by the same applyPlan as apply: the host's lock, a backup of the
// current state first (so a restore can itself be undone), atomic writes, the
// configuration check before and after, restarts confirmed, a smoke test with
// the restored credentials, and a rollback to the state before the restore
// when any of it fails.
import type { ApplyEvent } from '../apply/apply.js';
import { BACKUP_ROOT, normaliseBackupChoice, type BackupSummary } from '../facts/backups.js';
import { SettingsError } from '../errors.js';
import { isEmpty, type Plan } from '../plan/changes.js';
import type { RestorePlanning } from '../plan/restore.js';
import { backupProblem } from '../plan/backup-trust.js';
import { runRestore, type RestoreProposal } from '../run/restore-run.js';
import { hostsRequest, type CommonFlags } from './flags.js';
import { canAsk, confirm } from './prompt.js';
import { describeEvent, interruptibly, progressFor } from './progress.js';
import { bold, dim, green, renderDiff, renderSmoke, styleFor, writeError, yellow, type Style } from './render.js';
import { shownDiff } from './secret-mask.js';
import { printDocument, runDocument, type RunDocument } from './run-document.js';

export interface RestoreFlags extends CommonFlags {
  backup?: string;
  yes?: boolean;
  smoke?: boolean;
}

/** A backup as the run document shows it. */
function backupDocument(backup: BackupSummary) {
  const refused = backupProblem(backup);
  return { id: backup.id, dir: backup.dir, createdAt: backup.createdAt, files: backup.files, links: backup.links, removedLinks: backup.removedLinks, ...(refused ? { refused } : {}) };
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
  if (restored.appId && restored.keys.mode !== 'secret') {
    return smoke ? `smoke test of the restored public keys: refusals only (admission needs a private key: jitsi-jwt smoke --private-key afterwards)` : 'the services run again (--no-smoke)';
  }
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
  const refused = backups.flatMap((b) => {
    const problem = backupProblem(b);
    return problem ? [yellow(style, `warning: restore refuses ${b.id}: ${problem}, so someone other than root could have written it`)] : [];
  });
  return [
    bold(style, `Backups on ${host} (${BACKUP_ROOT}), newest first:`),
    bold(style, line(header)),
    ...rows.map(line),
    ...refused,
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

/** Apply's progress lines, where restoring says it differently. */
function describeRestoreEvent(event: ApplyEvent): string | undefined {
  if (event.step === 'write') return `backing up the current state to ${event.backupDir}, putting the backup's files back, checking the config`;
  if (event.step === 'smoke') return 'smoke-testing with the restored credentials';
  return describeEvent(event);
}

export async function restoreCommand(target: string | undefined, flags: RestoreFlags): Promise<number> {
  if (flags.backup !== undefined && flags.backup.trim() === '') throw new SettingsError('--backup is empty', 'give a backup ID from the listing (jitsi-jwt restore TARGET), or --backup latest');
  if (flags.backup === undefined && flags.yes) {
    throw new SettingsError('--yes restores without asking, but no backup was named', 'add --backup ID (or --backup latest); without both, restore only lists the backups');
  }
  const json = Boolean(flags.json);
  const style = styleFor(process.stdout);
  const hosts = await hostsRequest('restore', target ? [target] : [], flags);
  const progress = progressFor(1, json, describeRestoreEvent);
  const verify = (proposal: RestoreProposal) => verificationOf(proposal.planning, flags.smoke !== false);
  const outcome = await interruptibly((interrupted) =>
    runRestore(
      hosts.entries[0],
      hosts,
      { backup: flags.backup === undefined ? undefined : normaliseBackupChoice(flags.backup), domain: flags.domain, smoke: flags.smoke !== false },
      {
        interrupted,
        onEvent: (event) => progress.event('', event),
        onPlanned: (proposal) => (json ? undefined : process.stdout.write(`${renderRestorePlan(proposal.planning, proposal.backup, proposal.host, verify(proposal), style)}\n`)),
        confirm: async (proposal) => {
          if (flags.yes) return true;
          if (!canAsk()) {
            throw new SettingsError('restore changes a server: confirm with --yes when there is no terminal to ask on', `add --yes after checking the plan (jitsi-jwt restore TARGET --backup ${proposal.backup.id} shows it)`);
          }
          const go = await confirm(`Restore backup ${proposal.backup.id} on ${proposal.host}?`);
          if (!go) process.stderr.write('Nothing changed.\n');
          return go;
        },
      },
    ),
  );
  const { result, proposal } = outcome;
  progress.end(!result.error || result.status === 'not-started');
  if (json) {
    const document = runDocument('restore', [result], { exitCode: outcome.exitCode, seconds: outcome.seconds, showSecret: false, appId: proposal?.planning.restored.appId });
    const changes = proposal ? summariseRestore(proposal.planning.plan, proposal.backup, verify(proposal)) : undefined;
    const restoreDocument: RestoreDocument = { ...document, hosts: document.hosts.map((host) => ({ ...host, changes: changes ?? host.changes, backups: outcome.backups.map(backupDocument) })) };
    printDocument(restoreDocument);
  } else if (result.error && result.error.code !== 'not-started') {
    writeError(result.error);
  } else if (!proposal) {
    process.stdout.write(`${renderListing(outcome.backups, outcome.label ?? result.target, style)}\n`);
  } else if (result.status === 'applied' && result.report) {
    const report = result.report;
    const out = [`restored backup ${proposal.backup.id} on ${proposal.host}`];
    if (report.backupDir) out.push(`the state before the restore is backed up in ${report.backupDir} (restore that to undo this)`);
    if (report.restarted.length > 0) out.push(`restarted: ${report.restarted.map((r) => `${r.service}${r.how === 'restarted' ? '' : ` (${r.how})`}`).join(', ')}`);
    if (report.smoke) out.push('', renderSmoke(report.smoke, style));
    process.stdout.write(`\n${out.join('\n')}\n`);
  }
  return outcome.exitCode;
}
