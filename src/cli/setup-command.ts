// jitsi-jwt setup: the interactive installer. Asks only what the host cannot
// tell, with the host's answers as defaults, shows the plan, then runs the
// same change engine as apply for its one host (progress, smoke test,
// rollback, secret delivery), and ends with everything a backend developer
// needs. Without a terminal it is apply. With --json the questions and text
// go to stderr and the run's document to stdout.
import { readFile } from 'node:fs/promises';
import { SettingsError } from '../errors.js';
import { isEmpty } from '../plan/changes.js';
import { currentTokenState, jitsiDomains } from '../plan/resolve.js';
import { guestsEnabled, passwordLogins } from '../plan/access.js';
import { findConferenceComponent } from '../prosody/domain-config.js';
import { changePlanned } from '../run/change-run.js';
import { closeHosts, openHosts, type OpenHost } from '../run/hosts.js';
import { planHosts } from '../run/planning.js';
import { checkSecretOut } from '../run/secret-delivery.js';
import { listOption, readKeySource, readSigningOptions, secretFromFileContent, validateAppId, validateSecret, type KeySourceWish, type TokenOptions } from '../settings/settings.js';
import { describeKeys, readsJwks, type KeySettings } from '../plan/keys.js';
import { readPrivateKeys, validateKid } from '../token/keys.js';
import { mintToken } from '../token/mint.js';
import { applyRunFlags, changeCommand, type ApplyFlags } from './apply-command.js';
import { hostsRequest, terminalQuestions } from './flags.js';
import { ask, canAsk } from './prompt.js';
import { interruptibly, progressFor } from './progress.js';
import { bold, renderPlan, renderReport, styleFor, writeError, type Style } from './render.js';
import { printDocument, runDocument } from './run-document.js';
import { printChangeDocument, printOutcome } from './run-output.js';
import { embedPage } from './token-command.js';

type SecretChoice = 'keep' | 'generate' | 'file';

async function chooseSettings(host: OpenHost, flags: ApplyFlags, out: NodeJS.WritableStream): Promise<TokenOptions | 'leave'> {
  const domains = jitsiDomains(host.facts);
  if (domains.length === 0) throw new SettingsError('no Jitsi domain config found on the host', 'is jitsi-meet-prosody installed?');
  const domainName =
    domains.length === 1
      ? domains[0].domain
      : await ask<string>({ type: 'select', message: 'Which Jitsi domain?', choices: domains.map((d) => d.domain) });
  const current = currentTokenState(domains.find((d) => d.domain === domainName)!, host.facts);
  const passwords = passwordLogins(host.facts, domains.find((d) => d.domain === domainName)!.config, domainName);
  if (passwords !== undefined) {
    out.write(`${domainName} logs users in with passwords (a "secure domain", ${passwords} account${passwords === 1 ? '' : 's'}). With token authentication none of them can log in any more.\n`);
    if (!(await ask<boolean>({ type: 'confirm', message: 'Switch it to tokens and end password login?', initial: false }))) return 'leave';
  }

  let secretChoice: SecretChoice | undefined;
  const onKeys = current.keys.mode !== 'secret';
  if (current.tokenAuth && (current.appSecret || onKeys)) {
    out.write(
      `${domainName} already uses token authentication: app_id ${current.appId}, room checks ${current.roomCheck ? 'on' : 'off'}, ` +
        `clients without a token ${current.allowEmptyToken ? 'let in' : 'refused'}, moderators ${current.moderatorFromToken ? 'from the token' : 'by Jicofo'}; ${describeKeys(current.keys)}.\n`,
    );
    const next = await ask<string>({
      type: 'select',
      message: 'What now?',
      choices: [
        { name: 'leave', message: 'Leave it as it is' },
        ...(onKeys ? [] : [{ name: 'rotate', message: 'Rotate the secret (every token signed with the old one stops working)' }]),
        { name: 'change', message: onKeys ? 'Change options (new keys: jitsi-jwt rotate-key, without downtime)' : 'Change options' },
      ],
    });
    if (next === 'leave') return 'leave';
    if (next === 'rotate') secretChoice = 'generate';
  }

  const appId = validateAppId(
    await ask<string>({ type: 'input', message: 'app_id (the iss your backend signs tokens with)', initial: current.appId ?? `${domainName.split('.')[0].replace(/[^A-Za-z0-9_-]/g, '_')}_backend` }),
  );

  const keys = await chooseKeys(host, flags, current.keys, secretChoice === 'generate');
  if (keys.keySource && keys.keySource.kind !== 'secret') {
    return { ...(await chooseRest(host, flags, chosenDomain(domains, domainName), current, appId)), ...keys };
  }
  if (keys.keySource?.kind === 'secret' && current.keys.mode !== 'secret') secretChoice ??= 'generate';

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

  return { ...(await chooseRest(host, flags, chosenDomain(domains, domainName), current, appId)), appSecret, newSecret: secretChoice === 'generate', ...keys };
}

const chosenDomain = (domains: ReturnType<typeof jitsiDomains>, name: string) => domains.find((d) => d.domain === name)!;

/**
 * How the backend signs: one shared secret (HS256) or a private key whose
 * public half the server fetches by kid (RS256): published on the server
 * itself, on a key server, or in a JWKS document. Flags answer it too.
 */
async function chooseKeys(host: OpenHost, flags: ApplyFlags, current: KeySettings, rotating: boolean): Promise<Pick<TokenOptions, 'keySource' | 'privateKeys' | 'signingKid'>> {
  const given = await readKeySource(flags);
  const fromFlags = await readSigningOptions(flags);
  if (given || rotating) return { keySource: given, ...fromFlags };
  const kind = await ask<string>({
    type: 'select',
    message: 'How does your backend sign tokens?',
    initial: ['secret', 'published', 'key-server', 'jwks'].indexOf(current.mode),
    choices: [
      { name: 'secret', message: 'With a shared secret (HS256): the same app_secret here and in the backend' },
      { name: 'published', message: 'With a private key (RS256); publish its public key on this server (new keys later with rotate-key, without downtime)' },
      { name: 'key-server', message: 'With a private key (RS256); a key server of ours serves <sha256(kid)>.pem files' },
      ...(readsJwks(host.facts) ? [{ name: 'jwks', message: 'With a private key (RS256); our identity provider publishes a JWKS document' }] : []),
    ],
  });
  if (kind === 'secret') return { keySource: current.mode === 'secret' ? undefined : { kind: 'secret' }, ...fromFlags };
  let keySource: KeySourceWish | undefined;
  let kid: string | undefined;
  if (kind === 'published') {
    if (current.mode === 'published' && !(await ask<boolean>({ type: 'confirm', message: `Replace the published keys (${current.keys.map((k) => k.kid).join(', ')})? (No keeps them)`, initial: false }))) {
      keySource = undefined;
    } else {
      const file = await ask<string>({ type: 'input', message: 'Public key file (PEM)' });
      kid = validateKid(await ask<string>({ type: 'input', message: 'Its key id (kid), as your backend puts it in the token header' }));
      keySource = await readKeySource({ publicKey: file, kid });
    }
  } else {
    const initial = (current.mode === 'key-server' || current.mode === 'jwks') && current.mode === kind ? current.url : undefined;
    const address = await ask<string>({ type: 'input', message: kind === 'jwks' ? 'JWKS URL' : 'Key server base URL', initial });
    keySource = await readKeySource(kind === 'jwks' ? { jwksUrl: address } : { keyServer: address });
  }
  const keyFile = await ask<string>({ type: 'input', message: 'Private key to prove a token gets in (optional; read here, never sent anywhere)' });
  const proof = keyFile.trim() ? await readPrivateKeys([keyFile.trim()]) : [];
  if (proof.length > 0 && kind !== 'published' && kid === undefined) {
    kid = validateKid(await ask<string>({ type: 'input', message: 'The kid it signs as' }));
  }
  return { keySource, ...(proof.length > 0 ? { privateKeys: proof } : {}), ...(kid !== undefined ? { signingKid: kid } : {}) };
}

/** Room checks, moderators, guests, issuers and audiences. */
async function chooseRest(host: OpenHost, flags: ApplyFlags, chosen: ReturnType<typeof chosenDomain>, current: ReturnType<typeof currentTokenState>, appId: string): Promise<TokenOptions> {
  const domainName = chosen.domain;
  const plugins = new Set(host.facts.plugins.present);
  const roomCheck = await ask<boolean>({ type: 'confirm', message: "Admit a token only to the room it names (token_verification)?", initial: current.tokenAuth ? current.roomCheck : true });
  const moderatorFromToken = plugins.has('mod_token_affiliation.lua')
    ? await ask<boolean>({ type: 'confirm', message: 'Make moderators from the token (context.user.moderator) instead of the first joiner?', initial: current.moderatorFromToken })
    : undefined;
  const guestsNow = guestsEnabled(chosen.config, findConferenceComponent(chosen.config, domainName)?.name, domainName);
  const guests = ['mod_muc_wait_for_host.lua', 'mod_persistent_lobby.lua', 'mod_muc_lobby_rooms.lua'].every((p) => plugins.has(p))
    ? await ask<boolean>({ type: 'confirm', message: `Let guests in without a token once a token holder is in the room (they wait on guest.${domainName})?`, initial: guestsNow })
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
    allowEmptyToken: current.allowEmptyToken,
    issuers,
    audiences,
    roomCheck,
    moderatorFromToken: moderatorFromToken || undefined,
    allowWeakSecret: Boolean(flags.allowWeakSecret),
    // Unchanged answers leave the guest setup as it is.
    guests: guests === undefined || guests === guestsNow ? undefined : guests,
  };
}

async function backendKit(appId: string, secret: string, domain: string, issuer: string | undefined, audience: string | undefined, style: Style): Promise<string> {
  const room = 'jitsi-jwt-test';
  const token = await mintToken({ appId, appSecret: secret, room, sub: domain, iss: issuer, aud: audience });
  const page = embedPage(domain, room, token);
  const script = page.slice(page.indexOf('<script>\n') + 9, page.indexOf('</script>\n</body>'));
  return [
    '',
    bold(style, 'Try it'),
    `  sample token for room "${room}" (valid 10 minutes):\n  ${token}`,
    `  meeting URL: https://${domain}/${room}?jwt=${token}`,
    `  IFrame API (after <script src="https://${domain}/external_api.js">):\n${script.trimEnd().replace(/^/gm, '    ')}`,
  ].join('\n');
}

/** Where the backend's copy of the secret goes: a file asked for until it can be written, or none. */
async function chooseSecretFile(domain: string, out: NodeJS.WritableStream): Promise<string | undefined> {
  if (!(await ask<boolean>({ type: 'confirm', message: 'Save app_secret to a local file (mode 0600) for your backend?', initial: false }))) return undefined;
  for (;;) {
    const file = await ask<string>({ type: 'input', message: 'File', initial: `./${domain}.app_secret` });
    try {
      await checkSecretOut(file);
      return file;
    } catch (error) {
      out.write(`${(error as Error).message}\n`);
    }
  }
}

export async function setupCommand(target: string | undefined, flags: ApplyFlags): Promise<number> {
  if (!canAsk()) {
    const missing = [...(target || flags.local ? [] : ['TARGET']), ...(flags.yes ? [] : ['--yes'])];
    if (missing.length > 0) {
      throw new SettingsError(`setup has no terminal to ask on; give ${missing.join(' and ')}`, 'without a terminal setup works like apply: every choice comes from options (--app-id, --app-secret-file, ...)');
    }
    return changeCommand('apply', target ? [target] : [], flags);
  }
  const json = Boolean(flags.json);
  // Text for the person at the terminal; with --json stdout carries the document alone.
  const out = json ? process.stderr : process.stdout;
  const style = styleFor(out as NodeJS.WriteStream);
  const server = target ?? (flags.local ? undefined : await ask<string>({ type: 'input', message: 'Server (user@host[:port] or an alias from ~/.ssh/config)' }));
  const hosts = await hostsRequest('setup', server ? [server] : [], flags, terminalQuestions);
  const members = await openHosts(hosts);
  try {
    const [member] = members;
    if (!member.host) {
      if (json) printDocument(runDocument('setup', [member.result], { exitCode: member.result.exitCode, seconds: member.result.timings.totalSeconds, showSecret: false }));
      else writeError(member.result.error!);
      return member.result.exitCode;
    }
    const host = member.host;
    out.write(`${host.connector.label}: ${host.facts.os.prettyName}, Prosody ${host.facts.prosody.version ?? '(not installed)'} on ${host.facts.prosody.lua ?? 'unknown Lua'}\n`);
    const options = await chooseSettings(host, flags, out);
    // Nothing to do: say so, in the document too.
    const unchanged = (words: string) => {
      out.write(`${words}\n`);
      if (json) printDocument(runDocument('setup', [{ ...member.result, status: 'unchanged' }], { exitCode: 0, seconds: 0, showSecret: false }));
      return 0;
    };
    if (options === 'leave') return unchanged('Nothing changed.');
    const planning = planHosts(members, options, { rotate: false });
    const planned = planning.ready?.[0].host;
    if (planned) {
      out.write(`${renderPlan(planned.plan, host.connector.label, { showSecret: false }, style)}\n`);
      if (isEmpty(planned.plan)) return unchanged('Nothing to change.');
    }
    // Asked before anything changes: once the host has switched it holds the lock and the new secret until the run ends.
    const secretOut = planned?.settings.keys.mode === 'secret' ? await chooseSecretFile(planned.settings.domain, out) : undefined;
    const progress = progressFor(1, false);
    const outcome = await interruptibly((interrupted) =>
      changePlanned(
        planning,
        {
          command: 'apply',
          options,
          // Written once the host switched and passed, before the change is final: a failed write puts the host back.
          delivery: { showSecret: false, secretOut },
          concurrency: 1,
          ...applyRunFlags(flags),
        },
        {
          interrupted,
          onEvent: (name, event) => progress.event(name, event),
          confirm: async (ready) => {
            const cutOver = ready[0]?.host!.plan.keys?.cutOver;
            const warning = cutOver ? `This is a hard cut-over to ${cutOver.to}: tokens your backend signs today are refused from the restart on. ` : '';
            const go = await ask<boolean>({ type: 'confirm', message: `${warning}Apply these changes to ${host.connector.label}?`, initial: !cutOver });
            if (!go) out.write('Nothing changed.\n');
            return go;
          },
        },
      ),
    );
    const result = outcome.results[0];
    progress.end(!result.error || result.status === 'not-started');
    const switched = outcome.ready[0]?.host;
    if (outcome.applied && switched && result.report && (!result.error || result.status === 'smoke-failed')) {
      const { plan, settings } = switched;
      out.write(`\n${renderReport(result.report, plan, { showSecret: false, secret: settings.appSecret, issuer: settings.issuers?.[0], audience: settings.audiences?.[0] }, style)}\n\n`);
    }
    if (json) printChangeDocument(outcome, false, 'setup');
    else printOutcome(outcome.results, outcome.runError);
    if (outcome.delivered.includes('secret-out')) out.write(`saved to ${secretOut} (mode 0600)\n`);
    const settings = outcome.ready[0]?.host!.settings;
    if (outcome.exitCode === 0 && outcome.applied && settings && settings.keys.mode === 'secret') {
      out.write(`${await backendKit(settings.appId, settings.appSecret, settings.domain, settings.issuers?.[0], settings.audiences?.[0], style)}\n\n`);
    }
    return outcome.exitCode;
  } finally {
    await closeHosts(members);
  }
}
