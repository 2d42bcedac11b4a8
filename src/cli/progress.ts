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

  /** Says what the step under way came to; at a terminal its line ends with it, elsewhere it gets a line of its own. */
  outcome(label: string): void {
    if (!this.current) return;
    if (this.live) this.current.label = label;
    else process.stderr.write(`→ ${label}\n`);
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

/** What a confirmed step came to, or undefined for steps that report nothing when they end. */
export function describeOutcome(event: ApplyEvent): string | undefined {
  if (event.step !== 'restarted' || event.restarted.length === 0) return undefined;
  return `restarted ${event.restarted.map((r) => `${r.service}${r.seconds === undefined ? '' : ` ${r.seconds.toFixed(1)} s`}`).join(', ')}`;
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
        const outcome = describeOutcome(event);
        if (line) progress.step(line);
        else if (outcome) progress.outcome(outcome);
        else if (event.step === 'done') progress.finish(true);
      },
      end: (ok) => progress.finish(ok),
    };
  }
  return {
    event: (host, event) => {
      const line = describe(event) ?? describeOutcome(event) ?? (event.step === 'done' ? 'done' : undefined);
      if (line) process.stderr.write(`→ ${host}: ${line}\n`);
    },
    end: () => {},
  };
}

/** The signals that end a run the way Ctrl-C does: a cancelled CI job sends SIGTERM, a closed terminal or SSH session SIGHUP. */
export const STOP_SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP'] as const;
export type StopSignal = (typeof STOP_SIGNALS)[number];

let received: StopSignal | undefined;

/** The first stop signal this process received during a change, if any. */
export function receivedSignal(): StopSignal | undefined {
  return received;
}

/**
 * Any stop signal during a change: finish the step under way, then put the
 * hosts back (the caller's body checks `interrupted`). A later signal is
 * reported, not obeyed, unless `secondExits`: leaving now would leave hosts
 * half-changed. After SIGHUP the terminal may be gone: writes to it fail
 * quietly instead of ending the run mid-rollback.
 */
export function interruptibly<T>(
  body: (interrupted: () => boolean) => Promise<T>,
  options: { message?: string; secondExits?: boolean } = {},
): Promise<T> {
  let stop = false;
  const say = (text: string) => {
    try {
      process.stderr.write(text);
    } catch {
      /* the terminal is gone */
    }
  };
  const onSignal = (signal: StopSignal) => {
    if (signal === 'SIGHUP') ignoreBrokenOutput();
    if (stop) {
      if (options.secondExits) process.exit(128 + osSignals[signal]);
      say(`\n${signal} again: still putting things back, which a signal does not cut short (a kill -9 now leaves the host for the next run to finish)\n`);
      return;
    }
    stop = true;
    received = signal;
    const what = signal === 'SIGINT' ? 'interrupted' : `${signal} received`;
    say(`\n${(options.message ?? 'interrupted: finishing the current step, then putting the host back as it was (every host, on a fleet)').replace(/^interrupted/, what)}\n`);
  };
  for (const signal of STOP_SIGNALS) process.on(signal, onSignal);
  return body(() => stop).finally(() => {
    for (const signal of STOP_SIGNALS) process.off(signal, onSignal);
  });
}

const osSignals = { SIGINT: 2, SIGTERM: 15, SIGHUP: 1 } as const satisfies Record<StopSignal, number>;

/** The exit code of a run a signal stopped: 128 + the signal's number, as a shell reports a process the signal ended. */
export function signalExitCode(signal: StopSignal): number {
  return 128 + osSignals[signal];
}

function ignoreBrokenOutput(): void {
  for (const stream of [process.stdout, process.stderr]) {
    if (stream.listenerCount('error') === 0) stream.on('error', () => {});
  }
}
