// Defaults of the settings that are numbers, shared by the option declarations and the run.
export const DEFAULT_CONCURRENCY = 8;
export const DEFAULT_DPKG_LOCK_TIMEOUT_SECONDS = 120;
/** backups kept on each host after a run that wrote */
export const DEFAULT_KEEP_BACKUPS = 10;
