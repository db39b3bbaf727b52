import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { version } from '../../src/base/version.js';
import { ADMISSION_REASONS, MAX_REGISTRY_LABELS, OTHER_LABEL, admissionReasonLabel, createMetrics } from '../../src/webhook/metrics.js';

/** The value of one sample line `name{labels} value` in exposition text, or undefined. */
function sample(text: string, series: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.slice(series.length + 1));
}

describe('createMetrics', () => {
  it('counts admissions by outcome and observes their duration', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.admission('patched', 0.0004);
    m.admission('patched', 0.002);
    m.admission('denied', 1.2);
    const text = await m.text();
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="patched",kind="Pod",reason="none"}'), 2);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="denied",kind="Pod",reason="none"}'), 1);
    // Every outcome series exists from the start, so rate() works before the first occurrence.
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="errored",kind="Pod",reason="none"}'), 0);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="skipped",kind="Pod",reason="skip"}'), 0);
    assert.equal(sample(text, 'camel_oci_admission_duration_seconds_count{kind="Pod"}'), 3);
    // A sub-millisecond bucket exists and caught the warm answer.
    assert.equal(sample(text, 'camel_oci_admission_duration_seconds_bucket{le="0.0005",kind="Pod"}'), 1);
    assert.equal(sample(text, 'camel_oci_admission_duration_seconds_bucket{le="10",kind="Pod"}'), 3);
  });

  it('labels admissions by kind of object, and counts unknown kinds as other', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.admission('patched', 0.01, 'Integration');
    m.admission('patched', 0.01, 'Pipe');
    m.admission('skipped', 0.01, 'Pipe');
    m.admission('skipped', 0.01, 'Deployment');
    const text = await m.text();
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="patched",kind="Integration",reason="none"}'), 1);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="patched",kind="Pipe",reason="none"}'), 1);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="skipped",kind="other",reason="skip"}'), 1);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="patched",kind="Pod",reason="none"}'), 0);
    assert.equal(sample(text, 'camel_oci_admission_duration_seconds_count{kind="Pipe"}'), 2);
    assert.doesNotMatch(text, /kind="Deployment"/);
  });

  it('records registry requests and cache lookups for the resolver', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.registryRequest('127.0.0.1:5000', 200);
    m.registryRequest('127.0.0.1:5000', 200);
    m.registryRequest('registry-1.docker.io', 'TIMEOUT');
    m.cacheLookup('manifest', 'hit');
    m.cacheLookup('manifest', 'stale');
    m.cacheLookup('tag', 'miss');
    const text = await m.text();
    assert.equal(sample(text, 'camel_oci_registry_requests_total{registry="127.0.0.1:5000",code="200"}'), 2);
    // An error code where a status belongs is a request without an answer.
    assert.equal(sample(text, 'camel_oci_registry_requests_total{registry="registry-1.docker.io",code="none"}'), 1);
    assert.equal(sample(text, 'camel_oci_registry_request_errors_total{registry="registry-1.docker.io",error="TIMEOUT"}'), 1);
    assert.equal(sample(text, 'camel_oci_cache_lookups_total{cache="manifest",result="hit"}'), 1);
    assert.equal(sample(text, 'camel_oci_cache_lookups_total{cache="manifest",result="stale"}'), 1);
    assert.equal(sample(text, 'camel_oci_cache_lookups_total{cache="tag",result="miss"}'), 1);
  });

  it('bounds the registry label: pods naming endless hosts cannot grow the series set without end', async () => {
    const m = createMetrics({ defaultMetrics: false });
    for (let i = 0; i < 500; i++) m.registryRequest(`r${i}.example.test`, 404);
    m.registryRequest('bad host"with\nquotes', 500);
    const text = await m.text();
    const series = text.split('\n').filter((l) => l.startsWith('camel_oci_registry_requests_total{'));
    assert.ok(series.length <= MAX_REGISTRY_LABELS + 2, `${series.length} series`);
    assert.ok((sample(text, `camel_oci_registry_requests_total{registry="${OTHER_LABEL}",code="404"}`) ?? 0) >= 500 - MAX_REGISTRY_LABELS);
    assert.equal(sample(text, `camel_oci_registry_requests_total{registry="${OTHER_LABEL}",code="500"}`), 1);
  });

  it('uses its own registry, so two instances do not collide and the global registry stays empty', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.admission('allowed', 0.001);
    assert.equal(sample(await b.text(), 'camel_oci_admissions_total{outcome="allowed",kind="Pod",reason="none"}'), 0);
    assert.equal((await globalRegistry.metrics()).includes('camel_oci_'), false);
  });

  it('includes default process metrics unless told not to', async () => {
    const withDefaults = createMetrics();
    assert.match(await withDefaults.text(), /^process_cpu_user_seconds_total /m);
    assert.doesNotMatch(await createMetrics({ defaultMetrics: false }).text(), /process_cpu_user_seconds_total/);
    assert.match(withDefaults.contentType, /^text\/plain/);
  });

  it('counts requests refused before they were admissions', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.invalidRequest(415);
    assert.equal(sample(await m.text(), 'camel_oci_invalid_requests_total{code="415"}'), 1);
  });

  it('counts registry requests that got no answer, so a registry that is down is visible', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.registryNoResponse('registry.example.com', 'UNAVAILABLE');
    m.registryNoResponse('registry.example.com', 'UNAVAILABLE');
    m.registryNoResponse('registry.example.com', 'TLS_ERROR');
    m.registryNoResponse('registry.example.com', 'made up\n"text');
    const text = await m.text();
    assert.equal(sample(text, 'camel_oci_registry_requests_total{registry="registry.example.com",code="none"}'), 4);
    assert.equal(sample(text, 'camel_oci_registry_request_errors_total{registry="registry.example.com",error="UNAVAILABLE"}'), 2);
    assert.equal(sample(text, 'camel_oci_registry_request_errors_total{registry="registry.example.com",error="TLS_ERROR"}'), 1);
    assert.equal(sample(text, `camel_oci_registry_request_errors_total{registry="registry.example.com",error="${OTHER_LABEL}"}`), 1);
  });

  it('counts failed registry sources by host, role and a stable code', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.registrySourceFailure('mirror.example.com', true, 'DIGEST_MISMATCH');
    m.registrySourceFailure('mirror.example.com', true, 'DIGEST_MISMATCH');
    m.registrySourceFailure('registry.example.com', false, 'not a code');
    const text = await m.text();
    assert.equal(
      sample(text, 'camel_oci_registry_source_failures_total{registry="mirror.example.com",source="mirror",code="DIGEST_MISMATCH"}'),
      2,
    );
    assert.equal(
      sample(text, `camel_oci_registry_source_failures_total{registry="registry.example.com",source="upstream",code="${OTHER_LABEL}"}`),
      1,
    );
  });

  it('labels admissions with a reason from a closed set', async () => {
    const m = createMetrics({ defaultMetrics: false });
    m.admission('skipped', 0.001, 'Pod', 'no camel.apache.org/container-dependencies annotation');
    m.admission('denied', 0.001, 'Pod', 'MANIFEST_UNKNOWN');
    m.admission('allowed', 0.001, 'Pod', 'TIMEOUT');
    m.admission('patched', 0.001, 'Integration', 'pins reused from the Integration');
    m.admission('denied', 0.001, 'Pod', 'attacker-chosen text 1234');
    const text = await m.text();
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="skipped",kind="Pod",reason="skip"}'), 1);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="denied",kind="Pod",reason="MANIFEST_UNKNOWN"}'), 1);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="allowed",kind="Pod",reason="TIMEOUT"}'), 1);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="patched",kind="Integration",reason="pins-reused"}'), 1);
    assert.equal(sample(text, `camel_oci_admissions_total{outcome="denied",kind="Pod",reason="${OTHER_LABEL}"}`), 1);
    const reasons = new Set([...text.matchAll(/reason="([^"]*)"/g)].map((r) => r[1]));
    for (const r of reasons) assert.ok(ADMISSION_REASONS.includes(r!), r);
  });

  it('maps every answer reason onto the closed vocabulary', () => {
    const cases: [Parameters<typeof admissionReasonLabel>[0], string | undefined, string][] = [
      ['patched', undefined, 'none'],
      ['skipped', 'not a Pod CREATE', 'skip'],
      ['skipped', undefined, 'skip'],
      ['denied', 'NO_OBJECT', 'NO_OBJECT'],
      ['errored', 'INTERNAL', 'INTERNAL'],
      ['denied', 'POLICY_DENIED', 'POLICY_DENIED'],
      ['denied', 'something else', OTHER_LABEL],
    ];
    for (const [outcome, reason, want] of cases) assert.equal(admissionReasonLabel(outcome, reason), want, `${outcome}/${String(reason)}`);
  });

  it('exposes camel_oci_build_info with the version and the Node.js version', async () => {
    const text = await createMetrics({ defaultMetrics: false }).text();
    assert.equal(sample(text, `camel_oci_build_info{version="${version()}",node="${process.versions.node}"}`), 1);
    assert.match(text, /^# TYPE camel_oci_build_info gauge$/m);
  });
});
