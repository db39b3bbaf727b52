/**
 * The Dockerfile's build context: every path a `COPY` takes from it is one that .dockerignore lets
 * in. The image itself is built by test/image/build-image.sh, which needs a Docker daemon and
 * minutes; this check runs with the suite, so that a new `COPY` of a folder the ignore file keeps
 * out (as `COPY scripts ./scripts` once was) fails here rather than at the first image build.
 *
 * .dockerignore here uses three forms only: `*`, a name, and `!` before either (a name may end in
 * `/`); the last pattern that matches decides, as in Docker. Any other form fails the test, so that
 * the check never answers for a pattern it does not understand.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { REPO_ROOT } from '../helpers/fixtures.js';

interface IgnorePattern {
  readonly allow: boolean;
  /** `*`, or a top-level name (no trailing slash). */
  readonly name: string;
}

function ignorePatterns(text: string): IgnorePattern[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !l.startsWith('#'))
    .map((line) => {
      const allow = line.startsWith('!');
      const name = (allow ? line.slice(1) : line).replace(/\/$/, '');
      assert.match(name, /^(\*|[A-Za-z0-9._-]+)$/, `.dockerignore pattern ${JSON.stringify(line)} is of a form this check does not know`);
      return { allow, name };
    });
}

/** Whether the context keeps `source` (a path relative to the context root). */
function admitted(patterns: readonly IgnorePattern[], source: string): boolean {
  const top = source.replace(/^\.\//, '').split('/')[0]!;
  let allowed = true;
  for (const p of patterns) if (p.name === '*' || p.name === top) allowed = p.allow;
  return allowed;
}

/** The sources of every `COPY` that reads the build context (not `--from=` another stage). */
function contextCopies(dockerfile: string): string[] {
  return dockerfile
    .replace(/\\\n/g, ' ')
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => /^COPY\s/i.test(l))
    .map((l) => l.split(/\s+/).slice(1))
    .filter((args) => !args.some((a) => a.startsWith('--from=')))
    .flatMap((args) => args.filter((a) => !a.startsWith('--')).slice(0, -1));
}

const patterns = ignorePatterns(readFileSync(path.join(REPO_ROOT, '.dockerignore'), 'utf8'));

test('every COPY from the build context names a path that .dockerignore lets in', () => {
  const sources = contextCopies(readFileSync(path.join(REPO_ROOT, 'Dockerfile'), 'utf8'));
  assert.ok(sources.includes('src') && sources.includes('package.json'), `the COPY sources found: ${sources.join(' ')}`);
  assert.deepEqual(
    sources.filter((s) => !admitted(patterns, s)),
    [],
    'copied by the Dockerfile but kept out of the context by .dockerignore',
  );
});

test('the check refuses what .dockerignore keeps out (and its last match decides)', () => {
  assert.equal(admitted(patterns, 'test/fixtures'), false);
  assert.equal(admitted(patterns, 'certs'), false, 'no keys in the context');
  assert.equal(admitted(ignorePatterns('*\n!scripts/\nscripts\n'), 'scripts'), false);
  assert.equal(admitted(ignorePatterns('*\n!scripts/\n'), 'scripts/bundle.mjs'), true);
  assert.throws(() => ignorePatterns('**/*.log\n'), /of a form this check does not know/);
});
