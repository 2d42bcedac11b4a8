// The --json documents' published schemas (schema/run.schema.json, and
// schema/doctor.schema.json for doctor), compiled once, for tests to hold
// every document the tool prints against them.
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { Ajv } from 'ajv';

const schema = (name: string) => JSON.parse(readFileSync(path.resolve(path.dirname(fileURLToPath(import.meta.url)), `../../schema/${name}`), 'utf8'));
const ajv = new Ajv({ allErrors: true, strict: true });
const validate = ajv.compile(schema('run.schema.json'));
const validateDoctor = ajv.compile(schema('doctor.schema.json'));

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
    restartReasons: string[];
    warnings: string[];
    files: { path: string; purpose: string; diff: string }[];
    access: { withoutToken: { kind: string; entry: string; reason: string; lobby: boolean }[]; guests: boolean } | null;
    applied: { changed: boolean; installed: string[]; restarted: { service: string; how: string; seconds?: number }[] } | null;
    keys?: { mode: string; description: string; keyServer?: string; jwksUrl?: string; kids?: string[]; added?: string[]; retired?: string[]; cutOver?: { from: string; to: string } } | null;
    smoke: { ok: boolean; cases: { name: string; expected: string; observed: string; verdict: string; ok: boolean; kid?: string }[]; leftovers?: string[]; unproven?: string[] } | null;
    timings: { totalSeconds: number; roundTrips: number };
    error: { code: string; message: string; hint?: string } | null;
  }[];
}

/** Parses doctor's stdout and throws, listing every violation, unless it matches schema/doctor.schema.json. */
export function parseDoctorDocument(stdout: string): DoctorDocumentShape {
  const document = JSON.parse(stdout);
  if (!validateDoctor(document)) {
    throw new Error(`doctor --json output does not match schema/doctor.schema.json:\n${JSON.stringify(validateDoctor.errors, null, 2)}`);
  }
  return document as DoctorDocumentShape;
}

export interface DoctorDocumentShape {
  ok: boolean;
  exitCode: number;
  error: { code: string; message: string; hint?: string } | null;
  hosts: {
    name: string;
    target: string;
    status: string;
    exitCode: number;
    domains: string[];
    findings: { id: string; severity: string; title: string; evidence: string[]; fix: string }[];
    refusals?: { since: number; linesRead: number; smokeTests: number; groups: { kind: string; reason: string; count: number; first: number; last: number; sample: string }[] };
    token?: { verdict: string; reason?: string; header: Record<string, unknown>; claims: Record<string, unknown>; checks: { id: string; verdict: string; detail: string; jitsiSays?: string }[] };
    checked: string[];
    roundTrips: number;
    error?: { code: string; message: string; hint?: string };
  }[];
}
