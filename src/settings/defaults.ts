// Defaults of the settings that are numbers, shared by the option declarations and the run.
export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_DPKG_LOCK_TIMEOUT_SECONDS = 120;
/** backups kept on each host after a run that wrote */
export const DEFAULT_KEEP_BACKUPS = 10;

/**
 * How long each remote step of a change may take before the run gives up on
 * it (and rolls back, where it changed something): a hung prosodyctl, apt or
 * init script must not hold the host's lock for ever. Generous: the slowest
 * seen on a loaded test host is a tenth of each.
 */
export const STEP_TIME_LIMITS_SECONDS = {
  /** backup, write, two configuration checks, the Lua modules loaded */
  write: 120,
  /** the saved files put back */
  restore: 120,
  /** Prosody first, then the others, each confirmed */
  restart: 180,
  /** the smoke test's temporary accounts made or removed */
  accounts: 60,
  /** old backups pruned, the run's record removed */
  cleanup: 60,
} as const;
