// Drives the real jitsi-jwt CLI in a pseudo-terminal (util-linux `script`):
// keystrokes in, screen text out, as a person at a terminal would.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { sh } from '../../src/shell/script.js';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[A-Za-z]|\x1b[()][A-Za-z0-9]|\r/g;

export const KEY = { enter: '\r', down: '\x1b[B', up: '\x1b[A', ctrlC: '\x03' } as const;

export class Terminal {
  private output = '';
  private seen = 0;
  private readonly child: ChildProcess;
  private readonly exited: Promise<number>;

  /** `stdoutFile`: the program's stdout goes there instead of the terminal (a --json document, say); stdin and stderr stay on the terminal. */
  constructor(args: string[], env: Record<string, string> = {}, options: { stdoutFile?: string } = {}) {
    const cli = existsSync(path.join(ROOT, 'dist/cli/bin.js')) ? ['node', path.join(ROOT, 'dist/cli/bin.js')] : ['npx', 'tsx', path.join(ROOT, 'src/cli/bin.ts')];
    const redirect = options.stdoutFile ? sh` > ${options.stdoutFile}` : sh``;
    const command = sh`stty cols 120 rows 50; exec ${[...cli, ...args]}${redirect}`;
    this.child = spawn('script', ['-qfec', command.text, '/dev/null'], { cwd: ROOT, env: { ...process.env, TERM: 'xterm', ...env }, stdio: ['pipe', 'pipe', 'pipe'] });
    this.child.stdout!.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    this.child.stderr!.on('data', (chunk: Buffer) => (this.output += chunk.toString('utf8')));
    this.exited = new Promise((resolve) => this.child.on('exit', (code) => resolve(code ?? -1)));
  }

  /** Everything shown so far, without terminal control sequences. */
  get screen(): string {
    return this.output.replace(ANSI, '');
  }

  /** Waits until text matching `pattern` appears after what earlier waits consumed. */
  async waitFor(pattern: RegExp, timeoutMs = 120_000): Promise<string> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.screen.slice(this.seen);
      const match = pattern.exec(rest);
      if (match) {
        this.seen += match.index + match[0].length;
        return match[0];
      }
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${pattern}; the screen ends with:\n${this.screen.slice(-1500)}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }

  /** Types keys, a little apart as a person would. */
  async type(...keys: string[]): Promise<void> {
    for (const key of keys) {
      this.child.stdin!.write(key);
      await new Promise((resolve) => setTimeout(resolve, 120));
    }
  }

  exitCode(): Promise<number> {
    return this.exited;
  }
}
