// jitsi-jwt: switch a self-hosted Jitsi Meet server to JWT token authentication
// over SSH, and prove it. Commands, flags and exit codes live here; the work is
// in facts/ (read), plan/ (decide) and apply/ (do).
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { JitsiJwtError } from '../errors.js';
import { exitCodeFor } from './exit-codes.js';
import { changeCommand, planCommand } from './apply-command.js';
import { printDocument, runDocument } from './run-document.js';
import { writeError } from './render.js';
import { addTokenCommand } from './token-command.js';
import { addSmokeCommand } from './smoke-command.js';
import { addSetupCommand } from './setup-command.js';

const env = (name: string) => `JITSI_JWT_${name}`;
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

const ONE_TARGET = ['[target]', '[user@]host[:port] or an alias from ~/.ssh/config'] as const;
const TARGETS = ['[targets...]', 'one or more servers: [user@]host[:port] or aliases from ~/.ssh/config'] as const;

/** Where and how to connect, and how to print. */
function connectionOptions(command: Command): Command {
  return command
    .addOption(new Option('--local', 'work on this machine (run on the server itself), no SSH').env(env('LOCAL')))
    .addOption(new Option('--identity <file>', 'SSH private key to log in with').env(env('IDENTITY')))
    .addOption(new Option('--known-hosts <file>', 'known_hosts file to check the host key against (default: ~/.ssh/known_hosts)').env(env('KNOWN_HOSTS')))
    .addOption(new Option('--ssh-config <file>', 'ssh client config for host aliases (default: ~/.ssh/config)').env(env('SSH_CONFIG')))
    .addOption(new Option('--accept-new-host-key', 'trust and record the host key of a host not yet in known_hosts').env(env('ACCEPT_NEW_HOST_KEY')))
    .addOption(new Option('--sudo-password-stdin', 'read the sudo password from the first line of standard input').env(env('SUDO_PASSWORD_STDIN')))
    .addOption(new Option('--json', 'print one JSON document instead of text').env(env('JSON')));
}

/** Which domain and which credentials. */
function credentialOptions(command: Command): Command {
  return command
    .addOption(new Option('--domain <domain>', 'the Jitsi domain (default: detected on the host)').env(env('DOMAIN')))
    .addOption(new Option('--app-id <id>', "the token issuer your backend signs with (default: the host's current app_id)").env(env('APP_ID')))
    .addOption(new Option('--app-secret-file <path>', "read app_secret from this file (or set JITSI_JWT_APP_SECRET); default: keep the host's, or generate one").env(env('APP_SECRET_FILE')))
    .addOption(new Option('--allow-weak-secret', 'accept an app secret shorter than 32 characters').env(env('ALLOW_WEAK_SECRET')));
}

/** The token authentication a host should end up with. */
function commonOptions(command: Command): Command {
  return credentialOptions(connectionOptions(command))
    .addOption(new Option('--allow-empty-token', 'let clients without a token in (off: everyone needs a token)').env(env('ALLOW_EMPTY_TOKEN')))
    .addOption(new Option('--issuers <list>', 'accepted iss values, comma-separated (default: app_id)').env(env('ISSUERS')))
    .addOption(new Option('--audiences <list>', 'accepted aud values, comma-separated (default: any)').env(env('AUDIENCES')))
    .addOption(new Option('--no-room-check', "do not enforce the token's room claim at room join (token_verification)").env(env('NO_ROOM_CHECK')))
    .addOption(new Option('--moderator-from-token', 'make token holders with context.user.moderator (or affiliation owner) moderators: token_affiliation, and Jicofo stops making the first joiner moderator').env(env('MODERATOR_FROM_TOKEN')))
    .addOption(new Option('--show-secret', 'show app_secret in the output (hidden by default)').env(env('SHOW_SECRET')));
}

/** Several hosts at once: an inventory file, parallelism. */
function fleetOptions(command: Command): Command {
  return command
    .argument(...TARGETS)
    .addOption(new Option('--inventory <file>', 'YAML file listing the servers, with per-host user, port, domain, identity, sudo (see README)').env(env('INVENTORY')))
    .addOption(new Option('--concurrency <n>', 'how many hosts to work on at once').default('8').env(env('CONCURRENCY')));
}

/** Where a new secret goes, besides the hosts. */
function deliveryOptions(command: Command): Command {
  return command
    .addOption(new Option('--secret-out <file>', 'write the app secret to this local file (mode 0600, atomically) once every host passed').env(env('SECRET_OUT')))
    .addOption(new Option('--exec <command>', 'run this local command with the new app secret on stdin once every host passed (e.g. to store it in a vault); its failure puts every host back').env(env('EXEC')));
}

export function buildProgram(): Command {
  const program = new Command('jitsi-jwt')
    .description('Secure a self-hosted Jitsi Meet server with JWT token authentication over SSH, and prove it works.')
    .version(VERSION)
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });

  commonOptions(fleetOptions(program.command('plan')))
    .description('show what apply would change (unified diffs, packages, restarts); changes nothing')
    .option('--detailed-exitcode', 'exit 0 when converged, 2 when changes are pending, 1 on error')
    .action(async (targets, flags) => {
      process.exitCode = await planCommand(targets, flags);
    });

  deliveryOptions(commonOptions(fleetOptions(program.command('apply'))))
    .description('plan, confirm, apply, restart, smoke-test; roll back on failure (on several hosts: all or nothing)')
    .option('-y, --yes', 'apply without asking')
    .option('--no-rollback', 'keep the new state even when the smoke test fails')
    .option('--no-smoke', 'skip the smoke test after applying')
    .option('--secret-from <host>', "hosts disagree on app_secret: this host's secret wins (a name from the run)")
    .addOption(new Option('--dpkg-lock-timeout <seconds>', 'how long to wait for another apt/dpkg run to finish').default('120').env(env('DPKG_LOCK_TIMEOUT')))
    .action(async (targets, flags) => {
      process.exitCode = await changeCommand('apply', targets, flags);
    });

  deliveryOptions(credentialOptions(connectionOptions(fleetOptions(program.command('rotate-secret')))))
    .description('give every host one new app_secret, proven (new accepted, old refused), all or nothing; the secret goes only where --secret-out/--exec/--show-secret say')
    .option('-y, --yes', 'rotate without asking')
    .addOption(new Option('--show-secret', 'show the new app_secret in the output (with --json: in the document)').env(env('SHOW_SECRET')))
    .addOption(new Option('--dpkg-lock-timeout <seconds>', 'how long to wait for another apt/dpkg run to finish').default('120').env(env('DPKG_LOCK_TIMEOUT')))
    .action(async (targets, flags) => {
      process.exitCode = await changeCommand('rotate-secret', targets, flags);
    });

  addTokenCommand(program, (command) => credentialOptions(connectionOptions(command.argument(...ONE_TARGET))));
  addSmokeCommand(program, (command) => commonOptions(fleetOptions(command)));
  addSetupCommand(program, (command) => commonOptions(command.argument(...ONE_TARGET)));
  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return Number(process.exitCode ?? 0);
  } catch (error) {
    const json = argv.includes('--json');
    const message = (error as Error).message;
    const hint = error instanceof JitsiJwtError ? error.hint : (error as { hint?: string }).hint;
    const code = exitCodeFor(error);
    if (json) {
      const command = argv.slice(2).find((arg) => !arg.startsWith('-')) ?? '';
      printDocument(runDocument(command, [], { exitCode: code, seconds: 0, showSecret: false, error: { code: (error as { code?: string }).code ?? 'error', message, ...(hint ? { hint } : {}) } }));
    } else {
      writeError({ message, hint });
    }
    return code;
  }
}
