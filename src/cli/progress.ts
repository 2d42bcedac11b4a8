// Progress of apply's steps: a spinner per step that turns into ✔ (with its
// time) at a terminal, plain "→ step" lines anywhere else.
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
