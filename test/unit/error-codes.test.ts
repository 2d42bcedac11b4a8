// Every error code the tool reports has one exit code, in one table
// (BY_CODE in src/errors.ts), and the table holds nothing else: codes are
// discovered in the source, so a new error class cannot ship without a mapping.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { BY_CODE, EXIT, exitCodeFor } from '../../src/errors.js';
import { JitsiJwtError, RolledBackError } from '../../src/errors.js';
import { planTokenAuth } from '../../src/plan/plan.js';
import { resolveSettings } from '../../src/plan/resolve.js';
import { DomainConfigError } from '../../src/prosody/domain-config.js';
import { DOMAIN, SECRET, facts, generate, options, stockText } from '../support/plan-fixtures.js';
import { caught } from '../support/errors.js';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

const TABLE: [string, number][] = [
  ['settings', EXIT.badInput],
  ['host-unreachable', EXIT.connection],
  ['authentication', EXIT.connection],
  ['host-key-changed', EXIT.connection],
  ['host-key-unknown', EXIT.connection],
  ['sudo', EXIT.connection],
  ['host-state', EXIT.hostState],
  ['locked', EXIT.locked],
  ['lock-failed', EXIT.failed],
  ['rolled-back', EXIT.rolledBack],
  ['secret-delivery', EXIT.rolledBack],
  ['rollback-failed', EXIT.rollbackFailed],
  ['smoke-failed', EXIT.smokeFailed],
  ['packages', EXIT.failed],
  ['connection-lost', EXIT.failed],
  ['tunnel', EXIT.failed],
  ['script-exited', EXIT.failed],
  ['probe-failed', EXIT.failed],
  ['internal', EXIT.failed],
  ['not-started', EXIT.ok],
];

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sourceFiles(path);
    return entry.name.endsWith('.ts') ? [path] : [];
  });
}

/**
 * The codes the source reports: the first argument of super(…) in error
 * classes, of new JitsiJwtError(…), and `code: '…'` in error records built by
 * hand (a host that did not start, a failed smoke test).
 */
function codesInSource(): Map<string, string[]> {
  const found = new Map<string, string[]>();
  const patterns = [/\bsuper\(\s*'([^']+)'/g, /\bnew JitsiJwtError\(\s*'([^']+)'/g, /\bcode:\s*'([^']+)'/g];
  for (const file of sourceFiles(join(ROOT, 'src'))) {
    const text = readFileSync(file, 'utf8');
    for (const pattern of patterns) {
      for (const match of text.matchAll(pattern)) found.set(match[1], [...(found.get(match[1]) ?? []), file.slice(ROOT.length)]);
    }
  }
  return found;
}

describe('error codes', () => {
  it.each(TABLE)('%s exits with %i', (code, exit) => {
    expect(BY_CODE[code]).toBe(exit);
    expect(exitCodeFor(new JitsiJwtError(code, 'm'))).toBe(exit);
    expect(exitCodeFor({ code })).toBe(exit);
  });

  it('exits 130 when a run was interrupted and put back', () => {
    expect(exitCodeFor(new RolledBackError('interrupted', 'put back'))).toBe(EXIT.interrupted);
  });

  it('maps every code the source reports, and nothing else', () => {
    const used = codesInSource();
    const unmapped = [...used].filter(([code]) => !(code in BY_CODE)).map(([code, files]) => `${code} (${files.join(', ')})`);
    expect(unmapped, 'codes with no exit code in BY_CODE (src/errors.ts)').toEqual([]);
    const unused = Object.keys(BY_CODE).filter((code) => !used.has(code));
    expect(unused, 'codes in BY_CODE that nothing reports').toEqual([]);
  });

  it('maps to exit codes the schema allows', () => {
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema/run.schema.json'), 'utf8')) as { definitions: { exitCode: { enum: number[] } } };
    for (const exit of Object.values(BY_CODE)) expect(schema.definitions.exitCode.enum).toContain(exit);
  });

  it('lists every code in the README and in the schema', () => {
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const line = /^Error codes:([\s\S]*?`)\.\s/m.exec(readme)?.[1] ?? '';
    const listed = [...line.matchAll(/`([a-z-]+)`/g)].map((m) => m[1]);
    expect([...listed].sort()).toEqual(Object.keys(BY_CODE).sort());
    const schema = JSON.parse(readFileSync(join(ROOT, 'schema/run.schema.json'), 'utf8')) as { definitions: { error: { properties: { code: { description: string } } } } };
    const described = schema.definitions.error.properties.code.description;
    for (const code of Object.keys(BY_CODE)) expect(described).toMatch(new RegExp(`(^|[ ,])${code}([ ,)]|$)`));
  });
});

describe('a domain config the tool cannot manage', () => {
  const path = `/etc/prosody/conf.avail/${DOMAIN}.cfg.lua`;
  const text = stockText.replace('    --app_secret="example_app_secret"', '    app_secret = os.getenv("S")');


  it('refuses an app_secret set from an expression while planning: host-state, exit 5', () => {
    const f = facts({}, text);
    const settings = { domain: DOMAIN, appId: 'backend', appSecret: SECRET, secretSource: 'given' as const, allowEmptyToken: false, roomCheck: true, keys: { mode: 'secret' as const }, previousKeys: { mode: 'secret' as const } };
    const error = caught(() => planTokenAuth(f, settings, f.domainFiles[0]));
    expect(error).toBeInstanceOf(DomainConfigError);
    expect(error).toMatchObject({ code: 'host-state', problem: 'app-secret-not-plain' });
    expect(error.message).toContain('os.getenv(...)');
    expect(error.message).not.toContain('os.getenv("S")');
    expect(error.hint).toMatch(/plain string/);
    expect(exitCodeFor(error)).toBe(EXIT.hostState);
  });

  it('refuses it already when reading the host, naming the file', () => {
    const error = caught(() => resolveSettings(facts({}, text), options, generate));
    expect(error).toMatchObject({ code: 'host-state', problem: 'app-secret-not-plain' });
    expect(error.message).toContain(path);
    expect(exitCodeFor(error)).toBe(EXIT.hostState);
  });

  it('names the file when it is not valid Lua', () => {
    const error = caught(() => resolveSettings(facts({}, `${stockText}\nthis is not Lua\n`), options, generate));
    expect(error).toMatchObject({ code: 'host-state', problem: 'invalid-lua' });
    expect(error.message).toContain(`${path} is not valid Lua`);
    expect(exitCodeFor(error)).toBe(EXIT.hostState);
  });
});
