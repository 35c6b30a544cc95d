import { X509Certificate } from 'node:crypto';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import tls from 'node:tls';
import { GatewayError } from '../errors.js';

/** One certificate chosen by server name: `<certsDir>/<name>/server.crt` and `server.key`. */
export interface SniCertificate {
  /** The directory name, lower case: a host name, or `*.example.com` for one label of any name. */
  readonly name: string;
  readonly context: tls.SecureContext;
  readonly cert: Buffer;
  readonly key: Buffer;
  readonly notAfter: Date;
  readonly fingerprint256: string;
}

export const SNI_CERT_FILE = 'server.crt';
export const SNI_KEY_FILE = 'server.key';

/**
 * Subdirectories of the certs directory that hold a certificate. Hidden ones are skipped: a
 * Kubernetes secret volume keeps its real files in `..data` and timestamped `..2024_…` directories.
 */
export function sniDirectories(certsDir: string): string[] {
  let entries;
  try {
    entries = readdirSync(certsDir, { withFileTypes: true });
  } catch {
    return [];
  }
  return entries
    .filter((entry) => (entry.isDirectory() || entry.isSymbolicLink()) && !entry.name.startsWith('.'))
    .map((entry) => entry.name)
    .filter((name) => existsSync(join(certsDir, name, SNI_CERT_FILE)) || existsSync(join(certsDir, name, SNI_KEY_FILE)))
    .sort();
}

/**
 * Reads one name's certificate and key into a secure context made with the server's other
 * options (minimum version, client CA). Throws a GatewayError naming the files when they cannot serve.
 */
export function loadSniCertificate(certsDir: string, name: string, base: tls.SecureContextOptions): SniCertificate {
  const certPath = join(certsDir, name, SNI_CERT_FILE);
  const keyPath = join(certsDir, name, SNI_KEY_FILE);
  let cert: Buffer;
  let key: Buffer;
  try {
    cert = readFileSync(certPath);
    key = readFileSync(keyPath);
  } catch (err) {
    throw new GatewayError('ERR_TLS_FILES', `certificate for ${name}: ${(err as Error).message}`, { cause: err });
  }
  try {
    const x509 = new X509Certificate(cert);
    const context = tls.createSecureContext({ ...base, cert, key });
    return {
      name: name.toLowerCase(),
      context,
      cert,
      key,
      notAfter: new Date(x509.validTo),
      fingerprint256: x509.fingerprint256,
    };
  } catch (err) {
    const what =
      (err as { code?: string }).code === 'ERR_OSSL_X509_KEY_VALUES_MISMATCH'
        ? `the private key ${keyPath} does not match the certificate ${certPath}`
        : `cannot use certificate ${certPath} with key ${keyPath}: ${(err as Error).message}`;
    throw new GatewayError('ERR_TLS_FILES', what, { cause: err });
  }
}

/** The certificate for a server name: an exact directory name first, then `*.` + the name minus its first label. */
export function matchServername(
  certificates: ReadonlyMap<string, SniCertificate>,
  servername: string,
): SniCertificate | undefined {
  const name = servername.toLowerCase();
  const exact = certificates.get(name);
  if (exact) return exact;
  const dot = name.indexOf('.');
  return dot > 0 ? certificates.get(`*${name.slice(dot)}`) : undefined;
}
