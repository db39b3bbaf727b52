/** `camel-oci inject -f FILE|-`: offline injection into Pod and workload YAML, like `istioctl kube-inject`. */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments, stringify } from 'yaml';
import { asCamelOciError, CamelOciError } from '../base/errors.js';
import { parseDuration } from '../config.js';
import type { ParsedFlags } from '../config.js';
import { applyPatch } from '../inject/apply.js';
import { decide } from '../inject/decide.js';
import { normalizeInjectOptions } from '../inject/options.js';
import { buildInjection } from '../inject/patch.js';
import { podTemplatePaths } from '../inject/workloads.js';
import { camelKindOf } from '../inject/integration.js';
import { pinObject, referenceError } from '../admit/integration.js';
import { ReferenceFailure } from '../admit/resolution.js';
import { readCaCertificates } from '../registry/setup.js';
import { createResolver } from '../resolve/setup.js';
import type { ArtifactResolver } from '../resolve/types.js';
import type { InjectOptions } from '../inject/options.js';
import { resolverSettings } from './resolve.js';
import { defaultFetcherImage } from './serve.js';
import type { CommandIO } from './io.js';

/** Input larger than this is refused: manifests are text, and the whole input is held in memory. */
export const MAX_INJECT_INPUT_BYTES = 16 * 1024 * 1024;


async function readInput(file: string, stdin: () => Promise<Buffer>): Promise<string> {
  const bytes = file === '-' ? await stdin() : await readFile(file).catch((err: NodeJS.ErrnoException) => {
    throw new CamelOciError('CONFIG_INVALID', `-f ${file}: cannot read it (${err.code ?? err.message})`);
  });
  if (bytes.length > MAX_INJECT_INPUT_BYTES) throw new CamelOciError('CONFIG_INVALID', `-f ${file}: larger than ${MAX_INJECT_INPUT_BYTES} bytes`);
  return bytes.toString('utf8');
}

/** Reads all of standard input, bounded. */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_INJECT_INPUT_BYTES) throw new CamelOciError('CONFIG_INVALID', `standard input is larger than ${MAX_INJECT_INPUT_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Injects every Pod and pod template, and pins every Integration and Pipe, in a multi-document
 * YAML text. Documents that ask for nothing, or that are none of these, pass through unchanged.
 * Uses the webhook's own functions (decide, resolve, buildInjection; pinObject for Integrations and
 * Pipes), then applies the operations.
 */
export async function injectYaml(
  text: string,
  resolver: ArtifactResolver,
  options: InjectOptions,
  signal: AbortSignal,
): Promise<{ yaml: string; injected: number; warnings: string[] }> {
  const docs = parseAllDocuments(text, { prettyErrors: true });
  const out: string[] = [];
  const warnings: string[] = [];
  let injected = 0;
  for (const [i, doc] of (Array.isArray(docs) ? docs : [docs]).entries()) {
    if (doc.errors.length > 0) {
      throw new CamelOciError('CONFIG_INVALID', `document ${i + 1} is not valid YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
    }
    const obj: unknown = doc.toJS({ maxAliasCount: 100 });
    if (obj === null || obj === undefined) continue;
    // Integrations and Pipes: pinned as the webhook pins them (the container: entries move out).
    if (camelKindOf(obj) !== undefined) {
      const pinned = await pinCamelObject(obj, resolver, signal, i + 1);
      warnings.push(...pinned.warnings);
      out.push(stringify(pinned.object));
      if (pinned.changed) injected++;
      continue;
    }
    const found = podTemplatePaths(obj);
    if (!found) {
      out.push(stringify(obj));
      continue;
    }
    const decision = decide(found.template);
    if (decision.action === 'skip') {
      out.push(stringify(obj));
      continue;
    }
    const artifacts = await Promise.all(decision.references.map((r) => resolver.resolve(r, { signal })));
    const result = buildInjection(found.template, artifacts, options, found.basePath);
    warnings.push(...result.warnings.map((w) => `document ${i + 1}: ${w}`));
    out.push(stringify(applyPatch(obj, result.ops)));
    injected++;
  }
  return { yaml: out.join('---\n'), injected, warnings };
}

/**
 * Pins one Integration or Pipe document as the webhook would on CREATE (`document` numbers it in
 * messages). Throws the resolution error, its message naming the reference.
 */
async function pinCamelObject(
  obj: unknown,
  resolver: ArtifactResolver,
  signal: AbortSignal,
  document: number,
): Promise<{ object: unknown; changed: boolean; warnings: string[] }> {
  let result: Awaited<ReturnType<typeof pinObject>>;
  try {
    result = await pinObject(obj, undefined, { resolver }, signal);
  } catch (err) {
    if (err instanceof ReferenceFailure) throw referenceError(err);
    throw err;
  }
  if (result.type === 'skip' || result.ops.length === 0) return { object: obj, changed: false, warnings: [] };
  return { object: applyPatch(obj, result.ops), changed: true, warnings: result.warnings.map((w) => `document ${document}: ${w}`) };
}

/** Runs `inject`; returns the exit code. */
export async function runInject(flags: ParsedFlags, io: CommandIO, stdin: () => Promise<Buffer> = readStdin): Promise<number> {
  const v = flags.values;
  const file = (v.filename as string | undefined) ?? flags.positionals[0];
  if (file === undefined) throw new CamelOciError('CONFIG_INVALID', 'camel-oci inject: give -f FILE, or -f - to read standard input');
  // As serve does: the registry CAs given here are handed to the fetcher (certificates only).
  const caFiles = v['ca-file'] as string[];
  const caPem = caFiles.length > 0 ? (await readCaCertificates(caFiles)).join('') : undefined;
  const options = normalizeInjectOptions({
    ...(caPem !== undefined ? { caPem } : {}),
    allowRegistries: v['allow-registry'] as string[],
    insecureRegistries: v['insecure-registry'] as string[],
    fetcherImage: (v['fetcher-image'] as string | undefined) ?? defaultFetcherImage(),
    volumeSizeLimit: v['volume-size-limit'] as string,
    fetchTimeoutSeconds: Math.ceil(parseDuration(v['fetch-timeout'] as string, 'fetch-timeout') / 1000),
  });
  const text = await readInput(file, stdin);
  const { resolver, context } = await createResolver(resolverSettings(flags));
  try {
    const { yaml, warnings } = await injectYaml(text, resolver, options, AbortSignal.timeout(parseDuration(v.timeout as string, 'timeout')));
    for (const w of warnings) io.stderr(`camel-oci inject: warning: ${w}`);
    io.stdout(yaml.trimEnd());
    return 0;
  } catch (err) {
    const e = asCamelOciError(err);
    throw e;
  } finally {
    await context.agent.close();
  }
}
