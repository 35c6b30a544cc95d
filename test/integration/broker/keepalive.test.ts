import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { timePasses } from '../../helpers/wait.js';
import type { IDisconnectPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, packetBytes } from '../../helpers/raw-mqtt.js';
import { closeAll, connectWithInbox, startBroker, vname, VERSIONS , tcpPort } from './helpers.js';

let gw: TestGateway;
before(async () => (gw = await startBroker()));
after(async () => {
  await closeAll();
  await gw.close();
});

async function rawWithKeepAlive(id: string, version: 4 | 5, keepalive: number, willTopic: string): Promise<RawTcpClient> {
  const raw = await RawTcpClient.open(tcpPort(gw), version);
  const will = { topic: willTopic, payload: Buffer.from('timed out'), qos: 0 as const, retain: false };
  raw.socket.write(packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId: id, clean: true, keepalive, will }, version));
  await raw.log.first('connack');
  return raw;
}

for (const version of VERSIONS) {
  test(`${vname(version)}: [MQTT-3.1.2-24] a client silent for 1.5 × keep alive is disconnected and its will published`, async () => {
    const t = `ka/${version}`;
    const [watcher, inbox] = await connectWithInbox(gw.mqttUrl, { protocolVersion: version, clientId: `ka-watch-${version}` });
    await watcher.subscribeAsync(t);
    const raw = await rawWithKeepAlive(`silent-${version}`, version, 1, t);
    const start = Date.now();
    await raw.closed;
    const elapsed = Date.now() - start;
    assert.ok(elapsed >= 1400 && elapsed < 3000, `closed after ${elapsed} ms`);
    if (version === 5) assert.equal((await raw.log.first<IDisconnectPacket>('disconnect')).reasonCode, 0x8d);
    assert.equal((await inbox.take(1))[0]?.payload, 'timed out');
  });

  test(`${vname(version)}: [MQTT-3.12.4-1] PINGREQ gets PINGRESP and keeps the connection alive`, async () => {
    const raw = await rawWithKeepAlive(`pinger-${version}`, version, 1, `ka/ping/${version}`);
    const ping = packetBytes({ cmd: 'pingreq' }, version);
    for (let i = 0; i < 4; i++) {
      raw.socket.write(ping);
      const before = raw.log.count('pingresp');
      await new Promise<void>((resolve) => raw.log.once('packet', () => resolve()));
      assert.equal(raw.log.count('pingresp'), before + 1);
      // Half the keep alive between pings: 2 s in all, more than 1.5 × 1 s.
      await timePasses(500);
    }
    assert.equal(raw.socket.destroyed, false);
    await raw.close();
  });
}
