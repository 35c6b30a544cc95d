import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IPublishPacket } from 'mqtt-packet';
import pino from 'pino';
import { Broker } from '../../../src/broker/broker.js';
import { MemoryLink, bytes, connectPacket } from './memory-link.js';

function broker(overrides: Partial<ConstructorParameters<typeof Broker>[0]> = {}): Broker {
  return new Broker({ log: pino({ level: 'silent' }), maxPacketSize: 1 << 20, maxQueuedMessages: 100, maxInflightMessages: 20, authFile: null, aclFile: null, ...overrides });
}

async function open(b: Broker, link: MemoryLink) {
  const session = await b.open(link);
  assert.equal(link.of<IConnackPacket>('connack')[0]?.returnCode ?? link.of<IConnackPacket>('connack')[0]?.reasonCode, 0);
  return session;
}

const publish = (topic: string, payload: string, qos: 0 | 1 = 0, messageId?: number) =>
  bytes({ cmd: 'publish', topic, payload, qos, dup: false, retain: false, ...(qos > 0 && { messageId }) });

test('backpressure: a subscriber whose buffer is full gets nothing more until it drains; then the queue in order', async () => {
  const b = broker();
  const subLink = new MemoryLink(connectPacket('slow'));
  const sub = await open(b, subLink);
  sub.write(bytes({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 't', qos: 1 }] }));
  const pub = await open(b, new MemoryLink(connectPacket('fast')));

  subLink.full = true;
  pub.write(publish('t', 'a', 0));
  // The send that filled the buffer went out; everything after it waits.
  pub.write(publish('t', 'b', 1, 1));
  pub.write(publish('t', 'c', 0));
  assert.deepEqual(subLink.of<IPublishPacket>('publish').map((p) => p.payload.toString()), ['a']);
  subLink.drain();
  assert.deepEqual(subLink.of<IPublishPacket>('publish').map((p) => p.payload.toString()), ['a', 'b', 'c']);
  b.close();
});

test('backpressure: write() returns false while the client cannot take our answers, onDrain says when to resume', async () => {
  const b = broker();
  const link = new MemoryLink(connectPacket('reader'));
  const session = await open(b, link);
  let resumed = 0;
  session.onDrain(() => resumed++);
  link.full = true;
  assert.equal(session.write(publish('x', 'y', 1, 5)), false);
  link.drain();
  assert.equal(resumed, 1);
  b.close();
});

test('[MQTT-3.2.2-6] a refused CONNECT resolves open() with a session that ignores writes', async () => {
  const b = broker();
  const link = new MemoryLink(connectPacket('refused', 4, { protocolId: 'MQIsdp' }));
  const session = await b.open(link);
  assert.equal(link.of<IConnackPacket>('connack')[0]?.returnCode, 1);
  assert.equal(link.closedWith, 'connectRefused');
  assert.equal(session.write(publish('t', 'x')), true);
  assert.equal(link.received.length, 1);
  b.close();
});

test('server shutdown: MQTT 5 clients get DISCONNECT 0x8B', async () => {
  const b = broker();
  const link = new MemoryLink(connectPacket('v5', 5));
  await open(b, link);
  b.close();
  assert.equal(link.of('disconnect')[0] && (link.of('disconnect')[0] as { reasonCode?: number }).reasonCode, 0x8b);
  assert.equal(link.closedWith, 'serverShutdown');
});

test('one encoding is shared by subscribers that get the same bytes', async () => {
  const b = broker();
  const links = [new MemoryLink(connectPacket('s1')), new MemoryLink(connectPacket('s2'))];
  const sent: Buffer[] = [];
  for (const link of links) {
    const original = link.send.bind(link);
    link.send = (bytes: Buffer) => {
      if ((bytes[0] as number) >> 4 === 3) sent.push(bytes);
      return original(bytes);
    };
    const s = await open(b, link);
    s.write(bytes({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'fan', qos: 0 }] }));
  }
  const pub = await open(b, new MemoryLink(connectPacket('p')));
  pub.write(publish('fan', 'same'));
  assert.equal(sent.length, 2);
  assert.equal(sent[0], sent[1]);
  b.close();
});

test('while the gateway corks, packets to a client are held and written in one go after the chunk', async () => {
  const b = broker();
  const subLink = new MemoryLink(connectPacket('batched'));
  const writes: number[] = [];
  const original = subLink.send.bind(subLink);
  subLink.send = (bytes: Buffer) => {
    writes.push(bytes.length);
    return original(bytes);
  };
  const sub = await open(b, subLink);
  sub.write(bytes({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: 'b', qos: 0 }] }));
  const pub = await open(b, new MemoryLink(connectPacket('pub')));
  writes.length = 0;
  pub.cork?.();
  for (let i = 0; i < 5; i++) pub.write(publish('b', `m${i}`));
  pub.uncork?.();
  assert.equal(writes.length, 0);
  await Promise.resolve();
  assert.equal(writes.length, 1);
  assert.deepEqual(subLink.of<IPublishPacket>('publish').map((p) => p.payload.toString()), ['m0', 'm1', 'm2', 'm3', 'm4']);
  b.close();
});
