// The hosts a run works on: TARGETs from the command line and/or an inventory
// file (YAML) with per-host overrides. Pure: the file's text comes in, a list
// of validated host entries goes out.
import os from 'node:os';
import path from 'node:path';
import type { Node as YamlNode } from 'yaml';
import { SettingsError } from '../errors.js';
import { formatHostPort, parseTarget } from '../connector/target.js';
import { validateDomain } from '../settings/settings.js';

/** One host of a run, with what differs from the run's flags. */
export interface HostEntry {
  /** what the summary table and the JSON call the host (default: its "host" as written) */
  name: string;
  /** [user@]host[:port] or an ssh_config alias, as connect() takes it */
  target: string;
  domain?: string;
  identity?: string;
  /** "password": this host's sudo needs the password (from --sudo-password-stdin or passwordEnv) */
  sudo?: 'auto' | 'password';
  /** name of an environment variable holding this host's sudo password */
  sudoPasswordEnv?: string;
}

const HOST_KEYS = ['host', 'name', 'user', 'port', 'domain', 'identity', 'sudo', 'sudo_password_env'] as const;
type HostKey = (typeof HOST_KEYS)[number];
type RawHost = Partial<Record<HostKey, unknown>>;

export const INVENTORY_EXAMPLE = `defaults:            # optional: applies to every host
  user: deploy
hosts:
  - meet1.example.com              # a TARGET, as on the command line
  - host: 10.0.0.12
    name: shard-2                  # shown in the summary (default: the target)
    user: admin
    port: 2222
    domain: meet.example.com
    identity: ~/.ssh/shard2_ed25519
    sudo: password                 # needs --sudo-password-stdin (or sudo_password_env: VAR)`;

/** Parses an inventory file's text. `file` names it in errors and anchors relative identity paths. */
export async function parseInventory(text: string, file: string): Promise<HostEntry[]> {
  // The YAML parser is loaded only by runs that read an inventory.
  const yaml = await import('yaml');
  const { isMap, isScalar, isSeq, LineCounter, parseDocument } = yaml;
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, uniqueKeys: true, prettyErrors: false });
  const where = (node: YamlNode | null | undefined) => {
    const offset = node?.range?.[0];
    if (offset === undefined) return file;
    const { line } = lines.linePos(offset);
    return `${file}:${line}`;
  };
  const fail = (node: YamlNode | null | undefined, what: string) =>
    new SettingsError(`inventory ${where(node)}: ${what}`, `an inventory looks like this:\n${INVENTORY_EXAMPLE}`);
  if (doc.errors.length > 0) {
    const error = doc.errors[0];
    const { line, col } = lines.linePos(error.pos[0]);
    throw new SettingsError(`inventory ${file}:${line}:${col} is not valid YAML: ${error.message.split('\n')[0]}`, `an inventory looks like this:\n${INVENTORY_EXAMPLE}`);
  }
  const root = doc.contents;
  if (!isMap(root)) throw fail(root, 'the top level must be a mapping with a "hosts" key');
  for (const item of root.items) {
    const key = isScalar(item.key) ? String(item.key.value) : '';
    if (key !== 'hosts' && key !== 'defaults') throw fail(item.key as YamlNode, `unknown key "${key}" at the top level (known: defaults, hosts)`);
  }

  const defaultsNode = root.get('defaults', true) as YamlNode | undefined;
  let defaults: RawHost = {};
  if (defaultsNode !== undefined && defaultsNode !== null && !(isScalar(defaultsNode) && defaultsNode.value === null)) {
    if (!isMap(defaultsNode)) throw fail(defaultsNode, '"defaults" must be a mapping of host settings');
    defaults = readHost(yaml, defaultsNode, 'defaults', fail);
    for (const key of ['host', 'name'] as const) if (defaults[key] !== undefined) throw fail(defaultsNode, `"${key}" cannot be a default: it names one host`);
  }

  const hostsNode = root.get('hosts', true) as YamlNode | undefined;
  if (!hostsNode) throw fail(root, 'no "hosts" key: list the servers under it');
  const raw: { host: RawHost; node: YamlNode }[] = [];
  if (isSeq(hostsNode)) {
    for (const [i, item] of hostsNode.items.entries()) {
      const node = item as YamlNode;
      if (isScalar(node)) {
        if (typeof node.value !== 'string' || node.value.trim() === '') throw fail(node, `host ${i + 1} must be a TARGET string or a mapping`);
        raw.push({ host: { host: node.value }, node });
      } else if (isMap(node)) {
        raw.push({ host: readHost(yaml, node, `host ${i + 1}`, fail), node });
      } else {
        throw fail(node, `host ${i + 1} must be a TARGET string or a mapping`);
      }
    }
  } else if (isMap(hostsNode)) {
    // Ansible style: the key names the host; "host" defaults to the key.
    for (const item of hostsNode.items) {
      const name = isScalar(item.key) ? String(item.key.value) : '';
      const value = item.value as YamlNode | null;
      const host = value === null || (isScalar(value) && value.value === null) ? {} : isMap(value) ? readHost(yaml, value, `host "${name}"`, fail) : undefined;
      if (!host) throw fail(value, `host "${name}" must be a mapping of settings (or empty)`);
      raw.push({ host: { name, host: name, ...host }, node: (value ?? item.key) as YamlNode });
    }
  } else {
    throw fail(hostsNode, '"hosts" must be a list (or a mapping) of servers');
  }
  if (raw.length === 0) throw fail(hostsNode, '"hosts" is empty');

  const base = path.dirname(path.resolve(file));
  return raw.map(({ host, node }) => toEntry(host, defaults, base, (what) => fail(node, what)));
}

function readHost({ isMap, isScalar }: typeof import('yaml'), node: YamlNode, label: string, fail: (node: YamlNode | null | undefined, what: string) => SettingsError): RawHost {
  if (!isMap(node)) throw fail(node, `${label} must be a mapping`);
  const host: RawHost = {};
  for (const item of node.items) {
    const key = isScalar(item.key) ? String(item.key.value) : '';
    if (!(HOST_KEYS as readonly string[]).includes(key)) throw fail(item.key as YamlNode, `${label}: unknown key "${key}" (known: ${HOST_KEYS.join(', ')})`);
    const value = item.value as YamlNode | null;
    if (!isScalar(value)) throw fail(value ?? node, `${label}: "${key}" must be a single value`);
    host[key as HostKey] = value.value;
  }
  return host;
}

function text(value: unknown, key: string, fail: (what: string) => SettingsError): string | undefined {
  if (value === undefined || value === null) return undefined;
  if (typeof value === 'number' && key === 'port') return String(value);
  if (typeof value !== 'string' || value.trim() === '') throw fail(`"${key}" must be a non-empty string`);
  return value.trim();
}

/** Precedence: the host's own keys, then what its TARGET string says (user@, :port), then defaults. */
function toEntry(own: RawHost, defaults: RawHost, base: string, fail: (what: string) => SettingsError): HostEntry {
  const raw: RawHost = { ...defaults, ...own };
  const hostText = text(raw.host, 'host', fail);
  if (!hostText) throw fail('a host needs "host" (its address or ssh_config alias)');
  const parsed = (() => {
    try {
      return parseTarget(hostText);
    } catch (error) {
      throw fail((error as Error).message);
    }
  })();
  const user = text(own.user, 'user', fail) ?? parsed.user ?? text(defaults.user, 'user', fail);
  const portText = text(own.port, 'port', fail) ?? (parsed.port === undefined ? text(defaults.port, 'port', fail) : undefined);
  let port = parsed.port;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) throw fail(`port "${portText}" is not a port number (1-65535)`);
    port = Number(portText);
  }
  const hostPart = port !== undefined ? formatHostPort(parsed.host, port) : parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host;
  const target = `${user !== undefined ? `${user}@` : ''}${hostPart}`;
  const domainText = text(raw.domain, 'domain', fail);
  let domain: string | undefined;
  if (domainText !== undefined) {
    try {
      domain = validateDomain(domainText);
    } catch (error) {
      throw fail((error as Error).message);
    }
  }
  const identityText = text(raw.identity, 'identity', fail);
  const identity = identityText === undefined ? undefined : identityText.startsWith('~/') ? path.join(os.homedir(), identityText.slice(2)) : path.resolve(base, identityText);
  const sudoText = text(raw.sudo, 'sudo', fail);
  if (sudoText !== undefined && sudoText !== 'auto' && sudoText !== 'password') throw fail(`"sudo" must be "auto" or "password" (got "${sudoText}")`);
  const sudoPasswordEnv = text(raw.sudo_password_env, 'sudo_password_env', fail);
  if (sudoPasswordEnv !== undefined && !/^[A-Za-z_][A-Za-z0-9_]*$/.test(sudoPasswordEnv)) throw fail(`"sudo_password_env" must name an environment variable (got "${sudoPasswordEnv}")`);
  return {
    name: text(own.name, 'name', fail) ?? hostText,
    target,
    ...(domain ? { domain } : {}),
    ...(identity ? { identity } : {}),
    ...(sudoText ? { sudo: sudoText as HostEntry['sudo'] } : {}),
    ...(sudoPasswordEnv ? { sudoPasswordEnv } : {}),
  };
}

/** The run's hosts: inventory entries first, then TARGETs; names must be unique. */
export function fleetEntries(targets: string[], inventory: HostEntry[] = []): HostEntry[] {
  const entries = [...inventory, ...targets.map((target) => ({ name: target, target }))];
  const seen = new Map<string, HostEntry>();
  for (const entry of entries) {
    if (seen.has(entry.name)) throw new SettingsError(`host "${entry.name}" is named twice`, 'list each server once (give inventory entries distinct "name"s)');
    seen.set(entry.name, entry);
  }
  return entries;
}
