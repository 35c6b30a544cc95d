import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IConnectPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, packetBytes, subscribeBytes } from '../../helpers/raw-mqtt.js';
import { waitFor } from '../../helpers/wait.js';
import { startBroker, tcpPort, type Version } from './helpers.js';

/**
 * PERSISTENT_SESSION_EXPIRY_S: an MQTT 3.1.1 session with Clean Session 0, which the protocol
 * keeps for ever, ends that long after its client went away (as Mosquitto's
 * persistent_client_expiration), and its place under MAX_SESSIONS is free again. A client back in
 * time finds its session. MQTT 5 clients keep the expiry they asked for.
 */

const EXPIRY_S = 2;

let gw: TestGateway;
const clients: RawTcpClient[] = [];
before(async () => (gw = await startBroker({ PERSISTENT_SESSION_EXPIRY_S: String(EXPIRY_S), MAX_SESSIONS: '2', LOG_LEVEL: 'debug' })));
after(async () => {
  await Promise.all(clients.map((c) => c.close()));
  await gw.close();
});

async function rawConnect(version: Version, clientId: string, extra: Partial<IConnectPacket> = {}): Promise<[RawTcpClient, IConnackPacket]> {
  const raw = await RawTcpClient.open(tcpPort(gw), version);
  clients.push(raw);
  raw.socket.write(packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: false, keepalive: 0, ...extra }, version));
  return [raw, await raw.log.first<IConnackPacket>('connack')];
}

const expired = (clientId: string) => gw.logs.find((l) => l.msg === 'session expired' && l.clientId === clientId);

test('MQTT 3.1.1: a Clean Session 0 session ends PERSISTENT_SESSION_EXPIRY_S after its client left, and frees its place under MAX_SESSIONS', async () => {
  const [first] = await rawConnect(4, 'p4');
  first.socket.write(subscribeBytes('expiry/t', 1, 4));
  await first.log.first('suback');
  const [p5, p5ack] = await rawConnect(5, 'p5', { properties: { sessionExpiryInterval: 600 } });
  assert.equal(p5ack.reasonCode, 0);
  await first.close();
  await p5.close();

  // Back within the expiry: the session is there; the expiry starts again at the next disconnect.
  const [p4, ack] = await rawConnect(4, 'p4');
  assert.deepEqual([ack.returnCode, ack.sessionPresent], [0, true]);
  // The store is full (p4, p5): a new client id is refused.
  assert.equal((await rawConnect(4, 'newcomer'))[1].returnCode, 3);
  await p4.close();

  await waitFor(() => expired('p4'), 'the 3.1.1 session to expire', EXPIRY_S * 1000 + 5000);
  assert.equal((await rawConnect(4, 'newcomer'))[1].returnCode, 0);
  // The MQTT 5 session asked for 600 s: it is still held.
  const [, p5back] = await rawConnect(5, 'p5', { properties: { sessionExpiryInterval: 600 } });
  assert.deepEqual([p5back.reasonCode, p5back.sessionPresent], [0, true]);
  assert.equal(expired('p5'), undefined);
  // p4's session is gone, and the store is full again (newcomer, p5).
  assert.equal((await rawConnect(4, 'p4'))[1].returnCode, 3);
});
