/**
 * Carries out a lifecycle decision (lifecycle.ts): makes the new CA or serving certificate and
 * returns the Secret's next contents. Keys and signatures run on the thread pool (keys.ts), so a
 * replica keeps answering while it generates. No I/O.
 */
import { X509Certificate } from 'node:crypto';
import { ServeError } from '../base/errors.js';
import { CA_COMMON_NAME } from './defaults.js';
import { MAX_TRUST_SET, signedBy, type LifecycleAction, type ManagedSecretData } from './lifecycle.js';
import { distinctCertificates, splitPemCertificates } from './trust.js';
import { generateCa, issueServingCert, type CertificateAuthority } from './x509.js';

/** What a serving certificate is issued for, and how long certificates live. */
export interface IssuePolicy {
  readonly service: string;
  readonly namespace: string;
  readonly caLifetimeMs: number;
  readonly servingLifetimeMs: number;
}

/**
 * Returns the Secret contents after `action` (which must not be `none`). Certificates are dated
 * `at`, or, when absent, the moment after their key was generated. `trustedNow`: the CAs (PEM)
 * every webhook entry's caBundle holds now; a new CA (`create`, `replace`) keeps those of them that
 * replicas may still serve a certificate of, so that replicas that have not re-read the Secret yet
 * stay verifiable until rule 3 retires them (an operator who deletes the Secret to force a
 * rotation must not cut off the other replicas for a re-check period).
 */
export async function applyLifecycleAction(
  secret: ManagedSecretData | undefined,
  action: LifecycleAction,
  at: Date | undefined,
  policy: IssuePolicy,
  trustedNow: readonly string[] = [],
): Promise<ManagedSecretData> {
  const dated = at === undefined ? {} : { now: at };
  const now = at ?? new Date();
  const newCa = (): Promise<CertificateAuthority> =>
    generateCa({ commonName: CA_COMMON_NAME, validityDays: 1, lifetimeMs: policy.caLifetimeMs, ...dated });
  const serve = async (ca: CertificateAuthority): Promise<{ certPem: string; keyPem: string }> => {
    const b = await issueServingCert(ca, {
      service: policy.service,
      namespace: policy.namespace,
      validityDays: 1,
      lifetimeMs: policy.servingLifetimeMs,
      ...dated,
    });
    return { certPem: b.certPem, keyPem: b.keyPem };
  };
  const trust = splitPemCertificates(secret?.caCertPem ?? '');
  const [signing, ...rest] = trust;
  switch (action) {
    case 'create':
    case 'replace': {
      // The CA that signed what replicas may still serve stays trusted until retired (rule 3): from
      // the Secret's trust set, the one that signed its certificate; from the bundle, with no
      // Secret to say what replicas serve (it was deleted), every valid CA it holds.
      const ca = await newCa();
      const servedPem = secret?.certPem;
      const old = [...trust, ...trustedNow].filter((pem) => stillTrustable(pem, servedPem, now));
      return {
        ...(await serve(ca)),
        caCertPem: [ca.certPem, ...distinctCertificates(old).slice(0, MAX_TRUST_SET - 1)].join(''),
        caKeyPem: ca.keyPem,
      };
    }
    case 'rotate-serving': {
      if (signing === undefined || secret?.caKeyPem === undefined) throw new ServeError('INTERNAL', 'rotate-serving needs a signing CA');
      const nextFields = pick(secret, 'nextCaCertPem', 'nextCaKeyPem');
      return {
        ...(await serve({ certPem: signing, keyPem: secret.caKeyPem })),
        caCertPem: secret.caCertPem!,
        caKeyPem: secret.caKeyPem,
        ...nextFields,
      };
    }
    case 'introduce-ca': {
      if (signing === undefined || secret === undefined) throw new ServeError('INTERNAL', 'introduce-ca needs a signing CA');
      const next = await newCa();
      const others = rest.filter((pem) => pem !== secret.nextCaCertPem);
      return {
        ...pick(secret, 'certPem', 'keyPem', 'caKeyPem'),
        caCertPem: [signing, next.certPem, ...others].slice(0, MAX_TRUST_SET).join(''),
        nextCaCertPem: next.certPem,
        nextCaKeyPem: next.keyPem,
      };
    }
    case 'promote-ca': {
      if (signing === undefined || secret?.nextCaCertPem === undefined || secret.nextCaKeyPem === undefined) {
        throw new ServeError('INTERNAL', 'promote-ca needs a next CA');
      }
      const [nextPem] = splitPemCertificates(secret.nextCaCertPem);
      const ca = { certPem: nextPem ?? secret.nextCaCertPem, keyPem: secret.nextCaKeyPem };
      // The old signing CA stays second: replicas serve its certificate until they re-read.
      return { ...(await serve(ca)), caCertPem: [ca.certPem, signing].join(''), caKeyPem: ca.keyPem };
    }
    case 'retire-ca': {
      if (signing === undefined || secret === undefined) throw new ServeError('INTERNAL', 'retire-ca needs a signing CA');
      const keep = [signing, ...(secret.nextCaCertPem === undefined ? [] : splitPemCertificates(secret.nextCaCertPem))];
      return { ...pick(secret, 'certPem', 'keyPem', 'caKeyPem', 'nextCaCertPem', 'nextCaKeyPem'), caCertPem: keep.join('') };
    }
    case 'none':
      throw new ServeError('INTERNAL', 'nothing to apply');
  }
}

/**
 * A CA of the old trust set worth keeping: a valid CA that signed the certificate replicas serve,
 * or any valid CA when there is no such certificate to check against.
 */
function stillTrustable(caPem: string, servedPem: string | undefined, now: Date): boolean {
  try {
    const ca = new X509Certificate(caPem);
    if (!ca.ca || new Date(ca.validTo).getTime() <= now.getTime()) return false;
    return servedPem === undefined || signedBy(new X509Certificate(servedPem), ca);
  } catch {
    return false;
  }
}

function pick<K extends keyof ManagedSecretData>(s: ManagedSecretData, ...keys: K[]): Pick<ManagedSecretData, K> {
  const out: Partial<ManagedSecretData> = {};
  for (const k of keys) if (s[k] !== undefined) (out as Record<string, unknown>)[k] = s[k];
  return out as Pick<ManagedSecretData, K>;
}
