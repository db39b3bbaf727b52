/**
 * Where the pod template is in the workload kinds `camel-oci inject` patches offline. The webhook
 * mutates Pods only (patching templates starts fights with their controllers). Pure.
 */
import { isRecord, own } from './pod.js';

/** JSON Pointer of the pod template, by kind. */
export const POD_TEMPLATE_PATHS: Readonly<Record<string, readonly string[]>> = {
  Pod: [],
  Deployment: ['spec', 'template'],
  StatefulSet: ['spec', 'template'],
  DaemonSet: ['spec', 'template'],
  ReplicaSet: ['spec', 'template'],
  Job: ['spec', 'template'],
  CronJob: ['spec', 'jobTemplate', 'spec', 'template'],
};

/**
 * Finds the pod (template) in a Kubernetes object: the object itself for a Pod, `/spec/template`
 * for Deployment, StatefulSet, DaemonSet, ReplicaSet and Job, `/spec/jobTemplate/spec/template`
 * for CronJob. Undefined for any other kind, or when the template is not an object.
 */
export function podTemplatePaths(obj: unknown): { basePath: string; template: unknown } | undefined {
  if (!isRecord(obj)) return undefined;
  const kind = own(obj, 'kind');
  if (typeof kind !== 'string' || !Object.hasOwn(POD_TEMPLATE_PATHS, kind)) return undefined;
  const segments = POD_TEMPLATE_PATHS[kind] as readonly string[];
  let template: unknown = obj;
  for (const s of segments) {
    if (!isRecord(template)) return undefined;
    template = own(template, s);
  }
  if (!isRecord(template)) return undefined;
  return { basePath: segments.map((s) => `/${s}`).join(''), template };
}
