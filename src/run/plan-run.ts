// plan as a run: open every host (lock and read), plan it, close it. Changes nothing.
import { performance } from 'node:perf_hooks';
import { EXIT, errorInfo, exitCodeFor, type ErrorInfo } from '../errors.js';
import type { TokenOptions } from '../settings/settings.js';
import { closeHosts, openHosts, type HostsRequest, type OpenHost } from './hosts.js';
import type { Planning } from './planning.js';
import { finishTimings, seconds, worstExitCode, type HostResult, type Member } from './results.js';

export interface PlanOutcome {
  members: Member<OpenHost>[];
  planning: Planning;
  runError?: ErrorInfo;
  /** worst host's; with detailedExitcode, 2 when a host has changes pending */
  exitCode: number;
  seconds: number;
  results: HostResult[];
}

export async function runPlan(hosts: HostsRequest, options: TokenOptions, request: { detailedExitcode: boolean }): Promise<PlanOutcome> {
  const started = performance.now();
  // The planner (Lua parser, templates) loads while the hosts connect and are read.
  const planner = import('./planning.js');
  const members = await openHosts(hosts);
  try {
    const { planHosts } = await planner;
    const planning = planHosts(members, options, { rotate: false });
    members.forEach(finishTimings);
    const results = members.map((m) => m.result);
    let exitCode = worstExitCode([...results.map((r) => r.exitCode), ...(planning.runError ? [exitCodeFor(planning.runError)] : [])]);
    if (exitCode === EXIT.ok && request.detailedExitcode && results.some((r) => r.status === 'pending')) exitCode = EXIT.changesPending;
    return { members, planning, runError: planning.runError ? errorInfo(planning.runError) : undefined, exitCode, seconds: seconds(performance.now() - started), results };
  } finally {
    await closeHosts(members);
  }
}
