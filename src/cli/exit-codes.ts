// Every exit code of the tool, and the one place errors are mapped to them.
import { JitsiJwtError } from '../errors.js';

export const EXIT = {
  ok: 0,
  failed: 1,
  /** plan --detailed-exitcode: the host has changes pending */
  changesPending: 2,
  /** bad flags, environment or secret file; nothing was touched */
  badInput: 3,
  /** could not connect: unreachable, authentication, host key, sudo */
  connection: 4,
  /** the host is not a Jitsi server this tool can convert; nothing was touched */
  hostState: 5,
  /** another jitsi-jwt run holds the host's lock; nothing was touched */
  locked: 6,
  /** a step failed and the host was put back as it was */
  rolledBack: 7,
  /** a step failed and putting the host back failed too: it needs a person */
  rollbackFailed: 8,
  /** the smoke test found a case that misbehaved */
  smokeFailed: 9,
  interrupted: 130,
} as const;

/** Every error code the tool reports (JitsiJwtError.code, and `error.code` in --json) and its exit code. */
export const BY_CODE: Record<string, number> = {
  settings: EXIT.badInput,
  'host-state': EXIT.hostState,
  locked: EXIT.locked,
  'lock-failed': EXIT.failed,
  'rolled-back': EXIT.rolledBack,
  'rollback-failed': EXIT.rollbackFailed,
  'secret-delivery': EXIT.rolledBack,
  packages: EXIT.failed,
  'smoke-failed': EXIT.smokeFailed,
  'host-unreachable': EXIT.connection,
  authentication: EXIT.connection,
  'host-key-changed': EXIT.connection,
  'host-key-unknown': EXIT.connection,
  sudo: EXIT.connection,
  'connection-lost': EXIT.failed,
  tunnel: EXIT.failed,
  'script-exited': EXIT.failed,
  'probe-failed': EXIT.failed,
  internal: EXIT.failed,
  /** a host of a fleet run that stopped before reaching it: nothing failed there */
  'not-started': EXIT.ok,
};

export function exitCodeFor(error: unknown): number {
  const code = (error as { code?: unknown })?.code;
  if (code === 'rolled-back' && (error as { step?: string }).step === 'interrupted') return EXIT.interrupted;
  if (typeof code === 'string' && code in BY_CODE) return BY_CODE[code];
  if (error instanceof JitsiJwtError) return EXIT.failed;
  return EXIT.failed;
}
