/**
 * The patch builder: a pod (or pod template) plus resolved artifacts in, RFC 6902 operations out.
 * Pure. Operations are emitted one by one against what the pod holds (`add` of a whole list when
 * it is absent, else of one element), never by cloning and diffing the pod, so the work is linear
 * in the pod's size and the patch is as small as the change.
 */
import { InjectError, isCamelOciError } from '../base/errors.js';
import { LruCache } from '../base/lru.js';
import { pinnedReference, type ResolvedArtifact } from '../plan/artifact.js';
import {
  buildPlan,
  classpathEntry,
  imageMountDir,
  layerTarget,
  MAX_PLAN_ARTIFACTS,
  MAX_PLAN_BYTES,
  MAX_PLAN_LAYERS,
  parsePlan,
  planClasspath,
  VOLUME_MOUNT_PATH,
  type FetchPlan,
} from '../plan/plan.js';
import { ANNOTATION_RESOLVED, ENV_CLASSPATH, INIT_CONTAINER_NAME, PULL_SECRETS_VOLUME_NAME, VOLUME_NAME } from './annotations.js';
import { artifactMode, imageVolumeMount, imageVolumeSource, type ArtifactMode, type ImageVolume } from './image-volumes.js';
import { appendClasspath, CLASSPATH_INLINE_PREFIX, CLASSPATH_SEPARATOR, findClasspathArgument } from './classpath.js';
import { selectIntegrationContainer } from './container.js';
import { fetcherRunAsUser, initContainer, pullSecretNames, pullSecretsVolume, sharedVolume, volumeSizeLimit } from './fetcher.js';
import { meshAnnotations, registryPorts } from './mesh.js';
import { normalizeInjectOptions, type InjectOptions } from './options.js';
import { isInjected, isRecord, optionalArray, own, readPod, type ContainerView, type JsonObject, type PodView } from './pod.js';
import { resolutionWarnings, resolvedAnnotationValue } from './resolved.js';

export { DEFAULT_VOLUME_SIZE_LIMIT, DEFAULT_FETCHER_RESOURCES } from './options.js';
export type { InjectOptions, FetcherResources, ResourceQuantities } from './options.js';

/** One RFC 6902 operation, restricted to those the builder and the applier use. */
export type JsonPatchOp = { op: 'add' | 'replace' | 'remove' | 'test'; path: string; value?: unknown };

/** What injection produces. */
export interface InjectionResult {
  /** The JSON Patch; empty when the pod already carries the injection. */
  readonly ops: JsonPatchOp[];
  /** The fetch plan handed to the init container; undefined when every artifact is an image volume (no init container). */
  readonly plan: FetchPlan | undefined;
  /** Value of the resolved annotation (also what the webhook puts in `auditAnnotations`). */
  readonly resolvedAnnotation: string;
  /** Classpath entries of the plan, in order. */
  readonly classpath: string[];
  /** Name of the integration container. */
  readonly container: string;
  /** Things the person who created the pod should know (AdmissionResponse `warnings`). */
  readonly warnings: string[];
}

/**
 * Bound on annotations per pod, as the apiserver counts them (sum of key and value bytes,
 * `TotalAnnotationSizeLimitB`). Exceeding it makes the apiserver reject the patched pod with a
 * message that does not say why; we say it first.
 */
export const MAX_TOTAL_ANNOTATION_BYTES = 256 * 1024;

/** Escapes one JSON Pointer reference token (RFC 6901 §3: `~` → `~0`, then `/` → `~1`). The one place this is done. */
export function escapePointer(segment: string): string {
  return segment.replace(/~/g, '~0').replace(/\//g, '~1');
}

function pointer(basePath: string, ...segments: readonly (string | number)[]): string {
  return basePath + segments.map((s) => `/${escapePointer(String(s))}`).join('');
}

function collision(message: string, name: string): InjectError {
  return new InjectError(
    'NAME_COLLISION',
    `cannot inject container dependencies: ${message}; rename it, or opt the pod out with annotation camel.apache.org/oci-injection: disabled`,
    { context: { name } },
  );
}

/**
 * Builds the JSON Patch that injects `artifacts` into `pod`, plus the plan, the resolved
 * annotation and warnings. `basePath` prefixes every path: '' for a Pod, '/spec/template' for a
 * Deployment's template (see workloads.ts). A pod already injected (init container present) yields
 * no operations; a resolved annotation without the init container is replaced, with a warning.
 *
 * Throws InjectError: UNSUPPORTED (not a pod, no containers), NAME_COLLISION (the pod uses a name
 * camel-oci needs), NO_USABLE_LAYERS, SIZE_EXCEEDED (plan or annotations too large), CONFIG_INVALID
 * (options), or the fetch plan validator's code.
 */
export function buildInjection(
  pod: unknown,
  artifacts: readonly ResolvedArtifact[],
  options: InjectOptions,
  basePath = '',
): InjectionResult {
  if (basePath !== '' && !basePath.startsWith('/')) {
    throw new InjectError('CONFIG_INVALID', `invalid base path ${JSON.stringify(basePath)}: a JSON Pointer is empty or starts with "/"`);
  }
  const opts = normalizeInjectOptions(options);
  const view = readPod(pod);
  const { plan, planText, classpath, resolvedAnnotation, resolutionNotes, images } = derivedFromArtifacts(
    artifacts,
    opts.imageVolumes === true,
  );
  const warnings = [...resolutionNotes];
  const choice = selectIntegrationContainer(view.containers, view.annotations);
  const integration = view.containers[choice.index] as ContainerView;
  const result = (ops: JsonPatchOp[]): InjectionResult => ({
    ops,
    plan,
    resolvedAnnotation,
    classpath: [...classpath],
    container: choice.name,
    // Unbounded here: the webhook bounds warnings once, where the response is completed.
    warnings,
  });

  if (isInjected(pod)) {
    warnings.push('pod already carries the camel-oci injection; not patched again');
    return result([]);
  }
  // Not written by us (we add it together with the init container): copied from the Integration
  // or forged. It must not survive as an audit record of something camel-oci did not resolve.
  const forged = view.annotations !== undefined && own(view.annotations, ANNOTATION_RESOLVED) !== undefined;
  if (forged)
    warnings.unshift(
      `camel-oci: replaced a pre-existing ${ANNOTATION_RESOLVED} annotation (only camel-oci writes it, with its init container)`,
    );

  // A pod whose artifacts are all image volumes gets no init container: no pull secrets for it, no mesh exclusions.
  const pullSecrets = plan === undefined ? [] : pullSecretNames(view.spec, warnings);
  checkCollisions(view, integration, plan !== undefined, pullSecrets.length > 0, images);
  // Under a mesh that redirects traffic the init container's egress would go to a proxy not yet running (mesh.ts).
  const labels = view.metadata === undefined ? undefined : own(view.metadata, 'labels');
  const added: Record<string, string> = {
    [ANNOTATION_RESOLVED]: resolvedAnnotation,
    ...(plan === undefined || opts.meshExclusions === 'off'
      ? {}
      : meshAnnotations(isRecord(labels) ? labels : undefined, view.annotations, registryPorts(plan))),
  };
  checkAnnotationBudget(view.annotations, added);

  const ops: JsonPatchOp[] = [];

  // Volumes: order in the list does not matter, append.
  const sizeLimit = plan === undefined ? undefined : volumeSizeLimit(plan, opts);
  const volumes = sizeLimit === undefined ? [] : [sharedVolume(sizeLimit)];
  if (pullSecrets.length > 0) volumes.push(pullSecretsVolume(pullSecrets));
  for (const image of images) volumes.push(imageVolumeSource(image));
  appendAll(ops, pointer(basePath, 'spec', 'volumes'), view.volumes !== undefined, volumes);

  // The init container goes first: before agents-download and friends, and before any sidecar
  // (a native sidecar started earlier could intercept the fetcher's traffic).
  if (sizeLimit !== undefined) {
    const init = initContainer(planText, opts, {
      sizeLimit,
      runAsUser: fetcherRunAsUser(view.spec, integration.raw),
      withPullSecrets: pullSecrets.length > 0,
    });
    if (view.initContainers === undefined) ops.push({ op: 'add', path: pointer(basePath, 'spec', 'initContainers'), value: [init] });
    else ops.push({ op: 'add', path: pointer(basePath, 'spec', 'initContainers', 0), value: init });
  }

  // The integration container: the volumes read-only, and the classpath. The shared volume comes
  // before the image volumes mounted inside it (their mount points are directories the fetcher made).
  const containerPath = pointer(basePath, 'spec', 'containers', choice.index);
  const mounts = optionalArray(integration.raw, 'volumeMounts', `spec.containers[${choice.index}].volumeMounts`);
  appendAll(ops, `${containerPath}/volumeMounts`, mounts !== undefined, [
    ...(plan === undefined ? [] : [{ name: VOLUME_NAME, mountPath: VOLUME_MOUNT_PATH, readOnly: true }]),
    ...images.map(imageVolumeMount),
  ]);
  classpathOps(ops, containerPath, integration, choice.index, classpath, warnings);

  // The resolved annotation, and the mesh exclusions.
  if (view.metadata === undefined) {
    ops.push({ op: 'add', path: pointer(basePath, 'metadata'), value: { annotations: added } });
  } else if (view.annotations === undefined) {
    ops.push({ op: 'add', path: pointer(basePath, 'metadata', 'annotations'), value: added });
  } else {
    // RFC 6902 §4.1: `add` on an existing object member replaces its value, so one op per key is
    // valid whether or not the annotation (forged, or the pod's own port list) is already there.
    for (const [key, value] of Object.entries(added))
      ops.push({ op: 'add', path: pointer(basePath, 'metadata', 'annotations', key), value });
  }

  return result(ops);
}

/** `add` of the whole list when absent, else one `add …/-` per element. */
function appendAll(ops: JsonPatchOp[], listPath: string, exists: boolean, values: readonly unknown[]): void {
  if (!exists) {
    ops.push({ op: 'add', path: listPath, value: [...values] });
    return;
  }
  for (const value of values) ops.push({ op: 'add', path: `${listPath}/-`, value });
}

/** What depends only on the artifacts, not on the pod: the same for every pod of an integration. */
interface ArtifactDerived {
  /** Undefined when nothing is fetched (every artifact is an image volume). */
  readonly plan: FetchPlan | undefined;
  readonly planText: string;
  readonly classpath: readonly string[];
  readonly resolvedAnnotation: string;
  readonly resolutionNotes: readonly string[];
  /** The image volumes, one per distinct manifest, in artifact order (empty unless image-volume mode is on). */
  readonly images: readonly ImageVolume[];
}

/** Derived values of recently seen artifact sets (bounded; every entry is a pure function of its key). */
const derivedCache = new LruCache<string, ArtifactDerived>(256);

/**
 * The plan (built and validated), its JSON, the classpath, the resolved annotation and the
 * resolution warnings of `artifacts`, memoized: with warm caches, validating the same plan again for
 * every pod of an integration was the largest part of an admission. The key holds every field these
 * are computed from.
 */
function derivedFromArtifacts(artifacts: readonly ResolvedArtifact[], imageVolumes: boolean): ArtifactDerived {
  const key = JSON.stringify([
    imageVolumes,
    ...artifacts.map((a) => [
      a.reference,
      a.domain,
      a.registry,
      a.repository,
      a.scheme,
      a.digest,
      a.mediaType,
      a.indexDigest,
      a.platform,
      a.stale === true,
      a.layers.map((l) => [l.digest, l.size, l.mediaType, l.kind, l.format, l.fileName, l.title]),
      a.ignored.map((l) => [l.digest, l.reason]),
      a.artifactType,
      a.configMediaType,
    ]),
  ]);
  const cached = derivedCache.get(key);
  if (cached) return cached;
  checkUsable(artifacts);
  const derived = imageVolumes ? withImageVolumes(artifacts) : withoutImageVolumes(artifacts);
  derivedCache.set(key, derived);
  return derived;
}

/** Every artifact fetched, as before image-volume mode existed (the output does not change). */
function withoutImageVolumes(artifacts: readonly ResolvedArtifact[]): ArtifactDerived {
  const plan = fetchPlan(artifacts, []);
  return {
    plan,
    planText: JSON.stringify(plan),
    classpath: planClasspath(plan),
    resolvedAnnotation: resolvedAnnotationValue(artifacts),
    resolutionNotes: resolutionWarnings(artifacts),
    images: [],
  };
}

/**
 * Artifacts in the camel-oci image layout become image volumes, the others go to the fetcher. When
 * both kinds are present, the image volumes are mounted inside the read-only shared volume, where
 * the runtime cannot create a mount point: the plan's `imageMounts` has the fetcher make them.
 */
function withImageVolumes(artifacts: readonly ResolvedArtifact[]): ArtifactDerived {
  const modes: ArtifactMode[] = [];
  const images: ImageVolume[] = [];
  const byHex12 = new Map<string, string>();
  for (const a of artifacts) {
    let mode = artifactMode(a);
    if (mode.mode === 'image-volume') {
      const other = byHex12.get(mode.volume.hex12);
      if (other === undefined) {
        byHex12.set(mode.volume.hex12, a.digest);
        images.push(mode.volume);
      } else if (other !== a.digest) {
        // Two manifests whose digests share 12 hex characters would need one volume name.
        mode = { mode: 'fetch', fallback: `another artifact of this pod has a digest starting with the same 12 characters` };
      }
    }
    modes.push(mode);
  }
  const fetched = artifacts.filter((_, i) => modes[i]?.mode === 'fetch');
  const plan = fetched.length === 0 ? undefined : fetchPlan(fetched, images);
  const classpath: string[] = [];
  artifacts.forEach((a, i) => {
    const mode = modes[i] as ArtifactMode;
    const entries =
      mode.mode === 'image-volume'
        ? mode.volume.classpath
        : a.layers.map((l) => classpathEntry({ kind: l.kind, target: layerTarget(l.kind, l.digest) }));
    for (const e of entries) if (!classpath.includes(e)) classpath.push(e);
  });
  return {
    plan,
    planText: plan === undefined ? '' : JSON.stringify(plan),
    classpath,
    resolvedAnnotation: resolvedAnnotationValue(artifacts, modes),
    resolutionNotes: resolutionWarnings(artifacts),
    images,
  };
}

function checkUsable(artifacts: readonly ResolvedArtifact[]): void {
  if (artifacts.length === 0) throw new InjectError('NO_USABLE_LAYERS', 'cannot inject container dependencies: no artifact was resolved');
  for (const a of artifacts) {
    if (a.layers.length === 0) {
      const why = a.ignored.length > 0 ? ` (${a.ignored.length} layer(s) ignored, first: ${a.ignored[0]?.reason})` : '';
      throw new InjectError(
        'NO_USABLE_LAYERS',
        `${a.reference} (${pinnedReference(a)}) has no layer camel-oci can use${why}: annotate its layers with camel.apache.org.dependency or camel.apache.org.kamelets.repository (camel-oci push does), or push jars with an org.opencontainers.image.title ending in .jar`,
        { context: { reference: a.reference } },
      );
    }
  }
}

/** The plan for the fetched artifacts (and the mount points of `images`), checked against the same rules the fetcher will apply to it. */
function fetchPlan(artifacts: readonly ResolvedArtifact[], images: readonly ImageVolume[]): FetchPlan {
  const built = buildPlan(artifacts);
  // A reference whose layers were all planned by an earlier one (the same artifact by tag and by
  // digest) adds nothing to fetch; the fetcher's plan format wants no empty artifact.
  const plan: FetchPlan = {
    version: built.version,
    artifacts: built.artifacts.filter((a) => a.layers.length > 0),
    ...(images.length > 0 ? { imageMounts: images.map((v) => imageMountDir(v.hex12)) } : {}),
  };
  const layers = plan.artifacts.reduce((n, a) => n + a.layers.length, 0);
  if (plan.artifacts.length > MAX_PLAN_ARTIFACTS || layers > MAX_PLAN_LAYERS) {
    throw new InjectError(
      'SIZE_EXCEEDED',
      `cannot inject container dependencies: ${plan.artifacts.length} artifacts with ${layers} layers is more than one pod may fetch (at most ${MAX_PLAN_ARTIFACTS} artifacts, ${MAX_PLAN_LAYERS} layers): package them into fewer artifacts`,
    );
  }
  const text = JSON.stringify(plan);
  if (Buffer.byteLength(text, 'utf8') > MAX_PLAN_BYTES) {
    throw new InjectError(
      'SIZE_EXCEEDED',
      `cannot inject container dependencies: the fetch plan is larger than ${MAX_PLAN_BYTES} bytes: ask for fewer references`,
    );
  }
  try {
    parsePlan(text);
  } catch (err) {
    // Better to deny the pod now than to admit one whose init container will refuse its plan.
    throw new InjectError(
      isCamelOciError(err) ? err.code : 'PLAN_INVALID',
      `cannot inject container dependencies: ${(err as Error).message}`,
      { cause: err },
    );
  }
  return plan;
}

function checkCollisions(
  view: PodView,
  integration: ContainerView,
  addsFetcher: boolean,
  addsPullSecrets: boolean,
  images: readonly ImageVolume[],
): void {
  const reserved = [
    ...(addsFetcher ? [VOLUME_NAME] : []),
    ...(addsPullSecrets ? [PULL_SECRETS_VOLUME_NAME] : []),
    ...images.map((v) => v.name),
  ];
  for (const v of view.volumes ?? []) {
    const name = own(v, 'name');
    if (typeof name === 'string' && reserved.includes(name)) throw collision(`the pod already has a volume named "${name}"`, name);
  }
  if (addsFetcher) {
    const ephemeral = optionalArray(view.spec, 'ephemeralContainers', 'spec.ephemeralContainers') ?? [];
    for (const c of [...view.containers.map((c) => c.raw), ...ephemeral]) {
      if (isRecord(c) && own(c, 'name') === INIT_CONTAINER_NAME)
        throw collision(`the pod already has a container named "${INIT_CONTAINER_NAME}"`, INIT_CONTAINER_NAME);
    }
  }
  // Image volumes sit under the mount path too: a mount of the pod's own there would hide or contain them.
  const paths = [VOLUME_MOUNT_PATH, ...images.map((v) => v.mountPath)];
  for (const m of optionalArray(integration.raw, 'volumeMounts', 'volumeMounts') ?? []) {
    const at = isRecord(m) ? own(m, 'mountPath') : undefined;
    if (typeof at === 'string' && paths.includes(at)) {
      throw collision(`container "${integration.name}" already mounts something at ${at}`, at);
    }
  }
}

function checkAnnotationBudget(annotations: JsonObject | undefined, added: Readonly<Record<string, string>>): void {
  let total = 0;
  for (const [k, v] of Object.entries(added)) total += Buffer.byteLength(k) + Buffer.byteLength(v);
  for (const [k, v] of Object.entries(annotations ?? {})) {
    if (Object.hasOwn(added, k)) continue; // replaced, counted above with its new value
    total += Buffer.byteLength(k) + (typeof v === 'string' ? Buffer.byteLength(v) : 0);
  }
  if (total > MAX_TOTAL_ANNOTATION_BYTES) {
    throw new InjectError(
      'SIZE_EXCEEDED',
      `cannot inject container dependencies: with ${ANNOTATION_RESOLVED} the pod's annotations would take ${total} bytes, more than the ${MAX_TOTAL_ANNOTATION_BYTES} Kubernetes allows: ask for fewer references or remove large annotations`,
    );
  }
}

/** Appends the classpath in place after `-cp`, else sets env CAMEL_OCI_CLASSPATH. */
function classpathOps(
  ops: JsonPatchOp[],
  containerPath: string,
  container: ContainerView,
  index: number,
  entries: readonly string[],
  warnings: string[],
): void {
  const arg = findClasspathArgument(container.raw);
  if (arg !== undefined) {
    const value = appendClasspath(arg.value, entries);
    if (value !== arg.value) {
      ops.push({
        op: 'replace',
        path: `${containerPath}/${arg.field}/${arg.index}`,
        value: arg.inline ? CLASSPATH_INLINE_PREFIX + value : value,
      });
    }
    if (arg.jar) {
      warnings.push(
        `container "${container.name}" runs java -jar, which ignores -cp: the dependencies are mounted at ${VOLUME_MOUNT_PATH} but the JVM may not load them`,
      );
    }
    return;
  }
  warnings.push(
    `container "${container.name}" has no -cp argument: the dependencies are mounted at ${VOLUME_MOUNT_PATH} and listed in env ${ENV_CLASSPATH}, which its start command must use`,
  );
  const env = optionalArray(container.raw, 'env', `spec.containers[${index}].env`);
  const entry = { name: ENV_CLASSPATH, value: entries.join(CLASSPATH_SEPARATOR) };
  if (env === undefined) {
    ops.push({ op: 'add', path: `${containerPath}/env`, value: [entry] });
    return;
  }
  const at = env.findIndex((e) => isRecord(e) && own(e, 'name') === ENV_CLASSPATH);
  if (at < 0) {
    ops.push({ op: 'add', path: `${containerPath}/env/-`, value: entry });
    return;
  }
  const existing = env[at] as JsonObject;
  const current = own(existing, 'value');
  if (typeof current === 'string' && own(existing, 'valueFrom') === undefined) {
    const value = appendClasspath(current, entries);
    if (value !== current) ops.push({ op: 'replace', path: `${containerPath}/env/${at}/value`, value });
  } else {
    warnings.push(`env ${ENV_CLASSPATH} of container "${container.name}" was not a plain value; replaced`);
    ops.push({ op: 'replace', path: `${containerPath}/env/${at}`, value: entry });
  }
}
