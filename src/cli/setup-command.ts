// jitsi-jwt setup: the interactive installer. Asks only what the host cannot
// tell, with the host's answers as defaults, shows the plan, applies it with
// its smoke test, and ends with everything a backend developer needs.
import { readFile } from 'node:fs/promises';
import { checkSecretOut, writeSecretFile } from '../fleet/secret-delivery.js';
import type { Command } from 'commander';
import { option } from './options.js';
import enquirer from 'enquirer';
import { SettingsError } from '../errors.js';
import { isEmpty } from '../plan/plan.js';
import { currentTokenState, jitsiDomains } from '../plan/resolve.js';
import { listOption, secretFromFileContent, validateAppId, validateSecret, type TokenOptions } from '../settings/settings.js';
import { mintToken } from '../token/mint.js';
import { EXIT } from './exit-codes.js';
import { bold, renderPlan, styleFor } from './render.js';
import { canAsk } from './prompt.js';
import { openHost, planOn, type OpenHost } from './session.js';
import { changeCommand, executePlan, interruptibly, type ApplyFlags } from './apply-command.js';
import { embedPage } from './token-command.js';

/** enquirer rejects with an empty string when the user presses Ctrl-C. */
class Cancelled extends Error {}

async function ask<T>(question: Record<string, unknown>): Promise<T> {
  try {
    const answer = (await enquirer.prompt({ name: 'value', ...question } as Parameters<typeof enquirer.prompt>[0])) as { value: T };
    return answer.value;
  } catch (error) {
    if (error === '' || error === undefined) throw new Cancelled();
    throw error;
  }
}

type SecretChoice = 'keep' | 'generate' | 'file';

async function chooseSettings(host: OpenHost, flags: ApplyFlags): Promise<TokenOptions | 'leave'> {
  const domains = jitsiDomains(host.facts);
  if (domains.length === 0) throw new SettingsError('no Jitsi domain config found on the host', 'is jitsi-meet-prosody installed?');
  const domainName =
    domains.length === 1
      ? domains[0].domain
      : await ask<string>({ type: 'select', message: 'Which Jitsi domain?', choices: domains.map((d) => d.domain) });
  const current = currentTokenState(domains.find((d) => d.domain === domainName)!);
  const plugins = new Set(host.facts.plugins.present);

  let secretChoice: SecretChoice | undefined;
  if (current.tokenAuth && current.appSecret) {
    process.stdout.write(
      `${domainName} already uses token authentication: app_id ${current.appId}, room checks ${current.roomCheck ? 'on' : 'off'}, ` +
        `clients without a token ${current.allowEmptyToken ? 'let in' : 'refused'}, moderators ${current.moderatorFromToken ? 'from the token' : 'by Jicofo'}.\n`,
    );
    const next = await ask<string>({
      type: 'select',
      message: 'What now?',
      choices: [
        { name: 'leave', message: 'Leave it as it is' },
        { name: 'rotate', message: 'Rotate the secret (every token signed with the old one stops working)' },
        { name: 'change', message: 'Change options' },
      ],
    });
    if (next === 'leave') return 'leave';
    if (next === 'rotate') secretChoice = 'generate';
  }

  const appId = validateAppId(
    await ask<string>({ type: 'input', message: 'app_id (the iss your backend signs tokens with)', initial: current.appId ?? `${domainName.split('.')[0].replace(/[^A-Za-z0-9_-]/g, '_')}_backend` }),
  );

  secretChoice ??= await ask<SecretChoice>({
    type: 'select',
    message: 'app_secret',
    choices: [
      ...(current.appSecret ? [{ name: 'keep', message: 'Keep the one on the server' }] : []),
      { name: 'generate', message: 'Generate a new one (256 random bits)' },
      { name: 'file', message: 'Read it from a file' },
    ],
  });
  let appSecret: string | undefined;
  if (secretChoice === 'file') {
    const file = await ask<string>({ type: 'input', message: 'File holding the secret' });
    let content: string;
    try {
      content = await readFile(file, 'utf8');
    } catch (error) {
      throw new SettingsError(`cannot read the secret file ${file}: ${(error as Error).message}`, 'give a readable file, or choose to keep or generate the secret');
    }
    appSecret = validateSecret(secretFromFileContent(content), Boolean(flags.allowWeakSecret));
  }

  const roomCheck = await ask<boolean>({ type: 'confirm', message: "Admit a token only to the room it names (token_verification)?", initial: current.tokenAuth ? current.roomCheck : true });
  const moderatorFromToken = plugins.has('mod_token_affiliation.lua')
    ? await ask<boolean>({ type: 'confirm', message: 'Make moderators from the token (context.user.moderator) instead of the first joiner?', initial: current.moderatorFromToken })
    : undefined;
  let issuers = current.issuers;
  let audiences = current.audiences;
  if (await ask<boolean>({ type: 'confirm', message: 'Advanced: restrict accepted issuers and audiences?', initial: false })) {
    issuers = listOption(await ask<string>({ type: 'input', message: 'Accepted iss values (comma-separated)', initial: (issuers ?? [appId]).join(',') }));
    audiences = listOption(await ask<string>({ type: 'input', message: 'Accepted aud values (comma-separated; * for any)', initial: (audiences ?? ['*']).join(',') }));
  }
  return {
    domain: domainName,
    appId,
    appSecret,
    newSecret: secretChoice === 'generate',
    allowEmptyToken: current.allowEmptyToken,
    issuers,
    audiences,
    roomCheck,
    moderatorFromToken: moderatorFromToken || undefined,
    allowWeakSecret: Boolean(flags.allowWeakSecret),
  };
}

async function saveSecret(secret: string, domain: string): Promise<void> {
  if (!(await ask<boolean>({ type: 'confirm', message: 'Save app_secret to a local file (mode 0600) for your backend?', initial: false }))) return;
  const file = await ask<string>({ type: 'input', message: 'File', initial: `./${domain}.app_secret` });
  // The same safe write as --secret-out: an unpredictable temporary name, 0600 from the start, fsync, rename.
  await checkSecretOut(file);
  await writeSecretFile(file, secret);
  process.stdout.write(`saved to ${file} (mode 0600)\n`);
}

async function backendKit(appId: string, secret: string, domain: string, issuer: string | undefined, audience: string | undefined): Promise<string> {
  const room = 'jitsi-jwt-test';
  const token = await mintToken({ appId, appSecret: secret, room, sub: domain, iss: issuer, aud: audience });
  const page = embedPage(domain, room, token);
  const script = page.slice(page.indexOf('<script>\n') + 9, page.indexOf('</script>\n</body>'));
  return [
    '',
    bold(styleFor(process.stdout), 'Try it'),
    `  sample token for room "${room}" (valid 10 minutes):\n  ${token}`,
    `  meeting URL: https://${domain}/${room}?jwt=${token}`,
    `  IFrame API (after <script src="https://${domain}/external_api.js">):\n${script.trimEnd().replace(/^/gm, '    ')}`,
  ].join('\n');
}

export async function setupCommand(target: string | undefined, flags: ApplyFlags): Promise<number> {
  if (!canAsk() || flags.json) {
    const missing = [...(target || flags.local ? [] : ['TARGET']), ...(flags.yes ? [] : ['--yes'])];
    if (missing.length > 0) {
      throw new SettingsError(`setup has no terminal to ask on; give ${missing.join(' and ')}`, 'without a terminal setup works like apply: every choice comes from options (--app-id, --app-secret-file, ...)');
    }
    return changeCommand('apply', target ? [target] : [], flags);
  }
  try {
    const server = target ?? (flags.local ? undefined : await ask<string>({ type: 'input', message: 'Server (user@host[:port] or an alias from ~/.ssh/config)' }));
    const host = await openHost(server, flags);
    try {
      process.stdout.write(`${host.connector.label}: ${host.facts.os.prettyName}, Prosody ${host.facts.prosody.version ?? '(not installed)'} on ${host.facts.prosody.lua ?? 'unknown Lua'}\n`);
      const options = await chooseSettings(host, flags);
      if (options === 'leave') {
        process.stdout.write('Nothing changed.\n');
        return EXIT.ok;
      }
      const planned = planOn(host, options);
      process.stdout.write(`${renderPlan(planned.plan, host.connector.label, { showSecret: false }, styleFor(process.stdout))}\n`);
      if (isEmpty(planned.plan)) {
        process.stdout.write('Nothing to change.\n');
        return EXIT.ok;
      }
      if (!(await ask<boolean>({ type: 'confirm', message: `Apply these changes to ${host.connector.label}?`, initial: true }))) {
        process.stdout.write('Nothing changed.\n');
        return EXIT.ok;
      }
      const { exitCode } = await interruptibly((shouldStop) => executePlan(planned, flags, { shouldStop }));
      const { settings } = planned;
      if (exitCode !== EXIT.ok) {
        // --no-rollback kept a new secret although the smoke test failed: it still has to reach the backend.
        if (settings.appSecret !== settings.previousSecret) await saveSecret(settings.appSecret, settings.domain);
        return exitCode;
      }
      process.stdout.write(`${await backendKit(settings.appId, settings.appSecret, settings.domain, settings.issuers?.[0], settings.audiences?.[0])}\n\n`);
      await saveSecret(settings.appSecret, settings.domain);
      return EXIT.ok;
    } finally {
      await host.release();
    }
  } catch (error) {
    if (error instanceof Cancelled) {
      process.stderr.write('\nCancelled; nothing changed.\n');
      return EXIT.interrupted;
    }
    throw error;
  }
}

export function addSetupCommand(program: Command, withOptions: (command: Command) => Command): void {
  withOptions(program.command('setup'))
    .description('interactive installer: asks what it cannot read from the host, shows the plan, applies and proves it')
    .addOption(option('-y, --yes', 'without a terminal: apply without asking (setup then works like apply)', { type: 'boolean' }, { env: false }))
    .addOption(option('--no-rollback', 'keep the new state even when the smoke test fails', { type: 'boolean' }))
    .action(async (target, flags) => {
      process.exitCode = await setupCommand(target, flags);
    });
}
