/**
 * A throw-away certificate authority for tests: a CA, server certificates for 127.0.0.1 and
 * localhost, and self-signed signing certificates (the token issuer's JWT key). Made with the
 * `openssl` CLI and ECDSA P-256 keys, which take a few milliseconds each.
 */
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';

const execFileAsync = promisify(execFile);

/** How long generated certificates are valid; a test run is far shorter, and expiry stays testable. */
export const CERT_VALIDITY_DAYS = 2;
/** Bound on one openssl run; key generation and signing take milliseconds. */
const OPENSSL_TIMEOUT_MS = 15_000;

/** A test CA: where its files are and their PEM text. */
export interface TestCa {
  readonly dir: string;
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** A certificate and its private key, as files and as PEM text. */
export interface CertAndKey {
  readonly certFile: string;
  readonly keyFile: string;
  readonly certPem: string;
  readonly keyPem: string;
}

/** What a server certificate is for: DNS names and IP addresses in its subjectAltName. */
export interface ServerCertOptions {
  /** DNS names besides `localhost` (always included). */
  readonly dnsNames?: readonly string[];
  /** IP addresses besides `127.0.0.1` (always included). */
  readonly ips?: readonly string[];
  /** File name stem inside the CA's directory; defaults to `server`, then `server-2`, ... */
  readonly name?: string;
}

async function openssl(args: readonly string[], cwd: string): Promise<void> {
  try {
    await execFileAsync('openssl', [...args], { cwd, timeout: OPENSSL_TIMEOUT_MS });
  } catch (err) {
    const stderr = (err as { stderr?: string }).stderr ?? '';
    throw new Error(`openssl ${args[0] ?? ''} failed: ${stderr.trim() || String(err)}`, { cause: err });
  }
}

// Our own config so the system openssl.cnf (its default x509 extensions in particular) does not
// leak into the certificates: Go (skopeo, the registry) and Node both read these.
const CA_CONFIG = `[req]
distinguished_name = dn
x509_extensions = v3_ca
prompt = no
[dn]
CN = camel-oci test CA
[v3_ca]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
`;

function serverConfig(dnsNames: readonly string[], ips: readonly string[]): string {
  const san = [...dnsNames.map((d) => `DNS:${d}`), ...ips.map((ip) => `IP:${ip}`)].join(', ');
  return `[req]
distinguished_name = dn
x509_extensions = v3_server
prompt = no
[dn]
CN = ${dnsNames[0] ?? ips[0] ?? 'localhost'}
[v3_server]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = ${san}
authorityKeyIdentifier = keyid
subjectKeyIdentifier = hash
`;
}

function signerConfig(commonName: string): string {
  return `[req]
distinguished_name = dn
x509_extensions = v3_signer
prompt = no
[dn]
CN = ${commonName}
[v3_signer]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
subjectKeyIdentifier = hash
`;
}

const EC_KEY_ARGS = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'] as const;

function serial(): string {
  // Positive 63-bit serial: unique per certificate so no client caches one cert for another.
  return '0x' + (randomBytes(8).readBigUInt64BE() >> 1n).toString(16);
}

async function readPair(certFile: string, keyFile: string): Promise<CertAndKey> {
  const [certPem, keyPem] = await Promise.all([readFile(certFile, 'utf8'), readFile(keyFile, 'utf8')]);
  return { certFile, keyFile, certPem, keyPem };
}

/** Creates a CA (`ca.crt`, `ca.key`) in `dir`, an existing directory the caller cleans up. */
export async function makeTestCa(dir: string): Promise<TestCa> {
  const configFile = path.join(dir, 'ca.cnf');
  await writeFile(configFile, CA_CONFIG);
  await openssl(
    [
      'req',
      '-x509',
      ...EC_KEY_ARGS,
      '-config',
      configFile,
      '-days',
      String(CERT_VALIDITY_DAYS),
      '-set_serial',
      serial(),
      '-keyout',
      'ca.key',
      '-out',
      'ca.crt',
    ],
    dir,
  );
  const pair = await readPair(path.join(dir, 'ca.crt'), path.join(dir, 'ca.key'));
  return { dir, ...pair };
}

const usedNames = new WeakMap<TestCa, Set<string>>();

function pickName(ca: TestCa, wanted: string | undefined): string {
  let used = usedNames.get(ca);
  if (used === undefined) {
    used = new Set();
    usedNames.set(ca, used);
  }
  let name = wanted ?? 'server';
  for (let i = 2; used.has(name); i++) name = `${wanted ?? 'server'}-${i}`;
  used.add(name);
  return name;
}

/**
 * Issues a server certificate signed by `ca` for 127.0.0.1 (IP SAN), `localhost` and any extra
 * names, written as `<name>.crt` / `<name>.key` beside the CA.
 */
export async function issueServerCert(ca: TestCa, options: ServerCertOptions = {}): Promise<CertAndKey> {
  const name = pickName(ca, options.name);
  const dnsNames = ['localhost', ...(options.dnsNames ?? []).filter((d) => d !== 'localhost')];
  const ips = ['127.0.0.1', ...(options.ips ?? []).filter((ip) => ip !== '127.0.0.1')];
  const configFile = path.join(ca.dir, `${name}.cnf`);
  await writeFile(configFile, serverConfig(dnsNames, ips));
  // `req -x509 -CA` (OpenSSL 3) makes and signs the certificate in one process.
  await openssl(
    [
      'req',
      '-x509',
      ...EC_KEY_ARGS,
      '-config',
      configFile,
      '-CA',
      ca.certFile,
      '-CAkey',
      ca.keyFile,
      '-days',
      String(CERT_VALIDITY_DAYS),
      '-set_serial',
      serial(),
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    ],
    ca.dir,
  );
  return readPair(path.join(ca.dir, `${name}.crt`), path.join(ca.dir, `${name}.key`));
}

/**
 * Creates a self-signed certificate with an EC P-256 key in `dir` (`<name>.crt` / `<name>.key`):
 * what the token issuer signs ES256 JWTs with and the registry's `rootcertbundle` trusts.
 */
export async function makeSigningCert(dir: string, name = 'token-signer'): Promise<CertAndKey> {
  const configFile = path.join(dir, `${name}.cnf`);
  await writeFile(configFile, signerConfig(`camel-oci ${name}`));
  await openssl(
    [
      'req',
      '-x509',
      ...EC_KEY_ARGS,
      '-config',
      configFile,
      '-days',
      String(CERT_VALIDITY_DAYS),
      '-set_serial',
      serial(),
      '-keyout',
      `${name}.key`,
      '-out',
      `${name}.crt`,
    ],
    dir,
  );
  return readPair(path.join(dir, `${name}.crt`), path.join(dir, `${name}.key`));
}
