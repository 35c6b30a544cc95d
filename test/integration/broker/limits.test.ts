import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IDisconnectPacket, IPublishPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, connectBytes, packetBytes, publishBytes, subscribeBytes } from '../../helpers/raw-mqtt.js';
import { waitFor } from '../../helpers/wait.js';
import { closeAll, connect, startBroker, vname, VERSIONS , tcpPort } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker({ MAX_INFLIGHT_MESSAGES: '3', MAX_PACKET_SIZE: '2048' })));
after(async () => {
  await closeAll();
  await gw.close();
});

const publishes = (raw: RawTcpClient) => raw.log.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');

for (const version of VERSIONS) {
  test(`${vname(version)}: QoS 1 messages in flight to a client are bounded by MAX_INFLIGHT_MESSAGES; the rest wait in order`, async () => {
    const raw = await RawTcpClient.open(tcpPort(gw), version);
    raw.socket.write(connectBytes(`inflight-${version}`, version));
    await raw.log.first('connack');
    raw.socket.write(subscribeBytes(`inflight/${version}`, 1, version));
    await raw.log.first('suback');
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `inflight-pub-${version}` });
    for (let i = 0; i < 6; i++) await pub.publishAsync(`inflight/${version}`, `m${i}`, { qos: 1 });
    await pub.publishAsync(`inflight/${version}`, 'q0', { qos: 0 });
    await waitFor(() => publishes(raw).length === 3, 'three in flight');
    // Nothing more comes until one is acknowledged: a PINGREQ round trip proves the broker is idle.
    raw.socket.write(packetBytes({ cmd: 'pingreq' }, version));
    await raw.log.first('pingresp');
    assert.equal(publishes(raw).length, 3);
    for (const p of publishes(raw)) raw.socket.write(packetBytes({ cmd: 'puback', messageId: p.messageId }, version));
    await waitFor(() => publishes(raw).length === 7, 'the rest');
    assert.deepEqual(publishes(raw).map((p) => p.payload.toString()), ['m0', 'm1', 'm2', 'm3', 'm4', 'm5', 'q0']);
    await raw.close();
  });
}

test('MQTT 5.0: [MQTT-3.3.4-7] the client\'s Receive Maximum bounds the messages in flight to it', async () => {
  const raw = await RawTcpClient.open(tcpPort(gw), 5);
  raw.socket.write(packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'recvmax', clean: true, keepalive: 0, properties: { receiveMaximum: 1 } }, 5));
  await raw.log.first('connack');
  raw.socket.write(subscribeBytes('recvmax', 2, 5));
  await raw.log.first('suback');
  const pub = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: 'recvmax-pub' });
  await pub.publishAsync('recvmax', 'a', { qos: 2 });
  await pub.publishAsync('recvmax', 'b', { qos: 2 });
  await raw.log.first('publish');
  raw.socket.write(packetBytes({ cmd: 'pingreq' }, 5));
  await raw.log.first('pingresp');
  assert.equal(publishes(raw).length, 1);
  const first = publishes(raw)[0] as IPublishPacket;
  raw.socket.write(packetBytes({ cmd: 'pubrec', messageId: first.messageId }, 5));
  await raw.log.first('pubrel');
  raw.socket.write(packetBytes({ cmd: 'pubcomp', messageId: first.messageId }, 5));
  await waitFor(() => publishes(raw).length === 2, 'the second message');
  await raw.close();
});

test('MQTT 5.0: [MQTT-3.3.4-9] more QoS 2 messages awaiting PUBREL than the announced Receive Maximum: DISCONNECT 0x93', async () => {
  const raw = await RawTcpClient.open(tcpPort(gw), 5);
  raw.socket.write(connectBytes('flooder', 5));
  const connack = await raw.log.first<IConnackPacket>('connack');
  const max = connack.properties?.receiveMaximum ?? 0;
  assert.equal(max, 3);
  for (let id = 1; id <= max + 1; id++) raw.socket.write(publishBytes('flood', 'x', { qos: 2, messageId: id, protocolVersion: 5 }));
  await raw.closed;
  assert.equal((await raw.log.first<IDisconnectPacket>('disconnect')).reasonCode, 0x93);
});

test('MQTT 5.0: CONNACK announces the Maximum Packet Size; a larger packet closes the client', async () => {
  const raw = await RawTcpClient.open(tcpPort(gw), 5);
  raw.socket.write(connectBytes('big', 5));
  const connack = await raw.log.first<IConnackPacket>('connack');
  assert.equal(connack.properties?.maximumPacketSize, 2048);
  raw.socket.write(publishBytes('big', Buffer.alloc(4096), { protocolVersion: 5 }));
  await raw.closed;
});
