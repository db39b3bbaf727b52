import assert from 'node:assert/strict';
import { test } from 'node:test';
import { matchesLabelSelector, ruleMatches, storedNamespaceLabels } from './selectors.js';
import type { AdmissionAttributes, LabelSelector, Labels } from './selectors.js';

/** apimachinery label selector semantics: matchLabels and every expression must hold. */
const SELECTOR_CASES: readonly { name: string; selector: LabelSelector | undefined; labels: Labels; matches: boolean }[] = [
  { name: 'absent selector matches everything', selector: undefined, labels: undefined, matches: true },
  { name: 'empty selector matches everything', selector: {}, labels: { a: '1' }, matches: true },
  { name: 'matchLabels equal', selector: { matchLabels: { a: '1' } }, labels: { a: '1', b: '2' }, matches: true },
  { name: 'matchLabels other value', selector: { matchLabels: { a: '1' } }, labels: { a: '2' }, matches: false },
  { name: 'matchLabels missing key', selector: { matchLabels: { a: '1' } }, labels: { b: '1' }, matches: false },
  { name: 'matchLabels with no labels', selector: { matchLabels: { a: '1' } }, labels: undefined, matches: false },
  {
    name: 'In: value listed',
    selector: { matchExpressions: [{ key: 'a', operator: 'In', values: ['1', '2'] }] },
    labels: { a: '2' },
    matches: true,
  },
  {
    name: 'In: value not listed',
    selector: { matchExpressions: [{ key: 'a', operator: 'In', values: ['1'] }] },
    labels: { a: '3' },
    matches: false,
  },
  { name: 'In: key absent', selector: { matchExpressions: [{ key: 'a', operator: 'In', values: ['1'] }] }, labels: {}, matches: false },
  {
    name: 'NotIn: value listed',
    selector: { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] },
    labels: { a: '1' },
    matches: false,
  },
  {
    name: 'NotIn: other value',
    selector: { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] },
    labels: { a: '2' },
    matches: true,
  },
  {
    name: 'NotIn: key absent matches',
    selector: { matchExpressions: [{ key: 'a', operator: 'NotIn', values: ['1'] }] },
    labels: {},
    matches: true,
  },
  {
    name: 'Exists: present (even empty)',
    selector: { matchExpressions: [{ key: 'a', operator: 'Exists' }] },
    labels: { a: '' },
    matches: true,
  },
  { name: 'Exists: absent', selector: { matchExpressions: [{ key: 'a', operator: 'Exists' }] }, labels: { b: '1' }, matches: false },
  {
    name: 'DoesNotExist: absent',
    selector: { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] },
    labels: { b: '1' },
    matches: true,
  },
  {
    name: 'DoesNotExist: present',
    selector: { matchExpressions: [{ key: 'a', operator: 'DoesNotExist' }] },
    labels: { a: '1' },
    matches: false,
  },
  {
    name: 'matchLabels and expressions are ANDed',
    selector: { matchLabels: { a: '1' }, matchExpressions: [{ key: 'b', operator: 'Exists' }] },
    labels: { a: '1' },
    matches: false,
  },
  {
    name: 'a key inherited from Object.prototype is not a label',
    selector: { matchExpressions: [{ key: 'toString', operator: 'Exists' }] },
    labels: {},
    matches: false,
  },
];

for (const c of SELECTOR_CASES) {
  test(`label selector: ${c.name}`, () => {
    assert.equal(matchesLabelSelector(c.selector, c.labels), c.matches);
  });
}

test('label selector: selectors the apiserver rejects throw rather than quietly match or not', () => {
  assert.throws(
    () => matchesLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Equals', values: ['1'] }] }, { a: '1' }),
    /unknown operator/,
  );
  assert.throws(() => matchesLabelSelector({ matchExpressions: [{ key: 'a', operator: 'In', values: [] }] }, { a: '1' }), /needs values/);
  assert.throws(
    () => matchesLabelSelector({ matchExpressions: [{ key: 'a', operator: 'Exists', values: ['1'] }] }, { a: '1' }),
    /takes no values/,
  );
});

test('namespaces carry kubernetes.io/metadata.name, which cannot be spoofed by a label of the same key', () => {
  assert.deepEqual(storedNamespaceLabels('demo', { 'kubernetes.io/metadata.name': 'camel-oci', x: 'y' }), {
    'kubernetes.io/metadata.name': 'demo',
    x: 'y',
  });
});

const POD_CREATE: AdmissionAttributes = {
  operation: 'CREATE',
  group: '',
  version: 'v1',
  resource: 'pods',
  namespaceLabels: {},
  objectLabels: {},
};

/** Webhook rule matching: operation, group, version, resource (with subresources) and scope. */
const RULE_CASES: readonly { name: string; rule: Parameters<typeof ruleMatches>[0]; request: AdmissionAttributes; matches: boolean }[] = [
  {
    name: 'exact',
    rule: { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] },
    request: POD_CREATE,
    matches: true,
  },
  {
    name: 'wildcards',
    rule: { operations: ['*'], apiGroups: ['*'], apiVersions: ['*'], resources: ['*'] },
    request: POD_CREATE,
    matches: true,
  },
  {
    name: 'other operation',
    rule: { operations: ['UPDATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] },
    request: POD_CREATE,
    matches: false,
  },
  {
    name: 'other group',
    rule: { operations: ['CREATE'], apiGroups: ['apps'], apiVersions: ['v1'], resources: ['pods'] },
    request: POD_CREATE,
    matches: false,
  },
  {
    name: 'pods does not cover pods/binding',
    rule: { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'] },
    request: { ...POD_CREATE, subresource: 'binding' },
    matches: false,
  },
  {
    name: 'pods/* covers pods/binding',
    rule: { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods/*'] },
    request: { ...POD_CREATE, subresource: 'binding' },
    matches: true,
  },
  {
    name: '* does not cover subresources',
    rule: { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['*'] },
    request: { ...POD_CREATE, subresource: 'eviction' },
    matches: false,
  },
  {
    name: 'Cluster scope excludes pods',
    rule: { operations: ['CREATE'], apiGroups: [''], apiVersions: ['v1'], resources: ['pods'], scope: 'Cluster' },
    request: POD_CREATE,
    matches: false,
  },
  { name: 'empty lists match nothing', rule: {}, request: POD_CREATE, matches: false },
];

for (const c of RULE_CASES) {
  test(`webhook rule: ${c.name}`, () => {
    assert.equal(ruleMatches(c.rule, c.request), c.matches);
  });
}
