// Every remote step of a change runs under a time limit, and one that overruns
// (the connector ends it with code 124, as timeout(1) does) rolls the change
// back with a message that names the step. A scripted connector stands in for
// the host: these are the engine's decisions, not a host's behaviour.
import { describe, expect, it } from 'vitest';
import { applyPlan } from '../../src/apply/apply.js';
import type { Connector, ExecResult } from '../../src/connector/types.js';
import { RollbackFailedError, RolledBackError } from '../../src/errors.js';
import { STEP_TIME_LIMITS_SECONDS } from '../../src/settings/defaults.js';
import type { ShellScript } from '../../src/shell/script.js';
import { facts, plan } from '../support/plan-fixtures.js';

const TIMED_OUT: ExecResult = { stdout: '', stderr: '\n[timed out after 1 s]\n', code: 124 };

/** The step a script is, told by what it does. */
function stepOf(script: ShellScript): string {
  if (/apt-get/.test(script.text)) return 'install';
  if (/@@section check-before/.test(script.text)) return 'write';
  if (/@@result restored yes/.test(script.text)) return 'restore';
  if (/restart_one/.test(script.text)) return 'restart';
  if (/journal cleared/.test(script.text)) return 'cleanup';
  return 'other';
}

/** A host whose steps all succeed at once, except `overrun`, which runs past its limit. */
function scriptedHost(overrun: string) {
  const calls: { step: string; timeoutMs?: number }[] = [];
  const connector = {
    label: 'deploy@scripted:22',
    run: async (script: ShellScript, options: { timeoutMs?: number } = {}): Promise<ExecResult> => {
      const step = stepOf(script);
      calls.push({ step, timeoutMs: options.timeoutMs });
      if (step === overrun) return TIMED_OUT;
      if (step === 'write') return { stdout: '@@section check-before\n@@section check-after\n@@section lua-modules\n@@section end\n', stderr: '', code: 0 };
      if (step === 'restore') return { stdout: '@@result restored yes\n', stderr: '', code: 0 };
      if (step === 'restart') return { stdout: '@@result prosody restarted\n@@result jicofo restarted\n@@result jitsi-videobridge2 restarted\n', stderr: '', code: 0 };
      return { stdout: '', stderr: '', code: 0 };
    },
  } as unknown as Connector;
  return { connector, calls };
}

const stock = facts({ luaModules: { 'cjson.safe': true, 'openssl.hmac': true, basexx: true, inspect: true, ssl: true }, packages: { prosody: { installed: true }, 'lua-sec': { installed: true }, 'lua-cjson': { installed: true }, 'lua-luaossl': { installed: true }, 'lua-basexx': { installed: true }, 'lua-inspect': { installed: true } } });

describe('step time limits', () => {
  it('gives every step of a change its own limit', async () => {
    const { connector, calls } = scriptedHost('none');
    await applyPlan(connector, stock, plan(stock), { dpkgLockTimeoutSeconds: 1, luaModules: [] });
    expect(calls.map((c) => [c.step, c.timeoutMs])).toEqual([
      ['write', STEP_TIME_LIMITS_SECONDS.write * 1000],
      ['restart', STEP_TIME_LIMITS_SECONDS.restart * 1000],
    ]);
  });

  it('rolls back a write that overruns, naming the step and its limit', async () => {
    const { connector, calls } = scriptedHost('write');
    const failure = await applyPlan(connector, stock, plan(stock), { dpkgLockTimeoutSeconds: 1, luaModules: [] }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RolledBackError);
    expect((failure as Error).message).toMatch(new RegExp(`writing the changes on deploy@scripted:22 did not finish within ${STEP_TIME_LIMITS_SECONDS.write} s`));
    expect(calls.map((c) => [c.step, c.timeoutMs])).toEqual([
      ['write', STEP_TIME_LIMITS_SECONDS.write * 1000],
      ['restore', STEP_TIME_LIMITS_SECONDS.restore * 1000],
      ['cleanup', STEP_TIME_LIMITS_SECONDS.cleanup * 1000],
    ]);
  });

  it('rolls back restarts that overrun, naming the service that was not back in time', async () => {
    const { connector, calls } = scriptedHost('restart');
    const failure = await applyPlan(connector, stock, plan(stock), { dpkgLockTimeoutSeconds: 1, luaModules: [] }).catch((error: unknown) => error);
    // The rollback's own restart overruns too: the host then needs a person, and the message says which services.
    expect(failure).toBeInstanceOf(RollbackFailedError);
    expect((failure as Error).message).toMatch(/prosody did not come back after a restart within 180 s/);
    expect(calls.map((c) => c.step)).toEqual(['write', 'restart', 'restore', 'restart']);
    expect(calls.every((c) => c.timeoutMs !== undefined)).toBe(true);
  });

  it('reports a rollback whose restore overruns as a failed rollback, naming the step', async () => {
    const { connector } = scriptedHost('restore');
    const failing = { ...connector, run: async (script: ShellScript, options?: { timeoutMs?: number }) => (stepOf(script) === 'restart' ? TIMED_OUT : connector.run(script, options)) } as Connector;
    const failure = await applyPlan(failing, stock, plan(stock), { dpkgLockTimeoutSeconds: 1, luaModules: [] }).catch((error: unknown) => error);
    expect(failure).toBeInstanceOf(RollbackFailedError);
    expect((failure as Error).message).toMatch(new RegExp(`restoring the saved files on deploy@scripted:22 did not finish within ${STEP_TIME_LIMITS_SECONDS.restore} s`));
  });
});
