// HS256 (shared secret) or RS256 (private key, kid in the header) tokens in the shape Jitsi's token plugins verify: header typ "JWT",
// iss/aud/sub/room claims, exp/nbf as whole seconds.
import type { SigningKey } from './keys.js';

export interface TokenUser {
  id?: string;
  name?: string;
  email?: string;
  avatar?: string;
  moderator?: boolean;
  affiliation?: 'owner' | 'member';
}

export interface TokenRequest {
  /** HS256 with this secret, unless signingKey is given */
  appSecret?: string;
  /** RS256 with this private key, the kid in the header */
  signingKey?: SigningKey;
  appId: string;
  /** room name as the client joins it; "*" for any room */
  room: string;
  /** the XMPP domain (or "*", or a tenant) */
  sub: string;
  aud?: string;
  iss?: string;
  ttlSeconds?: number;
  /** nbf is back-dated by this much to absorb clock skew */
  nbfSkewSeconds?: number;
  user?: TokenUser;
  now?: Date;
}

export async function mintToken(request: TokenRequest): Promise<string> {
  // jose is loaded by the runs that sign, not by every start.
  const { SignJWT } = await import('jose');
  const now = Math.floor((request.now ?? new Date()).getTime() / 1000);
  const payload: Record<string, unknown> = { room: request.room };
  if (request.user && Object.values(request.user).some((v) => v !== undefined)) payload.context = { user: request.user };
  if (!request.signingKey && request.appSecret === undefined) throw new Error('mintToken needs an app secret or a signing key');
  return new SignJWT(payload)
    .setProtectedHeader(request.signingKey ? { alg: 'RS256', typ: 'JWT', kid: request.signingKey.kid } : { alg: 'HS256', typ: 'JWT' })
    .setIssuer(request.iss ?? request.appId)
    .setAudience(request.aud ?? 'jitsi')
    .setSubject(request.sub)
    .setIssuedAt(now)
    .setNotBefore(now - (request.nbfSkewSeconds ?? 30))
    .setExpirationTime(now + (request.ttlSeconds ?? 600))
    .sign(request.signingKey ? request.signingKey.key : new TextEncoder().encode(request.appSecret));
}
