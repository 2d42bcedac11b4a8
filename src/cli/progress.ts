// Progress of apply's steps: a spinner per step that turns into ✔ (with its
// time) at a terminal, plain "→ step" lines anywhere else.
import type { ApplyEvent } from '../apply/apply.js';
import { green, red, styleFor } from './render.js';

const FRAMES = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];

export class Progress {
  private readonly style = styleFor(process.stderr);
  private readonly live = this.style.color;
  private current?: { label: string; started: number };
  private timer?: NodeJS.Timeout;
  private frame = 0;

  step(label: string): void {
    this.finish(true);
    this.current = { label, started: Date.now() };
    if (!this.live) {
      process.stderr.write(`→ ${label}\n`);
      return;
    }
    this.render();
    this.timer = setInterval(() => this.render(), 80);
  }

  /** Ends the step under way, as done or failed. */
  finish(ok: boolean): void {
    if (!this.current) return;
    if (this.live) {
      clearInterval(this.timer);
      const seconds = ((Date.now() - this.current.started) / 1000).toFixed(1);
      const mark = ok ? green(this.style, '✔') : red(this.style, '✖');
      process.stderr.write(`\r\x1b[2K${mark} ${this.current.label} (${seconds} s)\n`);
    }
    this.current = undefined;
  }

  private render(): void {
    this.frame = (this.frame + 1) % FRAMES.length;
    process.stderr.write(`\r\x1b[2K${FRAMES[this.frame]} ${this.current!.label}`);
  }
}

/** One line for an apply step, or undefined for steps that have none. */
export function describeEvent(event: ApplyEvent): string | undefined {
  switch (event.step) {
    case 'install':
      return `installing ${event.packages.join(', ')}`;
    case 'write':
      return `backing up to ${event.backupDir}, writing, checking the config`;
    case 'restart':
      return `restarting ${event.services.join(', ')}`;
    case 'smoke':
      return 'smoke-testing with fresh tokens';
    case 'rollback':
      return `rolling back: ${event.reason}`;
    default:
      return undefined;
  }
}

export interface RunProgress {
  event(host: string, event: ApplyEvent): void;
  /** the run ended: the last step under way ends as done or failed */
  end(ok: boolean): void;
}

/** Progress on stderr: spinners for one host at a terminal, "→ host: step" lines for several, nothing with --json. */
export function progressFor(count: number, json: boolean, describe: (event: ApplyEvent) => string | undefined = describeEvent): RunProgress {
  if (json) return { event: () => {}, end: () => {} };
  if (count === 1) {
    const progress = new Progress();
    return {
      event: (_host, event) => {
        const line = describe(event);
        if (line) progress.step(line);
        else if (event.step === 'done') progress.finish(true);
      },
      end: (ok) => progress.finish(ok),
    };
  }
  return {
    event: (host, event) => {
      const line = describe(event) ?? (event.step === 'done' ? 'done' : undefined);
      if (line) process.stderr.write(`→ ${host}: ${line}\n`);
    },
    end: () => {},
  };
}

/** Ctrl-C during a change: finish the step under way, then put the hosts back. */
export function interruptibly<T>(
  body: (interrupted: () => boolean) => Promise<T>,
  options: { message?: string; secondExits?: boolean } = {},
): Promise<T> {
  let stop = false;
  const onSignal = () => {
    if (stop) {
      if (options.secondExits) process.exit(130);
      return;
    }
    stop = true;
    process.stderr.write(`\n${options.message ?? 'interrupted: finishing the current step, then putting the host back as it was (every host, on a fleet)'}\n`);
  };
  process.on('SIGINT', onSignal);
  return body(() => stop).finally(() => process.off('SIGINT', onSignal));
}
