/**
 * Finding the JVM's classpath argument in a container's command line, and appending entries to it
 * idempotently. Pure.
 *
 * The java launcher reads options up to the main class (or `-jar FILE`, `-m MODULE`); what follows
 * is the program's own arguments, so a `-cp` there is not the JVM's and must not be touched. When
 * several classpath options are given, the launcher keeps the last one, so that is the one we edit.
 */
import { isRecord, own, type JsonObject } from './pod.js';

/** The launcher options whose next argument is the classpath. */
export const CLASSPATH_OPTIONS: readonly string[] = ['-cp', '-classpath', '--class-path'];
/** The one-argument form the launcher also accepts (JDK 9+, `--class-path=PATH`); `-cp=PATH` is not valid java. */
export const CLASSPATH_INLINE_PREFIX = '--class-path=';
/** Classpath entry separator on Linux. */
export const CLASSPATH_SEPARATOR = ':';

/** Launcher options that take the next argument as their value (so it is not the main class). */
const OPTIONS_WITH_VALUE = new Set([
  ...CLASSPATH_OPTIONS,
  '-p',
  '--module-path',
  '--upgrade-module-path',
  '--add-modules',
  '--limit-modules',
  '--add-exports',
  '--add-opens',
  '--add-reads',
  '--patch-module',
  '--enable-native-access',
  '--source',
]);
/** Launcher options after which the rest is the application (jar, module) and its arguments. */
const OPTIONS_ENDING_JVM_ARGS = new Set(['-jar', '-m', '--module', '-d', '--describe-module']);

/** Where a container's classpath argument is. */
export interface ClasspathArgument {
  /** Which list holds it. */
  readonly field: 'args' | 'command';
  /** Index of the element holding the value. */
  readonly index: number;
  /** The element's current text (for the inline form, including `--class-path=`). */
  readonly element: string;
  /** The classpath itself. */
  readonly value: string;
  /** The element is `--class-path=VALUE` rather than a value after a separate option. */
  readonly inline: boolean;
  /** The JVM runs `-jar`, which ignores every classpath setting. */
  readonly jar: boolean;
}

function strings(c: JsonObject, key: string): readonly unknown[] | undefined {
  const v = own(c, key);
  return Array.isArray(v) ? v : undefined;
}

/**
 * Finds the JVM classpath argument of a container: scans `command` after the executable, then
 * `args` (or `args` alone when there is no `command`: the image's entrypoint is the launcher), up to
 * the main class. Returns undefined when there is none. Linear in the number of arguments.
 */
export function findClasspathArgument(container: unknown): ClasspathArgument | undefined {
  if (!isRecord(container)) return undefined;
  const command = strings(container, 'command');
  const args = strings(container, 'args');
  const argv: { field: 'args' | 'command'; index: number; text: unknown }[] = [];
  if (command !== undefined) command.forEach((text, index) => index > 0 && argv.push({ field: 'command', index, text }));
  if (args !== undefined) args.forEach((text, index) => argv.push({ field: 'args', index, text }));

  let found: Omit<ClasspathArgument, 'jar'> | undefined;
  let jar = false;
  for (let i = 0; i < argv.length; i++) {
    const { text } = argv[i] as (typeof argv)[number];
    if (typeof text !== 'string') return undefined; // not a command line we understand
    if (CLASSPATH_OPTIONS.includes(text)) {
      const next = argv[i + 1];
      if (next === undefined || typeof next.text !== 'string') break;
      found = { field: next.field, index: next.index, element: next.text, value: next.text, inline: false };
      i++;
    } else if (text.startsWith(CLASSPATH_INLINE_PREFIX)) {
      const at = argv[i] as (typeof argv)[number];
      found = { field: at.field, index: at.index, element: text, value: text.slice(CLASSPATH_INLINE_PREFIX.length), inline: true };
    } else if (OPTIONS_ENDING_JVM_ARGS.has(text) || text.startsWith('--module=')) {
      jar = text === '-jar';
      break;
    } else if (OPTIONS_WITH_VALUE.has(text)) {
      i++;
    } else if (!text.startsWith('-') && !text.startsWith('@')) {
      break; // the main class (or a source file): the rest belongs to the program
    }
  }
  return found === undefined ? undefined : { ...found, jar };
}

/**
 * Appends entries to a classpath, skipping those already present. Returns the value unchanged when
 * nothing is new. An empty classpath gets no leading separator (an empty entry would mean the
 * working directory).
 */
export function appendClasspath(value: string, entries: readonly string[]): string {
  const parts = value === '' ? [] : value.split(CLASSPATH_SEPARATOR);
  const present = new Set(parts);
  const added = entries.filter((e) => {
    if (present.has(e)) return false;
    present.add(e);
    return true;
  });
  return added.length === 0 ? value : [...parts, ...added].join(CLASSPATH_SEPARATOR);
}
