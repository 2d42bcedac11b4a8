// Switches a Jitsi domain config to token authentication with surgical edits.
//
// Pure: text in, text and the list of edits out. Each edit replaces one range
// of the original text; every other byte stays as it was. The result keeps the
// shape Jitsi's own jitsi-meet-tokens package produces (it rewrites the
// `authentication = ... -- do not delete me` line, turns the commented
// `--app_id="example_app_id"` / `--app_secret="example_app_secret"` lines into
// real ones and uncomments `--"token_verification";`), so Jitsi's package
// scripts keep recognising the file after we have been there.
//
// Running it on its own output gives no edits: every change is decided by
// comparing values, never by "has this line been touched before".
import {
  DomainConfigError,
  findCommentedAssignment,
  findConferenceComponent,
  lastAssignment,
  parseDomainConfig,
  readTokenConfig,
  requirePlainAppSecret,
  requireVirtualHost,
  sectionsNamed,
  type Assignment,
  type CommentLine,
} from './domain-config.js';
import { renderProsodyTemplate } from './templates.js';
import { InternalError } from '../errors.js';
import { anchorIn, editBooleanOption, editGuestHost, editStringSet, readStringSet, removeStatement, type SetWish } from './access-edit.js';
import { editKeyPublisher, publisherComponent, type KeyPublisher } from './key-edit.js';
import { applyEdits, editModules, EditList, lineOf, sameValue, sortEdits, TextLayout, type Anchor, type Edit, type ModuleWish } from './text-edits.js';

export { applyEdits, type Edit } from './text-edits.js';

export { DomainConfigError } from './domain-config.js';

export interface TokenAuthSettings {
  domain: string;
  appId: string;
  appSecret: string;
  allowEmptyToken: boolean;
  /** written explicitly, always: the plugins' default changed between versions */
  enableDomainVerification: boolean;
  /** undefined = leave whatever is there untouched */
  issuers?: string[];
  audiences?: string[];
  /** token_verification in the conference MUC: the token's room claim must match the room */
  roomCheck: boolean;
  /** token_affiliation in the conference MUC (undefined = leave as is) */
  moderatorFromToken?: boolean;
  /** token_verification_allowlist of the conference MUC: who joins without a token (only with room checks) */
  allowlist?: SetWish;
  /** muc_lobby_whitelist of the main VirtualHost: who skips the lobby (only where the lobby is on) */
  lobbyWhitelist?: SetWish;
  /** the guest setup (guest VirtualHost, waiting for a host); undefined = leave as is */
  guests?: GuestSettings;
  /** RS256 tokens verified with public keys by kid; undefined: HS256 with app_secret */
  publicKeys?: PublicKeySettings;
}

export interface PublicKeySettings {
  /** asap_key_server: where Prosody fetches <hex(sha256(kid))>.pem */
  asapKeyServer: string;
  /** cache_keys_url: a JWKS document read before the key server */
  cacheKeysUrl?: string;
  /** the component that serves keys published on the host */
  publisher?: KeyPublisher;
}

/** The stock commented line Jitsi's file has where jitsi-meet-tokens puts app_secret. */
const STOCK_APP_SECRET_COMMENT = '--app_secret="example_app_secret"';

export interface GuestSettings {
  /** guest.<domain> */
  domain: string;
  enable: boolean;
  /** wait_for_host_disable_auto_owners: token holders become owners only when the token says so */
  disableAutoOwners: boolean;
}

export const WAIT_FOR_HOST = 'muc_wait_for_host';
export const PERSISTENT_LOBBY = 'persistent_lobby';
export const LOBBY_ROOMS = 'muc_lobby_rooms';
export const ALLOWLIST = 'token_verification_allowlist';
export const LOBBY_WHITELIST = 'muc_lobby_whitelist';
export const DISABLE_AUTO_OWNERS = 'wait_for_host_disable_auto_owners';

/**
 * What editForTokenAuth sets on the main VirtualHost and on the conference
 * MUC, with the options that undo it (modules_disabled) and the token options
 * the plugins read there: another file Prosody reads later that sets one of
 * these for the same host replaces what this editor wrote.
 */
export const TOKEN_OPTIONS = {
  virtualHost: [
    'authentication', 'app_id', 'app_secret', 'allow_empty_token', 'enable_domain_verification', 'asap_accepted_issuers',
    'asap_accepted_audiences', 'asap_key_server', 'cache_keys_url', 'signature_algorithm', 'asap_require_room_claim',
    'modules_enabled', 'modules_disabled', LOBBY_WHITELIST,
  ],
  conference: ['modules_enabled', 'modules_disabled', ALLOWLIST, DISABLE_AUTO_OWNERS, 'muc_mapper_domain_base'],
} as const satisfies Record<string, readonly string[]>;

export interface TokenEditResult {
  text: string;
  /** in text order; empty when the file already is in the target state */
  edits: Edit[];
  /** things left alone that the operator should know about */
  warnings: string[];
}

const TOKEN_VERIFICATION = 'token_verification';
const TOKEN_AFFILIATION = 'token_affiliation';

/**
 * Computes the edits that put `text` in the token-authentication state given
 * by `settings`. Throws DomainConfigError (a host-state error naming
 * `fileName`) when the file cannot be edited safely (no VirtualHost for the
 * domain, no conference MUC, an app_secret that is not a plain string, a
 * modules_enabled that is not a table).
 */
export function editForTokenAuth(text: string, settings: TokenAuthSettings, fileName?: string): TokenEditResult {
  const config = parseDomainConfig(text, fileName);
  const layout = new TextLayout(config);
  const edits = new EditList();
  const warnings: string[] = [];
  const { domain } = settings;
  const eol = config.eol;

  const virtualHost = requireVirtualHost(config, domain);
  const vh = sectionsNamed(config, 'virtualhost', domain);
  const conference = findConferenceComponent(config, domain);
  if (!conference) {
    throw new DomainConfigError(
      'no-conference-component',
      `there is no Component "conference.${domain}" "muc" in ${config.fileName}`,
      'Token room checks live in the conference MUC of a Jitsi domain. Check the domain, or restore the conference component of Jitsi\'s stock file.',
    );
  }
  const conf = sectionsNamed(config, 'component', conference.name!);
  if (!virtualHost.enabled) warnings.push(`VirtualHost "${virtualHost.name}" has enabled = false: it was edited, but Prosody will not serve it.`);

  /** Inserts template output as new lines after the anchor's line, indented like it, in the file's line ending. */
  const insertLines = (anchor: Anchor, rendered: string, description: string) => {
    const lines = rendered.split('\n').map((l) => anchor.indent + l).join(eol);
    edits.insert(layout.lineEndAfter(anchor.pos), eol + lines, description);
  };
  const anchorAt = (a: Assignment | CommentLine): Anchor => ({ pos: a.range[1], indent: layout.lineIndent(a.range[0]) });
  const luaValue = (value: string | boolean | readonly string[]) => renderProsodyTemplate('lua-value', { value });

  // --- the main VirtualHost -------------------------------------------------
  requirePlainAppSecret(config, domain);

  let anchor: Anchor;
  const auth = lastAssignment(vh, 'authentication');
  if (auth) {
    // Only the string literal changes: `authentication = "token" -- do not delete me`
    // keeps the marker comment Jitsi's package scripts look for.
    if (auth.value !== 'token') edits.replace(auth.valueRange, luaValue('token'), `VirtualHost "${domain}": authentication = "token"`);
    anchor = anchorAt(auth);
  } else {
    anchor = { pos: virtualHost.headerRange![1], indent: layout.sectionIndent(virtualHost) };
    insertLines(anchor, renderProsodyTemplate('option', { name: 'authentication', value: 'token' }), `VirtualHost "${domain}": add authentication = "token"`);
  }

  // app_id / app_secret, spelled `app_id="X"` as jitsi-meet-tokens writes them.
  const setCredential = (name: 'app_id' | 'app_secret', value: string) => {
    const shown = name === 'app_secret' ? '(secret hidden)' : JSON.stringify(value);
    const existing = lastAssignment(vh, name);
    if (existing) {
      if (existing.value !== value) edits.replace(existing.valueRange, luaValue(value), `VirtualHost "${domain}": set ${name} ${shown}`);
      anchor = anchorAt(existing);
      return;
    }
    const line = renderProsodyTemplate('token-credential', { name, value });
    const commented = findCommentedAssignment(vh, name);
    if (commented) {
      edits.replace(commented.range, line, `VirtualHost "${domain}": uncomment ${name} and set it ${shown}`);
      anchor = anchorAt(commented);
      return;
    }
    insertLines(anchor, line, `VirtualHost "${domain}": add ${name} ${shown}`);
  };
  setCredential('app_id', settings.appId);
  const pk = settings.publicKeys;
  if (!pk) {
    setCredential('app_secret', settings.appSecret);
  } else {
    // With a key source Jitsi's plugins never use the secret: it goes back to the stock commented line, and a switch back uncomments it.
    const secret = lastAssignment(vh, 'app_secret');
    if (secret) edits.replace(secret.range, STOCK_APP_SECRET_COMMENT, `VirtualHost "${domain}": comment out app_secret (public-key tokens use none)`);
  }

  const ctx = { layout, edits, eol };
  const removeOption = (name: string, why: string) => {
    const existing = lastAssignment(vh, name);
    if (existing) removeStatement(ctx, existing, `VirtualHost "${domain}": remove ${name} (${why})`);
  };
  const setOption = (name: string, value: string | boolean | readonly string[]) => {
    const existing = lastAssignment(vh, name);
    const shown = () => renderProsodyTemplate('lua-value', { value });
    if (existing) {
      if (!sameValue(existing.value, value)) edits.replace(existing.valueRange, luaValue(value), `VirtualHost "${domain}": ${name} = ${shown()}`);
      anchor = anchorAt(existing);
      return;
    }
    insertLines(anchor, renderProsodyTemplate('option', { name, value }), `VirtualHost "${domain}": add ${name} = ${shown()}`);
  };
  setOption('allow_empty_token', settings.allowEmptyToken);
  setOption('enable_domain_verification', settings.enableDomainVerification);
  if (settings.issuers) setOption('asap_accepted_issuers', settings.issuers);
  if (settings.audiences) setOption('asap_accepted_audiences', settings.audiences);
  if (pk) {
    setOption('asap_key_server', pk.asapKeyServer);
    if (pk.cacheKeysUrl) setOption('cache_keys_url', pk.cacheKeysUrl);
    else removeOption('cache_keys_url', 'keys come from the key server only');
    setOption('signature_algorithm', 'RS256');
  } else {
    removeOption('asap_key_server', 'tokens are signed with the shared app_secret');
    removeOption('cache_keys_url', 'tokens are signed with the shared app_secret');
    const algorithm = lastAssignment(vh, 'signature_algorithm')?.value;
    if (algorithm !== undefined && !(typeof algorithm === 'string' && /^HS(256|384|512)$/.test(algorithm))) removeOption('signature_algorithm', 'HS256, the default with app_secret');
  }

  // --- the conference MUC ---------------------------------------------------
  const wanted: ModuleWish[] = [{ module: TOKEN_VERIFICATION, enable: settings.roomCheck, disableBy: 'comment' }];
  // No commented stock line exists for token_affiliation: switching it off removes it.
  if (settings.moderatorFromToken !== undefined) {
    wanted.push({ module: TOKEN_AFFILIATION, enable: settings.moderatorFromToken, disableBy: 'remove' });
  }
  if (settings.guests) wanted.push({ module: WAIT_FOR_HOST, enable: settings.guests.enable, disableBy: 'remove' });
  const conferenceWhere = `Component "${conference.name}"`;
  editModules({ layout, edits, eol, where: conferenceWhere, sections: conf, wanted });
  if (settings.allowlist) editStringSet(ctx, conferenceWhere, conf, ALLOWLIST, settings.allowlist, () => anchorIn(layout, conf, 'modules_enabled'));
  if (settings.guests) {
    editBooleanOption(ctx, conferenceWhere, conf, DISABLE_AUTO_OWNERS, settings.guests.enable && settings.guests.disableAutoOwners ? true : undefined,
      () => anchorIn(layout, conf, ALLOWLIST, 'modules_enabled'));
  }

  // --- the main VirtualHost: the lobby, and who skips it ---------------------
  const vhWhere = `VirtualHost "${domain}"`;
  if (settings.guests) {
    // The waiting room is a lobby room that persistent_lobby creates; muc_lobby_rooms is in Jitsi's stock list.
    const lobby: ModuleWish[] = [{ module: PERSISTENT_LOBBY, enable: settings.guests.enable, disableBy: 'remove' }];
    if (settings.guests.enable) lobby.unshift({ module: LOBBY_ROOMS, enable: true, disableBy: 'remove' });
    editModules({ layout, edits, eol, where: vhWhere, sections: vh, wanted: lobby });
  }
  if (settings.lobbyWhitelist) editStringSet(ctx, vhWhere, vh, LOBBY_WHITELIST, settings.lobbyWhitelist, () => anchorIn(layout, vh, LOBBY_WHITELIST, 'lobby_muc'));
  if (settings.guests) editGuestHost(ctx, config, settings.guests.domain, settings.guests.enable);
  editKeyPublisher(ctx, config, domain, pk?.publisher);

  // --- global: mod_token_verification needs muc_mapper_domain_base -----------
  // Older Jitsi files ship `--plugin_paths = { ".../prosody-plugins/" }`, which
  // jitsi-meet-tokens uncommented: without it Prosody cannot find mod_auth_token.
  const pluginPaths = lastAssignment([config.global], 'plugin_paths');
  let mapperAnchor: Anchor | undefined = pluginPaths ? anchorAt(pluginPaths) : undefined;
  if (!pluginPaths) {
    const commented = findCommentedAssignment([config.global], 'plugin_paths', Array.isArray);
    const value = commented?.assignment?.value;
    if (commented && Array.isArray(value)) {
      edits.replace(commented.range, renderProsodyTemplate('option', { name: 'plugin_paths', value }), 'global: uncomment plugin_paths (where Jitsi\'s token plugins are)');
      mapperAnchor = anchorAt(commented);
    } else {
      warnings.push('this file does not set plugin_paths: Jitsi\'s token plugins (/usr/share/jitsi-meet/prosody-plugins/) must be on Prosody\'s plugin path some other way.');
    }
  }

  const mapper = lastAssignment([config.global], 'muc_mapper_domain_base') ?? lastAssignment(conf, 'muc_mapper_domain_base');
  if (mapper) {
    if (typeof mapper.value !== 'string' || mapper.value.toLowerCase() !== domain.toLowerCase()) {
      warnings.push(`muc_mapper_domain_base is ${text.slice(mapper.valueRange[0], mapper.valueRange[1])} on line ${lineOf(text, mapper.range[0])}, not "${domain}"; left as it is. Room checks map rooms with it.`);
    }
  } else {
    const line = renderProsodyTemplate('muc-mapper-domain-base', { domain });
    const description = `global: add muc_mapper_domain_base = "${domain}" (token_verification needs it)`;
    const first = config.global.statements[0];
    if (mapperAnchor) insertLines(mapperAnchor, line, description);
    else if (first) edits.insert(layout.lineStart(first[0]), layout.lineIndent(first[0]) + line + eol, description);
    else edits.insert(layout.lineStart(config.sections[1].range[0]), line + eol + eol, description);
  }

  const result = applyEdits(text, edits.edits);
  if (edits.edits.length > 0) verifyTokenAuth(result, settings);
  return { text: result, edits: sortEdits(edits.edits), warnings };
}

/**
 * Reads an edited text back and checks it says what the settings say. A
 * failure here is a bug in this module, so it throws an InternalError (which
 * never includes the secret).
 */
export function verifyTokenAuth(text: string, settings: TokenAuthSettings): void {
  const problems = tokenAuthProblems(text, settings);
  if (problems.length > 0) throw new InternalError(`internal error: the edited domain config does not read back as intended: ${problems.join('; ')}`);
}

/** What differs between the file and the target state; empty when converged. */
export function tokenAuthProblems(text: string, settings: TokenAuthSettings): string[] {
  const reading = readTokenConfig(parseDomainConfig(text), settings.domain);
  const problems: string[] = [];
  const check = (what: string, ok: boolean) => { if (!ok) problems.push(what); };
  check('authentication is not "token"', reading.authentication === 'token');
  check('app_id differs', reading.appId === settings.appId);
  const pk = settings.publicKeys;
  if (pk) {
    check('app_secret is still set', reading.appSecret === undefined);
    check('asap_key_server differs', reading.asapKeyServer === pk.asapKeyServer);
    check('cache_keys_url differs', reading.cacheKeysUrl === pk.cacheKeysUrl);
    check('signature_algorithm is not RS256', reading.signatureAlgorithm === 'RS256');
  } else {
    check('app_secret differs', reading.appSecret === settings.appSecret);
    check('asap_key_server is still set', reading.asapKeyServer === undefined);
    check('cache_keys_url is still set', reading.cacheKeysUrl === undefined);
  }
  check('allow_empty_token differs', reading.allowEmptyToken === settings.allowEmptyToken);
  check('enable_domain_verification differs', reading.enableDomainVerification === settings.enableDomainVerification);
  if (settings.issuers) check('asap_accepted_issuers differs', sameValue(reading.asapAcceptedIssuers, settings.issuers));
  if (settings.audiences) check('asap_accepted_audiences differs', sameValue(reading.asapAcceptedAudiences, settings.audiences));
  const active = reading.conferenceModules?.active ?? [];
  check(`${TOKEN_VERIFICATION} is ${settings.roomCheck ? 'not ' : ''}enabled`, active.includes(TOKEN_VERIFICATION) === settings.roomCheck);
  if (settings.moderatorFromToken !== undefined) {
    check(`${TOKEN_AFFILIATION} is ${settings.moderatorFromToken ? 'not ' : ''}enabled`, active.includes(TOKEN_AFFILIATION) === settings.moderatorFromToken);
  }
  check('muc_mapper_domain_base is not set', reading.mucMapperDomainBase !== undefined);
  const config = parseDomainConfig(text);
  const conference = findConferenceComponent(config, settings.domain);
  const conf = conference ? sectionsNamed(config, 'component', conference.name!) : [];
  const has = (list: string[] | undefined, entry: string) => (list ?? []).some((e) => e.toLowerCase() === entry.toLowerCase());
  for (const [wish, sections, name] of [[settings.allowlist, conf, ALLOWLIST], [settings.lobbyWhitelist, sectionsNamed(config, 'virtualhost', settings.domain), LOBBY_WHITELIST]] as const) {
    if (!wish) continue;
    const list = readStringSet(sections, name);
    for (const entry of wish.add) check(`${name} lacks "${entry}"`, has(list, entry));
    for (const entry of wish.remove) if (!wish.add.includes(entry)) check(`${name} still has "${entry}"`, !has(list, entry));
  }
  if (settings.guests) {
    const { enable } = settings.guests;
    check(`${WAIT_FOR_HOST} is ${enable ? 'not ' : ''}enabled`, active.includes(WAIT_FOR_HOST) === enable);
    check(`VirtualHost "${settings.guests.domain}" is ${enable ? 'missing' : 'still there'}`, sectionsNamed(config, 'virtualhost', settings.guests.domain).length > 0 === enable);
  }
  check(`the key publishing component is ${pk?.publisher ? 'missing' : 'still there'}`, sectionsNamed(config, 'component', publisherComponent(settings.domain)).length > 0 === Boolean(pk?.publisher));
  return problems;
}
