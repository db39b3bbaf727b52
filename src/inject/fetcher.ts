/**
 * The objects injection adds: the `camel-oci-fetch` init container, the shared emptyDir volume and
 * the projected pull-secrets volume. Pure.
 */
import { InjectError } from '../base/errors.js';
import type { FetchPlan } from '../plan/plan.js';
import { VOLUME_MOUNT_PATH } from '../plan/plan.js';
import { INIT_CONTAINER_NAME, PULL_SECRETS_VOLUME_NAME, VOLUME_NAME } from './annotations.js';
import type { NormalizedOptions } from './options.js';
import { optionalArray, optionalRecord, own, type JsonObject } from './pod.js';
import { fetcherSizeText, formatMebibytes } from './quantity.js';
import { MAX_POD_PULL_SECRETS, referenceNames } from './pull-secrets.js';
import {
  ENV_ALLOW_REGISTRY,
  ENV_CA_PEM,
  ENV_FETCH_TIMEOUT,
  ENV_INSECURE_REGISTRY,
  ENV_MAX_UNPACKED_BYTES,
  ENV_PLAN,
  PULL_SECRETS_MOUNT_PATH,
} from '../plan/env.js';

/** The init container's command (docs/architecture.md, "Kubernetes names"): the camel-oci CLI's fetch verb, writing under the volume. */
export const FETCH_COMMAND: readonly string[] = ['camel-oci', 'fetch', '--root', VOLUME_MOUNT_PATH];

/**
 * The camel-oci image's numeric USER. Written into the init container only to override a pod-level
 * `runAsUser: 0` it would otherwise inherit (see {@link fetcherRunAsUser}); everywhere else the
 * image's own USER applies, which the kubelet can check against `runAsNonRoot` because it is numeric.
 */
export const FETCHER_IMAGE_UID = 65532;

/**
 * emptyDir size headroom over the planned (compressed) layer bytes: jars barely compress, but
 * kamelet YAML gunzips to several times its size. A ceiling enforced by eviction, not a reservation.
 */
export const VOLUME_SIZE_HEADROOM = 4;

/**
 * Files 0444 (read-only for everyone in the container): the fetcher may run under a UID that is
 * not the kubelet's default owner, and the mount is read-only anyway.
 */
export const PULL_SECRETS_FILE_MODE = 0o444;

/** The secret keys projected for each pull secret: `kubernetes.io/dockerconfigjson` and legacy `kubernetes.io/dockercfg`. */
export const PULL_SECRET_KEYS: readonly string[] = ['.dockerconfigjson', '.dockercfg'];

/** The emptyDir size limit: the configured floor, raised to {@link VOLUME_SIZE_HEADROOM}× the planned bytes. */
export function volumeSizeLimit(plan: FetchPlan, options: Pick<NormalizedOptions, 'volumeSizeLimit' | 'volumeSizeLimitBytes'>): string {
  let bytes = 0;
  for (const a of plan.artifacts) for (const l of a.layers) bytes += l.size;
  const needed = bytes * VOLUME_SIZE_HEADROOM;
  return needed > options.volumeSizeLimitBytes ? formatMebibytes(needed) : options.volumeSizeLimit;
}

/** The shared emptyDir volume. */
export function sharedVolume(sizeLimit: string): JsonObject {
  return { name: VOLUME_NAME, emptyDir: { sizeLimit } };
}

/**
 * The pull secret names to project: the pod's `imagePullSecrets` (at admission they already include
 * the service account's, added by the ServiceAccount admission plugin), by the one rule of
 * inject/pull-secrets.ts (valid names, deduplicated: a projected volume rejects two sources writing
 * the same path; at most {@link MAX_POD_PULL_SECRETS}). Problems go to `warnings`.
 */
export function pullSecretNames(spec: JsonObject, warnings: string[]): string[] {
  const list = optionalArray(spec, 'imagePullSecrets', 'spec.imagePullSecrets') ?? [];
  return referenceNames(list, MAX_POD_PULL_SECRETS, (skipped) => {
    warnings.push(
      'invalid' in skipped
        ? `imagePullSecrets entry ${JSON.stringify(skipped.invalid ?? null)} is not a Secret name; not given to ${INIT_CONTAINER_NAME}`
        : `more than ${skipped.overLimit} imagePullSecrets; ${INIT_CONTAINER_NAME} gets the first ${skipped.overLimit}`,
    );
  });
}

/**
 * The projected volume of pull secrets: secret `S` appears as `S/.dockerconfigjson` or
 * `S/.dockercfg`. Both keys are listed with `optional: true`: the kubelet skips a listed key the
 * Secret lacks when the source is optional (and a missing Secret), so either type of pull secret
 * works and a deleted one does not block the pod; the fetcher simply finds fewer credentials.
 */
export function pullSecretsVolume(names: readonly string[]): JsonObject {
  return {
    name: PULL_SECRETS_VOLUME_NAME,
    projected: {
      defaultMode: PULL_SECRETS_FILE_MODE,
      sources: names.map((name) => ({
        secret: { name, optional: true, items: PULL_SECRET_KEYS.map((key) => ({ key, path: `${name}/${key}` })) },
      })),
    },
  };
}

/** The integration container's effective UID when it is a known non-root one, else undefined. */
export function integrationUid(spec: JsonObject, container: JsonObject): number | undefined {
  const fromContainer = optionalRecord(container, 'securityContext', 'securityContext');
  const fromPod = optionalRecord(spec, 'securityContext', 'spec.securityContext');
  const uid =
    (fromContainer === undefined ? undefined : own(fromContainer, 'runAsUser')) ??
    (fromPod === undefined ? undefined : own(fromPod, 'runAsUser'));
  return typeof uid === 'number' && Number.isSafeInteger(uid) && uid > 0 ? uid : undefined;
}

/**
 * The `runAsUser` of the init container: the integration container's UID when it is a known
 * non-root one (the files the fetcher writes then belong to their reader), else undefined, so the
 * container runs as the image's USER or as whatever UID the platform assigns. OpenShift's
 * restricted-v2 SCC assigns a per-namespace UID and rejects any other written into the spec, and
 * Camel K sets no runAsUser there, so no UID may be invented. The one exception: a pod-level
 * runAsUser that is not a non-root UID (root) would be inherited and then refused by the kubelet
 * under `runAsNonRoot: true`; {@link FETCHER_IMAGE_UID} overrides it (such a pod is outside
 * restricted-v2 anyway, which never admits UID 0).
 */
export function fetcherRunAsUser(spec: JsonObject, container: JsonObject): number | undefined {
  const uid = integrationUid(spec, container);
  if (uid !== undefined) return uid;
  const fromPod = optionalRecord(spec, 'securityContext', 'spec.securityContext');
  const podUid = fromPod === undefined ? undefined : own(fromPod, 'runAsUser');
  if (podUid === undefined || podUid === null) return undefined;
  return typeof podUid === 'number' && Number.isSafeInteger(podUid) && podUid > 0 ? undefined : FETCHER_IMAGE_UID;
}

/** How one pod's init container differs from another's, apart from the options. */
export interface InitContainerSettings {
  /** The emptyDir `sizeLimit` in use (see {@link volumeSizeLimit}); the fetcher's unpacked-bytes limit. */
  readonly sizeLimit: string;
  /** From {@link fetcherRunAsUser}; undefined: no runAsUser in the spec. */
  readonly runAsUser: number | undefined;
  /** Whether the pull secrets volume is mounted. */
  readonly withPullSecrets: boolean;
}

/**
 * The init container. Its env, in this order: the plan, the timeout when configured, the extra CA
 * certificates when configured, the unpacked-bytes limit, the allowed and insecure registries
 * when configured. Its securityContext passes the "restricted" Pod Security level on its own,
 * whatever the pod sets: non-root (an explicit UID only from {@link fetcherRunAsUser}), no
 * privilege escalation, all capabilities dropped, RuntimeDefault seccomp; plus a read-only root
 * filesystem (the fetcher writes only under the volume). Throws InjectError CONFIG_INVALID when
 * the size limit is not a quantity.
 */
export function initContainer(planText: string, options: NormalizedOptions, settings: InitContainerSettings): JsonObject {
  const { sizeLimit, runAsUser, withPullSecrets } = settings;
  const maxUnpacked = fetcherSizeText(sizeLimit);
  if (maxUnpacked === undefined)
    throw new InjectError('CONFIG_INVALID', `invalid injection options: volume size limit ${JSON.stringify(sizeLimit)} is not a quantity`);
  const env: JsonObject[] = [{ name: ENV_PLAN, value: planText }];
  if (options.fetchTimeoutSeconds !== undefined) env.push({ name: ENV_FETCH_TIMEOUT, value: String(options.fetchTimeoutSeconds) });
  // Extra CAs travel as an env var (certificates are public). Credentials never do: the fetcher
  // authenticates with the pod's own pull secrets, projected below, and never with the webhook's
  // --registry-config, which would hand the webhook's credentials to every pod it admits.
  if (options.caPem !== undefined) env.push({ name: ENV_CA_PEM, value: options.caPem });
  // The fetcher's own default (1Gi) may exceed the volume: past the sizeLimit the kubelet evicts
  // the pod with a message about ephemeral storage, where the fetcher would say SIZE_EXCEEDED.
  env.push({ name: ENV_MAX_UNPACKED_BYTES, value: maxUnpacked });
  if (options.allowRegistries.length > 0) env.push({ name: ENV_ALLOW_REGISTRY, value: options.allowRegistries.join(',') });
  if (options.insecureRegistries.length > 0) env.push({ name: ENV_INSECURE_REGISTRY, value: options.insecureRegistries.join(',') });
  const volumeMounts: JsonObject[] = [{ name: VOLUME_NAME, mountPath: VOLUME_MOUNT_PATH }];
  if (withPullSecrets) volumeMounts.push({ name: PULL_SECRETS_VOLUME_NAME, mountPath: PULL_SECRETS_MOUNT_PATH, readOnly: true });
  return {
    name: INIT_CONTAINER_NAME,
    image: options.fetcherImage,
    ...(options.imagePullPolicy !== undefined ? { imagePullPolicy: options.imagePullPolicy } : {}),
    command: [...FETCH_COMMAND],
    env,
    resources: {
      requests: { ...options.resources.requests },
      limits: { ...options.resources.limits },
    },
    volumeMounts,
    // The fetcher's last error lands in the pod status, where `kubectl describe` shows it.
    terminationMessagePolicy: 'FallbackToLogsOnError',
    securityContext: {
      runAsNonRoot: true,
      ...(runAsUser !== undefined ? { runAsUser } : {}),
      allowPrivilegeEscalation: false,
      privileged: false,
      readOnlyRootFilesystem: true,
      capabilities: { drop: ['ALL'] },
      seccompProfile: { type: 'RuntimeDefault' },
    },
  };
}
