import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { IConnackPacket, IPubackPacket, ISubackPacket } from 'mqtt-packet';
import { addUser } from '../../../src/broker/auth/password-file.js';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, packetBytes, publishBytes, subscribeBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connect, connectRefused, connectWithInbox, startBroker, vname, VERSIONS , tcpPort } from './helpers.js';

let gw: TestGateway;
let dir: string;

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'broker-auth-'));
  const authFile = path.join(dir, 'passwd');
  await addUser(authFile, 'alice', 'wonderland');
  await addUser(authFile, 'bob', 'builder');
  const aclFile = path.join(dir, 'acl');
  fs.writeFileSync(aclFile, ['user alice', 'topic readwrite alice/#', 'topic read shared/#', 'user bob', 'topic write shared/#', ''].join('\n'));
  gw = await startBroker({ AUTH_FILE: authFile, ACL_FILE: aclFile });
});
after(async () => {
  await closeAll();
  await gw.close();
  fs.rmSync(dir, { recursive: true, force: true });
});

async function rawConnect(version: 4 | 5, clientId: string, username?: string, password?: string): Promise<[RawTcpClient, IConnackPacket]> {
  const raw = await RawTcpClient.open(tcpPort(gw), version);
  raw.socket.write(
    packetBytes(
      { cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 0, ...(username !== undefined && { username }), ...(password !== undefined && { password: Buffer.from(password) }) },
      version,
    ),
  );
  return [raw, await raw.log.first<IConnackPacket>('connack')];
}

const code = (c: IConnackPacket) => c.returnCode ?? c.reasonCode;

for (const version of VERSIONS) {
  test(`${vname(version)}: with AUTH_FILE, a wrong password is refused (${version === 5 ? '0x86' : '5'}) and the connection closed`, async () => {
    const [raw, connack] = await rawConnect(version, `wrong-${version}`, 'alice', 'nope');
    assert.equal(code(connack), version === 5 ? 0x86 : 5);
    assert.equal(connack.sessionPresent, false);
    await raw.closed;
  });

  test(`${vname(version)}: with AUTH_FILE, an anonymous client is refused (${version === 5 ? '0x87' : '5'})`, async () => {
    const [raw, connack] = await rawConnect(version, `anon-${version}`);
    assert.equal(code(connack), version === 5 ? 0x87 : 5);
    await raw.closed;
  });

  test(`${vname(version)}: ACL: a refused subscription gets SUBACK ${version === 5 ? '0x87' : '0x80'}`, async () => {
    const [raw, connack] = await rawConnect(version, `sub-acl-${version}`, 'alice', 'wonderland');
    assert.equal(code(connack), 0);
    raw.socket.write(subscribeBytes('bob/secret', 1, version));
    assert.deepEqual((await raw.log.first<ISubackPacket>('suback')).granted, [version === 5 ? 0x87 : 0x80]);
    await raw.close();
  });

  test(`${vname(version)}: ACL: a refused PUBLISH is dropped${version === 5 ? ', PUBACK 0x87' : ' silently (PUBACK all the same)'}`, async () => {
    const [reader, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `reader-${version}`, username: 'alice', password: 'wonderland' });
    await reader.subscribeAsync('shared/#', { qos: 1 });
    const [raw] = await rawConnect(version, `pub-acl-${version}`, 'alice', 'wonderland');
    raw.socket.write(publishBytes('shared/from-alice', 'denied', { qos: 1, messageId: 9, protocolVersion: version }));
    const puback = await raw.log.first<IPubackPacket>('puback');
    assert.equal(puback.reasonCode ?? 0, version === 5 ? 0x87 : 0);
    const bob = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `bob-${version}`, username: 'bob', password: 'builder' });
    await bob.publishAsync('shared/from-bob', 'allowed', { qos: 1 });
    assert.deepEqual((await inbox.take(1)).map((m) => m.payload), ['allowed']);
    assert.equal(inbox.messages.length, 1);
    await raw.close();
  });
}

test('MQTT.js over WebSocket sees the refusal of bad credentials', async () => {
  const err = await connectRefused(gw.wsUrl, { protocolVersion: 5, clientId: 'ws-bad', username: 'bob', password: 'wrong' });
  assert.equal(err.code, 0x86);
});
