// Reads the tail of Prosody's log (already narrowed by PROSODY_LOG_PATTERN on
// the host) and sums up the token refusals and module load failures it
// recorded within a time window: one group per reason, with counts, first and
// last time and one sample line, every token in it replaced by "<token>".

export type LogGroupKind = 'token-rejected' | 'room-mismatch' | 'module-load' | 'banned';

export interface LogGroup {
  kind: LogGroupKind;
  reason: string;
  count: number;
  /** seconds since the epoch */
  first: number;
  /** seconds since the epoch */
  last: number;
  /** the latest line of the group, tokens redacted */
  sample: string;
  /** Prosody's log source of the sample, e.g. "meet.example.com:auth_token" */
  source?: string;
  /** the module named by module-load lines */
  module?: string;
}

export interface LogSummary {
  groups: LogGroup[];
  /** non-empty lines in the text */
  linesRead: number;
  /** start of the window, seconds since the epoch */
  since: number;
  /** lines whose time could not be read */
  unparsed: number;
  /** refusals of jitsi-jwt's own smoke tests (their rooms start with jitsi-jwt-smoke-), left out of the groups */
  smokeTests: number;
}

export interface SummaryOptions {
  /** the host's clock, seconds since the epoch */
  hostNow: number;
  /** the host's offset from UTC (`date +%z`), in seconds */
  hostUtcOffsetSeconds: number;
  /** the window: lines older than hostNow - sinceSeconds are left out */
  sinceSeconds: number;
}

/** The grep pattern (POSIX ERE, for `grep -E`) the remote side uses to keep only relevant lines. */
export const PROSODY_LOG_PATTERN = 'Error verifying token|not allowed to join|Error initializing module|(Unable|Failed) to load module|[Uu]ser is banned';

/** How jitsi-jwt's smoke tests name their rooms (the BOSH URL's room, and the room joined). */
const SMOKE_ROOM = 'jitsi-jwt-smoke-';
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const LINE = /^([A-Z][a-z]{2})[ \t]+(\d{1,2})[ \t]+(\d{2}):(\d{2}):(\d{2})[ \t]+(\S+)[ \t]+([a-z]+)[ \t]+(.*)$/;
const TOKEN_LIKE = /eyJ[A-Za-z0-9_\-.+/=]*/g;
const QUERY_TOKEN = /(\btoken=)[^\s&"']+/gi;
const BEARER = /(\bBearer[ \t]+)\S+/gi;

/** Replaces anything that looks like a JWT (or a part of one) with "<token>". */
export function redactTokens(text: string): string {
  return text.replace(TOKEN_LIKE, '<token>').replace(QUERY_TOKEN, '$1<token>').replace(BEARER, '$1<token>');
}

interface Classified {
  kind: LogGroupKind;
  reason: string;
  message: string;
  module?: string;
}

function classify(message: string): Classified | undefined {
  const verifying = /Error verifying token\b(.*)$/.exec(message);
  if (verifying) {
    const rest = verifying[1];
    const reasonAt = /\breason:[ \t]*(.*)$/.exec(rest);
    let reason = reasonAt ? reasonAt[1] : rest.replace(/^[\s:]*(on \w+ authentication stage\s*:)?/, '');
    const tenant = reason.indexOf(' tenant:');
    if (tenant >= 0) reason = reason.slice(0, tenant);
    reason = reason.trim().replace(/^(Not acceptable by \w+)\s*\(.*$/, '$1');
    return { kind: 'token-rejected', reason: reason || 'unknown', message };
  }
  const mismatch = /^(.*\bToken[ \t]+)(\S+)([ \t]+not allowed to join\b.*)$/.exec(message);
  if (mismatch) {
    return { kind: 'room-mismatch', reason: 'Room and token mismatched', message: `${mismatch[1]}<token>${mismatch[3]}` };
  }
  const initializing = /Error initializing module[ \t]+'([^']*)'/.exec(message);
  const loading = /(?:Unable|Failed) to load module[ \t:]+(?:'([^']*)'|"([^"]*)"|([^\s:,'"]+))/.exec(message);
  if (initializing || loading || /(?:Unable|Failed) to load module/.test(message)) {
    const name = initializing?.[1] ?? loading?.[1] ?? loading?.[2] ?? loading?.[3] ?? '';
    return { kind: 'module-load', reason: name || 'unknown', module: name || undefined, message };
  }
  if (/\buser is banned\b/i.test(message)) return { kind: 'banned', reason: 'user is banned', message };
  return undefined;
}

function isLeap(year: number): boolean {
  return (year % 4 === 0 && year % 100 !== 0) || year % 400 === 0;
}

function lineTime(match: RegExpExecArray, options: SummaryOptions): number | undefined {
  const month = MONTHS.indexOf(match[1]);
  const [day, hour, minute, second] = [match[2], match[3], match[4], match[5]].map(Number);
  if (month < 0 || day < 1 || day > 31 || hour > 23 || minute > 59 || second > 60) return undefined;
  const hostLocal = new Date((options.hostNow + options.hostUtcOffsetSeconds) * 1000);
  let year = hostLocal.getUTCFullYear();
  const hostMonth = hostLocal.getUTCMonth();
  if (month > hostMonth || (month === hostMonth && day > hostLocal.getUTCDate())) year -= 1;
  if (month === 1 && day === 29) while (!isLeap(year)) year -= 1;
  const local = Date.UTC(year, month, day, hour, minute, second) / 1000;
  if (new Date(local * 1000).getUTCMonth() !== month) return undefined;
  return local - options.hostUtcOffsetSeconds;
}

export function summariseProsodyLog(text: string, options: SummaryOptions): LogSummary {
  const since = options.hostNow - options.sinceSeconds;
  const groups = new Map<string, LogGroup>();
  let linesRead = 0;
  let unparsed = 0;
  let smokeTests = 0;
  for (const raw of text.split(/\r?\n/)) {
    if (raw.trim() === '') continue;
    linesRead += 1;
    if (/^[ \t]/.test(raw)) continue;
    const line = raw.replace(/\s+$/, '');
    const match = LINE.exec(line);
    const time = match ? lineTime(match, options) : undefined;
    if (match === null || time === undefined) {
      unparsed += 1;
      continue;
    }
    if (time < since) continue;
    if (line.includes(SMOKE_ROOM)) {
      smokeTests += 1;
      continue;
    }
    const found = classify(match[8]);
    if (!found) continue;
    const key = `${found.kind}\u0000${found.reason}`;
    const sample = redactTokens(line.slice(0, line.length - match[8].length) + found.message);
    const source = redactTokens(match[6]);
    const group = groups.get(key);
    if (!group) {
      groups.set(key, {
        kind: found.kind,
        reason: redactTokens(found.reason),
        count: 1,
        first: time,
        last: time,
        sample,
        source,
        ...(found.module !== undefined ? { module: redactTokens(found.module) } : {}),
      });
      continue;
    }
    group.count += 1;
    group.first = Math.min(group.first, time);
    if (time >= group.last) {
      group.last = time;
      group.sample = sample;
      group.source = source;
    }
  }
  const sorted = [...groups.values()].sort((a, b) => b.count - a.count || b.last - a.last);
  return { groups: sorted, linesRead, since, unparsed, smokeTests };
}
