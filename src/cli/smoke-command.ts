// jitsi-jwt smoke: prove a server's token authentication with fresh tokens,
// through an SSH tunnel to its Prosody, or at a public URL (nginx in front).
import { readFile } from 'node:fs/promises';
import type { Command } from 'commander';
import { option } from './options.js';
import { SettingsError } from '../errors.js';
import { validateAppId, validateDomain, validateSecret } from '../settings/settings.js';
import { expectationsFor, runSmoke, tunnelTarget, type SmokeTarget } from '../smoke/smoke.js';
import { EXIT } from './exit-codes.js';
import { renderFleetTable, renderSmoke, styleFor, writeError } from './render.js';
import { connect, readHostCredentials, tokenOptions, type HostCredentials } from './session.js';
import type { Connector } from '../connector/types.js';
import { performance } from 'node:perf_hooks';
import { fail, finishTimings, mapLimit, openMembers, seconds, worstExitCode, type HostResult } from '../fleet/engine.js';
import { connectEntry, DEFAULT_CONCURRENCY, resolveEntries, sudoPasswordsFor, type FleetFlags } from './apply-command.js';
import { printDocument, runDocument } from './run-document.js';

interface SmokeFlags extends FleetFlags {
  url?: string;
  ca?: string;
  insecure?: boolean;
}

/** The BOSH endpoint to test: https unless the URL says otherwise, /http-bind unless it names a path. */
function publicUrl(text: string): URL {
  let url: URL;
  try {
    url = new URL(text.includes('://') ? text : `https://${text}`);
  } catch {
    throw new SettingsError(`--url "${text}" is not a URL`, 'e.g. --url https://meet.example.com/http-bind');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new SettingsError(`--url "${text}" is not an http(s) URL`, 'e.g. --url https://meet.example.com/http-bind');
  if (url.pathname === '/' || url.pathname === '') url.pathname = '/http-bind';
  return url;
}

async function readCa(file: string): Promise<Buffer> {
  try {
    return await readFile(file);
  } catch (error) {
    throw new SettingsError(`cannot read the CA file ${file}: ${(error as Error).message}`, 'give a readable PEM file with --ca');
  }
}

/** smoke at a public URL: one endpoint, credentials from flags (or one host). */
async function smokeUrl(target: string | undefined, flags: SmokeFlags): Promise<number> {
  const started = performance.now();
  const options = await tokenOptions(flags);
  let connector: Connector | undefined;
  try {
    let appId = options.appId;
    let appSecret = options.appSecret;
    let domain = options.domain ? validateDomain(options.domain) : undefined;
    if (target || flags.local) {
      connector = await connect(target, flags);
      const credentials = await readHostCredentials(connector, options.domain);
      // What the user gave wins over what the host has (e.g. proving a host refuses another secret).
      appId ??= credentials.appId;
      appSecret ??= credentials.appSecret;
      domain = credentials.domain;
      options.moderatorFromToken ??= credentials.moderatorFromToken || undefined;
    }
    if (!domain) throw new SettingsError('--url needs the Jitsi domain', 'give --domain, or a TARGET to read it from');
    if (!appId || !appSecret) throw new SettingsError('no app_id or secret to sign tokens with', 'give a TARGET to read them from, or --app-id and --app-secret-file');
    validateAppId(appId);
    validateSecret(appSecret, options.allowWeakSecret);
    const url = publicUrl(flags.url!);
    const smokeTarget: SmokeTarget = { url: url.toString(), domain, insecure: flags.insecure, ca: flags.ca ? await readCa(flags.ca) : undefined };
    const report = await runSmoke(smokeTarget, expectationsFor({ ...options, appId, appSecret }));
    const exitCode = report.ok ? EXIT.ok : EXIT.smokeFailed;
    const result: HostResult = {
      name: url.origin,
      target: url.toString(),
      domain,
      status: report.ok ? 'passed' : 'failed',
      exitCode,
      smoke: report,
      ...(report.ok ? {} : { error: { code: 'smoke-failed', message: `the smoke test failed at ${url}` } }),
      timings: { smokeSeconds: report.seconds, totalSeconds: seconds(performance.now() - started), roundTrips: 0 },
    };
    if (flags.json) printDocument(runDocument('smoke', [result], { exitCode, seconds: seconds(performance.now() - started), showSecret: false, appId }));
    else process.stdout.write(`${renderSmoke(report, styleFor(process.stdout))}\n`);
    return exitCode;
  } finally {
    await connector?.close();
  }
}

/** smoke through SSH tunnels: every host with the credentials it has (or the ones given). */
async function smokeCommand(targets: string[], flags: SmokeFlags): Promise<number> {
  if (flags.url) {
    if (targets.length > 1 || flags.inventory) throw new SettingsError('--url tests one public endpoint', 'give at most one TARGET with --url, or drop --url to test every host through SSH');
    return smokeUrl(targets[0], flags);
  }
  const started = performance.now();
  const options = await tokenOptions(flags);
  if (options.appId) validateAppId(options.appId);
  if (options.appSecret !== undefined) validateSecret(options.appSecret, options.allowWeakSecret);
  const entries = await resolveEntries(targets, flags, 'smoke');
  const concurrency = flags.concurrency ?? DEFAULT_CONCURRENCY;
  const passwordFor = await sudoPasswordsFor(entries, flags);
  const members = await openMembers<HostCredentials & { connector: Connector }>(
    entries,
    concurrency,
    (entry) => connectEntry(entry, flags, passwordFor(entry)),
    async (connector, entry) => ({ ...(await readHostCredentials(connector, entry.domain ?? options.domain)), connector }),
  );
  try {
    await mapLimit(members, concurrency, async (member) => {
      const host = member.host;
      if (!host) return;
      member.result.domain = host.domain;
      const t0 = performance.now();
      try {
        const report = await runSmoke(
          tunnelTarget(host.connector, host.facts, host.domain),
          // What the user gave wins over what the host has; moderator cases run wherever the host makes moderators from the token.
          expectationsFor({
            ...options,
            appId: options.appId ?? host.appId,
            appSecret: options.appSecret ?? host.appSecret,
            moderatorFromToken: options.moderatorFromToken ?? (host.moderatorFromToken || undefined),
          }),
        );
        member.result.smoke = report;
        member.result.status = report.ok ? 'passed' : 'failed';
        member.result.exitCode = report.ok ? EXIT.ok : EXIT.smokeFailed;
        if (!report.ok) member.result.error = { code: 'smoke-failed', message: `the smoke test failed on ${host.connector.label}: ${report.cases.filter((c) => !c.ok).map((c) => c.name).join(', ')}` };
      } catch (error) {
        fail(member, error);
      } finally {
        member.result.timings.smokeSeconds = seconds(performance.now() - t0);
      }
    });
    members.forEach(finishTimings);
    const results = members.map((m) => m.result);
    const exitCode = worstExitCode(results.map((r) => r.exitCode));
    if (flags.json) {
      printDocument(runDocument('smoke', results, { exitCode, seconds: seconds(performance.now() - started), showSecret: false }));
    } else if (results.length === 1) {
      const [result] = results;
      if (result.smoke) process.stdout.write(`${renderSmoke(result.smoke, styleFor(process.stdout))}\n`);
      else if (result.error) writeError(result.error);
    } else {
      process.stdout.write(`${renderFleetTable(results, styleFor(process.stdout))}\n`);
    }
    return exitCode;
  } finally {
    await Promise.all(members.map((m) => m.connector?.close()));
  }
}

export function addSmokeCommand(program: Command, withOptions: (command: Command) => Command): void {
  withOptions(program.command('smoke'))
    .description('prove token authentication with fresh tokens: valid admitted; no token, wrong secret, expired, wrong room refused')
    .addOption(option('--url <url>', 'test the public endpoint instead, e.g. https://meet.example.com/http-bind (needs --domain)', { type: 'string' }, { env: false }))
    .addOption(option('--ca <file>', 'CA certificate(s) to trust for --url', { type: 'string' }))
    .addOption(option('--insecure', 'do not verify the TLS certificate of --url', { type: 'boolean' }, { env: false }))
    .action(async (targets, flags) => {
      process.exitCode = await smokeCommand(targets, flags);
    });
}
