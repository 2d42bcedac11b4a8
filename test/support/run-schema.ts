// The --json document's published schema (schema/run.schema.json), compiled
// once, for tests to hold every document the tool prints against it.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';

const SCHEMA = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../schema/run.schema.json');
const validate = new Ajv({ allErrors: true, strict: true }).compile(JSON.parse(readFileSync(SCHEMA, 'utf8')));

/** Parses stdout as the run document and throws, listing every violation, unless it matches the schema. */
export function parseRunDocument(stdout: string) {
  const document = JSON.parse(stdout);
  if (!validate(document)) {
    throw new Error(`--json output does not match schema/run.schema.json:\n${JSON.stringify(validate.errors, null, 2)}`);
  }
  return document as RunDocumentShape;
}

export interface RunDocumentShape {
  command: string;
  ok: boolean;
  exitCode: number;
  appId: string | null;
  secret: { source: string; changed: boolean; delivered: string[]; value?: string } | null;
  error: { code: string; message: string; hint?: string } | null;
  hosts: {
    name: string;
    target: string;
    domain: string | null;
    status: string;
    ok: boolean;
    exitCode: number;
    changes: string[];
    restarts: string[];
    warnings: string[];
    files: { path: string; purpose: string; diff: string }[];
    access: { withoutToken: { kind: string; entry: string; reason: string; lobby: boolean }[]; guests: boolean } | null;
    applied: { changed: boolean; installed: string[]; restarted: { service: string; how: string }[] } | null;
    smoke: { ok: boolean; cases: { name: string; expected: string; observed: string; verdict: string; ok: boolean }[]; leftovers?: string[] } | null;
    timings: { totalSeconds: number; roundTrips: number };
    error: { code: string; message: string; hint?: string } | null;
  }[];
}
