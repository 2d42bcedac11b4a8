// How hold() knows a held script has said what it says before it holds.
/** What a held script printed before it holds: through its first line, or up to the `until` line; undefined while still printing. */
export function heldOutput(printed: string, until: string | undefined): string | undefined {
  if (until === undefined) {
    const newline = printed.indexOf('\n');
    return newline < 0 ? undefined : printed.slice(0, newline + 1);
  }
  const mark = printed.startsWith(`${until}\n`) ? 0 : printed.indexOf(`\n${until}\n`);
  return mark < 0 ? undefined : printed.slice(0, mark === 0 ? 0 : mark + 1);
}

export function firstLineOf(output: string): string {
  const newline = output.indexOf('\n');
  return (newline < 0 ? output : output.slice(0, newline)).replace(/\r$/, '');
}
