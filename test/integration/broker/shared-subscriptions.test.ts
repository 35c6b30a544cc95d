import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestGateway } from '../../helpers/gateway.js';
import { closeAll, connect, connectWithInbox, startBroker, vname, VERSIONS } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker()));
after(async () => {
  await closeAll();
  await gw.close();
});

for (const version of VERSIONS) {
  test(`${vname(version)}: $share/group/filter: each message goes to one member, round-robin`, async () => {
    const members = await Promise.all(
      [0, 1, 2].map((i) => connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `share-${version}-${i}` })),
    );
    for (const [c] of members) await c.subscribeAsync(`$share/g${version}/shared/${version}/+`, { qos: 1 });
    const [plain, plainInbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `share-plain-${version}` });
    await plain.subscribeAsync(`shared/${version}/+`, { qos: 1 });
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `share-pub-${version}` });
    for (let i = 0; i < 6; i++) await pub.publishAsync(`shared/${version}/x`, `m${i}`, { qos: 1 });
    // A plain subscription still gets every message.
    assert.equal((await plainInbox.take(6)).length, 6);
    const counts = await Promise.all(members.map(async ([, inbox]) => (await inbox.take(2)).length));
    assert.deepEqual(counts, [2, 2, 2]);
    const all = members.flatMap(([, inbox]) => inbox.messages.map((m) => m.payload)).sort();
    assert.deepEqual(all, ['m0', 'm1', 'm2', 'm3', 'm4', 'm5']);
  });
}

test('MQTT 5.0: retained messages are not sent to a new shared subscription', async () => {
  const pub = await connect(gw.mqttUrl, { protocolVersion: 5, clientId: 'share-ret-pub' });
  await pub.publishAsync('shret/t', 'retained', { retain: true, qos: 1 });
  const [c, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'share-ret' });
  await c.subscribeAsync('$share/g/shret/t', { qos: 1 });
  await c.subscribeAsync('shret/marker', { qos: 1 });
  await pub.publishAsync('shret/marker', 'm', { qos: 1 });
  assert.deepEqual(await inbox.nothingBefore('shret/marker'), []);
  await pub.publishAsync('shret/t', '', { retain: true, qos: 1 });
});
