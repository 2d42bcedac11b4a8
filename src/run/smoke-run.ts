// smoke as a run: prove token authentication on every host through an SSH
// tunnel to its Prosody, with the credentials each host has (or the ones
// given); or at one public URL. Through SSH it holds each host's lock, as
// apply does: it makes and removes Prosody accounts there, and a run that
// restarts Prosody meanwhile would break both. At a URL it only reads the
// host (if any) and takes no lock.
import { readFile } from 'node:fs/promises';
import { performance } from 'node:perf_hooks';
import { EXIT, SettingsError } from '../errors.js';
import { validateAppId, validateDomain, validateSecret, type TokenOptions } from '../settings/settings.js';
import { expectationsFor, runSmoke, tunnelTarget, type SmokeReport } from '../smoke/smoke.js';
import { HostAccounts } from '../smoke/accounts.js';
import { credentialsOf, hostCredentials, type HostCredentials } from './credentials.js';
import { publicKeyExpectations } from './signers.js';
import { closeHosts, connectHost, lockAndRead, openMembers, type HostsRequest, type OpenHost } from './hosts.js';
import { fail, finishTimings, mapLimit, seconds, worstExitCode, type HostResult } from './results.js';

export interface SmokeOutcome {
  exitCode: number;
  seconds: number;
  results: HostResult[];
  appId?: string;
}

/** Every host with the credentials it has; what the user gave wins (e.g. proving a host refuses another secret). */
export async function smokeHosts(hosts: HostsRequest, options: TokenOptions): Promise<SmokeOutcome> {
  const started = performance.now();
  if (options.appId) validateAppId(options.appId);
  if (options.appSecret !== undefined) validateSecret(options.appSecret, options.allowWeakSecret);
  const members = await openMembers<HostCredentials & OpenHost>(
    hosts.entries,
    hosts.concurrency,
    (entry) => connectHost(entry, hosts.connection, hosts.sudoPassword(entry), hosts.questions),
    async (connector, entry) => {
      const open = await lockAndRead(connector);
      try {
        return { ...open, ...hostCredentials(open.facts, connector.label, entry.domain ?? options.domain) };
      } catch (error) {
        await open.release();
        throw error;
      }
    },
  );
  try {
    await mapLimit(members, hosts.concurrency, async (member) => {
      const host = member.host;
      if (!host) return;
      member.result.domain = host.domain;
      const t0 = performance.now();
      try {
        const publicKeys = publicKeyExpectations(host.keys, undefined, options.privateKeys ?? [], options.signingKid, host.connector.label);
        const report = await runSmoke(
          tunnelTarget(host.connector, host.facts, host.domain),
          // Moderator cases run wherever the host makes moderators from the token.
          expectationsFor({
            ...options,
            appId: options.appId ?? host.appId,
            appSecret: options.appSecret ?? host.appSecret,
            moderatorFromToken: options.moderatorFromToken ?? (host.moderatorFromToken || undefined),
          }, [], host.access, publicKeys),
          { accounts: new HostAccounts(host.connector) },
        );
        recordSmoke(member.result, report, host.connector.label);
      } catch (error) {
        fail(member, error);
      } finally {
        member.result.timings.smokeSeconds = seconds(performance.now() - t0);
      }
    });
    members.forEach(finishTimings);
    const results = members.map((m) => m.result);
    return { exitCode: worstExitCode(results.map((r) => r.exitCode)), seconds: seconds(performance.now() - started), results };
  } finally {
    await closeHosts(members);
  }
}

export interface PublicEndpoint {
  /** e.g. https://meet.example.com/http-bind; https and /http-bind unless the URL says otherwise */
  url: string;
  /** CA certificate file to trust */
  ca?: string;
  insecure?: boolean;
}

/** One public endpoint, with credentials from the options, or read from one host (`hosts` with one entry). */
export async function smokeUrl(endpoint: PublicEndpoint, options: TokenOptions, hosts?: HostsRequest): Promise<SmokeOutcome> {
  const started = performance.now();
  let { appId, appSecret } = options;
  let domain = options.domain ? validateDomain(options.domain) : undefined;
  let moderatorFromToken = options.moderatorFromToken;
  if (hosts) {
    const credentials = await credentialsOf(hosts, options.domain);
    if (credentials.keys.mode !== 'secret') throw new SettingsError(`${credentials.domain} verifies RS256 tokens with public keys; --url tests hosts with a shared secret only`, 'smoke-test it through SSH instead: jitsi-jwt smoke TARGET --private-key FILE');
    appId ??= credentials.appId;
    appSecret ??= credentials.appSecret;
    domain = credentials.domain;
    moderatorFromToken ??= credentials.moderatorFromToken || undefined;
  }
  if (!domain) throw new SettingsError('--url needs the Jitsi domain', 'give --domain, or a TARGET to read it from');
  if (!appId || !appSecret) throw new SettingsError('no app_id or secret to sign tokens with', 'give a TARGET to read them from, or --app-id and --app-secret-file');
  validateAppId(appId);
  validateSecret(appSecret, options.allowWeakSecret);
  const url = publicUrl(endpoint.url);
  const ca = endpoint.ca ? await readCa(endpoint.ca) : undefined;
  const report = await runSmoke({ url: url.toString(), domain, insecure: endpoint.insecure, ca }, expectationsFor({ ...options, appId, appSecret, moderatorFromToken }));
  const result: HostResult = { name: url.origin, target: url.toString(), domain, status: 'failed', exitCode: EXIT.ok, timings: { smokeSeconds: report.seconds, totalSeconds: 0, roundTrips: 0 } };
  recordSmoke(result, report, url.toString());
  result.timings.totalSeconds = seconds(performance.now() - started);
  return { exitCode: result.exitCode, seconds: seconds(performance.now() - started), results: [result], appId };
}

function recordSmoke(result: HostResult, report: SmokeReport, where: string): void {
  result.smoke = report;
  result.status = report.ok ? 'passed' : 'failed';
  result.exitCode = report.ok ? EXIT.ok : EXIT.smokeFailed;
  if (!report.ok) result.error = { code: 'smoke-failed', message: `the smoke test failed on ${where}: ${report.cases.filter((c) => !c.ok).map((c) => (c.kid ? `${c.name} (kid ${c.kid})` : c.name)).join(', ')}` };
}

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
