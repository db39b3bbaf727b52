/** Loads test fixtures from `test/fixtures/` (sources noted in its README) as fresh copies. */
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

/** Absolute path of the repository root (tests run compiled from `.build/test/...`). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

/** Absolute path of a fixture file. */
export function fixturePath(name: string): string {
  return path.join(REPO_ROOT, 'test', 'fixtures', name);
}

/** Reads a fixture as text. */
export function fixtureText(name: string): string {
  return readFileSync(fixturePath(name), 'utf8');
}

/** Parses a JSON fixture; every call returns a fresh copy that the test may mutate. */
export function fixtureJson<T = unknown>(name: string): T {
  return JSON.parse(fixtureText(name)) as T;
}
