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
  for (const via of ['mqttUrl', 'wsUrl'] as const) {
    test(`${vname(version)} over ${via}: [MQTT-3.3.1-6] [MQTT-3.3.1-8] a retained message is sent to new subscribers with the retain flag`, async () => {
      const t = `r/${via}/${version}`;
      const pub = await connect(gw[via], { protocolVersion: version, clientId: `rpub-${via}-${version}` });
      await pub.publishAsync(`${t}/a`, 'first', { qos: 1, retain: true });
      await pub.publishAsync(`${t}/a`, 'second', { qos: 1, retain: true }); // replaces [MQTT-3.3.1-5]
      await pub.publishAsync(`${t}/b`, 'other', { qos: 0, retain: true });
      const [sub, inbox] = await connectWithInbox(gw[via], { protocolVersion: version, clientId: `rsub-${via}-${version}` });
      await sub.subscribeAsync(`${t}/#`, { qos: 1 });
      const got = (await inbox.take(2)).sort((x, y) => x.topic.localeCompare(y.topic));
      assert.deepEqual(got.map((m) => [m.topic, m.payload, m.packet.retain, m.packet.qos]), [
        [`${t}/a`, 'second', true, 1],
        [`${t}/b`, 'other', true, 0],
      ]);
    });
  }

  test(`${vname(version)}: [MQTT-3.3.1-9] live messages to existing subscribers carry retain 0`, async () => {
    const [sub, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `rlive-${version}` });
    await sub.subscribeAsync(`rlive/${version}`);
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `rlivepub-${version}` });
    await pub.publishAsync(`rlive/${version}`, 'x', { retain: true });
    assert.equal((await inbox.take(1))[0]?.packet.retain, false);
    await pub.publishAsync(`rlive/${version}`, '', { retain: true, qos: 1 });
  });

  test(`${vname(version)}: [MQTT-3.3.1-10] [MQTT-3.3.1-11] an empty retained payload removes the retained message`, async () => {
    const t = `rdel/${version}`;
    const pub = await connect(gw.mqttUrl, { protocolVersion: version, clientId: `rdelpub-${version}` });
    await pub.publishAsync(t, 'x', { retain: true, qos: 1 });
    await pub.publishAsync(t, '', { retain: true, qos: 1 });
    await pub.publishAsync(`${t}/marker`, 'm', { retain: true, qos: 1 });
    const [sub, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `rdelsub-${version}` });
    await sub.subscribeAsync(t);
    await sub.subscribeAsync(`${t}/marker`);
    assert.deepEqual(await inbox.nothingBefore(`${t}/marker`), []);
    await pub.publishAsync(`${t}/marker`, '', { retain: true, qos: 1 });
  });
}
