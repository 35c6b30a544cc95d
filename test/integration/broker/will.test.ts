import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, packetBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connect, connectWithInbox, startBroker, vname, VERSIONS , tcpPort } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker()));
after(async () => {
  await closeAll();
  await gw.close();
});

/** A raw client with a will, so the test decides exactly how it goes away. */
async function withWill(id: string, version: 4 | 5, topic: string, extra: { delay?: number; expiry?: number; clean?: boolean } = {}): Promise<RawTcpClient> {
  const raw = await RawTcpClient.open(tcpPort(gw), version);
  const will = { topic, payload: Buffer.from(`will of ${id}`), qos: 1 as const, retain: false, ...(version === 5 && extra.delay !== undefined && { properties: { willDelayInterval: extra.delay } }) };
  const properties = version === 5 && extra.expiry !== undefined ? { sessionExpiryInterval: extra.expiry } : undefined;
  raw.socket.write(
    packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId: id, clean: extra.clean ?? true, keepalive: 0, will, ...(properties && { properties }) }, version),
  );
  await raw.log.first('connack');
  return raw;
}

for (const version of VERSIONS) {
  for (const via of ['mqttUrl', 'wsUrl'] as const) {
    test(`${vname(version)} over ${via}: [MQTT-3.1.2-8] the will is published when the connection drops without DISCONNECT`, async () => {
      const t = `will/${via}/${version}`;
      const [watcher, inbox] = await connectWithInbox(gw[via], { protocolVersion: version, clientId: `watch-${via}-${version}` });
      await watcher.subscribeAsync(t, { qos: 1 });
      const dying = await connect(gw[via], { protocolVersion: version, clientId: `dying-${via}-${version}`, will: { topic: t, payload: Buffer.from('gone'), qos: 1, retain: false } });
      (dying as unknown as { stream: { destroy(): void } }).stream.destroy();
      const [got] = await inbox.take(1);
      assert.deepEqual([got?.topic, got?.payload], [t, 'gone']);
    });
  }

  test(`${vname(version)}: [MQTT-3.14.4-3] no will after a normal DISCONNECT`, async () => {
    const t = `will/normal/${version}`;
    const [watcher, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `nwatch-${version}` });
    await watcher.subscribeAsync([t, `${t}/marker`], { qos: 1 });
    const raw = await withWill(`normal-${version}`, version, t);
    raw.socket.end(packetBytes({ cmd: 'disconnect' }, version));
    await raw.closed;
    await watcher.publishAsync(`${t}/marker`, 'm', { qos: 1 });
    assert.deepEqual(await inbox.nothingBefore(`${t}/marker`), []);
  });
}

test('MQTT 5.0: DISCONNECT with reason 0x04 publishes the will', async () => {
  const t = 'will/0x04';
  const [watcher, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'watch-04' });
  await watcher.subscribeAsync(t, { qos: 1 });
  const raw = await withWill('with-will', 5, t);
  raw.socket.end(packetBytes({ cmd: 'disconnect', reasonCode: 0x04 }, 5));
  assert.equal((await inbox.take(1))[0]?.payload, 'will of with-will');
});

test('MQTT 5.0: [MQTT-3.1.3-9] the will waits for its delay interval, and is dropped if the client comes back in time', async () => {
  const t = 'will/delay';
  const [watcher, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'watch-delay' });
  await watcher.subscribeAsync([t, `${t}/marker`], { qos: 1 });

  // Comes back within the delay: no will.
  let raw = await withWill('delayed', 5, t, { delay: 1, expiry: 60, clean: false });
  await raw.close();
  raw = await withWill('delayed', 5, t, { delay: 1, expiry: 60, clean: false });
  const start = Date.now();
  await raw.close();
  // Stays away: the will comes after about a second.
  const [got] = await inbox.take(1, 4000);
  assert.equal(got?.payload, 'will of delayed');
  assert.ok(Date.now() - start >= 900, `will arrived after ${Date.now() - start} ms`);
  assert.equal(inbox.messages.length, 1);
});

test('MQTT 5.0: [MQTT-3.1.3-9] a will delay longer than the session expiry: the will goes when the session ends', async () => {
  const t = 'will/expiry';
  const [watcher, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'watch-expiry' });
  await watcher.subscribeAsync(t, { qos: 1 });
  const raw = await withWill('expiring', 5, t, { delay: 3600, expiry: 1, clean: false });
  await raw.close();
  assert.equal((await inbox.take(1, 4000))[0]?.payload, 'will of expiring');
});
