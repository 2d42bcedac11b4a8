// Human-readable output: the plan as a diff with a one-line summary per change,
// and the report after apply. Secrets are masked unless asked for.
import type { ApplyReport } from '../apply/apply.js';
import type { Plan } from '../plan/changes.js';
import { isEmpty } from '../plan/changes.js';
import { errorText } from '../errors.js';
import { shownDiff } from './secret-mask.js';
import type { SmokeReport } from '../smoke/smoke.js';
import { isOkStatus, type HostResult, type HostStatus } from '../run/results.js';

export interface Style {
  color: boolean;
}

export function styleFor(stream: NodeJS.WriteStream): Style {
  return { color: Boolean(stream.isTTY) && !process.env.NO_COLOR && process.env.TERM !== 'dumb' };
}

const paint = (style: Style, code: string, text: string) => (style.color ? `\x1b[${code}m${text}\x1b[0m` : text);
export const bold = (s: Style, t: string) => paint(s, '1', t);
export const green = (s: Style, t: string) => paint(s, '32', t);
export const red = (s: Style, t: string) => paint(s, '31', t);
export const yellow = (s: Style, t: string) => paint(s, '33', t);
export const cyan = (s: Style, t: string) => paint(s, '36', t);
export const dim = (s: Style, t: string) => paint(s, '2', t);

/** An error as the text output shows it: what failed, then what to do. */
export function writeError(error: { message: string; hint?: string }): void {
  process.stderr.write(errorText(error));
}

export function renderDiff(diff: string, style: Style): string {
  return diff
    .split('\n')
    .filter((line) => !line.startsWith('====='))
    .map((line) => {
      if (line.startsWith('+++') || line.startsWith('---')) return bold(style, line);
      if (line.startsWith('+')) return green(style, line);
      if (line.startsWith('-')) return red(style, line);
      if (line.startsWith('@@')) return cyan(style, line);
      return line;
    })
    .join('\n');
}

export function summarisePlan(plan: Plan): string[] {
  const lines: string[] = [];
  if (plan.packages.length > 0) lines.push(`install ${plan.packages.join(', ')} (apt)`);
  for (const link of plan.links) lines.push(`link ${link.path} to Debian's copy of ${link.module} (${link.reason})`);
  if (plan.keys?.cutOver) {
    lines.push(`CUT-OVER from ${plan.keys.cutOver.from} to ${plan.keys.cutOver.to}: from Prosody's restart on, every token signed the old way is refused; switch your backend at the same moment`);
  }
  for (const file of plan.files) {
    if (file.create) lines.push(`add ${file.path}: ${file.purpose}`);
    else if (file.remove) lines.push(`remove ${file.path}: ${file.purpose}`);
    else if (file.diff) lines.push(`edit ${file.path}: ${file.purpose}`);
    if (!file.create && file.mode && file.owner && (file.mode.from !== file.mode.to || file.owner.from !== file.owner.to)) {
      lines.push(`restrict ${file.path} to ${file.owner.to} mode ${file.mode.to} (was ${file.owner.from} ${file.mode.from}): it holds the secret`);
    }
  }
  if (plan.debconf) {
    const names = plan.debconf.selections.map((s) => `${s.question.split('/').pop()}${s.type === 'password' ? ' (hidden)' : ` "${s.value}"`}`);
    lines.push(`set ${plan.debconf.package}'s debconf answers ${names.join(', ')}: ${plan.debconf.reason}`);
  }
  if (plan.restarts.length > 0) {
    // Prosody first; the others restart together once it is back (apply/scripts.ts restartScript).
    const others = plan.restarts.filter((s) => s !== 'prosody');
    const order = [...(plan.restarts.includes('prosody') ? ['prosody'] : []), ...(others.length > 0 ? [others.join(' and ')] : [])].join(', then ');
    lines.push(`restart ${order}: ${plan.restartReasons.join('; ')}`);
  }
  return lines;
}

export function renderPlan(plan: Plan, host: string, options: { showSecret: boolean; secrets?: readonly string[] }, style: Style): string {
  const out: string[] = [];
  out.push(bold(style, `Plan for ${host} — Jitsi domain ${plan.domain}`));
  if (isEmpty(plan)) {
    out.push(green(style, 'No changes: the host already uses token authentication as asked. Nothing to write, nothing to restart.'));
  } else {
    for (const line of summarisePlan(plan)) out.push(`  • ${line}`);
    for (const file of plan.files.filter((f) => f.diff)) {
      out.push('');
      out.push(renderDiff(shownDiff(plan, file, options), style).trimEnd());
    }
  }
  out.push('');
  if (plan.keys && plan.keys.mode !== 'secret') out.push(`app_id: ${plan.appId}   keys: ${plan.keys.description}`);
  else out.push(`app_id: ${plan.appId}   app_secret: ${{ kept: 'kept from the host', given: 'the one you gave', generated: 'newly generated (256 bits)', shared: "the fleet's, from the other hosts" }[plan.secretSource]}`);
  out.push(...renderAccess(plan));
  for (const warning of plan.warnings) out.push(yellow(style, `warning: ${warning}`));
  return out.join('\n');
}

/** Who joins without a token once the plan is applied, each with why. */
export function renderAccess(plan: Plan): string[] {
  const access = plan.access;
  if (!access) return [];
  const out: string[] = [];
  if (access.identities.length > 0) {
    out.push('without a token (token_verification_allowlist):');
    for (const identity of access.identities) out.push(`  ${identity.entry}: ${identity.reason}${identity.lobby ? '; also past the lobby' : ''}`);
    out.push('  everyone else needs a token; a client without one on the main domain is refused');
  }
  out.push(access.guests ? `guests: on (they wait on guest.${plan.domain} until a token holder is in the room)` : 'guests: off (turn on with --guests)');
  return out;
}

export function renderSmoke(report: SmokeReport, style: Style): string {
  const width = Math.max(...report.cases.map((c) => c.name.length));
  const rows = report.cases.map((c) => {
    const mark = { pass: green(style, 'ok  '), fail: red(style, 'FAIL'), inconclusive: yellow(style, 'INCONCLUSIVE') }[c.verdict];
    // The kid goes last: kids can be long, and the columns before it stay aligned.
    return `  ${mark} ${c.name.padEnd(width)}  expected ${c.expected.padEnd(11)}  ${c.observed}${c.kid !== undefined ? `  [kid ${c.kid}]` : ''}`;
  });
  const leftovers = report.leftovers?.length
    ? [yellow(style, `warning: could not remove the test account(s) ${report.leftovers.join(', ')}; the next smoke test on this host removes them (or: prosodyctl deluser JID)`)]
    : [];
  return [bold(style, `Smoke test (${report.seconds.toFixed(1)} s)`), ...rows, ...renderUnproven(report, style), ...leftovers].join('\n');
}

/** What a smoke test could not prove (e.g. admission on a public-key host without a private key), in plain words. */
export function renderUnproven(report: SmokeReport, style: Style): string[] {
  if (!report.unproven?.length) return [];
  return [yellow(style, '  NOT PROVEN:'), ...report.unproven.map((text) => yellow(style, `    ${text}`))];
}

/** "jicofo (1.2 s)", "prosody (restarted-by-stop-start, 3.1 s)". */
function describeRestart(restart: ApplyReport['restarted'][number]): string {
  const notes = [...(restart.how === 'restarted' ? [] : [restart.how]), ...(restart.seconds === undefined ? [] : [`${restart.seconds.toFixed(1)} s`])];
  return `${restart.service}${notes.length ? ` (${notes.join(', ')})` : ''}`;
}

export function renderReport(report: ApplyReport, plan: Plan, options: { showSecret: boolean; secret: string; issuer?: string; audience?: string }, style: Style): string {
  const out: string[] = [];
  if (!report.changed) {
    out.push(green(style, 'No changes made; nothing restarted.'));
  } else {
    if (report.installed.length > 0) out.push(`installed: ${report.installed.join(', ')}`);
    if (report.backupDir) out.push(`backup of every file touched: ${report.backupDir} (on the host)`);
    if (report.restarted.length > 0) out.push(`restarted: ${report.restarted.map(describeRestart).join(', ')}`);
  }
  if (report.smoke) out.push('', renderSmoke(report.smoke, style));
  out.push('', renderBackend(plan, options, style));
  return out.join('\n');
}

/** What a backend needs to sign tokens the host accepts. */
export function renderBackend(plan: Plan, options: { showSecret: boolean; secret: string; issuer?: string; audience?: string; where?: string }, style: Style): string {
  const out: string[] = [];
  out.push(bold(style, 'For your backend'));
  const keys = plan.keys && plan.keys.mode !== 'secret' ? plan.keys : undefined;
  if (keys) {
    out.push(`  tokens: RS256, header typ "JWT" and kid "<key id>", signed with the private key of ${keys.kids ? `one of the kids ${keys.kids.map((k) => `"${k}"`).join(', ')}` : 'a kid the host can fetch'}`);
  } else {
    out.push(`  tokens: HS256, header typ "JWT"`);
  }
  out.push(`  claims: iss "${options.issuer ?? plan.appId}", aud "${options.audience ?? 'jitsi'}", sub "${plan.domain}", room "<room name>" (or "*"), exp a few minutes ahead`);
  if (keys) out.push(`  keys: ${keys.description}`);
  else out.push(`  app_secret: in ${plan.configPath} on ${options.where ?? 'the host'} (readable by root and prosody only)${options.showSecret ? `\n  app_secret value: ${options.secret}` : ''}`);
  return out.join('\n');
}

const STATUS_TEXT: Record<HostStatus, string> = {
  converged: 'no changes',
  pending: 'changes pending',
  unchanged: 'no changes',
  applied: 'applied',
  'rolled-back': 'FAILED, put back',
  reverted: 'put back',
  'not-started': 'not started',
  'smoke-failed': 'SMOKE FAILED',
  passed: 'passed',
  failed: 'FAILED',
};

/** One line per host, then what went wrong where. */
export function renderFleetTable(results: HostResult[], style: Style): string {
  const rows = results.map((r) => {
    const unproven = r.smoke?.unproven?.length ? `, ${r.smoke.unproven.length} unproven` : '';
    const smoke = r.smoke ? `${r.smoke.cases.filter((c) => c.ok).length}/${r.smoke.cases.length}${r.smoke.ok ? ' ok' : ' FAIL'}${unproven}` : '-';
    const changes = r.plan ? String(summarisePlan(r.plan).length) : '-';
    const restarted = r.report?.restarted.length ? r.report.restarted.map((x) => x.service.replace('jitsi-videobridge2', 'jvb')).join(',') : '-';
    return [r.name, r.domain ?? r.plan?.domain ?? '-', STATUS_TEXT[r.status], changes, restarted, smoke, `${r.timings.totalSeconds.toFixed(1)} s`, String(r.timings.roundTrips), String(r.exitCode)];
  });
  const header = ['HOST', 'DOMAIN', 'RESULT', 'CHANGES', 'RESTARTED', 'SMOKE', 'TIME', 'TRIPS', 'EXIT'];
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd();
  const out = [bold(style, line(header))];
  for (const [i, row] of rows.entries()) {
    const r = results[i];
    const text = line(row);
    out.push(isOkStatus(r.status) ? text : r.status === 'not-started' || r.status === 'reverted' ? yellow(style, text) : red(style, text));
  }
  const failures = results.filter((r) => r.error && r.status !== 'not-started');
  for (const r of failures) {
    out.push('', red(style, `${r.name}: ${r.error!.message}`));
    if (r.error!.hint) out.push(`  hint: ${r.error!.hint}`);
    if (r.smoke && !r.smoke.ok) out.push(renderSmoke(r.smoke, style));
  }
  // A passed smoke test that left something unproven says so too, not only in the table's count.
  for (const r of results) {
    if (!r.smoke?.unproven?.length || (failures.includes(r) && !r.smoke.ok)) continue;
    const said = r.smoke.ok ? 'passed what it tried, but did not prove everything' : 'did not prove everything';
    out.push('', yellow(style, `${r.name}: the smoke test ${said}`), ...renderUnproven(r.smoke, style));
  }
  return out.join('\n');
}
