// Domain config fixtures in the shapes Jitsi ships (built from the test bed's
// stock-shaped files) and in shapes people leave them in after editing by hand.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import type { ConfigFile, DomainFile } from '../../../src/facts/probe.js';
import type { TokenAuthSettings } from '../../../src/prosody/token-edit.js';

export const DOMAIN = 'meet.example.org';

/** The test bed's stock-shaped file with its placeholders filled in, as Jitsi's install script does. */
export function stock(generation: '2024' | '2026'): string {
  const path = fileURLToPath(new URL(`../../../testbed/domain/jitsi-meet-${generation}.cfg.lua`, import.meta.url));
  return readFileSync(path, 'utf8')
    .replaceAll('jitmeet.example.com', DOMAIN)
    .replaceAll('focusUser', 'focus')
    .replaceAll('__turnSecret__', 'turn-secret-123');
}

export function settings(overrides: Partial<TokenAuthSettings> = {}): TokenAuthSettings {
  return {
    domain: DOMAIN,
    appId: 'my_backend',
    appSecret: 's3cr3t-value',
    allowEmptyToken: false,
    enableDomainVerification: true,
    roomCheck: true,
    ...overrides,
  };
}

/**
 * Replaces whole lines, each exactly once: the expected text is the input
 * with these lines swapped, so a test states every line that changes.
 */
export function replaceLines(text: string, replacements: Array<[from: string, to: string]>): string {
  const eol = text.includes('\r\n') ? '\r\n' : '\n';
  const lines = text.split(eol);
  for (const [from, to] of replacements) {
    const hits = lines.flatMap((l, i) => (l === from ? [i] : []));
    if (hits.length !== 1) throw new Error(`fixture line ${JSON.stringify(from)} found ${hits.length} times`);
    lines.splice(hits[0], 1, ...to.split('\n'));
  }
  return lines.join(eol);
}

/** A Jitsi file from the 2017–2020 era: plugin_paths commented, plain "anonymous", external focus component. */
export const OLD_GENERATION = `-- Plugins path gets uncommented during jitsi-meet-tokens package install - that's where token plugin is located
--plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/" }

VirtualHost "${DOMAIN}"
        -- enabled = false -- Remove this line to enable this host
        authentication = "anonymous"
        -- Properties below are modified by jitsi-meet-tokens package config
        -- and authentication above is switched to "token"
        --app_id="example_app_id"
        --app_secret="example_app_secret"
        modules_enabled = {
            "bosh";
            "pubsub";
            "ping"; -- Enable mod_ping
        }
        c2s_require_encryption = false

Component "conference.${DOMAIN}" "muc"
    storage = "null"
    --modules_enabled = { "token_verification" }
admins = { "focus@auth.${DOMAIN}" }

Component "jitsi-videobridge.${DOMAIN}"
    component_secret = "jvb-secret"

VirtualHost "auth.${DOMAIN}"
    authentication = "internal_plain"

Component "focus.${DOMAIN}"
    component_secret = "focus-secret"
`;

/**
 * Edited by hand: CRLF line ends, tabs, options reordered, app_id already set,
 * a single-line modules table with `,`, extra comments and UTF-8, an unrelated
 * VirtualHost before Jitsi's, and the disabled jigasi host with its own
 * authentication = "token" that must not be touched.
 */
export const HAND_EDITED = [
  '-- Jitsi for the ünïcødé team 🎥 (hand-maintained, do not overwrite)',
  'plugin_paths = { "/usr/share/jitsi-meet/prosody-plugins/", "/opt/prosody-modules/" }',
  'muc_mapper_domain_base = "meet.example.org";',
  '',
  'VirtualHost "chat.internal"',
  '\tauthentication = "internal_hashed"',
  '\tapp_id = "not-jitsi"',
  '',
  'VirtualHost "meet.example.org"',
  '\t-- ops: keep c2s first',
  '\tc2s_require_encryption = false',
  '\tapp_id = "old_backend" -- set by hand in 2023',
  '\tauthentication = "jitsi-anonymous" -- do not delete me',
  '\t--app_secret="example_app_secret"',
  '\tmodules_enabled = { "bosh", "ping" }',
  '',
  'Component "conference.meet.example.org" "muc"',
  '\tmodules_enabled = { "muc_meeting_id", "polls" } -- kept short',
  '\tadmins = { "focus@auth.meet.example.org" }',
  '',
  'Component "focus.meet.example.org" "client_proxy"',
  '\ttarget_address = "focus@auth.meet.example.org"',
  '',
  'VirtualHost "jigasi.meet.jitsi"',
  '\tenabled = false',
  '\tauthentication = "token"',
  '\tapp_id = "jitsi";',
  '',
].join('\r\n');

// A host's Prosody config files as the probe reads them: the main config, conf.d (the domain file's link among them), conf.avail.

export const MAIN = '/etc/prosody/prosody.cfg.lua';
export const LINK = `/etc/prosody/conf.d/${DOMAIN}.cfg.lua`;
export const AVAIL = `/etc/prosody/conf.avail/${DOMAIN}.cfg.lua`;
export const STOCK_MAIN = 'admins = { }\nVirtualHost "localhost"\n\nInclude "conf.d/*.cfg.lua"\n';
export const LOCALHOST = 'VirtualHost "localhost"\n';

export function domainFile(text = stock('2026')): DomainFile {
  return { link: LINK, path: AVAIL, mode: '640', owner: 'root', group: 'prosody', mtime: 0, text };
}

/** A host's files as the probe lists them: the main config, then conf.d in the order given (directory order), then conf.avail. */
export function prosodyHost(confD: [name: string, text: string][], main = STOCK_MAIN, extra: ConfigFile[] = []) {
  const file = domainFile();
  const prosodyConfigFiles: ConfigFile[] = [
    { path: MAIN, text: main },
    ...confD.map(([name, text]) => ({ path: `/etc/prosody/conf.d/${name}`, text: name === `${DOMAIN}.cfg.lua` ? file.text : text })),
    { path: AVAIL, text: file.text },
    ...extra,
  ];
  return { domainFiles: [file], prosodyConfigFiles, listening: [] as string[] };
}

export const THE_DOMAIN: [string, string] = [`${DOMAIN}.cfg.lua`, ''];
