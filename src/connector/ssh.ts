// The SSH connector: one connection per host for the whole run (node-ssh over
// ssh2), every script on its own exec channel, host keys checked against
// known_hosts the way OpenSSH does, and root through sudo when the login user
// is not root.
import { constants as osConstants, homedir, userInfo } from 'node:os';
import { appendFile, mkdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { PassThrough, type Duplex } from 'node:stream';
import { setImmediate as nextTurn } from 'node:timers/promises';
import { NodeSSH, SSHError, type Config, type SSHExecCommandOptions, type SSHExecCommandResponse } from 'node-ssh';
import ssh2 from 'ssh2';
import type { AnyAuthMethod, AuthHandlerMiddleware, ClientChannel, ParsedKey } from 'ssh2';
import { SettingsError } from '../errors.js';
import { sh, type ShellScript } from '../shell/script.js';
import { establishElevation, elevatedArgv, elevatedInput, type Elevation } from './elevation.js';
import {
  AuthenticationError,
  ConnectionLostError,
  HostKeyChangedError,
  HostKeyUnknownError,
  HostUnreachableError,
  ScriptExitedError,
  TunnelError,
} from './errors.js';
import { resolveHostConfig, type HostConfig } from './host-config.js';
import { checkHostKey, fingerprint, hostKeyAlgorithms, knownHostsLine, knownHostsName, knownKeyTypes, parseKnownHosts, type KnownHostEntry } from './known-hosts.js';
import { formatHostPort, parseTarget, type SshTarget } from './target.js';
import type { Connector, ExecResult, HeldScript } from './types.js';
import { firstLineOf, heldOutput } from './held-output.js';

export { parseTarget, type SshTarget };

const { utils } = ssh2;
type Client = InstanceType<typeof ssh2.Client>;

export interface SshOptions {
  /** --identity */
  identityFile?: string;
  /** --known-hosts (default ~/.ssh/known_hosts) */
  knownHostsFile?: string;
  /** unknown host: add to known_hosts and continue */
  acceptNewHostKey?: boolean;
  /** interactive yes/no for unknown keys (setup) */
  confirmNewHostKey?: (fingerprint: string, host: string) => Promise<boolean>;
  /** for users whose sudo needs a password */
  sudoPassword?: string;
  /** default ~/.ssh/config */
  sshConfigFile?: string;
  connectTimeoutMs?: number;
}

const DEFAULT_CONNECT_TIMEOUT_MS = 20_000;
const DEFAULT_IDENTITIES = ['id_ed25519', 'id_ecdsa', 'id_rsa'];
/** A jump host may itself be reached through a jump host, up to this depth. */
const MAX_JUMPS = 4;
const RELEASE_GRACE_MS = 10_000;

export async function connectSsh(target: SshTarget, options: SshOptions): Promise<Connector> {
  const home = homedir();
  const configText = await readSshConfig(options.sshConfigFile, home);
  const env = { home, localUser: userInfo().username };
  const config = resolveHostConfig(target, configText, env);
  const opened = await openClient(config, options, { configText, env, depth: 0 });
  const connector = new SshConnector(opened.ssh, config, opened.jumps);
  try {
    await connector.elevate(options.sudoPassword);
  } catch (error) {
    await connector.close();
    throw error;
  }
  return connector;
}

async function readSshConfig(file: string | undefined, home: string): Promise<string> {
  try {
    return await readFile(file ?? path.join(home, '.ssh', 'config'), 'utf8');
  } catch (error) {
    if (file === undefined && (error as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new SettingsError(`cannot read the ssh configuration ${file}: ${(error as Error).message}`, 'give a readable file with --ssh-config');
  }
}

interface Resolution {
  configText: string;
  env: { home: string; localUser: string };
  depth: number;
}

interface OpenedClient {
  ssh: NodeSSH;
  /** Jump host connections this one runs through, nearest last. */
  jumps: NodeSSH[];
}

async function openClient(config: HostConfig, options: SshOptions, resolution: Resolution): Promise<OpenedClient> {
  let jumps: NodeSSH[] = [];
  let sock: Duplex | undefined;
  if (config.proxyJump) {
    if (resolution.depth >= MAX_JUMPS) throw new SettingsError(`ProxyJump for ${config.alias} goes through more than ${MAX_JUMPS} jump hosts`, 'check ~/.ssh/config for a ProxyJump loop');
    const jumpConfig = resolveHostConfig(config.proxyJump, resolution.configText, resolution.env);
    // The jump host gets its own config, keys and host key check; only the target's sudo matters.
    const jump = await openClient(jumpConfig, { ...options, sudoPassword: undefined }, { ...resolution, depth: resolution.depth + 1 });
    // A jump host's failure reaches us as the loss of the connection through it; unheard, its error event would throw.
    jump.ssh.connection?.on('error', () => {});
    jumps = [...jump.jumps, jump.ssh];
    try {
      sock = await jump.ssh.forwardOut('127.0.0.1', 0, config.host, config.port);
    } catch (error) {
      for (const j of jumps) j.dispose();
      const via = `${jumpConfig.user}@${formatHostPort(jumpConfig.host, jumpConfig.port)}`;
      throw new HostUnreachableError(formatHostPort(config.host, config.port), `the jump host ${via} could not connect to it (${(error as Error).message})`);
    }
  }
  try {
    return { ssh: await handshake(config, options, sock), jumps };
  } catch (error) {
    for (const j of jumps) j.dispose();
    throw error;
  }
}

async function handshake(config: HostConfig, options: SshOptions, sock: Duplex | undefined): Promise<NodeSSH> {
  const knownHosts = await loadKnownHosts(config, options);
  const hostName = knownHostsName(config.hostKeyAlias ?? config.host, config.port);
  const knownTypes = knownKeyTypes(knownHosts.entries, hostName);
  const auth = await authMethods(config, options);
  const timeoutMs = options.connectTimeoutMs ?? config.connectTimeoutMs ?? DEFAULT_CONNECT_TIMEOUT_MS;
  const address = formatHostPort(config.host, config.port);

  let settled = false;
  /** Set when we refuse the host key: it explains the handshake failure that follows. */
  let refusal: Error | undefined;
  let timer: NodeJS.Timeout | undefined;
  let timedOut!: (error: Error) => void;
  const timeout = new Promise<never>((_resolve, reject) => (timedOut = reject));
  const startTimer = () => {
    timer = setTimeout(() => timedOut(new HostUnreachableError(address, `no SSH session within ${Math.round(timeoutMs / 1000)} s`)), timeoutMs);
  };

  const verifyHostKey = async (key: Buffer): Promise<boolean> => {
    const check = checkHostKey(knownHosts.entries, hostName, key);
    switch (check.status) {
      case 'known':
        return true;
      case 'changed':
        throw new HostKeyChangedError(hostName, check.expected, key);
      case 'revoked':
        throw new HostKeyChangedError(hostName, [check.entry], key, true);
      case 'unknown': {
        let accept = Boolean(options.acceptNewHostKey || config.acceptNewHostKey);
        let declined = false;
        if (!accept && options.confirmNewHostKey) {
          // A person may take longer than the connect timeout to answer.
          clearTimeout(timer);
          accept = await options.confirmNewHostKey(fingerprint(key), hostName);
          declined = !accept;
          if (!settled) startTimer();
        }
        if (!accept) throw new HostKeyUnknownError(hostName, knownHosts.writeTo, key, declined);
        await addKnownHost(knownHosts.writeTo, knownHostsLine(hostName, key));
        return true;
      }
    }
  };

  const connectConfig: Config = {
    username: config.user,
    readyTimeout: 0, // our own timer, which pauses while a person confirms a host key
    keepaliveInterval: 15_000,
    keepaliveCountMax: 4,
    ...(sock ? { sock } : { host: config.host, port: config.port }),
    ...(knownTypes.length > 0 ? { algorithms: { serverHostKey: hostKeyAlgorithms(knownTypes) as NonNullable<Config['algorithms']>['serverHostKey'] } } : {}),
    hostVerifier: (key: Buffer, verify: (valid: boolean) => void) => {
      verifyHostKey(key).then(verify, (error: Error) => {
        refusal = error;
        verify(false);
      });
    },
    authHandler: auth.next,
  };
  const ssh = new NodeSSH();
  startTimer();
  try {
    const connecting = ssh.connect(connectConfig);
    // Without Nagle: a script's last bytes and the EOF after them, and the handshake's small
    // messages, leave at once instead of waiting out the server's delayed ACK (40 ms each time).
    const client = ssh.connection as Client | null;
    client?.once('connect', () => client.setNoDelay(true));
    await Promise.race([connecting, timeout]);
    return ssh;
  } catch (error) {
    ssh.connection?.destroy();
    throw refusal ?? handshakeFailure(error as Error, address, config.user, auth);
  } finally {
    settled = true;
    clearTimeout(timer);
  }
}

function handshakeFailure(error: Error & { level?: string; code?: string }, address: string, user: string, auth: AuthPlan): Error {
  if (error instanceof HostUnreachableError) return error; // the connect timer's
  if (error.level === 'client-authentication') return new AuthenticationError(address, user, auth.tried, auth.notes);
  // node-ssh's answer to the connection closing before it was ready
  if (error instanceof SSHError) return new HostUnreachableError(address, 'the server closed the connection during the SSH handshake');
  return new HostUnreachableError(address, describeNetworkError(error));
}

function describeNetworkError(error: Error & { level?: string; code?: string }): string {
  switch (error.code) {
    case 'ECONNREFUSED':
      return 'connection refused (nothing listens on that port)';
    case 'EHOSTUNREACH':
    case 'ENETUNREACH':
      return 'no route to the host';
    case 'ENOTFOUND':
    case 'EAI_AGAIN':
      return 'the host name does not resolve';
    case 'ETIMEDOUT':
      return 'the connection timed out';
    case 'ECONNRESET':
      return 'the server reset the connection';
    default:
      return error.level === 'client-socket' ? error.message : `the SSH handshake failed: ${error.message}`;
  }
}
interface KnownHosts {
  entries: KnownHostEntry[];
  /** Where a newly accepted key is written. */
  writeTo: string;
}

async function loadKnownHosts(config: HostConfig, options: SshOptions): Promise<KnownHosts> {
  const home = homedir();
  const userFiles = options.knownHostsFile
    ? [options.knownHostsFile]
    : (config.userKnownHostsFiles ?? [path.join(home, '.ssh', 'known_hosts'), path.join(home, '.ssh', 'known_hosts2')]);
  const globalFiles = config.globalKnownHostsFiles ?? ['/etc/ssh/ssh_known_hosts', '/etc/ssh/ssh_known_hosts2'];
  const entries: KnownHostEntry[] = [];
  for (const file of [...userFiles, ...globalFiles]) {
    try {
      entries.push(...parseKnownHosts(await readFile(file, 'utf8'), file));
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      if (code !== 'ENOENT' && code !== 'ENOTDIR') throw new SettingsError(`cannot read the known hosts file ${file}: ${(error as Error).message}`);
    }
  }
  return { entries, writeTo: userFiles[0] };
}

async function addKnownHost(file: string, line: string): Promise<void> {
  try {
    await mkdir(path.dirname(file), { recursive: true, mode: 0o700 });
    const existing = await readFile(file, 'utf8').catch(() => '');
    const separator = existing === '' || existing.endsWith('\n') ? '' : '\n';
    await appendFile(file, `${separator}${line}\n`, { mode: 0o600 });
  } catch (error) {
    throw new SettingsError(`cannot add the host key to ${file}: ${(error as Error).message}`, 'give a writable file with --known-hosts');
  }
}

interface AuthPlan {
  next: AuthHandlerMiddleware;
  /** What was offered so far, for the error message. */
  tried: string[];
  notes: string[];
}

/** Agent first (unless IdentitiesOnly), then each identity file, as OpenSSH orders them. */
async function authMethods(config: HostConfig, options: SshOptions): Promise<AuthPlan> {
  const username = config.user;
  const methods: { label: string; method: AnyAuthMethod }[] = [];
  const notes: string[] = [];
  const agent = process.env.SSH_AUTH_SOCK;

  const explicit = [...(options.identityFile ? [options.identityFile] : []), ...config.identityFiles];
  const candidates = explicit.length > 0 ? explicit : DEFAULT_IDENTITIES.map((name) => path.join(homedir(), '.ssh', name));
  const keys: { file: string; key: ParsedKey }[] = [];
  const encrypted: string[] = [];
  for (const file of [...new Set(candidates)]) {
    let data: Buffer;
    try {
      data = await readFile(file);
    } catch (error) {
      if (file === options.identityFile) throw new SettingsError(`cannot read the identity file ${file}: ${(error as Error).message}`, 'give the private key file with --identity');
      continue; // OpenSSH also skips configured or default identities that do not exist
    }
    const parsed = utils.parseKey(data);
    const key = Array.isArray(parsed) ? (parsed[0] as ParsedKey) : parsed;
    if (key instanceof Error) {
      if (/encrypted|passphrase/i.test(key.message)) encrypted.push(file);
      else notes.push(`${file} is not a private key ssh2 can read (${key.message}).`);
      continue;
    }
    if (!key.isPrivateKey()) {
      notes.push(`${file} holds no private key.`);
      continue;
    }
    keys.push({ file, key });
  }

  const useAgent = agent !== undefined && agent !== '' && !(config.identitiesOnly && keys.length > 0);
  if (useAgent) methods.push({ label: 'ssh-agent', method: { type: 'agent', username, agent } });
  for (const { file, key } of keys) methods.push({ label: `key ${file}`, method: { type: 'publickey', username, key } });
  if (encrypted.length > 0) {
    notes.push(
      useAgent
        ? `Passphrase-protected keys are used only through ssh-agent; skipped ${encrypted.join(', ')} (ssh-add them if the agent lacks them).`
        : `${encrypted.join(', ')} ${encrypted.length > 1 ? 'are' : 'is'} protected by a passphrase, which this tool does not ask for: start ssh-agent and ssh-add ${encrypted.length > 1 ? 'them' : 'it'}.`,
    );
  }
  if (!useAgent && keys.length === 0 && encrypted.length === 0) {
    notes.push(`No ssh-agent (SSH_AUTH_SOCK is not set) and none of ${candidates.join(', ')} exists.`);
  }

  const tried: string[] = [];
  let index = 0;
  return {
    tried,
    notes,
    next: (_methodsLeft, _partialSuccess, callback) => {
      const next = methods[index++];
      // ssh2 takes false for "nothing left to try"; its typings leave that out.
      if (!next) return (callback as unknown as (method: false) => void)(false);
      tried.push(next.label);
      callback(next.method);
    },
  };
}

class SshConnector implements Connector {
  readonly label: string;
  private elevation: Elevation = { kind: 'root' };
  private lost?: ConnectionLostError;
  private closing = false;
  private readonly closed: Promise<void>;

  constructor(
    private readonly ssh: NodeSSH,
    private readonly config: HostConfig,
    private readonly jumps: NodeSSH[],
  ) {
    this.label = `${config.user}@${formatHostPort(config.host, config.port)}`;
    // node-ssh holds the connection from the handshake until it ends.
    const client = ssh.connection as Client;
    let lastError = '';
    client.on('error', (error: Error) => {
      lastError = error.message;
    });
    this.closed = new Promise((resolve) => {
      client.once('close', () => {
        this.markLost(lastError || 'the server closed the connection');
        resolve();
      });
    });
    client.on('end', () => this.markLost(lastError || 'the server closed the connection'));
  }

  private markLost(reason: string): void {
    this.lost ??= new ConnectionLostError(this.label, this.closing ? 'it was closed' : reason);
  }

  async elevate(password: string | undefined): Promise<void> {
    this.elevation = await establishElevation(
      (argv, input) => this.collect(argv, input),
      { host: formatHostPort(this.config.host, this.config.port), user: this.config.user },
      password,
    );
  }

  run(script: ShellScript, options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    return this.collect(elevatedArgv(this.elevation), elevatedInput(this.elevation, script), options.timeoutMs);
  }

  /**
   * Runs argv on a channel of its own until the channel closes. `code` is
   * undefined when it closed without an exit status; a channel that went with
   * the connection rejects with ConnectionLostError (ssh2 closes every channel
   * of a connection that ends, so nothing in flight is left hanging).
   */
  private async execute(argv: string[], options: SSHExecCommandOptions): Promise<{ code: number | undefined; stdout: string; stderr: string }> {
    if (this.lost) throw this.lost;
    let response: SSHExecCommandResponse;
    try {
      // The login shell reads argv as one command line: one quoted word each. noTrim: the output is the script's, byte for byte.
      response = await this.ssh.execCommand(sh`${argv}`.text, { ...options, noTrim: true });
    } catch (error) {
      await nextTurn(); // the connection's own error or close comes first and says more
      throw this.lost ?? new ConnectionLostError(this.label, `the server would not open a session: ${(error as Error).message}`);
    }
    // A channel torn down with the connection closes before we hear of the loss.
    await nextTurn();
    const code = response.code ?? (response.signal !== null ? signalExitCode(response.signal) : undefined);
    if (code === undefined && this.lost) throw this.lost;
    return { code, stdout: response.stdout, stderr: response.stderr };
  }

  private async collect(argv: string[], input: string, timeoutMs?: number): Promise<ExecResult> {
    // Our own buffers rather than node-ssh's strings: it decodes chunk by chunk, which mangles a UTF-8 character split between two chunks.
    const stdout: Buffer[] = [];
    const stderr: Buffer[] = [];
    const result = (code: number): ExecResult => ({ stdout: Buffer.concat(stdout).toString('utf8'), stderr: Buffer.concat(stderr).toString('utf8'), code });
    let timer: NodeJS.Timeout | undefined;
    let timedOut!: (result: ExecResult) => void;
    const overTime = new Promise<ExecResult>((resolve) => (timedOut = resolve));
    const finished = this.execute(argv, {
      stdin: input,
      onStdout: (chunk) => stdout.push(chunk),
      onStderr: (chunk) => stderr.push(chunk),
      onChannel: (channel) => {
        if (timeoutMs === undefined) return;
        timer = setTimeout(() => {
          stderr.push(Buffer.from(`\n[timed out after ${Math.round(timeoutMs / 1000)} s]\n`));
          try {
            channel.signal('TERM');
            channel.close();
          } catch {
            /* already gone */
          }
          timedOut(result(124));
        }, timeoutMs);
      },
    }).then(({ code }) => {
      if (code === undefined) stderr.push(Buffer.from('\n[the channel closed without an exit status]\n'));
      return result(code ?? 255);
    });
    try {
      return await Promise.race([finished, overTime]);
    } finally {
      clearTimeout(timer);
    }
  }

  async hold(script: ShellScript, options: { until?: string } = {}): Promise<HeldScript> {
    // The script runs as long as its stdin stays open: until release().
    const stdin = new PassThrough();
    stdin.write(elevatedInput(this.elevation, script));
    let channel: ClientChannel | undefined;
    let printed = '';
    let sawLine!: (output: string) => void;
    const line = new Promise<string>((resolve) => (sawLine = resolve));
    const execution = this.execute(elevatedArgv(this.elevation), {
      stdin,
      onChannel: (opened) => (channel = opened),
      onStdout: (chunk) => {
        printed += chunk.toString('utf8');
        const held = heldOutput(printed, options.until);
        if (held !== undefined) sawLine(held);
      },
    });
    const output = await Promise.race([
      line,
      execution.then(({ code, stdout, stderr }) => {
        if (stdout !== '') return stdout;
        throw new ScriptExitedError(this.label, code ?? 255, stderr);
      }),
    ]);
    const exited = execution.then(
      () => undefined,
      () => undefined,
    );
    const release = async () => {
      if (this.lost) return;
      stdin.end();
      const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), RELEASE_GRACE_MS).unref());
      if ((await Promise.race([exited, this.closed, grace])) === 'late') channel?.close();
    };
    return { firstLine: firstLineOf(output), output, release };
  }

  async openTunnel(host: string, port: number): Promise<Duplex> {
    if (this.lost) throw this.lost;
    try {
      return await this.ssh.forwardOut('127.0.0.1', 0, host, port);
    } catch (error) {
      throw this.lost ?? new TunnelError(this.label, formatHostPort(host, port), (error as Error).message.replace(/^\(SSH\) /, ''));
    }
  }

  async close(): Promise<void> {
    this.closing = true;
    const client = this.ssh.connection;
    if (client) {
      this.ssh.dispose();
      const grace = new Promise<void>((resolve) => setTimeout(resolve, 2_000).unref());
      await Promise.race([this.closed, grace]);
      client.destroy();
    }
    for (const jump of [...this.jumps].reverse()) jump.dispose();
  }
}

function signalExitCode(signal: string): number {
  const number = (osConstants.signals as Record<string, number>)[`SIG${signal}`];
  return number ? 128 + number : 255;
}

