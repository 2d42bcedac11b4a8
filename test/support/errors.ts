// The error a call throws, for tests that look at its code, message and hint.
import { expect } from 'vitest';
import { JitsiJwtError } from '../../src/errors.js';

export function caught(fn: () => unknown): JitsiJwtError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(JitsiJwtError);
    return error as JitsiJwtError;
  }
  throw new Error('expected an error');
}
