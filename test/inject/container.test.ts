import { test } from 'node:test';
import assert from 'node:assert/strict';
import { selectIntegrationContainer, type SelectionRule } from '../../src/inject/container.js';
import { readPod } from '../../src/inject/pod.js';
import { helloPod, knativePod, type Obj } from './support.js';

function choose(containers: Obj[], annotations?: Obj): { name: string; rule: SelectionRule; index: number } {
  const view = readPod({ metadata: { annotations }, spec: { containers } });
  return selectIntegrationContainer(view.containers, view.annotations);
}

const camel = { name: 'runner', env: [{ name: 'CAMEL_K_INTEGRATION', value: 'hello' }] };
const java = { name: 'jvm', command: ['java'], args: ['-cp', 'a', 'Main'] };
const sidecar = { name: 'sidecar' };
const queue = { name: 'queue-proxy', args: ['-cp', 'x', 'M'], env: [{ name: 'CAMEL_K_INTEGRATION', value: 'x' }] };

const rules: { name: string; containers: Obj[]; annotations?: Obj; expect: string; rule: SelectionRule }[] = [
  {
    name: 'default-container annotation first, over env and -cp',
    containers: [camel, java, sidecar],
    annotations: { 'kubectl.kubernetes.io/default-container': 'sidecar' },
    expect: 'sidecar',
    rule: 'default-container-annotation',
  },
  {
    name: 'annotation naming no container is ignored',
    containers: [sidecar, camel],
    annotations: { 'kubectl.kubernetes.io/default-container': 'ghost' },
    expect: 'runner',
    rule: 'camel-k-env',
  },
  { name: 'CAMEL_K_INTEGRATION env over -cp', containers: [sidecar, java, camel], expect: 'runner', rule: 'camel-k-env' },
  { name: '-cp when nothing else says', containers: [sidecar, java], expect: 'jvm', rule: 'classpath-argument' },
  { name: 'else the first container', containers: [sidecar, { name: 'other' }], expect: 'sidecar', rule: 'first-container' },
  {
    name: 'queue-proxy is never chosen by the annotation',
    containers: [queue, sidecar],
    annotations: { 'kubectl.kubernetes.io/default-container': 'queue-proxy' },
    expect: 'sidecar',
    rule: 'first-container',
  },
  { name: 'queue-proxy is never chosen by env or -cp', containers: [queue, sidecar, java], expect: 'jvm', rule: 'classpath-argument' },
  {
    name: 'queue-proxy is never chosen by the fallback while another exists',
    containers: [queue, sidecar],
    expect: 'sidecar',
    rule: 'first-container',
  },
  { name: 'queue-proxy alone (not a Knative pod)', containers: [{ name: 'queue-proxy' }], expect: 'queue-proxy', rule: 'first-container' },
];

for (const c of rules) {
  test(`selectIntegrationContainer: ${c.name}`, () => {
    const chosen = choose(c.containers, c.annotations);
    assert.equal(chosen.name, c.expect);
    assert.equal(chosen.rule, c.rule);
    assert.equal(c.containers[chosen.index]?.name, c.expect);
  });
}

test('the Camel K pods: integration, by annotation', () => {
  for (const pod of [helloPod(), knativePod()]) {
    const view = readPod(pod);
    assert.deepEqual(selectIntegrationContainer(view.containers, view.annotations), {
      index: 0,
      name: 'integration',
      rule: 'default-container-annotation',
    });
  }
});
