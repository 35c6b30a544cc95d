import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IDisconnectPacket } from 'mqtt-packet';
import { startMosquitto } from '../../helpers/mosquitto.js';
import { RawTcpClient, packetBytes } from '../../helpers/raw-mqtt.js';
import { within } from '../../helpers/wait.js';
import { closeAll, connectWithInbox, startBrokerWith, tcpPort, vname, type BrokerGateway, type Version } from './helpers.js';

/**
 * maxKeepAliveSeconds (Mosquitto's max_keepalive): an MQTT 5 client asking for no keep alive or a
 * longer one is told Server Keep Alive [MQTT-3.2.2-21] and held to it. A 3.1.1 client cannot be
 * told; it keeps its own, as Mosquitto 2.0.11 does ("this only applies to MQTT v5 clients").
 */

const CAP = 1;

let gw: BrokerGateway;
before(async () => (gw = await startBrokerWith({ maxKeepAliveSeconds: CAP })));
after(async () => {
  await closeAll();
  await gw.close();
});

async function rawConnect(port: number, id: string, version: Version, keepalive: number, willTopic?: string): Promise<[RawTcpClient, IConnackPacket]> {
  const raw = await RawTcpClient.open(port, version);
  const will = willTopic === undefined ? undefined : { topic: willTopic, payload: Buffer.from(`${id} gone`), qos: 0 as const, retain: false };
  raw.socket.write(packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId: id, clean: true, keepalive, will }, version));
  return [raw, await raw.log.first<IConnackPacket>('connack')];
}

/** Connects a silent client with a will and measures how long the broker lets it live. */
async function lifetimeOfSilentClient(version: Version, keepalive: number): Promise<{ connack: IConnackPacket; elapsed: number; raw: RawTcpClient }> {
  const topic = `ska/${version}/${keepalive}`;
  // The watcher keeps within the cap, pinging every second.
  const [watcher, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `ska-watch-${version}-${keepalive}`, keepalive: CAP });
  await watcher.subscribeAsync(topic);
  const start = Date.now();
  const [raw, connack] = await rawConnect(tcpPort(gw), `ska-${version}-${keepalive}`, version, keepalive, topic);
  assert.equal(connack.returnCode ?? connack.reasonCode, 0);
  await within(raw.closed, 5000, 'the broker to close the silent client');
  const elapsed = Date.now() - start;
  assert.equal((await inbox.take(1))[0]?.payload, `ska-${version}-${keepalive} gone`);
  await watcher.endAsync();
  return { connack, elapsed, raw };
}

test(`MQTT 5.0: [MQTT-3.2.2-21] a Keep Alive above the cap gets Server Keep Alive ${CAP}, and the broker holds the client to it`, async () => {
  const { connack, elapsed, raw } = await lifetimeOfSilentClient(5, 60);
  assert.equal(connack.properties?.serverKeepAlive, CAP);
  assert.ok(elapsed >= CAP * 1400 && elapsed < CAP * 1500 + 1500, `closed after ${elapsed} ms`);
  assert.equal((await raw.log.first<IDisconnectPacket>('disconnect')).reasonCode, 0x8d);
});

test(`MQTT 5.0: [MQTT-3.2.2-21] Keep Alive 0 (none) is capped as well`, async () => {
  const { connack, elapsed } = await lifetimeOfSilentClient(5, 0);
  assert.equal(connack.properties?.serverKeepAlive, CAP);
  assert.ok(elapsed >= CAP * 1400 && elapsed < CAP * 1500 + 1500, `closed after ${elapsed} ms`);
});

test(`${vname(4)}: [MQTT-3.1.2-24] a Keep Alive above the cap stays the client's own: it cannot be told of the cap`, async () => {
  const own = CAP + 1;
  const { connack, elapsed } = await lifetimeOfSilentClient(4, own);
  assert.equal(connack.properties, undefined);
  assert.ok(elapsed >= own * 1400 && elapsed < own * 1500 + 1500, `closed after ${elapsed} ms, not after 1.5 × the cap`);
});

test(`MQTT 5.0: [MQTT-3.2.2-22] a Keep Alive within the cap stays the client's: no Server Keep Alive`, async () => {
  const [raw, connack] = await rawConnect(tcpPort(gw), 'ska-within', 5, CAP);
  assert.equal(connack.reasonCode, 0);
  assert.equal(connack.properties?.serverKeepAlive, undefined);
  await raw.close();
});

test('Mosquitto 2.0.11 with max_keepalive answers the same CONNACKs', async () => {
  const cap = 10;
  const mosquitto = await startMosquitto({ extraConfig: [`max_keepalive ${cap}`] });
  const ours = await startBrokerWith({ maxKeepAliveSeconds: cap });
  try {
    for (const version of [4, 5] as const) {
      for (const keepalive of [0, cap - 5, cap, cap + 50]) {
        const answers: (number | undefined)[][] = [];
        for (const port of [mosquitto.port, tcpPort(ours)]) {
          const [raw, connack] = await rawConnect(port, `ska-ref-${version}-${keepalive}`, version, keepalive);
          answers.push([connack.returnCode ?? connack.reasonCode, connack.properties?.serverKeepAlive]);
          await raw.close();
        }
        assert.deepEqual(answers[1], answers[0], `${vname(version)}, keep alive ${keepalive}`);
      }
    }
  } finally {
    await ours.close();
    await mosquitto.stop();
  }
});
