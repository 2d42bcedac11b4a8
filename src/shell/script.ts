// The one way a script for a host is built (after pyinfra's StringCommand and
// QuoteString): the sh`` tagged template makes every interpolated value one
// literal word, so quoting cannot be forgotten. Script text comes only from a
// template itself, from a nested sh`` result, or from raw(), the marked
// exception for trusted constant text such as a glob. A connector runs only a
// ShellScript, never a string.
import { InternalError } from '../errors.js';
import { QuoteContext, ShellGrammarError } from './context.js';

class ShellScript {
  // A private member makes the type nominal: an object literal with a text field is not a script.
  private declare readonly nominal: never;
  constructor(readonly text: string) {}
}

/** Script text built by sh``, raw(), joinLines(): safe to send to a host as it is. */
export type { ShellScript };

class HereDocument {
  constructor(
    readonly body: string,
    readonly delimiter: string,
  ) {}
}

/** A value that becomes one word: a string or a number. */
export type ShellWord = string | number;
export type ShellValue = ShellWord | readonly ShellWord[] | ShellScript | HereDocument;

/** Words the shell reads as its grammar's when they stand where a command's name goes. */
const RESERVED = new Set(['case', 'do', 'done', 'elif', 'else', 'esac', 'fi', 'for', 'if', 'in', 'then', 'until', 'while']);
/** Characters that are never special to sh (no '=', which makes a first word an assignment). */
const PLAIN = /^[A-Za-z0-9_@%+:,./-]+$/;

/**
 * The word `value` is: bare when sh reads it as it is, otherwise single-quoted
 * (a ' inside becomes '\''). The empty string is ''. `next` is the template
 * character after it: digits before < or > would be a file descriptor.
 */
function quoteWord(value: ShellWord, next = ''): string {
  const text = typeof value === 'number' ? numberText(value) : value;
  if (typeof text !== 'string') throw new InternalError(`sh\`\`: ${describe(value)} is not a string or a number`);
  if (text.includes('\0')) throw new InternalError('sh``: a value holds a NUL character, which no shell word can carry');
  if (PLAIN.test(text) && !RESERVED.has(text) && !(/^\d+$/.test(text) && (next === '<' || next === '>'))) return text;
  return `'${text.replace(/'/g, `'\\''`)}'`;
}

function numberText(value: number): string {
  if (!Number.isFinite(value)) throw new InternalError(`sh\`\`: ${value} is not a number a script can use`);
  return String(value);
}

function describe(value: unknown): string {
  return value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value;
}

/**
 * Builds a script: `${value}` is one literal word (a string or a number), an
 * array is one word per element, a ShellScript is inserted as it is, and
 * heredoc() text follows the line it is on. A value is refused (InternalError)
 * inside quotes, a comment, ${...} or right after $ or \, where a quoted word
 * would not mean itself; so is a template that leaves a quote open.
 */
export function sh(strings: TemplateStringsArray, ...values: ShellValue[]): ShellScript {
  const context = new QuoteContext();
  let text = '';
  let pending = '';
  const where = (i: number) => `sh\`\` value ${i + 1}, after "${strings.slice(0, i + 1).join('${…}').slice(-40)}"`;
  try {
    strings.forEach((part, i) => {
      if (part === undefined) throw new InternalError(`${where(i)}: the template has an escape sequence JavaScript cannot read`);
      const newline = part.indexOf('\n');
      // A here-document's text starts on the line after its << operator.
      if (pending !== '' && newline >= 0) {
        text += `${part.slice(0, newline + 1)}${pending}${part.slice(newline + 1)}`;
        pending = '';
      } else text += part;
      context.read(part);
      if (i === values.length) return;
      const value = values[i];
      const slot = context.slot();
      if (typeof slot === 'object') throw new InternalError(`${where(i)}: a value cannot go ${slot.refused}`);
      if (slot === 'number') {
        if (typeof value !== 'number') throw new InternalError(`${where(i)}: only a number can go inside $(( ))`);
        text += numberText(value);
      } else if (value instanceof ShellScript) {
        if (pending !== '' && value.text.includes('\n')) throw new InternalError(`${where(i)}: a script of several lines cannot follow a here-document on its line`);
        text += value.text;
      } else if (value instanceof HereDocument) {
        text += `<<'${value.delimiter}'`;
        pending += `${value.body}${value.delimiter}\n`;
      } else if (Array.isArray(value)) {
        const words = value as readonly ShellWord[];
        text += words.map((v, n) => quoteWord(v, n === words.length - 1 ? strings[i + 1]?.[0] : ' ')).join(' ');
      } else {
        text += quoteWord(value as ShellWord, strings[i + 1]?.[0]);
      }
      context.placed();
    });
    context.end();
  } catch (error) {
    if (error instanceof ShellGrammarError) throw new InternalError(`sh\`\`: ${error.message}, in "${text.slice(-60)}"`);
    throw error;
  }
  if (pending !== '') text += `\n${pending.replace(/\n$/, '')}`;
  return new ShellScript(text);
}

/** Trusted constant text used as script as it is (a glob, say). Never pass it anything that came from outside. */
export function raw(text: string): ShellScript {
  const context = new QuoteContext();
  try {
    context.read(text);
    context.end();
  } catch (error) {
    throw new InternalError(`raw(): ${(error as Error).message}, in "${text.slice(-60)}"`);
  }
  return new ShellScript(text);
}

/** Scripts one after the other, one per line. */
export function joinLines(scripts: readonly ShellScript[]): ShellScript {
  return new ShellScript(scripts.map((s) => s.text).join('\n'));
}

/**
 * Text fed to a command's stdin as a here-document: `sh\`cat ${heredoc(text)} > f\``.
 * Its end marker is quoted (nothing in the text is expanded) and is a line the text does not have.
 */
export function heredoc(text: string): HereDocument {
  if (text.includes('\0')) throw new InternalError('heredoc(): the text holds a NUL character, which sh cannot read from a script');
  const lines = new Set(text.split('\n'));
  let delimiter = 'JITSI_JWT_EOF';
  for (let n = 1; lines.has(delimiter); n++) delimiter = `JITSI_JWT_EOF_${n}`;
  return new HereDocument(text === '' || text.endsWith('\n') ? text : `${text}\n`, delimiter);
}

/**
 * Where an absolute host path is for a script run against a directory that
 * stands for the host's / (unit tests); on a host, root is '' and the path is itself.
 */
export function underRoot(root: string, path: string): string {
  return root === '' ? path : `${root.replace(/\/+$/, '')}${path}`;
}
