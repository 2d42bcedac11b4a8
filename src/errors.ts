// One error hierarchy for the whole tool. Every error says what failed, where,
// and what to do next; cli/exit-codes.ts maps them to exit codes in one place.
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
