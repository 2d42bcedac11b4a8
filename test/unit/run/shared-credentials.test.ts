import { describe, expect, it } from 'vitest';
import { sharedCredentials, type HostCredentialState } from '../../../src/run/shared-credentials.js';

const A = 'a'.repeat(40);
const B = 'b'.repeat(40);
const NEW = 'n'.repeat(43);
const generate = () => NEW;
const host = (name: string, appSecret?: string, appId: string | undefined = appSecret ? 'app' : undefined): HostCredentialState => ({ name, appId, appSecret });

describe('sharedCredentials', () => {
  it('keeps the one secret the hosts share, and gives it to hosts without one', () => {
    expect(sharedCredentials([host('h1', A), host('h2'), host('h3', A)], {}, generate)).toEqual({ appId: 'app', appSecret: A, source: 'kept', previousSecrets: [] });
  });

  it('generates one secret for a fleet that has none', () => {
    expect(sharedCredentials([host('h1'), host('h2')], { appId: 'x' }, generate)).toEqual({ appId: 'x', appSecret: NEW, source: 'generated', previousSecrets: [] });
  });

  it('refuses hosts with different secrets, naming the groups but never the secrets', () => {
    const decide = () => sharedCredentials([host('h1', A), host('h2', B), host('h3', A)], {}, generate);
    expect(decide).toThrow(/2 different app_secrets \(\{h1, h3\} vs \{h2\}\)/);
    expect(decide).toThrow(expect.objectContaining({ hint: expect.stringMatching(/--secret-from HOST/) }));
    try {
      decide();
    } catch (error) {
      expect(JSON.stringify({ message: (error as Error).message, hint: (error as { hint?: string }).hint })).not.toMatch(/aaaa|bbbb/);
    }
  });

  it('lets --secret-from choose, and lists the losing secret as one to refuse afterwards', () => {
    expect(sharedCredentials([host('h1', A), host('h2', B)], { secretFrom: 'h2' }, generate)).toEqual({ appId: 'app', appSecret: B, source: 'kept', previousSecrets: [A] });
  });

  it('uses a given secret, as kept only when every host already has it', () => {
    expect(sharedCredentials([host('h1', A), host('h2', A)], { appSecret: A }, generate).source).toBe('kept');
    expect(sharedCredentials([host('h1', A), host('h2')], { appSecret: A }, generate).source).toBe('given');
    expect(sharedCredentials([host('h1', A), host('h2', B)], { appSecret: B }, generate)).toMatchObject({ source: 'given', previousSecrets: [A] });
  });

  it('rotates to a new secret (or the given one), listing every old one', () => {
    expect(sharedCredentials([host('h1', A), host('h2', B)], { rotate: true }, generate)).toEqual({ appId: 'app', appSecret: NEW, source: 'generated', previousSecrets: [A, B] });
    expect(sharedCredentials([host('h1', A)], { rotate: true, appSecret: B }, generate)).toMatchObject({ appSecret: B, source: 'given', previousSecrets: [A] });
  });

  it('refuses different app_ids unless --app-id chooses', () => {
    const hosts = [host('h1', A, 'one'), host('h2', A, 'two')];
    expect(() => sharedCredentials(hosts, {}, generate)).toThrow(/different app_ids: "one" on h1; "two" on h2/);
    expect(sharedCredentials(hosts, { appId: 'three' }, generate).appId).toBe('three');
  });

  it.each([
    [{ secretFrom: 'h9' }, /"h9", which is not one of the hosts/],
    [{ secretFrom: 'h2' }, /h2 has no app_secret to share/],
    [{ secretFrom: 'h1', appSecret: B }, /both choose the secret/],
    [{ secretFrom: 'h1', rotate: true }, /rotate-secret makes a new one/],
  ])('refuses a contradictory request %j', (request, message) => {
    expect(() => sharedCredentials([host('h1', A), host('h2')], request, generate)).toThrow(message);
  });
});
