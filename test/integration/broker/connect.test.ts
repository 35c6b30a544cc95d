import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type IConnackPacket, type IDisconnectPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { RawTcpClient, connectBytes, packetBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connect, startBroker, vname, VERSIONS , tcpPort } from './helpers.js';

const needsMosquitto = requireProgram(MOSQUITTO, 'mosquitto');
let gw: TestGateway;
let mosq: Mosquitto | undefined;

before(async () => {
  gw = await startBroker();
  if (!needsMosquitto.skip) mosq = await startMosquitto();
});
after(async () => {
  await closeAll();
  await gw.close();
  await mosq?.stop();
});

/** Sends raw CONNECT bytes, returns the CONNACK (or undefined if the server just closed). */
async function rawConnack(port: number, bytes: Buffer, version: 4 | 5): Promise<IConnackPacket | undefined> {
  const client = await RawTcpClient.open(port, version);
  client.socket.write(bytes);
  const connack = await Promise.race([client.log.first<IConnackPacket>('connack'), client.closed.then(() => undefined)]);
  await client.close();
  return connack;
}

/** CONNECT built by hand: mqtt-packet refuses to generate some of the ones a server must answer. */
function handConnect(clientId: string, version: 4 | 5, clean: boolean): Buffer {
  const id = Buffer.from(clientId);
  const body = Buffer.concat([
    Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, version, clean ? 0x02 : 0, 0, 0]),
    version === 5 ? Buffer.from([0]) : Buffer.alloc(0),
    Buffer.from([id.length >> 8, id.length & 0xff]),
    id,
  ]);
  return Buffer.concat([Buffer.from([0x10, body.length]), body]);
}

const v3connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQIsdp', protocolVersion: 3, clientId: 'old-client', clean: true, keepalive: 0 });

/** The same CONNECT against the gateway and against Mosquitto: same answer. */
const cases: { name: string; bytes: Buffer; version: 4 | 5; code: number | undefined }[] = [
  { name: '[MQTT-3.2.2-2] 3.1.1 CONNECT accepted', bytes: connectBytes('c1', 4), version: 4, code: 0 },
  { name: '[MQTT-3.1.3-8] 3.1.1 empty client id with clean session 0: return code 2', bytes: handConnect('', 4, false), version: 4, code: 2 },
  { name: '[MQTT-3.1.3-7] 3.1.1 empty client id with clean session 1 accepted', bytes: handConnect('', 4, true), version: 4, code: 0 },
  { name: 'MQTT 3.1 (MQIsdp) CONNECT accepted', bytes: v3connect, version: 4, code: 0 },
  { name: '5.0 CONNECT accepted', bytes: connectBytes('c5', 5), version: 5, code: 0 },
];

for (const c of cases) {
  test(`${c.name}, as Mosquitto`, async () => {
    const ours = await rawConnack(tcpPort(gw), c.bytes, c.version);
    const code = (p: IConnackPacket | undefined) => (p === undefined ? undefined : (p.returnCode ?? p.reasonCode));
    assert.equal(code(ours), c.code);
    if (mosq) assert.equal(code(await rawConnack(mosq.port, c.bytes, c.version)), c.code, 'mosquitto agrees');
  });
}

test('[MQTT-3.1.2-2] protocol name MQTT with level 3: return code 1', async () => {
  const bytes = Buffer.from(v3connect);
  const at = bytes.indexOf('MQIsdp');
  // Rebuild as "MQTT" + level 3 by hand.
  const body = Buffer.concat([Buffer.from([0, 4]), Buffer.from('MQTT'), bytes.subarray(at + 6)]);
  const packet = Buffer.concat([Buffer.from([0x10, body.length]), body]);
  const connack = await rawConnack(tcpPort(gw), packet, 4);
  assert.equal(connack?.returnCode, 1);
});

test('[MQTT-3.2.2-16] 5.0 empty client id: the server assigns one and returns it in CONNACK', async () => {
  const client = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: '' });
  const assigned = (client as unknown as { connackPacket?: IConnackPacket }).connackPacket?.properties?.assignedClientIdentifier;
  assert.match(String(assigned), /^auto-/);
});

test('5.0 CONNACK announces receive maximum, maximum packet size and topic alias maximum', async () => {
  const connack = await rawConnack(tcpPort(gw), connectBytes('props', 5), 5);
  assert.equal(connack?.properties?.receiveMaximum, 20);
  assert.equal(typeof connack?.properties?.maximumPacketSize, 'number');
  assert.equal(connack?.properties?.topicAliasMaximum, 10);
});

test('[MQTT-4.12.0-1] 5.0 CONNECT with an authentication method the server does not support: 0x8C', async () => {
  const bytes = packetBytes(
    { cmd: 'connect', protocolId: 'MQTT', protocolVersion: 5, clientId: 'auth', clean: true, keepalive: 0, properties: { authenticationMethod: 'SCRAM-SHA-1' } },
    5,
  );
  assert.equal((await rawConnack(tcpPort(gw), bytes, 5))?.reasonCode, 0x8c);
});

for (const version of VERSIONS) {
  test(`${vname(version)}: [MQTT-3.1.0-2] a second CONNECT closes the connection${version === 5 ? ' with DISCONNECT 0x82' : ''}`, async () => {
    const client = await RawTcpClient.open(tcpPort(gw), version);
    client.socket.write(connectBytes(`twice-${version}`, version));
    await client.log.first('connack');
    client.socket.write(connectBytes(`twice-${version}`, version));
    await client.closed;
    if (version === 5) assert.equal((await client.log.first<IDisconnectPacket>('disconnect')).reasonCode, 0x82);
    else assert.equal(client.log.count('disconnect'), 0);
  });
}

test('a 3.1.1 client over WebSocket connects and gets CONNACK 0', async () => {
  const client = await connect(gw.wsUrl, { protocolVersion: 4, clientId: 'ws-client' });
  assert.equal(client.connected, true);
});
