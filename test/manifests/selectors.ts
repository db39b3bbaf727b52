/**
 * What the apiserver does to decide whether an admission webhook is called: label selectors
 * (matchLabels + matchExpressions, as in apimachinery's LabelSelectorAsSelector) and webhook rules.
 * A test helper for the manifests: it lets tests ask "would this pod in this namespace reach the
 * webhook?" of the rendered MutatingWebhookConfiguration.
 */

/** A metav1.LabelSelector. */
export interface LabelSelector {
  readonly matchLabels?: Readonly<Record<string, string>>;
  readonly matchExpressions?: readonly LabelSelectorRequirement[];
}

/** One matchExpressions entry. */
export interface LabelSelectorRequirement {
  readonly key: string;
  readonly operator: string;
  readonly values?: readonly string[];
}

/** A labels map (absent means no labels). */
export type Labels = Readonly<Record<string, string>> | undefined;

/**
 * True when `labels` satisfy `selector`; an absent or empty selector matches everything (what the
 * apiserver defaults a webhook's namespaceSelector and objectSelector to). Throws on a selector the
 * apiserver would reject (unknown operator, values given to Exists, none to In), so a broken
 * manifest cannot pass by matching nothing.
 */
export function matchesLabelSelector(selector: LabelSelector | null | undefined, labels: Labels): boolean {
  if (selector === null || selector === undefined) return true;
  const have = labels ?? {};
  const requirements: LabelSelectorRequirement[] = Object.entries(selector.matchLabels ?? {}).map(([key, value]) => ({
    key,
    operator: 'In',
    values: [value],
  }));
  requirements.push(...(selector.matchExpressions ?? []));
  return requirements.every((r) => requirementMatches(r, have));
}

function requirementMatches(r: LabelSelectorRequirement, labels: Readonly<Record<string, string>>): boolean {
  const values = r.values ?? [];
  const present = Object.hasOwn(labels, r.key);
  switch (r.operator) {
    case 'In':
      if (values.length === 0) throw new Error(`selector ${r.key} In needs values`);
      return present && values.includes(labels[r.key]!);
    case 'NotIn':
      if (values.length === 0) throw new Error(`selector ${r.key} NotIn needs values`);
      // An absent key satisfies NotIn (apimachinery: "the key does not exist, or its value is not in the set").
      return !present || !values.includes(labels[r.key]!);
    case 'Exists':
      if (values.length > 0) throw new Error(`selector ${r.key} Exists takes no values`);
      return present;
    case 'DoesNotExist':
      if (values.length > 0) throw new Error(`selector ${r.key} DoesNotExist takes no values`);
      return !present;
    default:
      throw new Error(`selector ${r.key}: unknown operator ${JSON.stringify(r.operator)}`);
  }
}

/** A RuleWithOperations of a webhook. */
export interface WebhookRule {
  readonly operations?: readonly string[];
  readonly apiGroups?: readonly string[];
  readonly apiVersions?: readonly string[];
  readonly resources?: readonly string[];
  readonly scope?: string;
}

/** The parts of a webhook entry that decide whether it is called. */
export interface WebhookSelection {
  readonly rules?: readonly WebhookRule[];
  readonly namespaceSelector?: LabelSelector;
  readonly objectSelector?: LabelSelector;
}

/** An admission request as far as webhook selection is concerned. */
export interface AdmissionAttributes {
  readonly operation: 'CREATE' | 'UPDATE' | 'DELETE' | 'CONNECT';
  readonly group: string;
  readonly version: string;
  readonly resource: string;
  readonly subresource?: string;
  /** Labels of the request's namespace (as stored: including kubernetes.io/metadata.name). */
  readonly namespaceLabels: Labels;
  /** Labels of the object being admitted. */
  readonly objectLabels: Labels;
}

/**
 * True when a rule covers the request, as the apiserver reads resources: a name or `*` (every
 * resource, but no subresource); `pods/binding`, `pods/` + `*` and `*` + `/binding` for
 * subresources; `*` + `/` + `*` for everything.
 */
export function ruleMatches(rule: WebhookRule, a: AdmissionAttributes): boolean {
  const has = (list: readonly string[] | undefined, v: string): boolean => (list ?? []).some((x) => x === '*' || x === v);
  const resourceOk = (rule.resources ?? []).some((r) => {
    if (r === '*/*') return true;
    if (a.subresource === undefined) return r === '*' || r === a.resource;
    return r === `${a.resource}/${a.subresource}` || r === `${a.resource}/*` || r === `*/${a.subresource}`;
  });
  const scopeOk = rule.scope === undefined || rule.scope === '*' || rule.scope === 'Namespaced';
  return has(rule.operations, a.operation) && has(rule.apiGroups, a.group) && has(rule.apiVersions, a.version) && resourceOk && scopeOk;
}

/** True when the apiserver would call this webhook for a namespaced request. */
export function webhookCalled(webhook: WebhookSelection, a: AdmissionAttributes): boolean {
  return (
    (webhook.rules ?? []).some((r) => ruleMatches(r, a)) &&
    matchesLabelSelector(webhook.namespaceSelector, a.namespaceLabels) &&
    matchesLabelSelector(webhook.objectSelector, a.objectLabels)
  );
}

/** The labels the apiserver stores on a namespace: the given ones plus `kubernetes.io/metadata.name`. */
export function storedNamespaceLabels(name: string, labels: Labels = {}): Record<string, string> {
  // Since Kubernetes 1.21 the apiserver sets (and overwrites) this label on every namespace.
  return { ...labels, 'kubernetes.io/metadata.name': name };
}
