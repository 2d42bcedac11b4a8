// Typed readers for the text a user gives in flags and JITSI_JWT_* variables.
// Each takes the text and where it came from ("--concurrency",
// "JITSI_JWT_ALLOW_EMPTY_TOKEN") so a refusal names the source and what it accepts.
import { SettingsError } from '../errors.js';

const TRUE = ['1', 'true', 'yes', 'on'];
const FALSE = ['0', 'false', 'no', 'off'];

export const BOOLEAN_WORDS = `${TRUE.join('/')} or ${FALSE.join('/')}`;

/** 1/true/yes/on or 0/false/no/off, any case, surrounding blanks ignored; anything else is refused. */
export function parseBoolean(text: string, source: string): boolean {
  const word = text.trim().toLowerCase();
  if (TRUE.includes(word)) return true;
  if (FALSE.includes(word)) return false;
  throw new SettingsError(`${source}="${text}" is neither on nor off`, `set ${source} to ${BOOLEAN_WORDS} (any case), or leave it empty or unset for the default`);
}

export interface IntegerRange {
  min: number;
  max: number;
  /** what the number counts, for the message: "seconds", "hosts" */
  unit?: string;
  /** why a number below min is refused, when that needs saying */
  belowMin?: string;
}

/** A whole decimal number within the range; "abc", "1.5", "", "1e3" and "-1" are refused. */
export function parseInteger(text: string, source: string, range: IntegerRange): number {
  const trimmed = text.trim();
  const unit = range.unit ? ` ${range.unit}` : '';
  if (range.belowMin && /^\d{1,15}$/.test(trimmed) && Number(trimmed) < range.min) {
    throw new SettingsError(`${source} ${trimmed} ${range.belowMin}`, `give at least ${range.min}`);
  }
  if (!/^\d{1,15}$/.test(trimmed) || Number(trimmed) < range.min || Number(trimmed) > range.max) {
    const example = Math.min(Math.max(range.min, 10), range.max);
    const hint = source.startsWith('--') ? `e.g. ${source} ${example}` : source.startsWith('JITSI_JWT_') ? `e.g. ${source}=${example}` : `give a whole number from ${range.min} to ${range.max}`;
    throw new SettingsError(`${source} "${text}" is not a whole number from ${range.min} to ${range.max}${unit}`, hint);
  }
  return Number(trimmed);
}

const DURATION_UNITS = { s: 1, m: 60, h: 3600, d: 86_400 } as const;

/** Seconds, or a whole number with s, m, h or d ("600", "10m"), within the range in seconds. */
export function parseDuration(text: string, source: string, range: { min: number; max: number }): number {
  const match = /^(\d{1,9})(s|m|h|d)?$/.exec(text.trim());
  const seconds = match ? Number(match[1]) * DURATION_UNITS[(match[2] ?? 's') as keyof typeof DURATION_UNITS] : NaN;
  if (!match || seconds < range.min || seconds > range.max) {
    throw new SettingsError(
      `${source} "${text}" is not a duration from ${range.min} s to ${range.max} s`,
      'give seconds, or a whole number with s, m, h or d (e.g. 10m)',
    );
  }
  return seconds;
}

/** A comma-separated list of one or more values. */
export function parseList(text: string, source: string): string[] {
  const items = text.split(',').map((s) => s.trim()).filter(Boolean);
  if (items.length === 0) throw new SettingsError(`${source} "${text}" names no value`, `give a comma-separated list, e.g. ${source} my_app,other_app`);
  return items;
}
