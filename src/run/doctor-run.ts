// doctor as a run: connect to each host, read it once (the probe and doctor's
// own reading in one round trip, no lock, nothing written), then diagnose it
// and, when asked, explain one token against it.
import { performance } from 'node:perf_hooks';
import { EXIT, errorInfo, exitCodeFor, type ErrorInfo } from '../errors.js';
import { diagnose, type Finding } from '../doctor/diagnose.js';
import { explainToken, type TokenExplanation } from '../doctor/explain.js';
import { summariseProsodyLog, type LogGroup } from '../doctor/prosody-log.js';
import { doctorScript, parseDoctorReading } from '../doctor/script.js';
import { joinLines } from '../shell/script.js';
import { parseFacts, probeScript, type HostFacts } from '../facts/probe.js';
import { chooseDomain, currentTokenState } from '../plan/resolve.js';
import { lastAssignment, readTokenConfig } from '../prosody/domain-config.js';
import type { Connector } from '../connector/types.js';
import { connectHost, openMembers, closeHosts, type HostsRequest } from './hosts.js';
import { finishTimings, seconds, worstExitCode, type Member } from './results.js';

export interface DoctorRequest {
  domain?: string;
  /** the log window, seconds back from the host's clock */
  sinceSeconds: number;
  token?: string;
  room?: string;
}

export type DoctorStatus = 'healthy' | 'warnings' | 'problems' | 'failed';

export interface HostDoctor {
  name: string;
  target: string;
  status: DoctorStatus;
  exitCode: number;
  domains: string[];
  findings: Finding[];
  refusals?: { since: number; linesRead: number; files: string[]; groups: LogGroup[]; smokeTests: number };
  token?: TokenExplanation;
  checked: string[];
  error?: ErrorInfo;
  seconds: number;
  /** commands over the host's connection after login */
  roundTrips: number;
}

export interface DoctorOutcome {
  hosts: HostDoctor[];
  exitCode: number;
  seconds: number;
}

interface ReadHost {
  connector: Connector;
  facts: HostFacts;
  output: string;
  /** this machine's clock halfway through the read, seconds since the epoch */
  localNow: number;
}

/** How a fix command names the host. */
function fixTarget(target: string): string {
  return target === '' ? '--local' : target;
}

export async function runDoctor(hosts: HostsRequest, request: DoctorRequest): Promise<DoctorOutcome> {
  const started = performance.now();
  const members = await openMembers<ReadHost>(
    hosts.entries,
    hosts.concurrency,
    (entry) => connectHost(entry, hosts.connection, hosts.sudoPassword(entry), hosts.questions),
    async (connector) => {
      const before = Date.now();
      const result = await connector.run(joinLines([probeScript(), doctorScript()]));
      const localNow = (before + Date.now()) / 2000;
      return { connector, facts: parseFacts(result.stdout), output: result.stdout, localNow };
    },
  );
  try {
    const results = members.map((m) => examine(m, request));
    return { hosts: results, exitCode: worstExitCode(results.map((r) => r.exitCode)), seconds: seconds(performance.now() - started) };
  } finally {
    await closeHosts(members);
  }
}

function examine(member: Member<ReadHost>, request: DoctorRequest): HostDoctor {
  finishTimings(member);
  const { totalSeconds, roundTrips } = member.result.timings;
  const base = { name: member.entry.name, target: member.entry.target, seconds: totalSeconds, roundTrips };
  if (!member.host) {
    return { ...base, status: 'failed', exitCode: member.result.exitCode, domains: [], findings: [], checked: [], error: member.result.error };
  }
  const { facts, output, localNow } = member.host;
  try {
    // Not a Jitsi server at all, or a --domain the host does not serve: an error of the run, not findings.
    if (request.domain || (!facts.packages.prosody?.installed && facts.domainFiles.length === 0)) chooseDomain(facts, request.domain);
    const reading = parseDoctorReading(output);
    const hostNow = facts.clock?.now ?? localNow;
    const log = summariseProsodyLog(reading.log, { hostNow, hostUtcOffsetSeconds: facts.clock?.utcOffsetSeconds ?? 0, sinceSeconds: request.sinceSeconds });
    const diagnosis = diagnose({ facts, reading, log, target: fixTarget(member.entry.target), domain: request.domain, localNow });
    const found = {
      domains: diagnosis.domains,
      findings: diagnosis.findings,
      refusals: { since: log.since, linesRead: log.linesRead, files: reading.logFiles, groups: log.groups.filter((g) => g.kind !== 'module-load'), smokeTests: log.smokeTests },
      checked: diagnosis.checked,
    };
    let token: TokenExplanation | undefined;
    try {
      token = request.token === undefined ? undefined : explain(facts, request, { hostNow, localNow, subRequiredAtLogin: reading.subRequiredAtLogin });
    } catch (error) {
      // The token cannot be judged here (several domains and no --domain, say): the findings still stand.
      return { ...base, ...found, status: 'failed', exitCode: exitCodeFor(error), error: errorInfo(error) };
    }
    const worst = diagnosis.findings[0]?.severity;
    const refused = token !== undefined && token.verdict !== 'admitted';
    const status: DoctorStatus = worst === 'problem' || refused ? 'problems' : worst === 'warning' ? 'warnings' : 'healthy';
    return { ...base, ...found, status, exitCode: status === 'problems' ? EXIT.failed : status === 'warnings' ? EXIT.changesPending : EXIT.ok, ...(token ? { token } : {}) };
  } catch (error) {
    return { ...base, status: 'failed', exitCode: exitCodeFor(error), domains: [], findings: [], checked: [], error: errorInfo(error) };
  }
}

function explain(facts: HostFacts, request: DoctorRequest, host: { hostNow: number; localNow: number; subRequiredAtLogin: boolean }): TokenExplanation {
  const jitsi = chooseDomain(facts, request.domain);
  const state = currentTokenState(jitsi, facts);
  const reading = readTokenConfig(jitsi.config, jitsi.domain);
  const prefix = lastAssignment([jitsi.config.global], 'muc_mapper_domain_prefix')?.value;
  const keyServer = reading.asapKeyServer;
  const algorithm = reading.signatureAlgorithm;
  return explainToken(
    request.token!,
    {
      domain: jitsi.domain,
      mucDomain: reading.conference?.name ?? `conference.${jitsi.domain}`,
      mucDomainPrefix: typeof prefix === 'string' ? prefix : undefined,
      appId: state.appId,
      appSecret: state.appSecret,
      acceptedIssuers: state.issuers,
      acceptedAudiences: state.audiences,
      requireRoomClaim: reading.asapRequireRoomClaim !== false,
      enableDomainVerification: reading.enableDomainVerification !== false,
      roomCheck: state.roomCheck,
      moderatorFromToken: state.moderatorFromToken,
      ...(typeof keyServer === 'string' && keyServer !== '' ? { keyServer, signatureAlgorithm: typeof algorithm === 'string' ? algorithm : undefined } : {}),
      ...(state.keys.mode === 'published' ? { publishedKeys: state.keys.keys } : {}),
      tokenAuth: state.tokenAuth,
      ...host,
    },
    request.room,
  );
}
