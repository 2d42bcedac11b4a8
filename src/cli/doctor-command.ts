// jitsi-jwt doctor: why tokens are refused on a host, from its own evidence;
// read-only. Findings most serious first, the token refusals Prosody logged,
// and, given a token (JITSI_JWT_TOKEN or --token-file), one token checked the way the host's plugins check it.
import { readFile } from 'node:fs/promises';
import { SettingsError, errorInfo, type ErrorInfo } from '../errors.js';
import { runDoctor, type DoctorOutcome, type HostDoctor } from '../run/doctor-run.js';
import type { TokenExplanation } from '../doctor/explain.js';
import { hostsRequest, readStdin, type FleetFlags } from './flags.js';
import { bold, cyan, dim, green, red, yellow, type Style, styleFor } from './render.js';

export interface DoctorFlags extends FleetFlags {
  token?: string;
  tokenFile?: string;
  room?: string;
  since: number;
}

async function readToken(flags: DoctorFlags): Promise<string | undefined> {
  // flags.token comes from JITSI_JWT_TOKEN only: the parser refuses --token on the command line.
  if (flags.token !== undefined && flags.tokenFile !== undefined) throw new SettingsError('JITSI_JWT_TOKEN and --token-file both name a token', 'give one of them');
  if (flags.tokenFile === undefined) return flags.token?.trim() || undefined;
  let text: string;
  try {
    text = flags.tokenFile === '-' ? await readStdin() : await readFile(flags.tokenFile, 'utf8');
  } catch (error) {
    throw new SettingsError(`cannot read --token-file ${flags.tokenFile}: ${(error as Error).message}`, 'give a readable file holding the token (or - for standard input)');
  }
  const token = text.trim();
  if (token === '') throw new SettingsError(`--token-file ${flags.tokenFile} is empty`, 'put the token (or the meeting URL with ?jwt=) in it');
  return token;
}

export async function doctorCommand(targets: string[], flags: DoctorFlags): Promise<number> {
  if (flags.tokenFile === '-' && flags.sudoPasswordStdin) throw new SettingsError('--token-file - and --sudo-password-stdin both read standard input', 'put the token in a file, or pass it in JITSI_JWT_TOKEN');
  const token = await readToken(flags);
  const outcome = await runDoctor(await hostsRequest('doctor', targets, flags), { domain: flags.domain, sinceSeconds: flags.since, token, room: flags.room });
  if (flags.json) printDoctorDocument(outcome);
  else process.stdout.write(renderDoctor(outcome, styleFor(process.stdout)));
  return outcome.exitCode;
}

export function doctorDocument(outcome: Pick<DoctorOutcome, 'hosts' | 'exitCode' | 'seconds'>, error?: ErrorInfo): object {
  return { version: 1, command: 'doctor', ok: outcome.exitCode === 0, exitCode: outcome.exitCode, seconds: outcome.seconds, hosts: outcome.hosts, error: error ?? null };
}

export function printDoctorDocument(outcome: DoctorOutcome): void {
  process.stdout.write(`${JSON.stringify(doctorDocument(outcome), null, 2)}\n`);
}

/** An error that stopped doctor before it reached any host, as its --json document. */
export function doctorErrorDocument(error: unknown, exitCode: number): object {
  return doctorDocument({ hosts: [], exitCode, seconds: 0 }, errorInfo(error));
}

const LABEL: Record<string, (s: Style, t: string) => string> = { problem: red, warning: yellow, note: cyan };
const time = (seconds: number) => new Date(Math.round(seconds) * 1000).toISOString().replace('T', ' ').replace('.000Z', 'Z');

export function renderDoctor(outcome: DoctorOutcome, style: Style): string {
  const several = outcome.hosts.length > 1;
  const sections = outcome.hosts.map((host) => renderHost(host, style, several));
  if (several) sections.push(renderTable(outcome.hosts, style));
  return `${sections.join('\n\n')}\n`;
}

/** One line per host after the hosts' own sections, as the other commands end a fleet run. */
function renderTable(hosts: HostDoctor[], style: Style): string {
  const count = (host: HostDoctor, severity: string) => String(host.findings.filter((f) => f.severity === severity).length);
  const rows = hosts.map((h) => [h.name, h.domains.join(',') || '-', h.status.toUpperCase(), count(h, 'problem'), count(h, 'warning'), h.token ? VERDICT[h.token.verdict] : '-', String(h.exitCode)]);
  const header = ['HOST', 'DOMAIN', 'RESULT', 'PROBLEMS', 'WARNINGS', 'TOKEN', 'EXIT'];
  const widths = header.map((title, i) => Math.max(title.length, ...rows.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((cell, i) => cell.padEnd(widths[i])).join('  ').trimEnd();
  const paint: Record<string, (s: Style, t: string) => string> = { healthy: green, warnings: yellow, problems: red, failed: red };
  return [bold(style, line(header)), ...rows.map((row, i) => paint[hosts[i].status](style, line(row)))].join('\n');
}

function renderHost(host: HostDoctor, style: Style, several: boolean): string {
  const out: string[] = [];
  const title = `${several ? `${host.name}: ` : ''}${host.domains.length ? host.domains.join(', ') : host.target || 'this machine'}`;
  out.push(bold(style, title));
  const error = () => (host.error ? [red(style, `error: ${host.error.message}`), ...(host.error.hint ? [`hint: ${host.error.hint}`] : [])] : []);
  // Not read at all: only the error.
  if (host.error && host.checked.length === 0) return [...out, ...error()].join('\n');
  for (const finding of host.findings) {
    out.push('', `${LABEL[finding.severity](style, finding.severity.toUpperCase().padEnd(7))}  ${finding.title}  ${dim(style, `[${finding.id}]`)}`);
    for (const line of finding.evidence) out.push(`         ${dim(style, 'evidence:')} ${line}`);
    out.push(`         ${dim(style, 'fix:')} ${finding.fix}`);
  }
  if (host.token) out.push('', renderToken(host.token, style));
  if (host.error) out.push('', ...error());
  const refusals = host.refusals;
  if (refusals) {
    const own = refusals.smokeTests > 0 ? ` (and ${refusals.smokeTests} by jitsi-jwt's smoke tests, which refuse on purpose)` : '';
    if (refusals.groups.length > 0) {
      out.push('', bold(style, `Token refusals in Prosody's log since ${time(refusals.since)}${own}:`));
      for (const group of refusals.groups) {
        out.push(`  ${String(group.count).padStart(5)}×  ${group.reason}  ${dim(style, `(first ${time(group.first)}, last ${time(group.last)})`)}`);
        out.push(`          ${dim(style, group.sample)}`);
      }
    } else {
      out.push('', `No token refusals in Prosody's log since ${time(refusals.since)}${own}.`);
    }
  }
  const problems = host.findings.filter((f) => f.severity !== 'note').length;
  const clean = problems === 0 && !host.error && (!host.token || host.token.verdict === 'admitted');
  out.push('', clean ? green(style, 'No problems found.') : `${problems} finding${problems === 1 ? '' : 's'} to act on.`);
  out.push(dim(style, 'Checked:'), ...host.checked.map((line) => dim(style, `  - ${line}`)));
  return out.join('\n');
}

const VERDICT: Record<TokenExplanation['verdict'], string> = {
  admitted: 'admitted',
  'refused-at-login': 'refused at login',
  'refused-at-join': 'refused at the room join',
  unknown: 'cannot tell',
};

function renderToken(token: TokenExplanation, style: Style): string {
  const out = [bold(style, `The token: ${token.verdict === 'admitted' ? green(style, VERDICT.admitted) : red(style, VERDICT[token.verdict])}${token.reason ? ` (Jitsi says: ${token.reason})` : ''}`)];
  const mark: Record<string, string> = { pass: green(style, 'ok  '), fail: red(style, 'FAIL'), skipped: dim(style, 'skip'), unknown: yellow(style, '??  '), info: cyan(style, 'info') };
  for (const check of token.checks) out.push(`  ${mark[check.verdict]}  ${check.id.padEnd(10)}  ${check.detail}`);
  return out.join('\n');
}
