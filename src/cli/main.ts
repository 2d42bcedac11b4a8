// jitsi-jwt: switch a self-hosted Jitsi Meet server to JWT token authentication
// over SSH, and prove it. Commands, flags and exit codes live here; the work is
// in facts/ (read), plan/ (decide) and apply/ (do).
import { readFileSync } from 'node:fs';
import { Command, Option } from 'commander';
import { JitsiJwtError } from '../errors.js';
import { exitCodeFor } from './exit-codes.js';
import { applyFromFlags, planCommand } from './apply-command.js';
import { addTokenCommand } from './token-command.js';
import { addSmokeCommand } from './smoke-command.js';
import { addSetupCommand } from './setup-command.js';

const env = (name: string) => `JITSI_JWT_${name}`;
const VERSION = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;

/** Where and how to connect, and how to print. */
function connectionOptions(command: Command): Command {
  return command
    .argument('[target]', '[user@]host[:port] or an alias from ~/.ssh/config')
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

export function buildProgram(): Command {
  const program = new Command('jitsi-jwt')
    .description('Secure a self-hosted Jitsi Meet server with JWT token authentication over SSH, and prove it works.')
    .version(VERSION)
    .showHelpAfterError()
    .configureOutput({ outputError: (text, write) => write(text) });

  commonOptions(program.command('plan'))
    .description('show what apply would change (unified diffs, packages, restarts); changes nothing')
    .option('--detailed-exitcode', 'exit 0 when converged, 2 when changes are pending, 1 on error')
    .action(async (target, flags) => {
      process.exitCode = await planCommand(target, flags);
    });

  commonOptions(program.command('apply'))
    .description('plan, confirm, apply, restart, smoke-test; roll back on failure')
    .option('-y, --yes', 'apply without asking')
    .option('--no-rollback', 'keep the new state even when the smoke test fails')
    .option('--no-smoke', 'skip the smoke test after applying')
    .addOption(new Option('--dpkg-lock-timeout <seconds>', 'how long to wait for another apt/dpkg run to finish').default('120').env(env('DPKG_LOCK_TIMEOUT')))
    .action(async (target, flags) => {
      process.exitCode = await applyFromFlags(target, flags);
    });

  addTokenCommand(program, (command) => credentialOptions(connectionOptions(command)));
  addSmokeCommand(program, commonOptions);
  addSetupCommand(program, commonOptions);
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
      process.stdout.write(`${JSON.stringify({ error: { code: (error as { code?: string }).code ?? 'error', message, hint } }, null, 2)}\n`);
    } else {
      process.stderr.write(`error: ${message}\n${hint ? `hint: ${hint}\n` : ''}`);
    }
    return code;
  }
}
