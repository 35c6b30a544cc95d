import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import tls from 'node:tls';
import { pino } from 'pino';
import { GatewayError } from '../../../src/errors.js';
import {
  loadTlsMaterial,
  peerCertificateSubject,
  tlsServerOptions,
  type ClientAuth,
  type TlsFiles,
  type TlsMaterial,
} from '../../../src/tls/certificates.js';
import { generateSelfSignedCertificate } from '../../../src/tls/self-signed.js';
import { issueClientCert, makeCa } from '../../helpers/pki.js';

const DEADLINE_MS = 5_000;
const WARN = 40;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-tls-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

/** A pino logger whose lines are kept, parsed, for the test to read. */
function capturingLogger() {
  const lines: { level: number; msg: string }[] = [];
  const log = pino({ level: 'debug' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
  return { log, warnings: () => lines.filter((l) => l.level === WARN) };
}

function conventionFiles(certsDir: string, caPath: string | null = null): TlsFiles {
  return { certPath: null, keyPath: null, caPath, certsDir };
}

function within<T>(promise: Promise<T>, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), DEADLINE_MS).unref();
  });
  return Promise.race([promise, deadline]).finally(() => clearTimeout(timer));
}

/** A TLS server on an ephemeral port, closed (with every socket) when the test ends. */
async function startServer(t: TestContext, options: tls.TlsOptions): Promise<{ server: tls.Server; port: number }> {
  const server = tls.createServer(options);
  const sockets = new Set<tls.TLSSocket>();
  server.on('secureConnection', (socket) => {
    sockets.add(socket);
    socket.on('error', () => socket.destroy()); // the client may hang up first; that is not under test
  });
  await within(new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve)), 'listen');
  t.after(async () => {
    for (const socket of sockets) socket.destroy();
    await new Promise((resolve) => server.close(resolve));
  });
  const address = server.address();
  assert.ok(address !== null && typeof address === 'object');
  return { server, port: address.port };
}

interface Handshake {
  client: tls.TLSSocket;
  clientErrors: Error[];
  /** Settles true on the client's secureConnect, false if it fails or closes first. Never rejects. */
  clientSecured: Promise<boolean>;
  server: { accepted: tls.TLSSocket } | { refused: Error };
}

/** Connects and reports what the server made of it: a secure connection, or a TLS client error. */
async function handshake(
  t: TestContext,
  server: tls.Server,
  port: number,
  options: tls.ConnectionOptions,
): Promise<Handshake> {
  const serverSide = new Promise<Handshake['server']>((resolve) => {
    const accept = (socket: tls.TLSSocket) => settle({ accepted: socket });
    const refuse = (error: Error) => settle({ refused: error });
    const settle = (outcome: Handshake['server']) => {
      server.off('secureConnection', accept);
      server.off('tlsClientError', refuse);
      resolve(outcome);
    };
    server.on('secureConnection', accept);
    server.on('tlsClientError', refuse);
  });
  const client = tls.connect({ host: '127.0.0.1', port, servername: 'localhost', ...options });
  const clientErrors: Error[] = [];
  client.on('error', (error) => clientErrors.push(error));
  // Listened for from the start: in TLS 1.3 the client may finish its handshake before the server does.
  const clientSecured = new Promise<boolean>((resolve) => {
    client.once('secureConnect', () => resolve(true));
    client.once('close', () => resolve(false));
  });
  t.after(() => client.destroy());
  return { client, clientErrors, clientSecured, server: await within(serverSide, 'the server to accept or refuse') };
}

function closed(socket: tls.TLSSocket): Promise<void> {
  return within(
    new Promise<void>((resolve) => (socket.closed ? resolve() : socket.once('close', () => resolve()))),
    'the client to close',
  );
}

async function secureConnected(h: Handshake): Promise<void> {
  assert.equal(await within(h.clientSecured, 'secureConnect'), true, `client failed: ${h.clientErrors.join('; ')}`);
}

/** A validator for assert.throws: a GatewayError with this code whose message contains every part. */
function gatewayError(code: string, ...parts: string[]) {
  return (err: unknown) => {
    assert.ok(err instanceof GatewayError, `expected a GatewayError, got ${String(err)}`);
    assert.equal(err.code, code);
    for (const part of parts) assert.ok(err.message.includes(part), `"${err.message}" should mention ${part}`);
    return true;
  };
}

function writePair(dir: string, name: string, pair = generateSelfSignedCertificate('example')) {
  const certPath = join(dir, `${name}.crt`);
  const keyPath = join(dir, `${name}.key`);
  writeFileSync(certPath, pair.certPem);
  writeFileSync(keyPath, pair.keyPem);
  return { certPath, keyPath, ...pair };
}

async function mtlsServer(t: TestContext, clientAuth: ClientAuth) {
  const dir = tempDir(t);
  const ca = makeCa();
  const caPath = join(dir, 'clients-ca.crt');
  writeFileSync(caPath, ca.certPem);
  const material = loadTlsMaterial(conventionFiles(join(dir, 'certs'), caPath), capturingLogger().log);
  const { server, port } = await startServer(t, tlsServerOptions(material, { clientAuth, minVersion: 'TLSv1.2' }));
  return { ca, material, server, port };
}

test('without certificates, a development certificate is generated once, with a warning', (t) => {
  const certsDir = join(tempDir(t), 'certs');
  const { log, warnings } = capturingLogger();

  const material = loadTlsMaterial(conventionFiles(certsDir), log);

  assert.equal(material.generated, true);
  assert.equal(material.certPath, join(certsDir, 'server.crt'));
  assert.equal(material.keyPath, join(certsDir, 'server.key'));
  assert.deepEqual(readFileSync(material.certPath), material.cert);
  assert.deepEqual(readFileSync(material.keyPath), material.key);
  assert.equal(material.ca, null);
  if (process.platform !== 'win32') assert.equal(statSync(material.keyPath).mode & 0o777, 0o600);

  assert.equal(warnings().length, 1);
  const [warning] = warnings();
  assert.ok(warning?.msg.includes(material.certPath), warning?.msg);
  assert.match(warning?.msg ?? '', /self-signed development certificate.*TLS_CERT and TLS_KEY/);
});

test('the next load reuses the generated certificate without a warning', (t) => {
  const certsDir = join(tempDir(t), 'certs');
  const first = loadTlsMaterial(conventionFiles(certsDir), capturingLogger().log);
  const { log, warnings } = capturingLogger();

  const second = loadTlsMaterial(conventionFiles(certsDir), log);

  assert.equal(second.generated, false);
  assert.deepEqual(second.cert, first.cert);
  assert.deepEqual(second.key, first.key);
  assert.equal(warnings().length, 0);
});

test('an expired development certificate is generated again', (t) => {
  const certsDir = join(tempDir(t), 'certs');
  const first = loadTlsMaterial(conventionFiles(certsDir), capturingLogger().log);
  t.mock.timers.enable({ apis: ['Date'], now: Date.now() + 400 * 24 * 60 * 60 * 1000 });
  const { log, warnings } = capturingLogger();

  const second = loadTlsMaterial(conventionFiles(certsDir), log);

  assert.equal(second.generated, true);
  assert.notDeepEqual(second.cert, first.cert);
  assert.deepEqual(readFileSync(second.certPath), second.cert);
  assert.equal(warnings().length, 1);
});

test('the development certificate names localhost, this host and the loopback addresses', (t) => {
  const material = loadTlsMaterial(conventionFiles(tempDir(t)), capturingLogger().log);
  const x509 = new X509Certificate(material.cert);

  const sans = x509.subjectAltName?.split(', ') ?? [];
  // OpenSSL prints IPv6 addresses uncompressed: ::1 is 0:0:0:0:0:0:0:1.
  for (const san of ['DNS:localhost', `DNS:${hostname()}`, 'IP Address:127.0.0.1', 'IP Address:0:0:0:0:0:0:0:1']) {
    assert.ok(sans.includes(san), `${san} in ${x509.subjectAltName}`);
  }
  assert.equal(x509.ca, false);
  // checkIssued would say no: OpenSSL wants keyCertSign on an issuer, and a leaf rightly lacks it.
  assert.equal(x509.issuer, x509.subject);
  assert.ok(x509.verify(x509.publicKey), 'signed with its own key');
  assert.ok(Date.parse(x509.validFrom) <= Date.now());
  assert.ok(Date.parse(x509.validTo) > Date.now() + 360 * 24 * 60 * 60 * 1000);
});

test('a client trusting the development certificate completes a TLS handshake', async (t) => {
  const material = loadTlsMaterial(conventionFiles(tempDir(t)), capturingLogger().log);
  const options = tlsServerOptions(material, { clientAuth: 'none', minVersion: 'TLSv1.2' });
  const { server, port } = await startServer(t, options);

  const connection = await handshake(t, server, port, { ca: material.cert });
  await secureConnected(connection);

  const { client, server: outcome } = connection;
  assert.ok('accepted' in outcome);
  assert.equal(client.authorized, true, String(client.authorizationError));
  assert.equal(peerCertificateSubject(outcome.accepted), undefined);
});

test('TLS_CERT and TLS_KEY are used when given, and nothing is generated', (t) => {
  const dir = tempDir(t);
  const certsDir = join(dir, 'certs');
  const own = writePair(dir, 'own');
  const { log, warnings } = capturingLogger();

  const material = loadTlsMaterial({ certPath: own.certPath, keyPath: own.keyPath, caPath: null, certsDir }, log);

  assert.equal(material.generated, false);
  assert.equal(material.certPath, own.certPath);
  assert.equal(material.cert.toString(), own.certPem);
  assert.equal(material.key.toString(), own.keyPem);
  assert.equal(existsSync(certsDir), false);
  assert.equal(warnings().length, 0);
});

test('a missing TLS_CERT or TLS_KEY file is named in the error', (t) => {
  const dir = tempDir(t);
  const own = writePair(dir, 'own');
  const missing = join(dir, 'missing.pem');
  const files = (certPath: string | null, keyPath: string | null): TlsFiles => ({
    certPath,
    keyPath,
    caPath: null,
    certsDir: dir,
  });
  const { log } = capturingLogger();
  const load = (f: TlsFiles) => () => loadTlsMaterial(f, log);

  assert.throws(load(files(missing, own.keyPath)), gatewayError('ERR_TLS_FILES', 'TLS_CERT', missing));
  assert.throws(load(files(own.certPath, missing)), gatewayError('ERR_TLS_FILES', 'TLS_KEY', missing));
  assert.throws(load(files(own.certPath, null)), gatewayError('ERR_TLS_FILES', 'TLS_KEY'));
  assert.throws(load({ ...files(null, null), caPath: missing }), gatewayError('ERR_TLS_FILES', 'TLS_CA', missing));
});

test('a key that does not belong to the certificate is refused', (t) => {
  const dir = tempDir(t);
  const a = writePair(dir, 'a');
  const b = writePair(dir, 'b');

  const files: TlsFiles = { certPath: a.certPath, keyPath: b.keyPath, caPath: null, certsDir: dir };

  assert.throws(
    () => loadTlsMaterial(files, capturingLogger().log),
    gatewayError('ERR_TLS_KEY_MISMATCH', a.certPath, b.keyPath),
  );
});

test('a lone server.crt is reported, not overwritten by a generated pair', (t) => {
  const certsDir = tempDir(t);
  writeFileSync(join(certsDir, 'server.crt'), 'keep me');

  assert.throws(
    () => loadTlsMaterial(conventionFiles(certsDir), capturingLogger().log),
    gatewayError('ERR_TLS_FILES', 'server.key'),
  );
  assert.equal(readFileSync(join(certsDir, 'server.crt'), 'utf8'), 'keep me');
});

test('ca.crt in the certs directory is the client CA when TLS_CA is not given', (t) => {
  const certsDir = tempDir(t);
  const ca = makeCa();
  writeFileSync(join(certsDir, 'ca.crt'), ca.certPem);

  const material = loadTlsMaterial(conventionFiles(certsDir), capturingLogger().log);

  assert.equal(material.ca?.toString(), ca.certPem);
});

test('client authentication without a CA is a configuration error', (t) => {
  const material: TlsMaterial = loadTlsMaterial(conventionFiles(tempDir(t)), capturingLogger().log);

  for (const clientAuth of ['optional', 'require'] as const) {
    assert.throws(
      () => tlsServerOptions(material, { clientAuth, minVersion: 'TLSv1.2' }),
      gatewayError('ERR_TLS_CA', `TLS_CLIENT_AUTH=${clientAuth}`, 'TLS_CA'),
    );
  }
  assert.equal(tlsServerOptions(material, { clientAuth: 'none', minVersion: 'TLSv1.2' }).requestCert, false);
});

test('clientAuth require: a client without a certificate is refused', async (t) => {
  const { material, server, port } = await mtlsServer(t, 'require');

  const { client, clientErrors, server: outcome } = await handshake(t, server, port, { ca: material.cert });
  await closed(client);

  assert.ok('refused' in outcome);
  assert.ok(clientErrors.length > 0, 'the client sees the refusal');
});

test('clientAuth require: a certificate from another CA is refused', async (t) => {
  const { material, server, port } = await mtlsServer(t, 'require');
  const stranger = issueClientCert(makeCa('some other CA'), 'intruder');

  const { client, server: outcome } = await handshake(t, server, port, {
    ca: material.cert,
    cert: stranger.certPem,
    key: stranger.keyPem,
  });
  await closed(client);

  assert.ok('refused' in outcome);
});

test('clientAuth require: a CA-signed client certificate is accepted and its CN is the subject', async (t) => {
  const { ca, material, server, port } = await mtlsServer(t, 'require');
  const device = issueClientCert(ca, 'device-42');

  const connection = await handshake(t, server, port, { ca: material.cert, cert: device.certPem, key: device.keyPem });
  await secureConnected(connection);

  const outcome = connection.server;
  assert.ok('accepted' in outcome);
  assert.equal(outcome.accepted.authorized, true);
  assert.equal(peerCertificateSubject(outcome.accepted), 'device-42');
});

test('clientAuth optional: clients without a verified certificate connect, with no subject', async (t) => {
  const { material, server, port } = await mtlsServer(t, 'optional');
  const stranger = issueClientCert(makeCa('some other CA'), 'intruder');

  for (const options of [{}, { cert: stranger.certPem, key: stranger.keyPem }]) {
    const connection = await handshake(t, server, port, { ca: material.cert, ...options });
    await secureConnected(connection);

    const outcome = connection.server;
    assert.ok('accepted' in outcome);
    assert.equal(peerCertificateSubject(outcome.accepted), undefined);
  }
});

test('minVersion TLSv1.3 refuses a client capped at TLSv1.2', async (t) => {
  const material = loadTlsMaterial(conventionFiles(tempDir(t)), capturingLogger().log);
  const options = tlsServerOptions(material, { clientAuth: 'none', minVersion: 'TLSv1.3' });
  const { server, port } = await startServer(t, options);

  const old = await handshake(t, server, port, { ca: material.cert, maxVersion: 'TLSv1.2' });
  await closed(old.client);
  assert.ok('refused' in old.server);
  assert.ok(old.clientErrors.length > 0);

  const current = await handshake(t, server, port, { ca: material.cert });
  await secureConnected(current);
  assert.equal(current.client.getProtocol(), 'TLSv1.3');
});

test('a TLS_CA that is not a certificate is refused', (t) => {
  const dir = tempDir(t);
  const caPath = join(dir, 'ca.pem');
  mkdirSync(join(dir, 'certs'));
  writeFileSync(caPath, 'not a certificate');

  assert.throws(
    () => loadTlsMaterial(conventionFiles(join(dir, 'certs'), caPath), capturingLogger().log),
    gatewayError('ERR_TLS_FILES', caPath),
  );
});
