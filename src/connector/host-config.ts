// What ~/.ssh/config says about a target: the parts of ssh_config(5) this tool
// honours, resolved the way OpenSSH does (first value wins, %-tokens, ~).
import SSHConfig from 'ssh-config';
import { SettingsError } from '../errors.js';
import { parseInteger } from '../settings/values.js';
import { parseTarget, type SshTarget } from './target.js';

export interface HostConfig {
  /** The name given (an alias or a host). */
  alias: string;
  /** Where to connect: HostName, or the name given. */
  host: string;
  port: number;
  user: string;
  /** IdentityFile entries, expanded; empty when the config names none. */
  identityFiles: string[];
  identitiesOnly: boolean;
  userKnownHostsFiles?: string[];
  globalKnownHostsFiles?: string[];
  hostKeyAlias?: string;
  proxyJump?: SshTarget;
  connectTimeoutMs?: number;
  /** StrictHostKeyChecking accept-new (or no): unknown host keys are added. */
  acceptNewHostKey: boolean;
}

export interface LocalEnvironment {
  home: string;
  localUser: string;
}

export function resolveHostConfig(target: SshTarget, configText: string, env: LocalEnvironment): HostConfig {
  // Match exec would run commands from the config file; this tool does not run local commands on a config's say-so.
  const computed = configText.trim() === '' ? {} : SSHConfig.parse(configText).compute(target.host, { ignoreCase: true, matchExec: false });
  const single = (name: string): string | undefined => {
    const value = computed[name];
    return Array.isArray(value) ? value[0] : value;
  };
  const list = (name: string): string[] | undefined => {
    const value = computed[name];
    if (value === undefined) return undefined;
    return (Array.isArray(value) ? value : [value]).flatMap((v) => v.split(/\s+/)).filter((v) => v !== '');
  };

  const where = `in the ssh configuration for "${target.host}"`;
  const hostName = single('hostname');
  const portText = single('port');
  let port = target.port ?? 22;
  if (target.port === undefined && portText !== undefined) {
    port = Number(portText);
    if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SettingsError(`Port "${portText}" ${where} is not a port number`);
  }
  const user = target.user ?? single('user') ?? env.localUser;
  const host = hostName ? expandTokens(hostName, { ...env, alias: target.host, host: target.host, user, port }) : target.host;
  const tokens = { ...env, alias: target.host, host, user, port };
  const path = (value: string) => expandPath(value, tokens);

  const proxyCommand = single('proxycommand');
  if (proxyCommand !== undefined && proxyCommand !== 'none') {
    throw new SettingsError(`ProxyCommand ${where} is not supported`, 'use ProxyJump instead (one hop; the jump host may have its own ProxyJump)');
  }
  let proxyJump: SshTarget | undefined;
  const jump = single('proxyjump');
  if (jump !== undefined && jump !== 'none') {
    if (jump.includes(',')) {
      throw new SettingsError(`ProxyJump ${jump} ${where} has several hops; only one is supported`, 'give the first jump host its own ProxyJump in ~/.ssh/config instead');
    }
    proxyJump = parseTarget(jump);
  }

  const connectTimeoutText = single('connecttimeout');
  // OpenSSH refuses an unreadable ConnectTimeout rather than connecting without one.
  const connectTimeout = connectTimeoutText === undefined ? undefined : parseInteger(connectTimeoutText, `ConnectTimeout ${where}`, { min: 1, max: 86_400, unit: 'seconds' });
  const strict = single('stricthostkeychecking')?.toLowerCase();
  const identityFiles = (list('identityfile') ?? []).filter((f) => f.toLowerCase() !== 'none').map(path);
  const userKnownHostsFiles = list('userknownhostsfile')?.map(path);
  const globalKnownHostsFiles = list('globalknownhostsfile')?.map(path);
  const hostKeyAlias = single('hostkeyalias');
  return {
    alias: target.host,
    host,
    port,
    user,
    identityFiles,
    identitiesOnly: single('identitiesonly')?.toLowerCase() === 'yes',
    ...(userKnownHostsFiles ? { userKnownHostsFiles } : {}),
    ...(globalKnownHostsFiles ? { globalKnownHostsFiles } : {}),
    ...(hostKeyAlias ? { hostKeyAlias } : {}),
    ...(proxyJump ? { proxyJump } : {}),
    ...(connectTimeout ? { connectTimeoutMs: connectTimeout * 1000 } : {}),
    acceptNewHostKey: strict === 'accept-new' || strict === 'no' || strict === 'off',
  };
}

interface Tokens extends LocalEnvironment {
  alias: string;
  host: string;
  user: string;
  port: number;
}

/** The %-tokens of ssh_config(5) "TOKENS" that make sense here. */
function expandTokens(value: string, t: Tokens): string {
  return value.replace(/%([%dhnpru])/g, (_, token: string) => {
    switch (token) {
      case '%':
        return '%';
      case 'd':
        return t.home;
      case 'h':
        return t.host;
      case 'n':
        return t.alias;
      case 'p':
        return String(t.port);
      case 'r':
        return t.user;
      default:
        return t.localUser;
    }
  });
}

function expandPath(value: string, t: Tokens): string {
  const expanded = expandTokens(value, t);
  if (expanded === '~') return t.home;
  if (expanded.startsWith('~/')) return `${t.home}${expanded.slice(1)}`;
  return expanded;
}
