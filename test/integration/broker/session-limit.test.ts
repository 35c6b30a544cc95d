import { test, beforeEach, afterEach } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket, IConnectPacket, IPublishPacket } from 'mqtt-packet';
import type { TestGateway } from '../../helpers/gateway.js';
import { RawTcpClient, packetBytes, publishBytes, subscribeBytes } from '../../helpers/raw-mqtt.js';
import { waitFor } from '../../helpers/wait.js';
import { startBroker, tcpPort, vname, VERSIONS, type Version } from './helpers.js';

/**
 * MAX_SESSIONS: with the store full, a CONNECT that would start a new session is refused (CONNACK
 * 3 Server unavailable in 3.1.1, 0x97 Quota exceeded in 5.0) with one log line, and nothing else
 * changes: its will is not published, no session is touched. Resuming or taking over a session is
 * still allowed, and a session that ends makes room.
 */

const LIMIT = 2;
const REFUSED = { 4: 3, 5: 0x97 } as const;

let gw: TestGateway;
const clients: RawTcpClient[] = [];
beforeEach(async () => (gw = await startBroker({ MAX_SESSIONS: String(LIMIT), LOG_LEVEL: 'debug' })));
afterEach(async () => {
  await Promise.all(clients.splice(0).map((c) => c.close()));
  await gw.close();
});

type Connect = Partial<IConnectPacket>;

/** A persistent session: Clean Session 0 (3.1.1), or Clean Start 0 with an expiry (5.0). */
const persistent = (version: Version): Connect =>
  version === 5 ? { clean: false, properties: { sessionExpiryInterval: 600 } } : { clean: false };

async function rawConnect(version: Version, clientId: string, extra: Connect = {}): Promise<[RawTcpClient, IConnackPacket]> {
  const raw = await RawTcpClient.open(tcpPort(gw), version);
  clients.push(raw);
  raw.socket.write(packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: version, clientId, clean: true, keepalive: 0, ...extra }, version));
  return [raw, await raw.log.first<IConnackPacket>('connack')];
}

const code = (c: IConnackPacket) => c.returnCode ?? c.reasonCode;

/** A PINGREQ round trip: the connection is still served. */
async function alive(raw: RawTcpClient, version: Version): Promise<void> {
  const before = raw.log.count('pingresp');
  raw.socket.write(packetBytes({ cmd: 'pingreq' }, version));
  await waitFor(() => raw.log.count('pingresp') > before, 'PINGRESP');
}

/** DISCONNECT, then the server closes: by then the broker has ended or kept the session. */
async function disconnect(raw: RawTcpClient, version: Version): Promise<void> {
  raw.socket.write(packetBytes({ cmd: 'disconnect' }, version));
  await raw.closed;
}

for (const version of VERSIONS) {
  test(`${vname(version)}: past MAX_SESSIONS a new client id is refused (${REFUSED[version] === 3 ? 'CONNACK 3' : 'CONNACK 0x97'}), logged once, its will not published`, async () => {
    const [keeper] = await rawConnect(version, 'keeper', persistent(version));
    keeper.socket.write(subscribeBytes('news/#', 0, version));
    await keeper.log.first('suback');
    const [other, otherAck] = await rawConnect(version, 'other');
    assert.equal(code(otherAck), 0);

    const will = { topic: 'news/will', payload: Buffer.from('newcomer gone'), qos: 0 as const, retain: false };
    const [newcomer, refused] = await rawConnect(version, 'newcomer', { will });
    assert.equal(code(refused), REFUSED[version]);
    assert.equal(refused.sessionPresent, false);
    await newcomer.closed;

    const lines = gw.logs.filter((l) => l.refusal !== undefined);
    assert.equal(lines.length, 1);
    assert.deepEqual(
      { level: lines[0]?.level, clientId: lines[0]?.clientId, refusal: lines[0]?.refusal, sessions: lines[0]?.sessions, limit: lines[0]?.limit },
      { level: 40, clientId: 'newcomer', refusal: 'quotaExceeded', sessions: LIMIT, limit: LIMIT },
    );

    // Nothing else disturbed: both clients are served, and the marker is the first thing the keeper gets.
    await alive(keeper, version);
    await alive(other, version);
    other.socket.write(publishBytes('news/marker', 'm', { protocolVersion: version }));
    await keeper.log.first('publish');
    const got = keeper.log.packets.filter((p): p is IPublishPacket => p.cmd === 'publish');
    assert.deepEqual(got.map((p) => p.topic), ['news/marker']);
  });

  test(`${vname(version)}: with MAX_SESSIONS reached, a client id with a session still resumes or takes it over`, async () => {
    const [keeper] = await rawConnect(version, 'keeper', persistent(version));
    const [other] = await rawConnect(version, 'other');
    // Takeover of a connected client's session [MQTT-3.1.4-3].
    const [, takeover] = await rawConnect(version, 'other');
    assert.equal(code(takeover), 0);
    await other.closed;
    // Resumption of a stored session [MQTT-3.2.2-3].
    await keeper.close();
    const [, resumed] = await rawConnect(version, 'keeper', persistent(version));
    assert.equal(code(resumed), 0);
    assert.equal(resumed.sessionPresent, true);
    assert.equal(gw.logs.filter((l) => l.refusal !== undefined).length, 0);
  });

  test(`${vname(version)}: a session that ends with its connection frees its place under MAX_SESSIONS`, async () => {
    await rawConnect(version, 'keeper', persistent(version));
    const [other] = await rawConnect(version, 'other');
    const [, refused] = await rawConnect(version, 'newcomer');
    assert.equal(code(refused), REFUSED[version]);
    await disconnect(other, version);
    const [, accepted] = await rawConnect(version, 'newcomer');
    assert.equal(code(accepted), 0);
    // The persistent one is still held: the store is full again.
    const [, again] = await rawConnect(version, 'third');
    assert.equal(code(again), REFUSED[version]);
  });
}

test('MAX_SESSIONS=0: no limit', async () => {
  const unlimited = await startBroker({ MAX_SESSIONS: '0' });
  const opened: RawTcpClient[] = [];
  try {
    for (let i = 0; i < 5; i++) {
      const raw = await RawTcpClient.open(tcpPort(unlimited), 4);
      opened.push(raw);
      raw.socket.write(packetBytes({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: `free-${i}`, clean: false, keepalive: 0 }, 4));
      assert.equal((await raw.log.first<IConnackPacket>('connack')).returnCode, 0);
    }
  } finally {
    await Promise.all(opened.map((c) => c.close()));
    await unlimited.close();
  }
});
