// jitsi-jwt: switch a self-hosted Jitsi Meet server to JWT token authentication
// over SSH, and prove it. The commands and their flags are declared here; each
// command's module (and what it needs: ssh2, the planner, the smoke client) is
// loaded only when that command runs, so --help and a typo answer at once.
// The work itself is in run/ (the engine), under it facts/ plan/ apply/ smoke/.
import { readFileSync } from 'node:fs';
import { Command, CommanderError } from 'commander';
import { EXIT, SettingsError, errorInfo, errorText, exitCodeFor } from '../errors.js';
import { DEFAULT_CONCURRENCY, DEFAULT_DPKG_LOCK_TIMEOUT_SECONDS, DEFAULT_KEEP_BACKUPS } from '../settings/defaults.js';
import { BOOLEAN_WORDS } from '../settings/values.js';
import { jsonRequested, option, readOptionValues } from './options.js';

const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const ONE_TARGET = ['[target]', '[user@]host[:port] or an alias from ~/.ssh/config'] as const;
const TARGETS = ['[targets...]', 'one or more servers: [user@]host[:port] or aliases from ~/.ssh/config'] as const;
const COMMANDS = ['plan', 'apply', 'rotate-secret', 'rotate-key', 'token', 'smoke', 'setup', 'restore', 'doctor'];

const BOOLEAN = { type: 'boolean' } as const;
const TEXT = { type: 'string' } as const;
const LIST = { type: 'list' } as const;
const dpkgLockTimeout = () => option('--dpkg-lock-timeout <seconds>', 'how long to wait for another apt/dpkg run to finish', { type: 'integer', min: 0, max: 86_400, unit: 'seconds' }, { default: DEFAULT_DPKG_LOCK_TIMEOUT_SECONDS });
/** Past this even --force refuses: such a token is a standing password. */
const MAX_TTL = 366 * 86_400;
// At least 1: the newest backup is the way back from the run that just happened.
const keepBackups = () => option('--keep-backups <n>', 'after a run that wrote, keep this many backups on each host, newest first', { type: 'integer', min: 1, max: 1000, unit: 'backups', belowMin: 'would delete the backup of the run that just happened, the only way back from it' }, { default: DEFAULT_KEEP_BACKUPS });

/** Where and how to connect, and how to print. */
function connectionOptions(command: Command): Command {
  return command
    .addOption(option('--local', 'work on this machine (run on the server itself), no SSH', BOOLEAN))
    .addOption(option('--identity <file>', 'SSH private key to log in with', TEXT))
    .addOption(option('--known-hosts <file>', 'known_hosts file to check the host key against (default: ~/.ssh/known_hosts)', TEXT))
    .addOption(option('--ssh-config <file>', 'ssh client config for host aliases (default: ~/.ssh/config)', TEXT))
    .addOption(option('--accept-new-host-key', 'trust and record the host key of a host not yet in known_hosts', BOOLEAN))
    .addOption(option('--sudo-password-stdin', 'read the sudo password from the first line of standard input', BOOLEAN))
    .addOption(option('--json', 'print one JSON document instead of text', BOOLEAN));
}

/** Which domain and which credentials. */
function credentialOptions(command: Command): Command {
  return command
    .addOption(option('--domain <domain>', 'the Jitsi domain (default: detected on the host)', TEXT))
    .addOption(option('--app-id <id>', "the token issuer your backend signs with (default: the host's current app_id)", TEXT))
    .addOption(option('--app-secret-file <path>', "read app_secret from this file (or set JITSI_JWT_APP_SECRET); default: keep the host's, or generate one", TEXT))
    .addOption(option('--allow-weak-secret', 'accept an app secret shorter than 32 characters', BOOLEAN));
}

/** The token authentication a host should end up with. */
function commonOptions(command: Command): Command {
  return credentialOptions(connectionOptions(command))
    .addOption(option('--allow-empty-token', 'let clients without a token in (off: everyone needs a token)', BOOLEAN))
    .addOption(option('--issuers <list>', 'accepted iss values, comma-separated (default: app_id)', LIST))
    .addOption(option('--audiences <list>', 'accepted aud values, comma-separated (default: any)', LIST))
    .addOption(option('--no-room-check', "do not enforce the token's room claim at room join (token_verification)", BOOLEAN))
    .addOption(option('--moderator-from-token', 'make token holders with context.user.moderator (or affiliation owner) moderators: token_affiliation, and Jicofo stops making the first joiner moderator', BOOLEAN))
    .addOption(option('--guests', 'let guests in once a token holder is in the room: guest.<domain>, muc_wait_for_host, anonymousdomain in config.js', BOOLEAN))
    .addOption(option('--no-guests', 'remove the guest setup again (default: leave it as it is)', BOOLEAN))
    .addOption(option('--allow-without-token <jid-or-domain>', 'also let this domain or bare JID join without a token (repeatable; Jibri and Jigasi found on the host are added anyway)', LIST, { repeatable: true }))
    .addOption(option('--show-secret', 'show app_secret in the output (hidden by default)', BOOLEAN));
}

/** Where the host's token keys come from: a shared secret (HS256, the default) or public keys by kid (RS256). */
function keySourceOptions(command: Command): Command {
  return command
    .addOption(option('--key-server <url>', 'RS256 tokens: the host fetches public keys by kid from <url>/<hex(sha256(kid))>.pem (a key server your backend runs)', TEXT))
    .addOption(option('--jwks-url <url>', "RS256 tokens: the host reads public keys from this JWKS document (e.g. Keycloak's certs endpoint); needs Jitsi's 2026 token plugins", TEXT))
    .addOption(option('--public-key <file>', 'RS256 tokens: publish this public key on the host itself, for the kid given with --kid (rotate later with rotate-key)', TEXT))
    .addOption(option('--shared-secret', 'back from public keys to HS256 tokens with one shared app_secret', BOOLEAN));
}

/** The private keys a smoke test of an RS256 host signs with. */
function signingOptions(command: Command): Command {
  return command
    .addOption(option('--kid <id>', 'the key id (kid) of --public-key, and the kid a --private-key signs as when it matches no key published on the host', TEXT))
    .addOption(option('--private-key <file>', 'RS256 hosts: sign the smoke test\'s tokens with this private key (read here, never sent anywhere; repeatable, KID=FILE names the kid it signs as); without one only refusals are proven', LIST, { repeatable: true }));
}

/** Several hosts at once: an inventory file, parallelism. */
function fleetOptions(command: Command): Command {
  return command
    .argument(...TARGETS)
    .addOption(option('--inventory <file>', 'YAML file listing the servers, with per-host user, port, domain, identity, sudo (see README)', TEXT))
    .addOption(option('--concurrency <n>', 'how many hosts to work on at once', { type: 'integer', min: 1, max: 256, unit: 'hosts' }, { default: DEFAULT_CONCURRENCY }));
}

/** Where a new secret goes, besides the hosts. */
function deliveryOptions(command: Command): Command {
  return command
    .addOption(option('--secret-out <file>', 'write the app secret to this local file (mode 0600, atomically) once every host passed', TEXT))
    .addOption(option('--exec <command>', 'run this local command with the new app secret on stdin once every host passed (e.g. to store it in a vault); its failure puts every host back', TEXT))
    .addOption(option('--exec-env <name>', 'also pass this variable to the --exec command, which otherwise gets only PATH, HOME, USER, LOGNAME, SHELL, LANG, LANGUAGE, LC_*, TERM, TZ, TMPDIR (repeatable, or comma-separated)', LIST, { repeatable: true }));
}

/** What the JSON document and the error output need to know before (or whatever) the command ran. */
interface RunContext {
  command: string;
  json: boolean;
}

export function buildProgram(context: RunContext = { command: '', json: false }): Command {
  const program = new Command('jitsi-jwt')
    .description(
      'Secure a self-hosted Jitsi Meet server with JWT token authentication over SSH, and prove it works.\n' +
        `Every option can also be set as an environment variable (shown as [env: ...]); an empty one counts as unset. On/off variables take ${BOOLEAN_WORDS} in any case, and anything else is refused.`,
    )
    .version(VERSION)
    .showHelpAfterError()
    // Commander's own errors (unknown option, missing value) come back as exceptions, mapped to exit 3 below.
    .exitOverride()
    .configureOutput({ outputError: (text, write) => (context.json ? undefined : write(text)), writeErr: (text) => (context.json ? undefined : process.stderr.write(text)) })
    .hook('preAction', (_program, action) => {
      context.command = action.name();
      readOptionValues(action);
    });

  signingOptions(keySourceOptions(commonOptions(fleetOptions(program.command('plan')))))
    .description('show what apply would change (unified diffs, packages, restarts); changes nothing')
    .addOption(option('--detailed-exitcode', 'exit 2 instead of 0 when changes are pending (errors keep their own exit codes)', BOOLEAN))
    .action(async (targets, flags) => {
      process.exitCode = await (await import('./plan-command.js')).planCommand(targets, flags);
    });

  signingOptions(keySourceOptions(deliveryOptions(commonOptions(fleetOptions(program.command('apply'))))))
    .description('plan, confirm, apply, restart, smoke-test; roll back on failure (on several hosts: all or nothing)')
    .addOption(option('-y, --yes', 'apply without asking', BOOLEAN, { env: false }))
    .addOption(option('--no-rollback', 'keep the new state even when the smoke test fails', BOOLEAN))
    .addOption(option('--no-smoke', 'skip the smoke test after applying', BOOLEAN))
    .addOption(option('--secret-from <host>', "hosts disagree on app_secret: this host's secret wins (a name from the run)", TEXT))
    .addOption(dpkgLockTimeout())
    .addOption(keepBackups())
    .action(async (targets, flags) => {
      process.exitCode = await (await import('./apply-command.js')).changeCommand('apply', targets, flags);
    });

  deliveryOptions(credentialOptions(connectionOptions(fleetOptions(program.command('rotate-secret')))))
    .description('give every host one new app_secret, proven (new accepted, old refused), all or nothing; the secret goes only where --secret-out/--exec/--show-secret say')
    .addOption(option('-y, --yes', 'rotate without asking', BOOLEAN, { env: false }))
    .addOption(option('--show-secret', 'show the new app_secret in the output (with --json: in the document)', BOOLEAN))
    .addOption(dpkgLockTimeout())
    .addOption(keepBackups())
    .action(async (targets, flags) => {
      process.exitCode = await (await import('./apply-command.js')).changeCommand('rotate-secret', targets, flags);
    });

  connectionOptions(fleetOptions(program.command('rotate-key')))
    .description('public keys this tool publishes on the hosts: accept a new key beside the old ones (--add-public-key FILE --kid ID, nothing restarts), or stop accepting one (--retire-kid ID, Prosody restarts to forget it); proven, all or nothing')
    .addOption(option('--domain <domain>', 'the Jitsi domain (default: detected on the host)', TEXT))
    .addOption(option('--add-public-key <file>', 'the new public key to accept, for the kid given with --kid', TEXT))
    .addOption(option('--kid <id>', 'the key id of --add-public-key: a new one (Prosody keeps a kid\'s key until it restarts)', TEXT))
    .addOption(option('--retire-kid <id>', 'stop accepting the key with this kid', TEXT))
    .addOption(option('--private-key <file>', "sign the proof's tokens with this private key (read here, never sent anywhere; repeatable): each is matched to its kid by its public half", LIST, { repeatable: true }))
    .addOption(option('-y, --yes', 'change the keys without asking', BOOLEAN, { env: false }))
    .addOption(dpkgLockTimeout())
    .addOption(keepBackups())
    .action(async (targets, flags) => {
      process.exitCode = await (await import('./apply-command.js')).changeCommand('rotate-key', targets, flags);
    });

  credentialOptions(connectionOptions(program.command('token').argument(...ONE_TARGET)))
    .description('mint a token for a room (secret from --app-secret-file, JITSI_JWT_APP_SECRET, or the host; RS256 with --private-key and --kid)')
    .addOption(option('--private-key <file>', 'sign RS256 with this private key (read here only) instead of HS256 with a secret; KID=FILE names its kid', LIST, { env: false }))
    .addOption(option('--kid <id>', 'the kid of --private-key', TEXT, { env: false }))
    .addOption(option('--room <name>', 'the room the token opens (compared lower-cased, as Jitsi does)', TEXT, { env: false }))
    .addOption(option('--any-room', 'a token valid in every room (room "*")', BOOLEAN, { env: false }))
    .addOption(option('--sub <sub>', 'sub claim (default: the domain)', TEXT, { env: false }))
    .addOption(option('--aud <aud>', 'aud claim', TEXT, { default: 'jitsi', env: false }))
    .addOption(option('--iss <iss>', 'iss claim (default: the app_id)', TEXT, { env: false }))
    .addOption(option('--ttl <duration>', 'lifetime, e.g. 600, 10m (over 15 minutes needs --force)', { type: 'duration', min: 1, max: MAX_TTL }, { default: '10m', env: false }))
    .addOption(option('--nbf-skew <duration>', 'back-date nbf by this much to absorb clock skew', { type: 'duration', min: 0, max: 86_400 }, { default: '30s', env: false }))
    .addOption(option('--force', 'allow a lifetime over 15 minutes', BOOLEAN, { env: false }))
    .addOption(option('--name <name>', 'context.user.name', TEXT, { env: false }))
    .addOption(option('--email <email>', 'context.user.email', TEXT, { env: false }))
    .addOption(option('--avatar <url>', 'context.user.avatar', TEXT, { env: false }))
    .addOption(option('--user-id <id>', 'context.user.id', TEXT, { env: false }))
    .addOption(option('--moderator', 'context.user.moderator = true', BOOLEAN, { env: false }))
    .addOption(option('--affiliation <affiliation>', 'context.user.affiliation', TEXT, { env: false, choices: ['owner', 'member'] }))
    .addOption(option('--url', 'print the meeting URL with ?jwt=', BOOLEAN, { env: false }))
    .addOption(option('--embed', 'print an HTML page that opens the room with the IFrame API', BOOLEAN, { env: false }))
    .action(async (target, flags) => {
      process.exitCode = await (await import('./token-command.js')).tokenCommand(target, flags);
    });

  signingOptions(commonOptions(fleetOptions(program.command('smoke'))))
    .description('prove token authentication with fresh tokens: valid admitted; no token, wrong secret, expired, wrong room refused')
    .addOption(option('--url <url>', 'test the public endpoint instead, e.g. https://meet.example.com/http-bind (needs --domain)', TEXT, { env: false }))
    .addOption(option('--ca <file>', 'CA certificate(s) to trust for --url', TEXT))
    .addOption(option('--insecure', 'do not verify the TLS certificate of --url', BOOLEAN, { env: false }))
    .action(async (targets, flags) => {
      process.exitCode = await (await import('./smoke-command.js')).smokeCommand(targets, flags);
    });

  signingOptions(keySourceOptions(commonOptions(program.command('setup').argument(...ONE_TARGET))))
    .description('interactive installer: asks what it cannot read from the host, shows the plan, applies and proves it')
    .addOption(option('-y, --yes', 'without a terminal: apply without asking (setup then works like apply)', BOOLEAN, { env: false }))
    .addOption(option('--no-rollback', 'keep the new state even when the smoke test fails', BOOLEAN))
    .addOption(dpkgLockTimeout())
    .addOption(keepBackups())
    .action(async (target, flags) => {
      process.exitCode = await (await import('./setup-command.js')).setupCommand(target, flags);
    });

  connectionOptions(program.command('restore').argument(...ONE_TARGET))
    .description("list a host's backups (newest first), or put one back: shows the diff, asks, backs up the current state, restores, restarts and proves it; rolls back on failure")
    .addOption(option('--backup <id>', 'the backup to put back: an ID from the listing, or "latest"', TEXT, { env: false }))
    .addOption(option('--domain <domain>', 'the Jitsi domain to prove afterwards (default: detected on the host)', TEXT))
    .addOption(option('-y, --yes', 'restore without asking', BOOLEAN, { env: false }))
    .addOption(option('--no-smoke', 'skip the smoke test after restoring a token configuration', BOOLEAN))
    .action(async (target, flags) => {
      process.exitCode = await (await import('./restore-command.js')).restoreCommand(target, flags);
    });
  connectionOptions(fleetOptions(program.command('doctor')))
    .description('say why tokens are refused: read-only checks of the config, plugins, Lua modules, services, clock and Prosody\'s log, each finding with its evidence and fix; --token-file or JITSI_JWT_TOKEN explains one token')
    .addOption(option('--domain <domain>', 'the Jitsi domain to check (default: every one on the host)', TEXT))
    // The token is a live credential: JITSI_JWT_TOKEN or --token-file, never argv.
    .addOption(option('--token <jwt>', 'the token to explain', TEXT, { secret: { hint: 'give it in JITSI_JWT_TOKEN, or with --token-file FILE (--token-file - reads it from standard input)' } }))
    .addOption(option('--token-file <file>', 'explain the token (or meeting URL with ?jwt=) in this file (- for standard input; or set JITSI_JWT_TOKEN) against the host: every check Jitsi makes, with its verdict', TEXT))
    .addOption(option('--room <name>', 'with a token: the room to check it for (default: the room in the meeting URL, if any)', TEXT, { env: false }))
    .addOption(option('--since <duration>', "how far back to read Prosody's log, e.g. 90m, 24h, 7d", { type: 'duration', min: 60, max: 366 * 86_400 }, { default: '24h' }))
    .action(async (targets, flags) => {
      process.exitCode = await (await import('./doctor-command.js')).doctorCommand(targets, flags);
    });
  return program;
}

export async function main(argv: string[]): Promise<number> {
  const context: RunContext = { command: '', json: jsonRequested(argv.slice(2)) };
  try {
    await buildProgram(context).parseAsync(argv);
    const code = Number(process.exitCode ?? 0);
    // A run that a signal made put its hosts back exits as the signal would have ended it.
    if (code !== EXIT.interrupted) return code;
    const { receivedSignal, signalExitCode } = await import('./progress.js');
    const signal = receivedSignal();
    return signal ? signalExitCode(signal) : code;
  } catch (caught) {
    let error = caught;
    if (error instanceof CommanderError) {
      // --help and --version end here too.
      if (error.exitCode === 0) return EXIT.ok;
      // Commander has printed its message (and the help) unless JSON was asked for.
      if (!context.json) return EXIT.badInput;
      error = new SettingsError(error.message.replace(/^error: /, ''), 'see jitsi-jwt --help');
    }
    const info = errorInfo(error);
    const code = exitCodeFor(error);
    if (context.json) {
      const command = context.command || (argv.slice(2).find((arg) => COMMANDS.includes(arg)) ?? '');
      if (command === 'doctor') {
        process.stdout.write(`${JSON.stringify((await import('./doctor-command.js')).doctorErrorDocument(error, code), null, 2)}\n`);
        return code;
      }
      const { printDocument, runDocument } = await import('./run-document.js');
      printDocument(runDocument(command, [], { exitCode: code, seconds: 0, showSecret: false, error: info }));
    } else {
      process.stderr.write(errorText(info));
    }
    return code;
  }
}
