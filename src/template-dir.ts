// templates/<kind>, found by walking up from this module: two levels up when
// run from src/ (tsx, vitest), one from dist/ (the built package).
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export function templateDir(kind: string): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'templates', kind);
    if (existsSync(candidate)) return candidate;
    const parent = dirname(dir);
    if (parent === dir) throw new Error(`templates/${kind} not found above ${fileURLToPath(import.meta.url)}`);
    dir = parent;
  }
}
