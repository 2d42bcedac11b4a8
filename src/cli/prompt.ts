// Questions on the terminal (stderr), only ever asked when there is one.
import { createInterface } from 'node:readline/promises';
import { Writable } from 'node:stream';

export function canAsk(): boolean {
  return Boolean(process.stdin.isTTY && process.stderr.isTTY);
}

export async function confirm(question: string): Promise<boolean> {
  const rl = createInterface({ input: process.stdin, output: process.stderr });
  try {
    return /^y(es)?$/i.test((await rl.question(`${question} [y/N] `)).trim());
  } finally {
    rl.close();
  }
}

/** Asks for a secret without echoing it. */
export async function askHidden(question: string): Promise<string> {
  let muted = false;
  const output = new Writable({
    write(chunk, _encoding, callback) {
      if (!muted) process.stderr.write(chunk);
      callback();
    },
  });
  const rl = createInterface({ input: process.stdin, output, terminal: true });
  try {
    const answer = rl.question(question);
    muted = true;
    const value = await answer;
    process.stderr.write('\n');
    return value;
  } finally {
    rl.close();
  }
}

let questions: Promise<unknown> = Promise.resolve();

/** Hosts connect in parallel; their questions (host keys, sudo passwords) still come one at a time. */
export function oneQuestionAtATime<T>(ask: () => Promise<T>): Promise<T> {
  const next = questions.then(ask, ask);
  questions = next.catch(() => {});
  return next;
}
