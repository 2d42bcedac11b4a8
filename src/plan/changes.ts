// What a plan is: the changes still needed on a host (file edits with diffs,
// packages, links, restarts), as data. Its own module so that what only reads
// or shows a plan does not load the planner (the Lua parser, the templates).
import type { ServiceName } from '../facts/services.js';
import type { ResolvedSettings } from './resolve.js';

export type IdentityKind = 'jibri' | 'jigasi' | 'guests' | 'named';

/** One entry of token_verification_allowlist and why it is there. */
export interface TokenlessIdentity {
  kind: IdentityKind;
  /** a domain, or a bare JID */
  entry: string;
  /** what was found on the host, in plain words */
  reason: string;
  /** also skips the lobby (muc_lobby_whitelist); guests never do */
  lobby: boolean;
}

export interface FileChange {
  path: string;
  /** what the change is for, one line */
  purpose: string;
  before: string;
  after: string;
  /** unified diff of before → after (holds the secret: mask it before showing) */
  diff: string;
  /** undefined: mode and owner stay as they are */
  mode?: { from: string; to: string };
  owner?: { from: string; to: string };
  /** a new file (before is empty); its directory is made when missing */
  create?: boolean;
  /** the file goes (after is empty) */
  remove?: boolean;
}

/** Where the host's token keys come from once applied, and what changes about them. */
export interface KeysSummary {
  mode: 'secret' | 'key-server' | 'jwks' | 'published';
  /** one line, e.g. "RS256 tokens, public keys fetched by kid from https://…" */
  description: string;
  /** where Prosody fetches keys (asap_key_server), for RS256 */
  keyServer?: string;
  jwksUrl?: string;
  /** published keys accepted once applied */
  kids?: string[];
  /** where the published keys are on the host */
  dir?: string;
  added?: string[];
  retired?: string[];
  /** shared secret ↔ public keys: every token signed the old way is refused from the restart on */
  cutOver?: { from: string; to: string };
}

export interface LinkChange {
  /** e.g. /usr/local/share/lua/5.4/basexx.lua */
  path: string;
  module: string;
  reason: string;
  /** link to exactly this file (restore: what the link pointed to) instead of Debian's newest copy of module */
  target?: string;
}

/** A link to remove (restore: one the restored backup's run made). */
export interface LinkRemoval {
  path: string;
  reason: string;
}

export interface Plan {
  domain: string;
  appId: string;
  secretSource: ResolvedSettings['secretSource'];
  configPath: string;
  files: FileChange[];
  packages: string[];
  links: LinkChange[];
  unlinks?: LinkRemoval[];
  restarts: ServiceName[];
  /** why the services restart */
  restartReasons: string[];
  /** restarts a rollback needs though the change itself needed none (new public keys Prosody may have fetched) */
  rollbackRestarts?: ServiceName[];
  warnings: string[];
  /** who joins without a token once applied (token_verification_allowlist), and whether guests wait for a host */
  access?: { identities: TokenlessIdentity[]; guests: boolean };
  /** the domain logged users in with passwords before ("secure domain"): how many accounts stop working */
  passwordAccounts?: number;
  /** a package's debconf answers to keep in step with the config (holds the secret: never shown) */
  debconf?: DebconfChange;
  keys?: KeysSummary;
}

/** debconf's databases: saved with a run's backup when it changes answers, so that a rollback puts the old ones back. */
export const DEBCONF_DATABASES = ['/var/cache/debconf/config.dat', '/var/cache/debconf/passwords.dat'];

/** jitsi-meet-tokens' scripts edit the domain file with its debconf answers, and its removal undoes the edits by them. */
export interface DebconfChange {
  package: string;
  selections: { question: string; type: 'string' | 'password'; value: string }[];
  reason: string;
}

export function isEmpty(plan: Plan): boolean {
  return plan.files.length === 0 && plan.packages.length === 0 && plan.links.length === 0 && (plan.unlinks ?? []).length === 0 && plan.restarts.length === 0 && !plan.debconf;
}
