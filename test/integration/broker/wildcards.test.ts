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
  test(`${vname(version)}: [MQTT-4.7.1-2] [MQTT-4.7.1-3] + and # match as specified`, async () => {
    const p = `w${version}`;
    const [sub, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `wsub-${version}` });
    await sub.subscribeAsync([`${p}/sport/tennis/+`, `${p}/finance/#`, `${p}/end`]);
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `wpub-${version}` });
    for (const t of ['sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport/tennis', 'finance', 'finance/stock/ibm', 'sport/tennis/']) {
      await pub.publishAsync(`${p}/${t}`, t);
    }
    await pub.publishAsync(`${p}/end`, 'end');
    const got = await inbox.nothingBefore(`${p}/end`);
    assert.deepEqual(got.map((m) => m.payload), ['sport/tennis/player1', 'finance', 'finance/stock/ibm', 'sport/tennis/']);
  });

  test(`${vname(version)}: [MQTT-4.7.2-1] topics starting with $ are not matched by wildcards at the first level`, async () => {
    const [sub, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `dsub-${version}` });
    await sub.subscribeAsync(['#', '+/dollar', `$dollar${version}/#`]);
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `dpub-${version}` });
    await pub.publishAsync(`$dollar${version}/x`, 'seen once');
    await pub.publishAsync('$other/dollar', 'not seen');
    await pub.publishAsync(`marker${version}`, 'm');
    const got = await inbox.nothingBefore(`marker${version}`);
    assert.deepEqual(got.map((m) => m.payload), ['seen once']);
  });

  test(`${vname(version)}: [MQTT-3.3.5-1] overlapping subscriptions deliver once, at the highest QoS`, async () => {
    const [sub, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `osub-${version}` });
    await sub.subscribeAsync({ [`o${version}/#`]: { qos: 0 }, [`o${version}/+/c`]: { qos: 2 }, [`o${version}/b/c`]: { qos: 1 } });
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `opub-${version}` });
    await pub.publishAsync(`o${version}/b/c`, 'x', { qos: 2 });
    await pub.publishAsync(`o${version}/end`, 'end', { qos: 0 });
    const got = await inbox.nothingBefore(`o${version}/end`);
    assert.deepEqual(got.map((m) => [m.payload, m.packet.qos]), [['x', 2]]);
  });

  test(`${vname(version)}: [MQTT-3.10.4-1] unsubscribe stops delivery; [MQTT-3.10.4-5] UNSUBACK even when nothing matched`, async () => {
    const [sub, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `usub-${version}` });
    await sub.subscribeAsync([`u${version}/a`, `u${version}/end`]);
    await sub.unsubscribeAsync([`u${version}/a`, `u${version}/never`]);
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `upub-${version}` });
    await pub.publishAsync(`u${version}/a`, 'gone');
    await pub.publishAsync(`u${version}/end`, 'end');
    assert.deepEqual(await inbox.nothingBefore(`u${version}/end`), []);
  });
}
