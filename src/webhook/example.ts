/**
 * An example AdmissionReview for the embedded default of `serve`: what the apiserver sends for the
 * pod of a Camel K integration (trimmed to what camel-oci reads) that asks for one OCI artifact.
 */

/** Builds the example review for `reference`. */
export function exampleReview(reference: string): Record<string, unknown> {
  return {
    apiVersion: 'admission.k8s.io/v1',
    kind: 'AdmissionReview',
    request: {
      uid: '00000000-0000-0000-0000-000000000001',
      kind: { group: '', version: 'v1', kind: 'Pod' },
      resource: { group: '', version: 'v1', resource: 'pods' },
      namespace: 'demo',
      operation: 'CREATE',
      userInfo: { username: 'system:serviceaccount:kube-system:replicaset-controller' },
      object: {
        apiVersion: 'v1',
        kind: 'Pod',
        metadata: {
          generateName: 'hello-6f9c7d8b5d-',
          namespace: 'demo',
          labels: { 'camel.apache.org/integration': 'hello' },
          annotations: {
            'kubectl.kubernetes.io/default-container': 'integration',
            'camel.apache.org/container-dependencies': `container:${reference}`,
          },
        },
        spec: {
          securityContext: { runAsNonRoot: true, runAsUser: 1000, seccompProfile: { type: 'RuntimeDefault' } },
          containers: [
            {
              name: 'integration',
              image: 'example.com/camel-k/camel-k-kit-hello:1',
              command: ['java'],
              args: [
                '-Xmx268M',
                '-cp',
                './resources:dependencies/*:dependencies/app/*:dependencies/lib/boot/*:dependencies/lib/main/*',
                'io.quarkus.bootstrap.runner.QuarkusEntryPoint',
              ],
              workingDir: '/deployments',
              env: [{ name: 'CAMEL_K_INTEGRATION', value: 'hello' }],
              securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ['ALL'] } },
            },
          ],
        },
      },
    },
  };
}
