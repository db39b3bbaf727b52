/**
 * `camel-oci inject -f FILE|-`: offline injection into Pod and workload YAML, and pinning of
 * Integrations and Pipes, like `istioctl kube-inject`.
 */
import { readFile } from 'node:fs/promises';
import { parseAllDocuments, stringify } from 'yaml';
import { CamelOciError, isErrorCode } from '../base/errors.js';
import type { ParsedFlags } from '../config/flags.js';
import { loadInjectConfig } from '../config/inject.js';
import { applyPatch } from '../inject/apply.js';
import { normalizeInjectOptions } from '../inject/options.js';
import { admitPod, type PodAdmissionDeps } from '../admit/pod.js';
import { createLogger } from '../base/logger.js';
import { deadlineSignal } from '../base/abort.js';
import { podTemplatePaths } from '../inject/workloads.js';
import { camelKindOf } from '../inject/integration.js';
import { pinFailure, pinObject } from '../admit/integration.js';
import { closeRegistryContext, readCaCertificates } from '../registry/setup.js';
import { createResolver } from '../resolve/setup.js';
import type { ArtifactResolver } from '../resolve/types.js';
import type { InjectOptions } from '../inject/options.js';
import type { CommandIO } from './io.js';

/** Input larger than this is refused: manifests are text, and the whole input is held in memory. */
export const MAX_INJECT_INPUT_BYTES = 16 * 1024 * 1024;

async function readInput(file: string, stdin: () => Promise<Buffer>): Promise<string> {
  const bytes =
    file === '-'
      ? await stdin()
      : await readFile(file).catch((err: NodeJS.ErrnoException) => {
          throw new CamelOciError('CONFIG_INVALID', `-f ${file}: cannot read it (${err.code ?? err.message})`);
        });
  if (bytes.length > MAX_INJECT_INPUT_BYTES)
    throw new CamelOciError('CONFIG_INVALID', `-f ${file}: larger than ${MAX_INJECT_INPUT_BYTES} bytes`);
  return bytes.toString('utf8');
}

/** Reads all of standard input, bounded. */
export async function readStdin(): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of process.stdin as AsyncIterable<Buffer>) {
    size += chunk.length;
    if (size > MAX_INJECT_INPUT_BYTES)
      throw new CamelOciError('CONFIG_INVALID', `standard input is larger than ${MAX_INJECT_INPUT_BYTES} bytes`);
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

/**
 * Injects every Pod and pod template, and pins every Integration and Pipe, in a multi-document
 * YAML text. Documents that ask for nothing, or that are none of these, pass through unchanged.
 * Runs the webhook's own workflows (admit/pod.ts on each pod template, admit/integration.ts on
 * Integrations and Pipes), then applies their operations; a denial is an error naming the document.
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
  const deps: PodAdmissionDeps = { resolver, inject: options, onError: 'deny' };
  const ctx = { signal, logger: createLogger({ level: 'silent' }) };
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
    const ans = found ? await admitPod(found.template as object, '', deps, ctx, found.basePath) : undefined;
    const result = ans?.result;
    if (result?.type === 'denied') {
      const code = isErrorCode(ans?.reason) ? ans.reason : 'REFERENCE_INVALID';
      throw new CamelOciError(code, `document ${i + 1}: ${result.message.replace(/^camel-oci: /, '')}`);
    }
    if (result?.type !== 'patched' || result.ops.length === 0) {
      out.push(stringify(obj));
      continue;
    }
    warnings.push(...ans!.warnings.map((w) => `document ${i + 1}: ${w.replace(/^camel-oci: /, '')}`));
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
  const result = await pinObject(obj, undefined, { resolver }, signal);
  if (result.type === 'failed') throw pinFailure(result);
  if (result.type === 'skip' || result.ops.length === 0) return { object: obj, changed: false, warnings: [] };
  return { object: applyPatch(obj, result.ops), changed: true, warnings: result.warnings.map((w) => `document ${document}: ${w}`) };
}

/** Runs `inject`; returns the exit code. */
export async function runInject(flags: ParsedFlags, io: CommandIO, stdin: () => Promise<Buffer> = readStdin): Promise<number> {
  const config = loadInjectConfig(flags);
  const file = config.file;
  // As serve does: the registry CAs given here are handed to the fetcher (certificates only).
  const caFiles = config.resolver.caFiles;
  const caPem = caFiles.length > 0 ? (await readCaCertificates(caFiles)).join('') : undefined;
  const options = normalizeInjectOptions({
    ...(caPem !== undefined ? { caPem } : {}),
    allowRegistries: config.resolver.allowRegistries,
    insecureRegistries: config.resolver.insecureRegistries,
    ...config.fetcher,
  });
  const text = await readInput(file, stdin);
  const { resolver, context } = await createResolver({
    ...config.resolver,
    onSourceFailure: (f) =>
      io.stderr(`camel-oci inject: warning: ${f.source.registry} failed, trying the next source: ${f.error.code}: ${f.error.message}`),
  });
  const deadline = deadlineSignal(config.timeoutMs);
  try {
    const { yaml, warnings } = await injectYaml(text, resolver, options, deadline.signal);
    for (const w of warnings) io.stderr(`camel-oci inject: warning: ${w}`);
    io.stdout(yaml.trimEnd());
    return 0;
  } finally {
    await closeRegistryContext(context, deadline.signal);
    deadline.dispose();
  }
}
