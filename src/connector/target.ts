// Where to connect, as the user typed it: [user@]host[:port], [ipv6]:port,
// ssh://user@host:port, or an alias from ~/.ssh/config.
import { SettingsError } from '../errors.js';

export interface SshTarget {
  user?: string;
  host: string;
  port?: number;
}

const HOST_TEXT = /^[^\s/@[\]]+$/;

export function parseTarget(text: string): SshTarget {
  const given = text.trim();
  const invalid = (why: string) =>
    new SettingsError(`"${text}" is not an SSH target: ${why}`, 'name the server as [user@]host[:port], [user@][ipv6]:port or an alias from ~/.ssh/config');
  let rest = given.startsWith('ssh://') ? given.slice('ssh://'.length).replace(/\/$/, '') : given;
  if (rest === '') throw invalid('it is empty');

  let user: string | undefined;
  // Names like "first.last@corp@host" exist; the host is after the last "@".
  const at = rest.lastIndexOf('@');
  if (at >= 0) {
    user = rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (user === '') throw invalid('the user name before "@" is empty');
  }

  let host: string;
  let port: number | undefined;
  if (rest.startsWith('[')) {
    const close = rest.indexOf(']');
    if (close < 0) throw invalid('"[" without "]"');
    host = rest.slice(1, close);
    const after = rest.slice(close + 1);
    if (after !== '') {
      if (!after.startsWith(':')) throw invalid(`unexpected "${after}" after "]"`);
      port = parsePort(after.slice(1), invalid);
    }
  } else {
    const colons = rest.split(':').length - 1;
    if (colons === 1) {
      const colon = rest.indexOf(':');
      host = rest.slice(0, colon);
      port = parsePort(rest.slice(colon + 1), invalid);
    } else {
      // No colon, or a bare IPv6 address (which cannot carry a port without brackets).
      host = rest;
    }
  }
  if (host === '') throw invalid('the host is empty');
  if (!HOST_TEXT.test(host)) throw invalid(`"${host}" is not a host name or address`);
  return { ...(user !== undefined ? { user } : {}), host, ...(port !== undefined ? { port } : {}) };
}

function parsePort(text: string, invalid: (why: string) => Error): number {
  if (!/^\d{1,5}$/.test(text)) throw invalid(`"${text}" is not a port number`);
  const port = Number(text);
  if (port < 1 || port > 65535) throw invalid(`port ${port} is outside 1-65535`);
  return port;
}

/** host:port, with brackets around an IPv6 address. */
export function formatHostPort(host: string, port: number): string {
  return host.includes(':') ? `[${host}]:${port}` : `${host}:${port}`;
}
