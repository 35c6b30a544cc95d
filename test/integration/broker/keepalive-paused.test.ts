import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IDisconnectPacket } from 'mqtt-packet';
import { PAUSED_READ_GRACE_MS } from '../../../src/broker/keepalive.js';
import { RawTcpClient, packetBytes, subscribeBytes } from '../../helpers/raw-mqtt.js';
import { waitFor, within } from '../../helpers/wait.js';
import { closeAll, connect, connectWithInbox, connectionOf, startBrokerWith, tcpPort, vname, VERSIONS, type BrokerGateway, type Version } from './helpers.js';

/**
 * A client that does not read what the broker sends fills its buffer; the broker then stops reading
 * it (backpressure). Its keep alive still runs: when due, what it sent meanwhile is read, and if it
 * sent nothing for 1.5 × Keep Alive it is closed and its will published (3.1.1 [MQTT-3.1.2-24],
 * 5.0 [MQTT-3.1.2-22]).
 */

const KEEP_ALIVE = 1;
const FLOOD_PAYLOAD = Buffer.alloc(256 * 1024, 0x61);

let gw: BrokerGateway;
before(async () => (gw = await startBrokerWith({})));
after(async () => {
  await closeAll();
  await gw.close();
});

/** A raw client with a will on `willTopic`, subscribed to `topic`, that stops reading. */
async function stalledSubscriber(id: string, version: Version, topic: string, willTopic: string): Promise<RawTcpClient> {
  const raw = await RawTcpClient.open(tcpPort(gw), version, false);
  const will = { topic: willTopic, payload: Buffer.from(`${id} gone`), qos: 0 as const, retain: false };
  raw.socket.write(packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId: id, clean: true, keepalive: KEEP_ALIVE, will }, version));
  await waitFor(() => raw.log.count('connack') === 1, 'CONNACK');
  raw.socket.write(subscribeBytes(topic, 0, version));
  await waitFor(() => raw.log.count('suback') === 1, 'SUBACK');
  raw.socket.pause();
  return raw;
}

/** Publishes large messages to `topic` until the broker holds back what it sends to `clientId`. */
async function floodUntilPaused(clientId: string, topic: string): Promise<void> {
  const publisher = await connect(gw.mqttUrl, { clientId: `${clientId}-flooder`, keepalive: 0 });
  for (let sent = 0; connectionOf(gw.broker, clientId)?.blocked !== true; sent++) {
    assert.ok(sent < 400, `the broker never stopped writing to ${clientId}`);
    await publisher.publishAsync(topic, FLOOD_PAYLOAD, { qos: 0 });
  }
  await publisher.endAsync();
}

for (const version of VERSIONS) {
  test(`${vname(version)}: a paused client silent for 1.5 × Keep Alive is closed all the same, and its will published`, async () => {
    const id = `ka-paused-${version}`;
    const [watcher, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `${id}-watch`, keepalive: 0 });
    await watcher.subscribeAsync(`will/${id}`);
    const raw = await stalledSubscriber(id, version, `flood/${id}`, `will/${id}`);
    const silentSince = Date.now();
    await floodUntilPaused(id, `flood/${id}`);
    const conn = connectionOf(gw.broker, id);

    const [will] = await inbox.take(1, KEEP_ALIVE * 1500 + PAUSED_READ_GRACE_MS + 3000);
    const elapsed = Date.now() - silentSince;
    assert.equal(will?.payload, `${id} gone`);
    assert.ok(elapsed >= KEEP_ALIVE * 1400, `closed after ${elapsed} ms`);
    assert.equal(connectionOf(gw.broker, id), undefined);
    // It never read, so it never drained: it was closed while paused.
    assert.equal(conn?.blocked, true);

    // Reading again, the client gets what was buffered, then (5.0) DISCONNECT 0x8D, then the end.
    const disconnect = version === 5 ? raw.log.first<IDisconnectPacket>('disconnect', 15_000) : undefined;
    raw.socket.resume();
    await within(raw.closed, 15_000, 'the connection to end');
    if (disconnect !== undefined) assert.equal((await disconnect).reasonCode, 0x8d);
  });
}

test('MQTT 3.1.1: a paused client that keeps sending PINGREQ is not closed: its input is read when it is due', async () => {
  const id = 'ka-paused-pinger';
  const raw = await stalledSubscriber(id, 4, `flood/${id}`, `will/${id}`);
  await floodUntilPaused(id, `flood/${id}`);
  const conn = connectionOf(gw.broker, id);
  assert.ok(conn?.blocked);

  // Half the keep alive between pings, for twice the time that would close a silent client.
  const until = Date.now() + 2 * (KEEP_ALIVE * 1500 + PAUSED_READ_GRACE_MS);
  const ping = packetBytes({ cmd: 'pingreq' });
  while (Date.now() < until) {
    raw.socket.write(ping);
    await new Promise((resolve) => setTimeout(resolve, KEEP_ALIVE * 500));
    assert.equal(connectionOf(gw.broker, id), conn, 'still connected');
  }
  assert.equal(conn.blocked, true, 'paused the whole time');

  raw.socket.resume();
  await waitFor(() => raw.log.count('pingresp') > 0, 'the PINGRESPs', 15_000);
  await raw.close();
});
