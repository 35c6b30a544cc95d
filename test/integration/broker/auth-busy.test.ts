import { test, before, beforeEach, afterEach, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IConnackPacket } from 'mqtt-packet';
import { addUser } from '../../../src/broker/auth/password-file.js';
import { VERIFY_BUSY } from '../../../src/broker/auth/verify-limit.js';
import { RawTcpClient, packetBytes } from '../../helpers/raw-mqtt.js';
import { waitFor } from '../../helpers/wait.js';
import { startBrokerWith, tcpPort, vname, VERSIONS, type BrokerGateway, type Version } from './helpers.js';

/**
 * Password checks (scrypt) run a few at a time, the rest wait in a bounded queue; past it a
 * CONNECT with credentials is refused at once (CONNACK 3 in 3.1.1, 0x89 Server busy in 5.0)
 * without hashing anything, and the broker says so once per burst. The test takes every running
 * slot itself (checks it finishes by hand), so the queue fills with real CONNECTs, deterministically.
 */

const BUSY = { 4: 3, 5: 0x89 } as const;
const SATURATED = 'password checks saturated: CONNECTs with credentials are refused (server busy) until the queue drains';

let dir: string;
let authFile: string;
let gw: BrokerGateway;
const clients: RawTcpClient[] = [];

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-auth-busy-'));
  authFile = path.join(dir, 'passwd');
  await addUser(authFile, 'alice', 'wonderland');
});
after(() => fs.rmSync(dir, { recursive: true, force: true }));
beforeEach(async () => (gw = await startBrokerWith({}, { AUTH_FILE: authFile, LOG_LEVEL: 'debug' })));
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await gw.close();
});

/** Sends CONNECT with credentials; the CONNACK is awaited separately. */
async function sendConnect(version: Version, clientId: string, username: string, password: string): Promise<RawTcpClient> {
  const raw = await RawTcpClient.open(tcpPort(gw), version);
  clients.push(raw);
  raw.socket.write(packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 0, username, password: Buffer.from(password) }, version));
  return raw;
}

const code = (c: IConnackPacket) => c.returnCode ?? c.reasonCode;

for (const version of VERSIONS) {
  test(`${vname(version)}: with every password check slot taken and the queue full, a CONNECT with credentials gets CONNACK ${BUSY[version] === 3 ? '3' : '0x89'}; the queued ones then connect`, async () => {
    const limit = gw.broker.verifications;
    let release!: () => void;
    const gate = new Promise<boolean>((resolve) => (release = () => resolve(false)));
    const holders = Array.from({ length: limit.concurrency }, () => limit.run(() => gate));
    assert.equal(limit.active, limit.concurrency);

    const queued: RawTcpClient[] = [];
    for (let i = 0; i < limit.queueSize; i++) queued.push(await sendConnect(version, `queued-${i}`, 'alice', 'wonderland'));
    await waitFor(() => limit.queued === limit.queueSize, `${limit.queueSize} CONNECTs waiting for a password check`);

    // Right or wrong credentials, known user or not: refused before any hashing.
    for (const [id, user, password] of [['busy-1', 'alice', 'wonderland'], ['busy-2', 'mallory', 'guess']] as const) {
      const raw = await sendConnect(version, id, user, password);
      const connack = await raw.log.first<IConnackPacket>('connack');
      assert.equal(code(connack), BUSY[version]);
      assert.equal(connack.sessionPresent, false);
      await raw.closed;
    }
    assert.equal(limit.queued, limit.queueSize);
    assert.equal(gw.brokerLogs.filter((l) => l.msg === SATURATED).length, 1);
    // Each refusal is one debug line on its connection's log; the warning above is the one an operator sees.
    const refusals = gw.logs.filter((l) => l.refusal === 'serverBusy');
    assert.deepEqual(refusals.map((l) => [l.clientId, l.level]), [['busy-1', 20], ['busy-2', 20]]);

    // The slots free up: every queued CONNECT is checked for real and accepted.
    release();
    await Promise.all(holders);
    const connacks = await Promise.all(queued.map((raw) => raw.log.first<IConnackPacket>('connack', 20_000)));
    assert.deepEqual(new Set(connacks.map(code)), new Set([0]));
    assert.equal(limit.active, 0);
    assert.equal(limit.queued, 0);
    // The burst is over: a CONNECT is checked again, and its wrong password is told as such.
    const late = await sendConnect(version, 'late', 'alice', 'nope');
    assert.equal(code(await late.log.first<IConnackPacket>('connack')), version === 5 ? 0x86 : 5);
    assert.equal(gw.brokerLogs.filter((l) => l.msg === SATURATED).length, 1);
  });
}

test('the limiter answers VERIFY_BUSY, never throws, when the queue is full', async () => {
  const limit = gw.broker.verifications;
  let release!: () => void;
  const gate = new Promise<string>((resolve) => (release = () => resolve('done')));
  const taken = Array.from({ length: limit.concurrency + limit.queueSize }, () => limit.run(() => gate));
  assert.equal(await limit.run(() => gate), VERIFY_BUSY);
  release();
  assert.deepEqual(new Set(await Promise.all(taken)), new Set(['done']));
});
