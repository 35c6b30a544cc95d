import { generateKeyPairSync, randomBytes } from 'node:crypto';
import forge from 'node-forge';

/** Subject CN of the generated certificate; also how a generated certificate is recognised later. */
export const DEVELOPMENT_CERT_CN = 'mqtt-ws-gateway development certificate';

const VALIDITY_DAYS = 365;
/** Backdated so that a client whose clock runs a little behind still accepts it. */
const CLOCK_SKEW_MS = 60_000;

/**
 * A self-signed server certificate for development, valid for localhost, this host's name and the
 * loopback addresses. The key pair comes from node:crypto: node-forge's pure-JS RSA keygen takes
 * seconds, OpenSSL's takes milliseconds. node-forge is used only to build and sign the certificate.
 */
export function generateSelfSignedCertificate(hostname: string): { certPem: string; keyPem: string } {
  const keys = generateKeyPairSync('rsa', {
    modulusLength: 2048,
    publicKeyEncoding: { type: 'spki', format: 'pem' },
    privateKeyEncoding: { type: 'pkcs8', format: 'pem' },
  });
  const privateKey = forge.pki.privateKeyFromPem(keys.privateKey);

  const cert = forge.pki.createCertificate();
  cert.publicKey = forge.pki.publicKeyFromPem(keys.publicKey);
  cert.serialNumber = randomSerial();
  const notBefore = new Date(Date.now() - CLOCK_SKEW_MS);
  cert.validity.notBefore = notBefore;
  cert.validity.notAfter = new Date(notBefore.getTime() + VALIDITY_DAYS * 24 * 60 * 60 * 1000);

  const name = [{ name: 'commonName', value: DEVELOPMENT_CERT_CN }];
  cert.setSubject(name);
  cert.setIssuer(name);

  // Clients match the host against subjectAltName only; the CN is for people reading the certificate.
  const dnsNames = [...new Set(['localhost', hostname].filter((h) => h.length > 0))];
  cert.setExtensions([
    { name: 'basicConstraints', cA: false, critical: true },
    { name: 'keyUsage', digitalSignature: true, keyEncipherment: true, critical: true },
    { name: 'extKeyUsage', serverAuth: true },
    {
      name: 'subjectAltName',
      altNames: [
        ...dnsNames.map((value) => ({ type: 2, value })),
        { type: 7, ip: '127.0.0.1' },
        { type: 7, ip: '::1' },
      ],
    },
    { name: 'subjectKeyIdentifier' },
  ]);
  cert.sign(privateKey, forge.md.sha256.create());

  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKey };
}

/**
 * 16 random bytes as hex. High bit cleared: serials must be positive (RFC 5280 §4.1.2.2); first byte
 * non-zero, so the DER integer stays minimal.
 */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0]! & 0x7f) | 0x01;
  return bytes.toString('hex');
}
