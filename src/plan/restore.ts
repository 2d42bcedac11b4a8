// Pure: a backup and what the host has now in, the plan that puts the backup
// back out — an ordinary Plan, so the same applyPlan runs it (backup of the
// current state, atomic writes, config check, restarts, rollback). No I/O.
import { basename } from 'node:path';
import type { BackupContents, FileCopy, ManifestEntry } from '../facts/backups.js';
import { HostStateError } from '../errors.js';
import { KEY_DIR, type HostFacts } from '../facts/probe.js';
import { SERVICES } from '../facts/services.js';
import { describeInterruption, interruptedRun } from '../facts/run-journal.js';
import { tokensDebconf, unifiedDiff } from './plan.js';
import { DEBCONF_DATABASES, type FileChange, type LinkChange, type LinkRemoval, type Plan } from './changes.js';
import { chooseDomain, currentTokenState, type CurrentTokenState } from './resolve.js';
import { checkRestorable } from './backup-trust.js';

export interface RestorePlanning {
  plan: Plan;
  /** the domain's token settings once the backup is back */
  restored: CurrentTokenState;
  /** and now, when they can be read */
  current?: CurrentTokenState;
}

/** The first entry for each path: what the path was before the backup's run first touched it. */
function firstPerPath(entries: ManifestEntry[]): ManifestEntry[] {
  const first = new Map<string, ManifestEntry>();
  for (const entry of entries) if (!first.has(entry.path)) first.set(entry.path, entry);
  return [...first.values()];
}

const ownerOf = (copy: FileCopy) => `${copy.owner}:${copy.group}`;

export function planRestore(facts: HostFacts, contents: BackupContents, options: { domain?: string } = {}): RestorePlanning {
  checkRestorable(contents, facts.domainFiles.map((f) => f.path));
  const { backup } = contents;
  const why = `as it was before the run that made backup ${backup.id}`;
  const files: FileChange[] = [];
  const links: LinkChange[] = [];
  const unlinks: LinkRemoval[] = [];
  const warnings: string[] = [];
  for (const entry of firstPerPath(backup.entries)) {
    // debconf's databases hold every package's answers: the ones this tool keeps in step are set from the restored config below.
    if (entry.kind === 'file' && DEBCONF_DATABASES.includes(entry.path)) continue;
    if (entry.kind === 'file') {
      const saved = contents.saved.get(entry.path);
      const now = contents.current.get(entry.path);
      if (!saved) throw new HostStateError(`backup ${backup.id} has lost its copy of ${entry.path} (${entry.saved} is missing)`, 'choose another backup');
      if (saved.text === undefined) throw new HostStateError(`the copy of ${entry.path} in backup ${backup.id} is not UTF-8 text`, `copy ${entry.saved} back by hand if it is what you want`);
      // A public key a later run retired comes back as a new file; any other file must still be there to be replaced.
      if (!now && entry.path.startsWith(`${KEY_DIR}/`)) {
        files.push({ path: entry.path, purpose: `${why} (a public key it retired)`, before: '', after: saved.text, diff: unifiedDiff(entry.path, '', saved.text), create: true, mode: { from: saved.mode, to: saved.mode }, owner: { from: ownerOf(saved), to: ownerOf(saved) } });
        continue;
      }
      if (!now) throw new HostStateError(`${entry.path} is no longer on the host, so restore cannot replace it`, `copy ${entry.saved} back to ${entry.path} by hand (keeping its owner and mode)`);
      if (now.text === undefined) throw new HostStateError(`${entry.path} on the host is not UTF-8 text`, `compare it with ${entry.saved} and copy that back by hand if it is what you want`);
      if (now.text === saved.text && now.mode === saved.mode && ownerOf(now) === ownerOf(saved)) continue;
      files.push({
        path: entry.path,
        purpose: why,
        before: now.text,
        after: saved.text,
        diff: unifiedDiff(entry.path, now.text, saved.text),
        mode: { from: now.mode, to: saved.mode },
        owner: { from: ownerOf(now), to: ownerOf(saved) },
      });
    } else if (entry.kind === 'new') {
      const now = contents.current.get(entry.path);
      if (now?.text === undefined) continue;
      files.push({ path: entry.path, purpose: `${why} (a public key it published)`, before: now.text, after: '', diff: unifiedDiff(entry.path, now.text, ''), remove: true });
    } else if (entry.kind === 'link') {
      const now = contents.links.get(entry.path);
      if (now?.kind === 'link') unlinks.push({ path: entry.path, reason: `the run that made backup ${backup.id} made it` });
      else if (now?.kind === 'other') warnings.push(`${entry.path} is no longer a link (something replaced it); it is left alone`);
    } else {
      const now = contents.links.get(entry.path);
      if (now?.kind === 'link' && now.target === entry.target) continue;
      if (now?.kind === 'other') {
        warnings.push(`${entry.path} should be a link to ${entry.target} again, but something else is there now; it is left alone`);
        continue;
      }
      links.push({ path: entry.path, module: basename(entry.path), target: entry.target, reason: `the run that made backup ${backup.id} removed it` });
    }
  }

  // Which domain to prove afterwards, and how: read from the files as they will be.
  const restoredText = new Map(files.map((f) => [f.path, f.after]));
  const keyFiles = new Map((facts.publishedKeys ?? []).map((k) => [k.path, k.text]));
  for (const file of files.filter((f) => f.path.startsWith(`${KEY_DIR}/`))) {
    if (file.remove) keyFiles.delete(file.path);
    else keyFiles.set(file.path, file.after);
  }
  const restoredFacts: HostFacts = {
    ...facts,
    domainFiles: facts.domainFiles.map((f) => (restoredText.has(f.path) ? { ...f, text: restoredText.get(f.path)! } : f)),
    publishedKeys: [...keyFiles].map(([path, text]) => ({ path, text })),
  };
  const chosen = chooseDomain(restoredFacts, options.domain);
  const restored = currentTokenState(chosen, restoredFacts);
  let current: CurrentTokenState | undefined;
  try {
    current = currentTokenState(chooseDomain(facts, options.domain), facts);
  } catch {
    current = undefined;
  }

  const debconf = restored.appId && restored.appSecret ? tokensDebconf(facts, restored.appId, restored.appSecret) : undefined;

  const restartReasons: string[] = [];
  if (files.some((f) => f.before !== f.after)) restartReasons.push('the services read the restored files only at start');
  if (links.length > 0 || unlinks.length > 0) restartReasons.push('Prosody loads the Lua libraries the links point to only at start');
  const interrupted = interruptedRun(facts.runJournal);
  if (interrupted) {
    warnings.push(`${describeInterruption(interrupted)}; its backup of the state before it is ${interrupted.backup.split('/').pop()}${interrupted.backup.endsWith(`/${backup.id}`) ? ' (this one)' : ''}`);
    // The services may have been cut off mid-restart.
    restartReasons.push(`an earlier run was interrupted at its ${interrupted.step} step`);
  }
  const restarts = restartReasons.length > 0 ? SERVICES.filter((s) => facts.services[s].installed) : [];
  for (const service of SERVICES) {
    if (restarts.length > 0 && !facts.services[service].installed) warnings.push(`${service} is not installed here; it is not restarted`);
  }

  return {
    plan: {
      domain: chosen.domain,
      appId: restored.appId ?? '',
      secretSource: 'kept',
      configPath: chosen.file.path,
      files,
      packages: [],
      links,
      unlinks,
      restarts,
      restartReasons,
      warnings,
      ...(debconf ? { debconf } : {}),
    },
    restored,
    current,
  };
}
