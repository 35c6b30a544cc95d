import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IPubackPacket, Packet } from 'mqtt-packet';
import { RawTcpClient, packetBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connect, startBrokerWith, tcpPort, type BrokerGateway } from './helpers.js';

/**
 * Request Problem Information (MQTT 5 section 3.1.2.11.7). A refused PUBLISH gets a Reason String
 * with its PUBACK / PUBREC unless the client said 0: then no Reason String nor User Properties on
 * any packet but PUBLISH, CONNACK and DISCONNECT [MQTT-3.1.2-29]. A refusal is provoked with a full
 * retained store (one message).
 */

let gw: BrokerGateway;
before(async () => {
  gw = await startBrokerWith({ maxRetainedMessages: 1 });
  const filler = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: 'rpi-filler' });
  await filler.publishAsync('rpi/kept', 'x', { qos: 1, retain: true });
});
after(async () => {
  await closeAll();
  await gw.close();
});

async function client(id: string, properties: Record<string, unknown> = {}): Promise<RawTcpClient> {
  const raw = await RawTcpClient.open(tcpPort(gw), 5);
  raw.socket.write(packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: id, clean: true, keepalive: 0, properties }, 5));
  assert.equal((await raw.log.first<IConnackPacket>('connack')).reasonCode, 0);
  return raw;
}

const retained = (topic: string, qos: 1 | 2, messageId: number) =>
  packetBytes({ cmd: 'publish', topic, payload: Buffer.from('v'), qos, messageId, retain: true, dup: false }, 5);

test('MQTT 5.0: a refused PUBLISH gets its reason code with a Reason String by default', async () => {
  const raw = await client('rpi-default');
  raw.socket.write(retained('rpi/new', 1, 1));
  const puback = await raw.log.first<IPubackPacket>('puback');
  assert.equal(puback.reasonCode, 0x97);
  assert.equal(puback.properties?.reasonString, 'retained message limit reached');
  raw.socket.write(retained('rpi/new', 2, 2));
  const pubrec = await raw.log.first<IPubackPacket>('pubrec');
  assert.equal(pubrec.reasonCode, 0x97);
  assert.equal(pubrec.properties?.reasonString, 'retained message limit reached');
  await raw.close();
});

test('MQTT 5.0: [MQTT-3.1.2-29] Request Problem Information 0: no Reason String nor User Properties but on PUBLISH, CONNACK, DISCONNECT', async () => {
  const raw = await client('rpi-zero', { requestProblemInformation: false });
  raw.socket.write(retained('rpi/new', 1, 1));
  raw.socket.write(retained('rpi/new', 2, 2));
  // Other acknowledgements, failing too: an invalid filter, a filter never subscribed to.
  raw.socket.write(packetBytes({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: 'rpi/#/bad', qos: 0 }] }, 5));
  raw.socket.write(packetBytes({ cmd: 'unsubscribe', messageId: 4, unsubscriptions: ['rpi/never'] }, 5));
  raw.socket.write(packetBytes({ cmd: 'pubrel', messageId: 9 }, 5));
  raw.socket.write(packetBytes({ cmd: 'pingreq' }, 5));
  await raw.log.first('pingresp');
  const seen = raw.log.packets.map((p) => p.cmd);
  for (const cmd of ['puback', 'pubrec', 'suback', 'unsuback', 'pubcomp'] as const) assert.ok(seen.includes(cmd), `${cmd} in ${seen.join(', ')}`);
  assert.equal((await raw.log.first<IPubackPacket>('puback')).reasonCode, 0x97);
  assert.equal((await raw.log.first<IPubackPacket>('pubrec')).reasonCode, 0x97);
  const withProblem = (p: Packet) => {
    const props = (p as { properties?: { reasonString?: string; userProperties?: unknown } }).properties;
    return props?.reasonString !== undefined || props?.userProperties !== undefined;
  };
  const offending = raw.log.packets.filter((p) => !['publish', 'connack', 'disconnect'].includes(p.cmd) && withProblem(p));
  assert.deepEqual(offending, []);
  await raw.close();
});

test('MQTT 5.0: [MQTT-3.4.2-2] no Reason String where it would make the PUBACK larger than the client\'s Maximum Packet Size', async () => {
  const raw = await client('rpi-small', { maximumPacketSize: 24 });
  raw.socket.write(retained('rpi/new', 1, 1));
  const puback = await raw.log.first<IPubackPacket>('puback');
  assert.equal(puback.reasonCode, 0x97);
  assert.equal(puback.properties, undefined);
  await raw.close();
});
