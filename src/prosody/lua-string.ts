// Lua string literals, written and read back exactly.
//
// Prosody reads its config with Lua, which treats a string as bytes. We write
// values as UTF-8 inside double quotes and escape only what Lua needs escaped;
// control characters use the three-digit decimal form (`\010`) so that a digit
// that follows can never be swallowed into the escape.
import luaparse from 'luaparse';

const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;

/** A double-quoted Lua string literal whose value is `value` encoded as UTF-8. */
export function luaString(value: string): string {
  if (LONE_SURROGATE.test(value)) {
    // It has no UTF-8 form, so it could not be read back as the same string.
    throw new TypeError('cannot write a Lua string for text with an unpaired UTF-16 surrogate');
  }
  let out = '"';
  for (const ch of value) {
    const code = ch.codePointAt(0)!;
    if (ch === '"') out += '\\"';
    else if (ch === '\\') out += '\\\\';
    else if (code < 0x20 || code === 0x7f) out += '\\' + String(code).padStart(3, '0');
    else out += ch; // everything else, non-ASCII included, goes in as raw UTF-8
  }
  return out + '"';
}

/** A Lua array of strings in the spacing Jitsi's files use: `{ "a", "b" }` (`{}` when empty). */
export function luaStringArray(values: readonly string[]): string {
  return values.length === 0 ? '{}' : `{ ${values.map(luaString).join(', ')} }`;
}

/**
 * Text as luaparse sees it in 'pseudo-latin1' mode: one char per UTF-8 byte.
 * Parsing this form lets Lua escapes such as `\195\188` and raw UTF-8 in the
 * file come out the same way (as bytes), which {@link fromLuaBytes} then decodes.
 */
export function toLuaBytes(text: string): string {
  return Buffer.from(text, 'utf8').toString('latin1');
}

/** Decodes a pseudo-latin1 string (one char per byte) from luaparse as UTF-8. */
export function fromLuaBytes(bytes: string): string {
  return Buffer.from(bytes, 'latin1').toString('utf8');
}

/**
 * The value of a Lua string literal as written in a file (any quoting or long
 * bracket form, any escapes), decoded as UTF-8. Throws a SyntaxError when the
 * text is not exactly one string literal.
 */
export function decodeLuaStringLiteral(literal: string): string {
  const chunk = luaparse.parse(`return ${toLuaBytes(literal)}`, {
    luaVersion: '5.3',
    encodingMode: 'pseudo-latin1',
  });
  const statement = chunk.body[0] as unknown as { type: string; arguments?: Array<{ type: string; value?: unknown }> };
  const args = statement?.arguments;
  if (chunk.body.length !== 1 || !args || args.length !== 1 || args[0].type !== 'StringLiteral') {
    throw new SyntaxError('not a single Lua string literal');
  }
  return fromLuaBytes(args[0].value as string);
}
