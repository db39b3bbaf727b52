/**
 * Metrics of the self-managed certificates, on the webhook's registry: the served certificate's
 * expiry (alert when it comes near: rotation should have happened long before), rotations by kind,
 * and caBundle repairs (a non-zero rate means something keeps overwriting the bundle).
 */
import { Counter, Gauge, type Registry } from 'prom-client';

/** Kinds of Secret change counted as rotations. */
export const ROTATION_KINDS = ['create', 'replace', 'rotate-serving', 'introduce-ca', 'promote-ca', 'retire-ca'] as const;

/** The recording side; matches the loop's structural CertificateLifecycleMetrics. */
export interface CertificateMetrics {
  servingExpiry(epochSeconds: number): void;
  rotation(kind: (typeof ROTATION_KINDS)[number]): void;
  bundleRepair(): void;
}

/**
 * Registers only the serving certificate's expiry gauge on `registry` (certificates from files,
 * where nothing rotates) and returns its setter, in Unix seconds.
 */
export function createServingExpiryGauge(registry: Registry): (epochSeconds: number) => void {
  const expiry = new Gauge({
    name: 'camel_oci_serving_certificate_expiry_timestamp_seconds',
    help: 'Expiry (notAfter) of the serving certificate in use, Unix seconds.',
    registers: [registry],
  });
  return (s) => expiry.set(s);
}

/** Registers the certificate metrics on `registry`. */
export function createCertificateMetrics(registry: Registry): CertificateMetrics {
  const servingExpiry = createServingExpiryGauge(registry);
  const rotations = new Counter({
    name: 'camel_oci_certificate_rotations_total',
    help: 'Changes of the TLS Secret written by this replica, by kind (create, replace, rotate-serving, introduce-ca, promote-ca, retire-ca).',
    labelNames: ['kind'] as const,
    registers: [registry],
  });
  const repairs = new Counter({
    name: 'camel_oci_ca_bundle_repairs_total',
    help: 'Times this replica found a caBundle of the webhook configuration not matching the TLS Secret and patched it.',
    registers: [registry],
  });
  for (const k of ROTATION_KINDS) rotations.labels(k).inc(0);
  repairs.inc(0);
  return {
    servingExpiry,
    rotation: (kind) => rotations.labels(kind).inc(),
    bundleRepair: () => repairs.inc(),
  };
}
