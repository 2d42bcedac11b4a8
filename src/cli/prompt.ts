// Questions on the terminal, through enquirer, on stderr (stdout stays for
// output and --json), only ever asked when there is a terminal to ask on.
import { CancelledError } from '../errors.js';

export function canAsk(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

interface Prompt<T> {
  run(): Promise<T>;
}

/** enquirer rejects with an empty string when the user presses Ctrl-C. */
async function answer<T>(prompt: Prompt<T> | Promise<T>): Promise<T> {
  try {
    return await ('run' in prompt ? prompt.run() : prompt);
  } catch (error) {
    if (error === '' || error === undefined) throw new CancelledError();
    throw error;
  }
}

/** One question (input, select, confirm, invisible, ...), answered. */
export async function ask<T>(question: Record<string, unknown>): Promise<T> {
  const { default: enquirer } = await import('enquirer');
  const answers = await answer(enquirer.prompt({ name: 'value', stdout: process.stderr, ...question } as unknown as Parameters<typeof enquirer.prompt>[0]));
  return (answers as { value: T }).value;
}

type BooleanPromptClass = new (options: Record<string, unknown>) => Prompt<boolean> & { isValue(ch: unknown): boolean; alert(): unknown; render(): unknown; input: unknown };

let confirmWithEnter: BooleanPromptClass | undefined;

/**
 * A yes/no question that takes its answer only with Enter, like OpenSSH's:
 * a "y" typed ahead never answers the next question by accident.
 */
export async function confirm(message: string, initial = false): Promise<boolean> {
  const { default: enquirer } = await import('enquirer');
  const Confirm = (enquirer as unknown as { Confirm: BooleanPromptClass }).Confirm;
  confirmWithEnter ??= class extends Confirm {
    dispatch(ch: unknown) {
      if (!this.isValue(ch)) return this.alert();
      this.input = ch;
      return this.render();
    }
  };
  return answer(new confirmWithEnter({ name: 'value', message, initial, stdout: process.stderr }));
}

/** Asks for a secret without showing anything of it. */
export function askHidden(message: string): Promise<string> {
  return ask<string>({ type: 'invisible', message });
}

let questions: Promise<unknown> = Promise.resolve();

/** Hosts connect in parallel; their questions (host keys, sudo passwords) still come one at a time. */
export function oneQuestionAtATime<T>(question: () => Promise<T>): Promise<T> {
  const next = questions.then(question, question);
  questions = next.catch(() => {});
  return next;
}
