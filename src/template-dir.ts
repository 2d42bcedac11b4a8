// templates/<kind>, found by walking up from this module: two levels up when
// run from src/ (tsx, vitest), one from dist/ (the built package).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { InternalError } from './errors.js';

export function templateDir(kind: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'templates', kind);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) {
      throw new InternalError(`templates/${kind} not found above ${fileURLToPath(import.meta.url)}`, 'this jitsi-jwt installation is incomplete: reinstall it');
    }
    dir = parent;
  }
}
