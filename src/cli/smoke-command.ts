// jitsi-jwt smoke: prove a server's token authentication with fresh tokens,
// through an SSH tunnel to its Prosody, or at a public URL (nginx in front).
import { readFile } from 'node:fs/promises';
import { Command, Option } from 'commander';
import { SettingsError } from '../errors.js';
import { prosodyHttpAddress } from '../facts/probe.js';
import { validateAppId, validateDomain, validateSecret } from '../settings/settings.js';
import { runSmoke, type SmokeTarget } from '../smoke/smoke.js';
import { EXIT } from './exit-codes.js';
import { renderSmoke, styleFor } from './render.js';
import { connect, readHostCredentials, tokenOptions, type CommonFlags } from './session.js';
import type { Connector } from '../connector/types.js';

interface SmokeFlags extends CommonFlags {
  url?: string;
  ca?: string;
  insecure?: boolean;
}

async function smokeCommand(target: string | undefined, flags: SmokeFlags): Promise<number> {
  const options = await tokenOptions(flags);
  let connector: Connector | undefined;
  try {
    let appId = options.appId;
    let appSecret = options.appSecret;
    let domain = options.domain ? validateDomain(options.domain) : undefined;
    let smokeTarget: SmokeTarget | undefined;
    if (target || flags.local) {
      connector = await connect(target, flags);
      const host = connector;
      const credentials = await readHostCredentials(host, options.domain);
      // What the user gave wins over what the host has (e.g. proving a host refuses another secret).
      appId ??= credentials.appId;
      appSecret ??= credentials.appSecret;
      domain = credentials.domain;
      // Moderator cases are extra checks: run them wherever the host makes moderators from the token.
      options.moderatorFromToken ??= credentials.moderatorFromToken || undefined;
      const facts = credentials.facts;
      const address = prosodyHttpAddress(facts) ?? '127.0.0.1';
      smokeTarget = { url: `http://${address}:5280/http-bind`, domain, openStream: () => host.openTunnel(address, 5280) };
    }
    if (flags.url) {
      if (!domain) throw new SettingsError('--url needs the Jitsi domain', 'give --domain, or a TARGET to read it from');
      const url = new URL(flags.url.includes('://') ? flags.url : `https://${flags.url}`);
      if (url.pathname === '/' || url.pathname === '') url.pathname = '/http-bind';
      smokeTarget = { url: url.toString(), domain, insecure: flags.insecure, ca: flags.ca ? await readFile(flags.ca) : undefined };
    }
    if (!smokeTarget || !domain) throw new SettingsError('nothing to test', 'give a TARGET (tested through an SSH tunnel), or --url with --domain');
    if (!appId || !appSecret) throw new SettingsError('no app_id or secret to sign tokens with', 'give a TARGET to read them from, or --app-id and --app-secret-file');
    validateAppId(appId);
    validateSecret(appSecret, options.allowWeakSecret);
    const report = await runSmoke(smokeTarget, {
      appId,
      appSecret,
      allowEmptyToken: options.allowEmptyToken,
      roomCheck: options.roomCheck,
      audience: options.audiences?.[0],
      issuer: options.issuers?.[0],
      moderatorFromToken: options.moderatorFromToken,
    });
    if (flags.json) process.stdout.write(`${JSON.stringify({ domain, ...report }, null, 2)}\n`);
    else process.stdout.write(`${renderSmoke(report, styleFor(process.stdout))}\n`);
    return report.ok ? EXIT.ok : EXIT.smokeFailed;
  } finally {
    await connector?.close();
  }
}

export function addSmokeCommand(program: Command, withOptions: (command: Command) => Command): void {
  withOptions(program.command('smoke'))
    .description('prove token authentication with fresh tokens: valid admitted; no token, wrong secret, expired, wrong room refused')
    .option('--url <url>', 'test the public endpoint instead, e.g. https://meet.example.com/http-bind (needs --domain)')
    .addOption(new Option('--ca <file>', 'CA certificate(s) to trust for --url').env('JITSI_JWT_CA'))
    .option('--insecure', 'do not verify the TLS certificate of --url')
    .action(async (target, flags) => {
      process.exitCode = await smokeCommand(target, flags);
    });
}
