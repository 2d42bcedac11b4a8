// Why a connection could not be made or kept. Each message names the host and
// says what to do; src/errors.ts maps the codes to exit codes.
import { JitsiJwtError } from '../errors.js';
import { fingerprint, keyTypeOf, type KnownHostEntry } from './known-hosts.js';
import { sh } from '../shell/script.js';

export class HostUnreachableError extends JitsiJwtError {
  constructor(
    readonly host: string,
    readonly reason: string,
  ) {
    super(
      'host-unreachable',
      `cannot reach ${host}: ${reason}. Check the address and port, that sshd runs there, and that no firewall is in the way.`,
    );
  }
}

export class AuthenticationError extends JitsiJwtError {
  constructor(
    readonly host: string,
    readonly user: string,
    /** e.g. "ssh-agent (2 keys)", "key /root/.ssh/id_ed25519" */
    readonly tried: string[],
    readonly notes: string[] = [],
  ) {
    const what = tried.length > 0 ? `the server refused every method tried: ${tried.join(', ')}` : 'there was no key to offer';
    super(
      'authentication',
      `could not log in to ${host} as ${user}: ${what}.${notes.map((n) => ` ${n}`).join('')} Give the right key with --identity (or IdentityFile in ~/.ssh/config), or load it into ssh-agent, and check that its public key is in ~${user}/.ssh/authorized_keys on the host.`,
    );
  }
}

export class HostKeyChangedError extends JitsiJwtError {
  readonly expected: string[];
  readonly presented: string;

  constructor(
    readonly host: string,
    /** The known_hosts entries that disagree (or the @revoked entry that matches). */
    readonly entries: KnownHostEntry[],
    key: Buffer,
    readonly revoked = false,
  ) {
    const presented = fingerprint(key);
    const expected = entries.map((e) => fingerprint(e.key));
    const where = entries.map((e) => `${e.file} line ${e.line}`).join(', ');
    // Without -f, ssh-keygen edits ~/.ssh/known_hosts (a quoted ~ would not be expanded).
    const remove = entries[0] ? sh`ssh-keygen -R ${host} -f ${entries[0].file}` : sh`ssh-keygen -R ${host}`;
    const fix = `If the change is expected (the server was reinstalled or its keys regenerated), remove the old entry with \`${remove.text}\` and connect again to accept the new key.`;
    super(
      'host-key-changed',
      revoked
        ? `the ${keyTypeOf(key)} host key ${host} presented (${presented}) is marked @revoked in ${where}. Refusing to connect. Ask the server's administrator for its current key.`
        : `the host key of ${host} has changed: ${where} expects ${keyTypeOf(key)} ${expected.join(' or ')}, but the server presented ${presented}. Refusing to connect: someone could be intercepting the connection. ${fix}`,
    );
    this.expected = expected;
    this.presented = presented;
  }
}

export class HostKeyUnknownError extends JitsiJwtError {
  readonly fingerprint: string;

  constructor(
    readonly host: string,
    readonly knownHostsFile: string,
    key: Buffer,
    declined = false,
  ) {
    const print = fingerprint(key);
    super(
      'host-key-unknown',
      `${host} is not in ${knownHostsFile}${declined ? ' and its key was not accepted' : ''}; its ${keyTypeOf(key)} host key has the fingerprint ${print}. Compare it with the server's own (\`ssh-keygen -lf /etc/ssh/ssh_host_${keyTypeOf(key).replace(/^ssh-|-sha2-nistp\d+$/g, '')}_key.pub\` on the server), then run again with --accept-new-host-key, or ssh to the host once by hand and answer "yes".`,
    );
    this.fingerprint = print;
  }
}

export type SudoProblem = 'not-root' | 'sudo-missing' | 'password-required' | 'wrong-password' | 'not-allowed';

export class SudoError extends JitsiJwtError {
  constructor(
    readonly host: string,
    readonly user: string,
    readonly problem: SudoProblem,
    detail = '',
  ) {
    const said = detail.trim() ? ` (sudo said: ${detail.trim().split('\n').join(' ')})` : '';
    const messages: Record<SudoProblem, string> = {
      'not-root': `running as root through sudo on ${host} as ${user} did not give uid 0${said}. Allow ${user} to run any command as root in /etc/sudoers.d, or log in as root.`,
      'sudo-missing': `${user} on ${host} is not root and sudo is not installed there${said}. Log in as root, or install sudo and allow ${user} to use it.`,
      'password-required': `sudo on ${host} asks ${user} for a password. Pipe it in with --sudo-password-stdin, or allow ${user} passwordless sudo (NOPASSWD) on the host.`,
      'wrong-password': `sudo on ${host} rejected the password given for ${user}${said}. Check the password piped to --sudo-password-stdin.`,
      'not-allowed': `${user} may not run commands as root with sudo on ${host}${said}. Allow it in /etc/sudoers.d, or log in as root.`,
    };
    super('sudo', messages[problem]);
  }
}

export class ConnectionLostError extends JitsiJwtError {
  constructor(
    readonly host: string,
    reason: string,
  ) {
    super(
      'connection-lost',
      `the connection to ${host} was lost (${reason}). A script that was running may or may not have finished there. Check that the host is up (ssh to it), then run again: the next run reads the host as it is now.`,
    );
  }
}

export class TunnelError extends JitsiJwtError {
  constructor(
    readonly host: string,
    readonly destination: string,
    reason: string,
  ) {
    super(
      'tunnel',
      `cannot open a connection from ${host} to ${destination}: ${reason}. Check that the service listens on ${destination} as seen from the server${host === 'local' ? '' : ' and that sshd allows TCP forwarding (AllowTcpForwarding)'}.`,
    );
  }
}

/** A script meant to keep running (hold()) exited before saying anything. */
export class ScriptExitedError extends JitsiJwtError {
  constructor(host: string, code: number, stderr: string) {
    super('script-exited', `a script on ${host} exited with code ${code} before printing anything${stderr.trim() ? `: ${stderr.trim()}` : ''}`);
  }
}
