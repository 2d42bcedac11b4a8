// The local connector (--local, on the Jitsi server itself): the same contract
// as ssh, with scripts run by this machine's sh and tunnels as plain TCP.
import net from 'node:net';
import { constants as osConstants, userInfo } from 'node:os';
import type { Duplex } from 'node:stream';
import { execa } from 'execa';
import type { ShellScript } from '../shell/script.js';
import { establishElevation, elevatedArgv, elevatedInput, type Elevation } from './elevation.js';
import { ScriptExitedError, TunnelError } from './errors.js';
import { formatHostPort } from './target.js';
import type { Connector, ExecResult, HeldScript } from './types.js';
import { firstLineOf, heldOutput } from './held-output.js';

const LABEL = 'local';
const RELEASE_GRACE_MS = 10_000;

export function connectLocal(options: { sudoPassword?: string }): Connector {
  return new LocalConnector(options.sudoPassword);
}

class LocalConnector implements Connector {
  readonly label = LABEL;
  /** Found on first use (this constructor cannot wait); a sudo problem fails that first call. */
  private elevation?: Promise<Elevation>;
  private readonly held = new Set<() => Promise<void>>();

  constructor(private readonly sudoPassword: string | undefined) {}

  private elevate(): Promise<Elevation> {
    this.elevation ??= establishElevation((argv, input) => execute(argv, input), { host: 'this machine', user: userInfo().username }, this.sudoPassword);
    return this.elevation;
  }

  async run(script: ShellScript, options: { timeoutMs?: number } = {}): Promise<ExecResult> {
    const elevation = await this.elevate();
    return execute(elevatedArgv(elevation), elevatedInput(elevation, script), options.timeoutMs);
  }

  async hold(script: ShellScript, options: { until?: string } = {}): Promise<HeldScript> {
    const elevation = await this.elevate();
    const [command, ...args] = elevatedArgv(elevation);
    const child = execa(command, args, { stdin: 'pipe', stdout: 'pipe', stderr: 'pipe', buffer: false, reject: false });
    const exited = child.then((result) => result);
    const output = await new Promise<string>((resolve, reject) => {
      let stdout = '';
      let stderr = '';
      let settled = false;
      child.stdout.on('data', (chunk: Buffer) => {
        if (settled) return;
        stdout += chunk.toString('utf8');
        const held = heldOutput(stdout, options.until);
        if (held !== undefined) {
          settled = true;
          resolve(held);
        }
      });
      child.stderr.on('data', (chunk: Buffer) => {
        if (!settled) stderr += chunk.toString('utf8');
      });
      void exited.then((result) => {
        if (settled) return;
        settled = true;
        if (stdout !== '') resolve(stdout);
        else reject(new ScriptExitedError(LABEL, exitCodeOf(result), stderr || (result.failed ? (result.shortMessage ?? '') : '')));
      });
      child.stdin.write(elevatedInput(elevation, script));
    });
    const release = async () => {
      this.held.delete(release);
      child.stdin.end();
      const grace = new Promise<'late'>((resolve) => setTimeout(() => resolve('late'), RELEASE_GRACE_MS).unref());
      if ((await Promise.race([exited, grace])) === 'late') child.kill('SIGTERM');
      await exited;
    };
    this.held.add(release);
    return { firstLine: firstLineOf(output), output, release };
  }

  openTunnel(host: string, port: number): Promise<Duplex> {
    return new Promise((resolve, reject) => {
      const socket = net.connect({ host, port });
      socket.once('connect', () => {
        socket.removeAllListeners('error');
        resolve(socket);
      });
      socket.once('error', (error: NodeJS.ErrnoException) => reject(new TunnelError(LABEL, formatHostPort(host, port), error.code === 'ECONNREFUSED' ? 'connection refused' : error.message)));
    });
  }

  async close(): Promise<void> {
    await Promise.all([...this.held].map((release) => release()));
  }
}

async function execute(argv: string[], input: string, timeoutMs?: number): Promise<ExecResult> {
  const [command, ...args] = argv;
  // Its own process group, so that a timeout stops the script's children too, not only its shell.
  const child = execa(command, args, { input, reject: false, buffer: false, detached: true });
  const stdout: Buffer[] = [];
  const stderr: Buffer[] = [];
  child.stdout.on('data', (chunk: Buffer) => stdout.push(chunk));
  child.stderr.on('data', (chunk: Buffer) => stderr.push(chunk));
  const text = (chunks: Buffer[]) => Buffer.concat(chunks).toString('utf8');
  let timer: NodeJS.Timeout | undefined;
  const expired = new Promise<'expired'>((resolve) => {
    if (timeoutMs !== undefined) timer = setTimeout(() => resolve('expired'), timeoutMs);
  });
  const outcome = await Promise.race([child, expired]);
  clearTimeout(timer);
  if (outcome === 'expired') {
    try {
      if (child.pid) process.kill(-child.pid, 'SIGTERM');
    } catch {
      /* already gone */
    }
    // Not waiting for the pipes: a stray grandchild may hold them open.
    return { stdout: text(stdout), stderr: `${text(stderr)}\n[timed out after ${Math.round((timeoutMs ?? 0) / 1000)} s]\n`, code: 124 };
  }
  const notStarted = outcome.exitCode === undefined && !outcome.signal ? `${outcome.shortMessage ?? ''}\n` : '';
  return { stdout: text(stdout), stderr: `${text(stderr)}${notStarted}`, code: exitCodeOf(outcome) };
}

function exitCodeOf(result: { exitCode?: number; signal?: string; failed: boolean; code?: string }): number {
  if (result.exitCode !== undefined) return result.exitCode;
  if (result.signal) return 128 + ((osConstants.signals as Record<string, number>)[result.signal] ?? 0);
  // The command could not be started at all: what a shell reports for "not found".
  return result.code === 'ENOENT' ? 127 : 126;
}
