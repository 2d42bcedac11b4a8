// Where in sh's grammar a template has got to, far enough to tell whether a
// value may be placed there as a word: outside any quotes, comment, parameter
// expansion or here-document. A quoted word inside "..." or '...' would keep its
// quote characters, so the sh tag refuses values there instead of guessing.

type Kind = 'top' | 'command' | 'backquote' | 'double' | 'single' | 'parameter' | 'arithmetic' | 'comment';

interface Frame {
  kind: Kind;
  /** open parentheses inside a $( ) or $(( )) */
  depth: number;
}

const SHOWN: Record<Kind, string> = {
  top: 'the script',
  command: '$(...)',
  backquote: '`...`',
  double: '"..."',
  single: "'...'",
  parameter: '${...}',
  arithmetic: '$((...))',
  comment: 'a comment',
};

/** Stands for any character that is part of a word. */
const WORD_CHARACTER = 'a';
const WORD_START = new Set(['', ' ', '\t', '\n', ';', '&', '|', '(', ')']);

export class ShellGrammarError extends Error {}

export class QuoteContext {
  private readonly frames: Frame[] = [{ kind: 'top', depth: 0 }];
  private previous = '';
  private escaped = false;

  get kind(): Kind {
    return this.frames[this.frames.length - 1].kind;
  }

  /** Where a value goes now: a word of its own ('word'), only a number ('number'), or nowhere (why). */
  slot(): 'word' | 'number' | { refused: string } {
    if (this.escaped || this.previous === '$') return { refused: 'right after "\\" or "$"' };
    switch (this.kind) {
      case 'top':
      case 'command':
      case 'backquote':
        return 'word';
      case 'arithmetic':
        return 'number';
      case 'double':
        return { refused: 'inside "...": build the whole string as one value instead' };
      case 'single':
        return { refused: "inside '...': build the whole string as one value instead" };
      case 'parameter':
        return { refused: 'inside ${...}' };
      case 'comment':
        return { refused: 'inside a comment' };
    }
  }

  /** Reads template text (not values: a value is one word and leaves the context as it was). */
  read(text: string): void {
    for (let i = 0; i < text.length; i++) {
      const c = text[i];
      const next = text[i + 1];
      const frame = this.frames[this.frames.length - 1];
      if (this.escaped) {
        this.escaped = false;
        this.previous = WORD_CHARACTER;
        continue;
      }
      switch (frame.kind) {
        case 'single':
          if (c === "'") this.frames.pop();
          break;
        case 'comment':
          if (c === '\n') this.frames.pop();
          break;
        case 'double':
          if (c === '\\') this.escaped = true;
          else if (c === '"') this.frames.pop();
          else if (c === '`') this.push('backquote');
          else if (c === '$') i += this.dollar(text, i);
          break;
        case 'parameter':
          if (c === '}') this.frames.pop();
          else i += this.quoting(c, text, i);
          break;
        case 'arithmetic':
          if (c === '(') frame.depth++;
          else if (c === ')') {
            if (frame.depth > 0) frame.depth--;
            else if (next === ')') {
              this.frames.pop();
              i++;
            } else throw new ShellGrammarError('a $(( )) closed by a single ")"');
          } else if (c === '$') i += this.dollar(text, i);
          break;
        default:
          if (c === '#' && WORD_START.has(this.previous)) this.push('comment');
          else if (c === '`' && frame.kind === 'backquote') this.frames.pop();
          else if (c === '(' && frame.kind === 'command') frame.depth++;
          else if (c === ')' && frame.kind === 'command') {
            if (frame.depth > 0) frame.depth--;
            else this.frames.pop();
          } else if (c === '<' && next === '<') throw new ShellGrammarError('a here-document written in the template: pass its text with heredoc() so its end marker is chosen for it');
          else i += this.quoting(c, text, i);
      }
      this.previous = text[i];
    }
  }

  /** A value was placed: the text after it continues a word. */
  placed(): void {
    this.previous = WORD_CHARACTER;
  }

  /** Throws unless the text read so far closed every quote and substitution it opened. */
  end(): void {
    if (this.escaped) throw new ShellGrammarError('the script ends with a lone "\\"');
    const open = this.frames.filter((f) => f.kind !== 'top' && f.kind !== 'comment');
    if (open.length > 0) throw new ShellGrammarError(`the script ends inside ${open.map((f) => SHOWN[f.kind]).join(' inside ')}`);
  }

  /** Quotes and substitutions that open in unquoted text (and in ${...}); returns how many extra characters were consumed. */
  private quoting(c: string, text: string, i: number): number {
    if (c === '\\') this.escaped = true;
    else if (c === "'") this.push('single');
    else if (c === '"') this.push('double');
    else if (c === '`') this.push('backquote');
    else if (c === '$') return this.dollar(text, i);
    return 0;
  }

  private dollar(text: string, i: number): number {
    if (text.startsWith('((', i + 1)) {
      this.push('arithmetic');
      return 2;
    }
    if (text[i + 1] === '(') {
      this.push('command');
      return 1;
    }
    if (text[i + 1] === '{') {
      this.push('parameter');
      return 1;
    }
    return 0;
  }

  private push(kind: Kind): void {
    this.frames.push({ kind, depth: 0 });
  }
}
