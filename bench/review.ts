/** The admission request the webhook benchmarks send: the Camel K hello pod asking for one artifact. */
import { fixtureJson } from '../test/helpers/fixtures.js';

/** The Camel K hello pod (test fixture) asking for `reference` by annotation. */
export function helloPodAsking(reference: string): Record<string, any> {
  const pod = fixtureJson<Record<string, any>>('camel-k-pods/camel-k-hello-pod.json');
  pod.metadata.annotations['camel.apache.org/container-dependencies'] = `container:${reference}`;
  return pod;
}

/** An AdmissionReview CREATE of `pod` in namespace demo, as the ReplicaSet controller's request reaches the webhook. */
export function reviewOf(pod: unknown): string {
  return JSON.stringify({
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '3c6a1b0e-8d4f-4a57-9f3e-0b1c2d3e4f50',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'demo',
      operation: 'CREATE',
      object: pod,
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
    },
  });
}
