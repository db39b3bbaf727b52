/**
 * Builds the webhook's CA and serving certificates. node-forge assembles the X.509 structure; the
 * keys and signatures come from node:crypto on the thread pool (keys.ts), so nothing here blocks
 * the event loop for more than the few microseconds forge needs to encode DER.
 */
import { X509Certificate, createPrivateKey, randomBytes } from 'node:crypto';
import { isIP } from 'node:net';
import forge from 'node-forge';
import { ServeError } from '../base/errors.js';
import { generateRsaKeyPair, signSha256Rsa } from './keys.js';

/** The longest validity accepted, in days: ten years is already longer than anyone should trust a key. */
export const MAX_VALIDITY_DAYS = 3650;
/** How far notBefore is back-dated: the apiserver's clock may run a little behind ours. */
export const CLOCK_SKEW_MS = 5 * 60 * 1000;
/** Kubernetes' default cluster domain, the last of the four Service names the serving cert carries. */
export const CLUSTER_DOMAIN = 'cluster.local';

const DAY_MS = 24 * 60 * 60 * 1000;
/** RFC 1123 label as Kubernetes validates Service and Namespace names. */
const DNS_LABEL = /^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/;
/** A DNS name made of RFC 1123 labels, optionally with a leading wildcard label. */
const DNS_NAME = /^(\*\.)?[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?(\.[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?)*$/;
/** X.520 ub-common-name: longer common names make the certificate unreadable to strict parsers. */
const MAX_COMMON_NAME_LENGTH = 64;
/** RFC 1035 limit on a name's length. */
const MAX_DNS_NAME_LENGTH = 253;

/** A certificate authority: its certificate and private key, both PEM. */
export interface CertificateAuthority {
  readonly certPem: string;
  readonly keyPem: string;
}

/** What the webhook serves and what clients trust: CA certificate, serving certificate and key (PEM). */
export interface CertBundle {
  /** The CA that signed `certPem`, first; after a rotation, followed by the previous CA (see trust.ts). */
  readonly caCertPem: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** Options of `generateCa`. */
export interface CaOptions {
  readonly commonName: string;
  readonly validityDays: number;
  /** Lifetime in ms instead of `validityDays` (self-managed rotation and its tests use short ones). */
  readonly lifetimeMs?: number;
  /** Clock for tests; defaults to the current time. */
  readonly now?: Date;
}

/** Options of `issueCert`: any names, for callers that are not a Kubernetes Service. */
export interface CertOptions {
  readonly commonName: string;
  readonly dnsNames: readonly string[];
  readonly ipAddresses?: readonly string[];
  readonly validityDays: number;
  /** Lifetime in ms instead of `validityDays`. */
  readonly lifetimeMs?: number;
  readonly now?: Date;
}

/** Options of `issueServingCert`. */
export interface ServingCertOptions {
  /** Name of the webhook's Service (an RFC 1123 label). */
  readonly service: string;
  /** Namespace of the Service (an RFC 1123 label). */
  readonly namespace: string;
  readonly validityDays: number;
  /** More DNS names to include after the four Service names, such as `localhost`. */
  readonly extraDnsNames?: readonly string[];
  /** IP addresses to include, such as `127.0.0.1`. */
  readonly ipAddresses?: readonly string[];
  /** Lifetime in ms instead of `validityDays`. */
  readonly lifetimeMs?: number;
  readonly now?: Date;
}

/** Returns the four names the apiserver may use for a Service, in the order they go into the SAN. */
export function serviceDnsNames(service: string, namespace: string): string[] {
  checkLabel('service', service);
  checkLabel('namespace', namespace);
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.${CLUSTER_DOMAIN}`];
}

/** Generates a self-signed CA (basicConstraints cA, keyCertSign) with a fresh RSA key. */
export async function generateCa(options: CaOptions): Promise<CertificateAuthority> {
  const lifetime = lifetimeOf(options);
  checkCommonName(options.commonName);
  const keys = await generateRsaKeyPair();
  const now = options.now ?? new Date();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  cert.validity.notAfter = new Date(now.getTime() + lifetime);
  const subject = [{ name: 'commonName', value: options.commonName }];
  cert.setSubject(subject);
  cert.setIssuer(subject);
  cert.setExtensions([
    // pathLenConstraint 0: this CA signs serving certificates only, never another CA.
    { name: 'basicConstraints', cA: true, pathLenConstraint: 0, critical: true },
    { name: 'keyUsage', keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    { name: 'subjectKeyIdentifier' },
  ]);
  const certPem = await signCertificate(cert, keys.privateKeyPem);
  return { certPem, keyPem: keys.privateKeyPem };
}

/** Issues a serving certificate for a Kubernetes Service, signed by `ca`; SANs are the four Service names, then the extras. */
export async function issueServingCert(ca: CertificateAuthority, options: ServingCertOptions): Promise<CertBundle> {
  const names = serviceDnsNames(options.service, options.namespace);
  return issueCert(ca, {
    commonName: servingCommonName(options.service, names[2]),
    dnsNames: [...names, ...(options.extraDnsNames ?? []).filter((n) => !names.includes(n))],
    ipAddresses: options.ipAddresses ?? [],
    validityDays: options.validityDays,
    ...(options.lifetimeMs === undefined ? {} : { lifetimeMs: options.lifetimeMs }),
    ...(options.now === undefined ? {} : { now: options.now }),
  });
}

/** NAME.NS.svc, the name the apiserver dials, when it fits the 64-character CN limit; clients only read the SAN. */
function servingCommonName(service: string, svcName: string | undefined): string {
  return svcName !== undefined && svcName.length <= MAX_COMMON_NAME_LENGTH ? svcName : service;
}

/** Issues a TLS server certificate (serverAuth) for the given names, signed by `ca`. */
export async function issueCert(ca: CertificateAuthority, options: CertOptions): Promise<CertBundle> {
  const lifetime = lifetimeOf(options);
  checkCommonName(options.commonName);
  if (options.dnsNames.length === 0 && (options.ipAddresses ?? []).length === 0) {
    throw new ServeError('CONFIG_INVALID', 'a serving certificate needs at least one DNS name or IP address');
  }
  for (const name of options.dnsNames) checkDnsName(name);
  for (const ip of options.ipAddresses ?? []) {
    if (isIP(ip) === 0) throw new ServeError('CONFIG_INVALID', `"${ip}" is not an IPv4 or IPv6 address`, { context: { ip } });
  }
  const caCert = parseCa(ca);
  const keys = await generateRsaKeyPair();
  const now = options.now ?? new Date();
  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKeyPem);
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = new Date(now.getTime() - CLOCK_SKEW_MS);
  // A certificate must not outlive its issuer: clients reject the chain from that moment anyway.
  const wanted = now.getTime() + lifetime;
  cert.validity.notAfter = new Date(Math.min(wanted, caCert.validity.notAfter.getTime()));
  cert.setSubject([{ name: 'commonName', value: options.commonName }]);
  cert.setIssuer(caCert.subject.attributes);
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...options.dnsNames.map((value) => ({ type: 2, value })), // dNSName
        ...(options.ipAddresses ?? []).map((ip) => ({ type: 7, ip })), // iPAddress
      ],
    },
    { name: 'subjectKeyIdentifier' },
    { name: 'authorityKeyIdentifier', keyIdentifier: authorityKeyId(caCert) },
  ]);
  const certPem = await signCertificate(cert, ca.keyPem);
  return { caCertPem: normalizePem(ca.certPem), certPem, keyPem: keys.privateKeyPem };
}

/** Signs a forge certificate with sha256WithRSA on the thread pool and returns its PEM. */
async function signCertificate(cert: forge.pki.Certificate, caKeyPem: string): Promise<string> {
  // forge's cert.sign() would run RSA in JavaScript on the event loop; this is the same sequence
  // (set the algorithm in both places, encode the TBSCertificate, sign its DER) with node:crypto.
  const oid = forge.pki.oids['sha256WithRSAEncryption'];
  if (oid === undefined) throw new ServeError('INTERNAL', 'node-forge lacks the sha256WithRSAEncryption OID');
  cert.signatureOid = oid;
  cert.siginfo.algorithmOid = oid;
  const tbs = forgeInternals().getTBSCertificate(cert);
  const der = Buffer.from(forge.asn1.toDer(tbs).getBytes(), 'binary');
  const signature = await signSha256Rsa(der, caKeyPem);
  cert.tbsCertificate = tbs;
  cert.signature = signature.toString('binary');
  return normalizePem(forge.pki.certificateToPem(cert));
}

/** forge functions its type declarations leave out. */
function forgeInternals(): { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 } {
  return forge.pki as unknown as { getTBSCertificate(cert: forge.pki.Certificate): forge.asn1.Asn1 };
}

/** Parses and checks a CA before it signs anything: a CA certificate whose key matches. */
function parseCa(ca: CertificateAuthority): forge.pki.Certificate {
  let x509: X509Certificate;
  try {
    x509 = new X509Certificate(ca.certPem);
  } catch (err) {
    throw new ServeError('CONFIG_INVALID', 'the CA certificate is not a readable PEM certificate', { cause: err });
  }
  if (!x509.ca) throw new ServeError('CONFIG_INVALID', `the CA certificate (${x509.subject}) is not a CA (basicConstraints cA is false)`);
  let keyMatches: boolean;
  try {
    keyMatches = x509.checkPrivateKey(createPrivateKey(ca.keyPem));
  } catch (err) {
    throw new ServeError('CONFIG_INVALID', 'the CA private key is not a readable PEM private key', { cause: err });
  }
  if (!keyMatches) throw new ServeError('CONFIG_INVALID', 'the CA private key does not belong to the CA certificate');
  try {
    return forge.pki.certificateFromPem(ca.certPem);
  } catch (err) {
    throw new ServeError('CONFIG_INVALID', 'the CA certificate must have an RSA key to sign with here', { cause: err });
  }
}

/** The CA's subjectKeyIdentifier bytes (from its extension when present, as RFC 5280 4.2.1.1 wants). */
function authorityKeyId(caCert: forge.pki.Certificate): string {
  const ext = caCert.getExtension('subjectKeyIdentifier') as { subjectKeyIdentifier?: string } | undefined;
  if (ext?.subjectKeyIdentifier !== undefined) return forge.util.hexToBytes(ext.subjectKeyIdentifier);
  return caCert.generateSubjectKeyIdentifier().getBytes();
}

/** 128 random bits as a positive DER INTEGER: top bit clear (positive), next bit set (no leading zero byte). */
function randomSerialHex(): string {
  const bytes = randomBytes(16);
  bytes[0] = ((bytes[0] ?? 0) & 0x7f) | 0x40;
  return bytes.toString('hex');
}

/** forge writes CRLF line ends; files, YAML and comparisons want LF and one trailing newline. */
function normalizePem(pem: string): string {
  return pem.replace(/\r\n/g, '\n').trimEnd() + '\n';
}

/** The lifetime in ms: `lifetimeMs` when given (1 s to the day limit), else the checked `validityDays`. */
function lifetimeOf(options: { validityDays: number; lifetimeMs?: number }): number {
  const ms = options.lifetimeMs;
  if (ms === undefined) {
    checkValidityDays(options.validityDays);
    return options.validityDays * DAY_MS;
  }
  if (!Number.isInteger(ms) || ms < 1000 || ms > MAX_VALIDITY_DAYS * DAY_MS) {
    throw new ServeError('CONFIG_INVALID', `a certificate lifetime must be 1 s to ${MAX_VALIDITY_DAYS} days in whole ms, got ${ms}`, {
      context: { lifetimeMs: ms },
    });
  }
  return ms;
}

function checkValidityDays(days: number): void {
  if (!Number.isInteger(days) || days < 1 || days > MAX_VALIDITY_DAYS) {
    throw new ServeError('CONFIG_INVALID', `validity must be a whole number of days from 1 to ${MAX_VALIDITY_DAYS}, got ${days}`, {
      context: { validityDays: days },
    });
  }
}

function checkCommonName(name: string): void {
  if (name.length === 0 || name.length > MAX_COMMON_NAME_LENGTH) {
    throw new ServeError('CONFIG_INVALID', `a certificate common name must be 1 to 64 characters, got "${name}"`);
  }
}

function checkLabel(what: string, value: string): void {
  if (!DNS_LABEL.test(value)) {
    throw new ServeError(
      'CONFIG_INVALID',
      `${what} "${value}" is not a valid Kubernetes name (lower-case letters, digits and '-', at most 63, starting and ending alphanumeric)`,
      { context: { [what]: value } },
    );
  }
}

function checkDnsName(name: string): void {
  if (name.length > MAX_DNS_NAME_LENGTH || !DNS_NAME.test(name)) {
    throw new ServeError('CONFIG_INVALID', `"${name}" is not a valid lower-case DNS name`, { context: { dnsName: name } });
  }
}
