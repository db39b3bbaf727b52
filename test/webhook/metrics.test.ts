import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { register as globalRegistry } from 'prom-client';
import { MAX_REGISTRY_LABELS, OTHER_LABEL, createMetrics } from '../../src/webhook/metrics.js';

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
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="patched",kind="Pod"}'), 2);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="denied",kind="Pod"}'), 1);
    // Every outcome series exists from the start, so rate() works before the first occurrence.
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="errored",kind="Pod"}'), 0);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="skipped",kind="Pod"}'), 0);
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
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="patched",kind="Integration"}'), 1);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="patched",kind="Pipe"}'), 1);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="skipped",kind="other"}'), 1);
    assert.equal(sample(text, 'camel_oci_admissions_total{outcome="patched",kind="Pod"}'), 0);
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
    assert.equal(sample(text, 'camel_oci_registry_requests_total{registry="127.0.0.1:5000",status="200"}'), 2);
    assert.equal(sample(text, 'camel_oci_registry_requests_total{registry="registry-1.docker.io",status="TIMEOUT"}'), 1);
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
    assert.ok(
      (sample(text, `camel_oci_registry_requests_total{registry="${OTHER_LABEL}",status="404"}`) ?? 0) >= 500 - MAX_REGISTRY_LABELS,
    );
    assert.equal(sample(text, `camel_oci_registry_requests_total{registry="${OTHER_LABEL}",status="500"}`), 1);
  });

  it('uses its own registry, so two instances do not collide and the global registry stays empty', async () => {
    const a = createMetrics({ defaultMetrics: false });
    const b = createMetrics({ defaultMetrics: false });
    a.admission('allowed', 0.001);
    assert.equal(sample(await b.text(), 'camel_oci_admissions_total{outcome="allowed",kind="Pod"}'), 0);
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
    assert.equal(sample(await m.text(), 'camel_oci_invalid_requests_total{status="415"}'), 1);
  });
});
