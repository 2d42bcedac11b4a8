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
  constructor(host: string) {
    super('locked', `another jitsi-jwt run is working on ${host} right now`, 'wait for it to finish, then run again');
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

/** apt could not install the Lua libraries (dpkg lock held, mirror unreachable, ...). Nothing else was touched. */
export class PackageInstallError extends JitsiJwtError {
  constructor(message: string, hint?: string) {
    super('packages', message, hint);
  }
}
