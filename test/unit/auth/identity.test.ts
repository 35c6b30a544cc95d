import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IncomingMessage } from 'node:http';
import mqttPacket, { type IConnectPacket, type Packet } from 'mqtt-packet';
import pino from 'pino';
import { handshakeToken, rewriteConnect } from '../../../src/auth/identity.js';
import { TopicPolicy } from '../../../src/auth/topic-policy.js';

const req = (url: string, headers: Record<string, string> = {}) => ({ url, headers }) as unknown as IncomingMessage;

test('handshakeToken: Bearer first, then ?access_token, then the cookie', () => {
  assert.equal(handshakeToken(req('/mqtt?access_token=q', { authorization: 'Bearer h', cookie: 'access_token=c' }), 'access_token'), 'h');
  assert.equal(handshakeToken(req('/mqtt?access_token=q', { cookie: 'access_token=c' }), 'access_token'), 'q');
  assert.equal(handshakeToken(req('/mqtt', { cookie: 'a=1; jwt=c%2Ed; b=2' }), 'jwt'), 'c.d');
  assert.equal(handshakeToken(req('/mqtt', { authorization: 'Basic abc' }), 'access_token'), undefined);
});

function decode(bytes: Buffer): IConnectPacket {
  const parser = mqttPacket.parser({ protocolVersion: 5 });
  let packet: Packet | undefined;
  parser.on('packet', (p: Packet) => (packet = p));
  parser.parse(bytes);
  return packet as IConnectPacket;
}

for (const protocolVersion of [3, 4, 5] as const) {
  test(`rewriteConnect (protocol ${protocolVersion}): user name replaced, password removed, the rest kept`, () => {
    const original = decode(
      mqttPacket.generate(
        {
          cmd: 'connect',
          protocolId: protocolVersion === 3 ? 'MQIsdp' : 'MQTT',
          protocolVersion,
          clientId: 'c1',
          clean: true,
          keepalive: 15,
          username: 'claimed',
          password: Buffer.from('secret'),
          ...(protocolVersion === 5 && { properties: { sessionExpiryInterval: 60 } }),
        },
        { protocolVersion },
      ),
    );
    const { connect, connectBytes } = rewriteConnect(original, 'proven');
    const again = decode(connectBytes);
    assert.equal(again.username, 'proven');
    assert.equal(again.password, undefined);
    assert.equal(again.clientId, 'c1');
    assert.equal(again.keepalive, 15);
    assert.equal(again.protocolVersion, protocolVersion);
    assert.equal(connect.username, 'proven');
    if (protocolVersion === 5) assert.equal(again.properties?.sessionExpiryInterval, 60);
    assert.equal(decode(rewriteConnect(original, undefined).connectBytes).username, undefined);
  });
}

test('TopicPolicy passes packets it does not restrict, byte for byte', () => {
  const connect = mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: 'p', clean: true, keepalive: 0 }, { protocolVersion: 4 });
  const policy = new TopicPolicy({ publish: ['a/#'], subscribe: null }, connect, pino({ level: 'silent' }));
  const subscribe = mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'anything/#', qos: 0 }] }, { protocolVersion: 4 });
  assert.deepEqual(policy.inspect(subscribe), { action: 'forward' });
  const ping = mqttPacket.generate({ cmd: 'pingreq' });
  assert.deepEqual(policy.inspect(ping), { action: 'forward' });
  const refused = mqttPacket.generate({ cmd: 'publish', topic: 'b', payload: Buffer.alloc(0), qos: 0, retain: false, dup: false }, { protocolVersion: 4 });
  assert.equal(policy.inspect(refused).action, 'close');
});
