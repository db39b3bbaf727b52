/**
 * Whether a pod asks for injection, and which references it names. Only splits the annotation: the
 * reference grammar is the resolver's business. Pure.
 */
import { InjectError } from '../base/errors.js';
import { ANNOTATION_DEPENDENCIES, ANNOTATION_OPT_OUT, INIT_CONTAINER_NAME, OPT_OUT_VALUE } from './annotations.js';
import { annotation, isInjected, readMetadata } from './pod.js';

/** Longest accepted dependencies annotation (characters): 32 long references fit; more is a mistake or an attack. */
export const MAX_ANNOTATION_CHARS = 8 * 1024;
/** Most references one pod may ask for (each costs registry round-trips at admission and at start-up). */
export const MAX_REFERENCES = 32;
/** Longest accepted single reference (characters); the OCI name grammar allows 255 for the path, tags 128. */
export const MAX_REFERENCE_CHARS = 1024;

/** The optional prefix of each reference, as in `kamel run -d container:REF`. */
export const REFERENCE_PREFIX = 'container:';

/** Why a pod is left alone. Stable strings: the webhook logs them and counts them in metrics. */
export const SKIP_REASONS = {
  notRequested: `no ${ANNOTATION_DEPENDENCIES} annotation`,
  empty: `annotation ${ANNOTATION_DEPENDENCIES} lists no reference`,
  optedOut: `opted out (${ANNOTATION_OPT_OUT}: ${OPT_OUT_VALUE})`,
  // Kept as it was (a metrics label value) though an image-volume-only pod is marked by its volume instead.
  alreadyInjected: `already injected (init container ${INIT_CONTAINER_NAME} present)`,
} as const;

/** What to do with a pod. */
export type Decision = { action: 'skip'; reason: string } | { action: 'inject'; references: string[] };

const USAGE = `write it as ${ANNOTATION_DEPENDENCIES}=container:REF[,container:REF...] (for example kamel run --annotation ${ANNOTATION_DEPENDENCIES}=container:docker.io/acme/deps:1.0)`;

function invalid(message: string, context: Record<string, string | number>): InjectError {
  return new InjectError('REFERENCE_INVALID', `${message}; ${USAGE}`, { context });
}

/**
 * Splits a dependencies annotation into references: separated by commas or white space, each
 * `container:REF` or bare `REF`, returned without the prefix, deduplicated, in order. Throws
 * InjectError REFERENCE_INVALID when a bound is exceeded or an entry is an empty `container:`.
 */
export function splitReferences(value: string): string[] {
  // Checked before splitting so an absurd value costs nothing.
  if (value.length > MAX_ANNOTATION_CHARS) {
    throw invalid(
      `annotation ${ANNOTATION_DEPENDENCIES} is ${value.length} characters long, at most ${MAX_ANNOTATION_CHARS} are accepted: list fewer references`,
      { length: value.length },
    );
  }
  const out: string[] = [];
  const seen = new Set<string>();
  for (const token of value.split(/[\s,]+/)) {
    if (token.length === 0) continue;
    const ref = token.startsWith(REFERENCE_PREFIX) ? token.slice(REFERENCE_PREFIX.length) : token;
    if (ref.length === 0) {
      throw invalid(
        `annotation ${ANNOTATION_DEPENDENCIES} has "${REFERENCE_PREFIX}" with no reference after it (no space may follow the colon)`,
        {},
      );
    }
    // The resolver takes a reference with or without the prefix: a second one would be stripped there.
    if (ref.startsWith(REFERENCE_PREFIX)) {
      throw invalid(
        `annotation ${ANNOTATION_DEPENDENCIES} writes "${REFERENCE_PREFIX}" twice in ${JSON.stringify(token.slice(0, 80))}`,
        {},
      );
    }
    if (ref.length > MAX_REFERENCE_CHARS) {
      throw invalid(
        `a reference in annotation ${ANNOTATION_DEPENDENCIES} is ${ref.length} characters long, at most ${MAX_REFERENCE_CHARS} are accepted`,
        {
          length: ref.length,
        },
      );
    }
    if (seen.has(ref)) continue;
    seen.add(ref);
    if (out.length === MAX_REFERENCES) {
      throw invalid(
        `annotation ${ANNOTATION_DEPENDENCIES} lists more than ${MAX_REFERENCES} references: package them into fewer artifacts`,
        {
          max: MAX_REFERENCES,
        },
      );
    }
    out.push(ref);
  }
  return out;
}

/**
 * Decides whether to inject a pod: skip when it is already injected (init container present), opted out, or asks nothing;
 * otherwise the references it names. Throws InjectError UNSUPPORTED when `pod` is not an object and
 * REFERENCE_INVALID when the annotation is not usable (the message tells the `kamel run` user what to fix).
 */
export function decide(pod: unknown): Decision {
  const { annotations } = readMetadata(pod);
  // The init container or an image volume is the marker; a resolved annotation alone is no proof (see isInjected).
  if (isInjected(pod)) return { action: 'skip', reason: SKIP_REASONS.alreadyInjected };
  const optOut = annotation(annotations, ANNOTATION_OPT_OUT);
  if (optOut !== undefined && optOut.trim().toLowerCase() === OPT_OUT_VALUE) return { action: 'skip', reason: SKIP_REASONS.optedOut };
  const raw =
    annotations === undefined
      ? undefined
      : Object.hasOwn(annotations, ANNOTATION_DEPENDENCIES)
        ? annotations[ANNOTATION_DEPENDENCIES]
        : undefined;
  if (raw === undefined || raw === null) return { action: 'skip', reason: SKIP_REASONS.notRequested };
  if (typeof raw !== 'string') throw invalid(`annotation ${ANNOTATION_DEPENDENCIES} must be a string`, {});
  const references = splitReferences(raw);
  if (references.length === 0) return { action: 'skip', reason: SKIP_REASONS.empty };
  return { action: 'inject', references };
}
