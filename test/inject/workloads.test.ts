import { test } from 'node:test';
import assert from 'node:assert/strict';
import { podTemplatePaths } from '../../src/inject/workloads.js';
import { buildInjection } from '../../src/inject/patch.js';
import { decide } from '../../src/inject/decide.js';
import { ANNOTATION_DEPENDENCIES, INIT_CONTAINER_NAME } from '../../src/inject/annotations.js';
import { applyAndValidate, helloPod, OPTIONS, twoArtifacts, type Obj } from './support.js';

function template(): Obj {
  const pod = helloPod();
  pod.metadata.annotations[ANNOTATION_DEPENDENCIES] = 'container:docker.io/acme/deps:1.0';
  return { metadata: pod.metadata, spec: pod.spec };
}

const kinds: { kind: string; wrap: (t: Obj) => Obj; basePath: string }[] = [
  { kind: 'Deployment', wrap: (t) => ({ spec: { replicas: 1, template: t } }), basePath: '/spec/template' },
  { kind: 'StatefulSet', wrap: (t) => ({ spec: { serviceName: 's', template: t } }), basePath: '/spec/template' },
  { kind: 'DaemonSet', wrap: (t) => ({ spec: { template: t } }), basePath: '/spec/template' },
  { kind: 'ReplicaSet', wrap: (t) => ({ spec: { template: t } }), basePath: '/spec/template' },
  { kind: 'Job', wrap: (t) => ({ spec: { template: t } }), basePath: '/spec/template' },
  {
    kind: 'CronJob',
    wrap: (t) => ({ spec: { schedule: '* * * * *', jobTemplate: { spec: { template: t } } } }),
    basePath: '/spec/jobTemplate/spec/template',
  },
];

for (const k of kinds) {
  test(`podTemplatePaths: ${k.kind} template at ${k.basePath}, and injecting it yields a valid template`, () => {
    const obj = { apiVersion: 'apps/v1', kind: k.kind, metadata: { name: 'x' }, ...k.wrap(template()) };
    const found = podTemplatePaths(obj);
    assert.ok(found !== undefined);
    assert.equal(found.basePath, k.basePath);
    const decision = decide(found.template);
    assert.equal(decision.action, 'inject');
    const result = buildInjection(found.template, twoArtifacts(), OPTIONS, found.basePath);
    const patched = applyAndValidate(obj, result.ops, (d) => podTemplatePaths(d)?.template as Obj);
    assert.equal((podTemplatePaths(patched)?.template as Obj).spec.initContainers[0].name, INIT_CONTAINER_NAME);
    assert.equal(patched.metadata.name, 'x');
  });
}

test('podTemplatePaths: a Pod is its own template', () => {
  const pod = helloPod();
  assert.deepEqual(podTemplatePaths(pod), { basePath: '', template: pod });
});

const unsupported: { name: string; obj: unknown }[] = [
  { name: 'a Service', obj: { kind: 'Service', spec: { template: {} } } },
  { name: 'an Integration', obj: { kind: 'Integration', spec: {} } },
  { name: 'no kind', obj: { spec: { template: {} } } },
  { name: 'a Deployment without template', obj: { kind: 'Deployment', spec: {} } },
  { name: 'a CronJob without jobTemplate', obj: { kind: 'CronJob', spec: { template: {} } } },
  { name: 'kind inherited from the prototype', obj: { kind: 'constructor' } },
  { name: 'not an object', obj: 'Pod' },
];

for (const c of unsupported) {
  test(`podTemplatePaths: undefined for ${c.name}`, () => {
    assert.equal(podTemplatePaths(c.obj), undefined);
  });
}
