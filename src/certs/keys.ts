/**
 * Key generation and signing for the certificates module, done with node:crypto's asynchronous
 * APIs so the CPU work runs on libuv's thread pool: a webhook generating its development
 * certificate at start-up must keep answering health probes meanwhile. node-forge only builds and
 * serialises the certificate structure (see x509.ts); it never generates or uses a private key,
 * because its pure-JavaScript RSA would block the event loop for seconds.
 */
import { createPrivateKey, generateKeyPair, sign } from 'node:crypto';
import { ServeError } from '../base/errors.js';

/**
 * RSA modulus size. RSA because node-forge can serialise only RSA public keys into a certificate;
 * 2048 bits because it is the smallest size the apiserver's Go TLS stack and current CA policies
 * accept, and larger keys slow every handshake.
 */
export const RSA_MODULUS_BITS = 2048;

/** A freshly generated key pair in PEM: PKCS#8 private key, SPKI public key. */
export interface KeyPairPem {
  readonly privateKeyPem: string;
  readonly publicKeyPem: string;
}

/** Generates an RSA key pair on the thread pool (never blocks the event loop). */
export function generateRsaKeyPair(): Promise<KeyPairPem> {
  return new Promise((resolve, reject) => {
    generateKeyPair(
      'rsa',
      {
        modulusLength: RSA_MODULUS_BITS,
        publicKeyEncoding: { type: 'spki', format: 'pem' },
        privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
      },
      (err, publicKeyPem, privateKeyPem) => {
        if (err) {
          reject(new ServeError('INTERNAL', `RSA key generation failed: ${err.message}`, { cause: err }));
          return;
        }
        resolve({ privateKeyPem, publicKeyPem });
      },
    );
  });
}

/** Signs `data` with SHA-256 and PKCS#1 v1.5 (sha256WithRSAEncryption) on the thread pool. */
export function signSha256Rsa(data: Uint8Array, privateKeyPem: string): Promise<Buffer> {
  let key;
  try {
    key = createPrivateKey(privateKeyPem);
  } catch (err) {
    return Promise.reject(new ServeError('CONFIG_INVALID', 'the CA private key is not a readable PEM private key', { cause: err }));
  }
  if (key.asymmetricKeyType !== 'rsa') {
    return Promise.reject(
      new ServeError('CONFIG_INVALID', `the CA private key is ${key.asymmetricKeyType ?? 'unknown'}; only RSA CA keys can sign here`),
    );
  }
  return new Promise((resolve, reject) => {
    // Passing a callback is what moves the signature onto the thread pool.
    sign('sha256', data, key, (err, signature) => {
      if (err) reject(new ServeError('INTERNAL', `signing failed: ${err.message}`, { cause: err }));
      else resolve(signature);
    });
  });
}
