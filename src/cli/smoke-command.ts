// jitsi-jwt smoke: prove a server's token authentication with fresh tokens,
// through an SSH tunnel to each host's Prosody, or at a public URL.
import { SettingsError } from '../errors.js';
import { smokeHosts, smokeUrl, type SmokeOutcome } from '../run/smoke-run.js';
import { readTokenOptions } from '../settings/settings.js';
import { hostsRequest, type FleetFlags } from './flags.js';
import { interruptibly } from './progress.js';
import { renderFleetTable, renderSmoke, styleFor, writeError } from './render.js';
import { printDocument, runDocument } from './run-document.js';

export interface SmokeFlags extends FleetFlags {
  url?: string;
  ca?: string;
  insecure?: boolean;
}

export async function smokeCommand(targets: string[], flags: SmokeFlags): Promise<number> {
  const options = await readTokenOptions(flags);
  let outcome: SmokeOutcome;
  if (flags.url) {
    if (targets.length > 1 || flags.inventory) throw new SettingsError('--url tests one public endpoint', 'give at most one TARGET with --url, or drop --url to test every host through SSH');
    const fromHost = targets.length > 0 || flags.local ? await hostsRequest('smoke', targets, flags) : undefined;
    outcome = await smokeUrl({ url: flags.url, ca: flags.ca, insecure: flags.insecure }, options, fromHost);
  } else {
    const hosts = await hostsRequest('smoke', targets, flags);
    // The test's throwaway accounts are removed when it ends: a first Ctrl-C lets it end.
    outcome = await interruptibly(() => smokeHosts(hosts, options), {
      message: 'interrupted: finishing the smoke test, which removes its temporary accounts (Ctrl-C again to quit now)',
      secondExits: true,
    });
  }
  const { results, exitCode } = outcome;
  if (flags.json) {
    printDocument(runDocument('smoke', results, { exitCode, seconds: outcome.seconds, showSecret: false, appId: outcome.appId }));
  } else if (results.length === 1) {
    const [result] = results;
    if (result.smoke) process.stdout.write(`${renderSmoke(result.smoke, styleFor(process.stdout))}\n`);
    else if (result.error) writeError(result.error);
  } else {
    process.stdout.write(`${renderFleetTable(results, styleFor(process.stdout))}\n`);
  }
  return exitCode;
}
