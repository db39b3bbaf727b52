import { test } from 'node:test';
import assert from 'node:assert/strict';
import { appendClasspath, findClasspathArgument, type ClasspathArgument } from '../../src/inject/classpath.js';
import { helloPod } from './support.js';

const finding: { name: string; container: unknown; expect: Partial<ClasspathArgument> | undefined }[] = [
  { name: 'Camel K jvm trait', container: helloPod().spec.containers[0], expect: { field: 'args', index: 2, inline: false, jar: false } },
  { name: '-classpath', container: { command: ['java'], args: ['-classpath', 'a', 'M'] }, expect: { field: 'args', index: 1, value: 'a' } },
  {
    name: '--class-path',
    container: { command: ['java'], args: ['--class-path', 'a', 'M'] },
    expect: { field: 'args', index: 1, value: 'a' },
  },
  {
    name: '--class-path=',
    container: { args: ['--class-path=a:b', 'M'] },
    expect: { field: 'args', index: 0, value: 'a:b', inline: true },
  },
  { name: 'in command', container: { command: ['java', '-cp', 'a', 'M'] }, expect: { field: 'command', index: 2, value: 'a' } },
  {
    name: 'option in command, value in args',
    container: { command: ['java', '-cp'], args: ['a', 'M'] },
    expect: { field: 'args', index: 0, value: 'a' },
  },
  {
    name: 'the last of several wins (as in the launcher)',
    container: { args: ['-cp', 'a', '-classpath', 'b', 'M'] },
    expect: { index: 3, value: 'b' },
  },
  {
    name: 'value-taking options are skipped',
    container: { args: ['--add-opens', 'java.base/java.lang=ALL-UNNAMED', '-p', 'mods', '-cp', 'a', 'M'] },
    expect: { index: 5, value: 'a' },
  },
  { name: '@argfiles are options', container: { args: ['@jvm.args', '-cp', 'a', 'M'] }, expect: { index: 2 } },
  { name: '-cp then -jar', container: { args: ['-cp', 'a', '-jar', 'x.jar'] }, expect: { index: 1, jar: true } },
  { name: "after the main class: the program's", container: { args: ['Main', '-cp', 'a'] }, expect: undefined },
  { name: "after -jar FILE: the program's", container: { args: ['-jar', 'x.jar', '-cp', 'a'] }, expect: undefined },
  { name: "after -m MODULE: the program's", container: { args: ['-m', 'mod/Main', '-cp', 'a'] }, expect: undefined },
  { name: 'the executable itself is not scanned', container: { command: ['-cp', 'x', 'M'] }, expect: undefined },
  { name: 'shell form', container: { command: ['/bin/sh', '-c'], args: ['java -cp a Main'] }, expect: undefined },
  { name: '-cp without a value', container: { args: ['-cp'] }, expect: undefined },
  { name: '-cp=x is not java', container: { args: ['-cp=a', 'M'] }, expect: undefined },
  { name: 'no command line', container: { name: 'x' }, expect: undefined },
  { name: 'non-string args', container: { args: [1, '-cp', 'a'] }, expect: undefined },
];

for (const c of finding) {
  test(`findClasspathArgument: ${c.name}`, () => {
    const found = findClasspathArgument(c.container);
    if (c.expect === undefined) assert.equal(found, undefined);
    else {
      assert.ok(found !== undefined);
      for (const [k, v] of Object.entries(c.expect)) assert.equal(found[k as keyof ClasspathArgument], v, k);
    }
  });
}

const appending: { name: string; value: string; entries: string[]; expect: string }[] = [
  { name: 'appends in order', value: 'a:b', entries: ['c', 'd'], expect: 'a:b:c:d' },
  { name: 'skips present entries', value: 'a:c', entries: ['c', 'd'], expect: 'a:c:d' },
  { name: 'all present: unchanged', value: 'a:c', entries: ['c', 'a'], expect: 'a:c' },
  { name: 'empty value: no leading colon', value: '', entries: ['c'], expect: 'c' },
  { name: 'keeps an empty (working directory) entry as it was', value: 'a:', entries: ['c'], expect: 'a::c' },
  { name: 'duplicate new entries added once', value: 'a', entries: ['c', 'c'], expect: 'a:c' },
];

for (const c of appending) {
  test(`appendClasspath: ${c.name}`, () => {
    assert.equal(appendClasspath(c.value, c.entries), c.expect);
  });
}

test('appendClasspath is idempotent', () => {
  const once = appendClasspath('a:b', ['/camel-oci/dependencies/x/*', '/camel-oci/kamelets/y']);
  assert.equal(appendClasspath(once, ['/camel-oci/dependencies/x/*', '/camel-oci/kamelets/y']), once);
});
