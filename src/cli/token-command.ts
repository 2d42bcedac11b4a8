// jitsi-jwt token: mint a token locally, with the app_id and secret given or
// read from the host, printed as the token, a meeting URL, JSON or an HTML page.
import { decodeJwt, decodeProtectedHeader } from 'jose';
import { EXIT, SettingsError } from '../errors.js';
import { credentialsOf } from '../run/credentials.js';
import { readTokenOptions, validateAppId, validateDomain, validateSecret } from '../settings/settings.js';
import { mintToken, type TokenUser } from '../token/mint.js';
import { normaliseRoom } from '../token/room.js';
import { hostsRequest, type CommonFlags } from './flags.js';

export interface TokenCommandFlags extends CommonFlags {
  room?: string;
  anyRoom?: boolean;
  sub?: string;
  aud: string;
  iss?: string;
  /** seconds */
  ttl: number;
  /** seconds */
  nbfSkew: number;
  force?: boolean;
  name?: string;
  email?: string;
  avatar?: string;
  userId?: string;
  moderator?: boolean;
  affiliation?: 'owner' | 'member';
  url?: boolean;
  embed?: boolean;
}

const MAX_TTL_WITHOUT_FORCE = 15 * 60;

function escapeHtml(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;');
}

export function embedPage(domain: string, room: string, token: string): string {
  const data = JSON.stringify({ domain, roomName: room, jwt: token }).replace(/</g, '\\u003c');
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${escapeHtml(room)} — Jitsi Meet</title>
<style>html, body, #meet { height: 100%; margin: 0; }</style>
<script src="https://${escapeHtml(domain)}/external_api.js"></script>
</head>
<body>
<div id="meet"></div>
<script>
const meeting = ${data};
new JitsiMeetExternalAPI(meeting.domain, { roomName: meeting.roomName, jwt: meeting.jwt, parentNode: document.querySelector('#meet') });
</script>
</body>
</html>
`;
}

export async function tokenCommand(target: string | undefined, flags: TokenCommandFlags): Promise<number> {
  if (!flags.room && !flags.anyRoom) throw new SettingsError('no room given', 'give --room NAME, or --any-room for a token valid in every room');
  if (flags.room && flags.anyRoom) throw new SettingsError('--room and --any-room exclude each other', 'give one of them');
  const room = flags.anyRoom ? '*' : normaliseRoom(flags.room!);
  const ttl = flags.ttl;
  if (ttl > MAX_TTL_WITHOUT_FORCE && !flags.force) {
    throw new SettingsError(`a ${ttl} s lifetime is long for a meeting token`, 'short-lived tokens (5–15 minutes) are the recommended practice; add --force to mint it anyway');
  }
  const options = await readTokenOptions(flags);
  let { appId, appSecret, domain } = options;
  // RS256: a private key signs, under the kid given with it (KID=FILE) or with --kid.
  const [privateKey, ...more] = options.privateKeys ?? [];
  if (more.length > 0) throw new SettingsError('a token is signed with one private key', 'give --private-key once');
  const kid = privateKey?.kid ?? options.signingKid;
  if (privateKey && kid === undefined) throw new SettingsError(`which kid does the private key in ${privateKey.file} sign as?`, 'give it with --kid, or as --private-key KID=FILE');
  if (privateKey && appSecret !== undefined) throw new SettingsError('both a private key and an app secret were given', 'a host takes either RS256 tokens (private key) or HS256 tokens (secret): keep one');
  if (target || flags.local) {
    const host = await credentialsOf(await hostsRequest('token', target ? [target] : [], flags), options.domain);
    // What the user gave wins over what the host has.
    appId ??= host.appId;
    if (host.keys.mode !== 'secret' && !privateKey) {
      throw new SettingsError(`${host.domain} verifies RS256 tokens with public keys: it has no secret to sign with`, 'sign with your backend\'s private key: --private-key FILE --kid ID');
    }
    if (!privateKey) appSecret ??= host.appSecret;
    domain = host.domain;
  }
  if (!appId) throw new SettingsError('no app_id given', 'give --app-id, or a TARGET to read it from the host');
  if (!appSecret && !privateKey) throw new SettingsError('no app secret given', 'give --app-secret-file or JITSI_JWT_APP_SECRET, or a TARGET to read it from the host (or sign RS256 with --private-key FILE --kid ID)');
  validateAppId(appId);
  if (appSecret !== undefined) validateSecret(appSecret, options.allowWeakSecret);
  const sub = flags.sub ?? (domain ? validateDomain(domain) : undefined);
  if (!sub) throw new SettingsError('no sub (the Jitsi domain) given', 'give --domain (or --sub), or a TARGET');

  const user: TokenUser = {
    id: flags.userId,
    name: flags.name,
    email: flags.email,
    avatar: flags.avatar,
    moderator: flags.moderator ? true : undefined,
    affiliation: flags.affiliation,
  };
  const token = await mintToken({
    appId,
    ...(privateKey ? { signingKey: { kid: kid!, key: privateKey.key } } : { appSecret }),
    room,
    sub,
    aud: flags.aud,
    iss: flags.iss,
    ttlSeconds: ttl,
    nbfSkewSeconds: flags.nbfSkew,
    user,
  });
  const meetingDomain = domain ?? sub;
  const url = room === '*' ? undefined : `https://${meetingDomain}/${encodeURIComponent(room)}?jwt=${token}`;
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ token, header: decodeProtectedHeader(token), claims: decodeJwt(token), url }, null, 2)}\n`);
  } else if (flags.embed) {
    if (room === '*') throw new SettingsError('--embed needs a room to open', 'give --room NAME');
    process.stdout.write(embedPage(meetingDomain, room, token));
  } else if (flags.url) {
    if (!url) throw new SettingsError('--url needs a room to open', 'give --room NAME');
    process.stdout.write(`${url}\n`);
  } else {
    process.stdout.write(`${token}\n`);
  }
  return EXIT.ok;
}
