// One error hierarchy for the whole tool, and the one place its codes become
// exit codes. Every error says what failed, where, and what to do next.
export class JitsiJwtError extends Error {
  constructor(
    readonly code: string,
    message: string,
    readonly hint?: string,
  ) {
    super(message);
    this.name = new.target.name;
  }
}

/** Bad or missing input: flags, environment, secret files. Nothing was touched. */
export class SettingsError extends JitsiJwtError {
  constructor(message: string, hint?: string) {
    super('settings', message, hint);
  }
}

/** The host is not something this tool can convert (no Jitsi domain, plugins missing, ...). Nothing was touched. */
export class HostStateError extends JitsiJwtError {
  constructor(message: string, hint?: string) {
    super('host-state', message, hint);
  }
}

/**
 * A config file on the host that the tool cannot manage as it is: a
 * host-state error (nothing was touched; the file has to change first). The
 * message names the file and says what, the hint what to change; `problem`
 * says which kind it is, `line` and `column` where, when known.
 */
export class ConfigFileError<Problem extends string> extends HostStateError {
  declare readonly hint: string;
  readonly line?: number;
  readonly column?: number;

  constructor(readonly problem: Problem, message: string, hint: string, position?: { line: number; column: number }) {
    super(message, hint);
    this.line = position?.line;
    this.column = position?.column;
  }
}

/** Another run holds the host's lock. Nothing was touched. */
export class LockHeldError extends JitsiJwtError {
  constructor(host: string, holder: { pid?: number; since?: Date; user?: string } = {}) {
    const who = [holder.pid ? `pid ${holder.pid}` : '', holder.since ? `since ${holder.since.toISOString().replace(/\.\d+Z$/, 'Z')}` : '', holder.user ? `for ${holder.user}` : ''].filter(Boolean).join(', ');
    super('locked', `another jitsi-jwt run is working on ${host} right now${who ? ` (${who})` : ''}`, 'wait for it to finish, then run again');
  }
}

/** The host's lock could not be taken at all (not because another run holds it). Nothing was touched. */
export class LockError extends JitsiJwtError {
  constructor(host: string, reason: string) {
    super('lock-failed', `could not take the jitsi-jwt lock on ${host}: ${reason}`, 'fix what it names on the host (as root), then run again; nothing was changed');
  }
}

/** Ctrl-C at a question: nothing was changed. */
export class CancelledError extends JitsiJwtError {
  constructor() {
    super('interrupted', 'cancelled at a question; nothing changed');
  }
}

/** A step of apply failed and the host was put back as it was. */
export class RolledBackError extends JitsiJwtError {
  constructor(
    readonly step: string,
    message: string,
    hint?: string,
  ) {
    super('rolled-back', message, hint);
  }
}

/** A step failed and restoring the host failed too: it needs a person. */
export class RollbackFailedError extends JitsiJwtError {
  constructor(message: string, hint?: string) {
    super('rollback-failed', message, hint);
  }
}

/** The script that reads the host stopped before its end (its shell died, the connection dropped). Nothing was touched. */
export class ProbeFailedError extends JitsiJwtError {
  constructor(message: string, hint?: string) {
    super('probe-failed', message, hint);
  }
}

/** A broken invariant of the tool itself, or a broken installation of it: not the host's or the user's doing. */
export class InternalError extends JitsiJwtError {
  constructor(message: string, hint = 'this is a bug in jitsi-jwt; please report it with the plan output') {
    super('internal', message, hint);
  }
}

/** apt could not install the Lua libraries (dpkg lock held, mirror unreachable, ...). Nothing else was touched. */
export class PackageInstallError extends JitsiJwtError {
  constructor(message: string, hint?: string) {
    super('packages', message, hint);
  }
}

// Exit codes

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
  /** Ctrl-C at a question */
  interrupted: EXIT.interrupted,
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

export interface ErrorInfo {
  code: string;
  message: string;
  hint?: string;
}

/** An error as the output shows it; one from outside the hierarchy is a bug in the tool (code internal). */
export function errorInfo(error: unknown): ErrorInfo {
  const known = error instanceof JitsiJwtError ? error : new InternalError((error as Error)?.message ?? String(error));
  return { code: known.code, message: known.message, ...(known.hint ? { hint: known.hint } : {}) };
}

/** An error as text output shows it: what failed, then what to do. */
export function errorText(error: { message: string; hint?: string }): string {
  return `error: ${error.message}\n${error.hint ? `hint: ${error.hint}\n` : ''}`;
}
