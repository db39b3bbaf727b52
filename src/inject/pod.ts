/**
 * Typed, read-only views of the untyped objects admission hands us (a Pod, or a workload's pod
 * template). Every shape problem becomes an InjectError saying which field is wrong; nothing here
 * copies or mutates the pod.
 */
import { InjectError } from '../base/errors.js';
import { isRecord } from '../base/json.js';
import type { JsonObject } from '../base/json.js';
import { IMAGE_VOLUME_PREFIX, INIT_CONTAINER_NAME } from './annotations.js';

/** A JSON object, and the test for one (shared with the other parsers of untrusted JSON). */
export { isRecord };
export type { JsonObject };

/** An own property of `o` (never one inherited from Object.prototype, whatever the key). */
export function own(o: JsonObject, key: string): unknown {
  return Object.hasOwn(o, key) ? o[key] : undefined;
}

function malformed(where: string, what: string): InjectError {
  return new InjectError('UNSUPPORTED', `cannot inject into this pod: ${where} ${what}`, { context: { field: where } });
}

/** The array at `o[key]`; undefined when absent or null; an error when it is anything else. */
export function optionalArray(o: JsonObject, key: string, where: string): readonly unknown[] | undefined {
  const v = own(o, key);
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v)) throw malformed(where, 'is not an array');
  return v;
}

/** The object at `o[key]`; undefined when absent or null; an error when it is anything else. */
export function optionalRecord(o: JsonObject, key: string, where: string): JsonObject | undefined {
  const v = own(o, key);
  if (v === undefined || v === null) return undefined;
  if (!isRecord(v)) throw malformed(where, 'is not an object');
  return v;
}

/** A container as far as injection cares: its name and the raw object. */
export interface ContainerView {
  readonly name: string;
  readonly raw: JsonObject;
}

/** The parts of a pod (or pod template) injection reads. */
export interface PodView {
  readonly metadata: JsonObject | undefined;
  readonly annotations: JsonObject | undefined;
  readonly spec: JsonObject;
  readonly containers: readonly ContainerView[];
  readonly initContainers: readonly ContainerView[] | undefined;
  readonly volumes: readonly JsonObject[] | undefined;
}

function containerList(spec: JsonObject, key: string): ContainerView[] | undefined {
  const list = optionalArray(spec, key, `spec.${key}`);
  if (list === undefined) return undefined;
  return list.map((c, i) => {
    if (!isRecord(c)) throw malformed(`spec.${key}[${i}]`, 'is not an object');
    const name = own(c, 'name');
    if (typeof name !== 'string' || name.length === 0) throw malformed(`spec.${key}[${i}].name`, 'is missing');
    return { name, raw: c };
  });
}

/** The metadata and annotations of a pod, tolerating their absence. Throws when `pod` is not an object. */
export function readMetadata(pod: unknown): { metadata: JsonObject | undefined; annotations: JsonObject | undefined } {
  if (!isRecord(pod)) throw new InjectError('UNSUPPORTED', 'cannot inject: the admitted object is not a Pod (not a JSON object)');
  const metadata = optionalRecord(pod, 'metadata', 'metadata');
  const annotations = metadata === undefined ? undefined : optionalRecord(metadata, 'annotations', 'metadata.annotations');
  return { metadata, annotations };
}

/** Reads a pod or pod template; throws InjectError UNSUPPORTED when it has no spec or no containers. */
export function readPod(pod: unknown): PodView {
  const { metadata, annotations } = readMetadata(pod);
  const spec = optionalRecord(pod as JsonObject, 'spec', 'spec');
  if (spec === undefined) throw malformed('spec', 'is missing');
  const containers = containerList(spec, 'containers');
  if (containers === undefined || containers.length === 0)
    throw malformed('spec.containers', 'is empty: there is no container to put the dependencies in');
  const initContainers = containerList(spec, 'initContainers');
  const volumeList = optionalArray(spec, 'volumes', 'spec.volumes');
  const volumes = volumeList?.map((v, i) => {
    if (!isRecord(v)) throw malformed(`spec.volumes[${i}]`, 'is not an object');
    return v;
  });
  return { metadata, annotations, spec, containers, initContainers, volumes };
}

/** A string annotation value, or undefined when absent or not a string. */
export function annotation(annotations: JsonObject | undefined, key: string): string | undefined {
  if (annotations === undefined) return undefined;
  const v = own(annotations, key);
  return typeof v === 'string' ? v : undefined;
}

/**
 * True when the pod already carries the injection: the `camel-oci-fetch` init container is present,
 * or (a pod whose artifacts are all image volumes has no init container) a `camel-oci-image-*`
 * volume of the `image` kind (an earlier invocation patched the pod, or `camel-oci inject` ran on
 * its template). The resolved annotation is not a marker, because Camel K copies an Integration's
 * annotations to its pods, so a copied or forged annotation would otherwise switch injection off
 * and leave a false audit record; volumes are not copied.
 */
export function isInjected(pod: unknown): boolean {
  if (!isRecord(pod)) return false;
  const spec = own(pod, 'spec');
  if (!isRecord(spec)) return false;
  const init = own(spec, 'initContainers');
  if (Array.isArray(init) && init.some((c) => isRecord(c) && own(c, 'name') === INIT_CONTAINER_NAME)) return true;
  const volumes = own(spec, 'volumes');
  return Array.isArray(volumes) && volumes.some(isImageVolume);
}

/** True for a volume camel-oci adds in image-volume mode: named `camel-oci-image-…`, of the `image` kind. */
export function isImageVolume(v: unknown): boolean {
  if (!isRecord(v)) return false;
  const name = own(v, 'name');
  return typeof name === 'string' && name.startsWith(IMAGE_VOLUME_PREFIX) && isRecord(own(v, 'image'));
}
