import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { FakeBackend } from '../../helpers/fake-backend.js';
import { RawTcpClient, RawWsClient, connectBytes, packetBytes, publishBytes, subscribeBytes, type PacketLog } from '../../helpers/raw-mqtt.js';
import { liveBytes, MB } from '../../helpers/memory.js';
import { waitEvent, within } from '../../helpers/wait.js';

/**
 * A reader that stops reading must not make the gateway hold what is sent to it: the gateway
 * stops reading the other side, so the sender's own buffers (Mosquitto's queue, the kernel's
 * socket buffers, the client's socket) fill instead. The gateway runs in this process, so its
 * memory is this process's live memory.
 */

const needs = requireProgram(MOSQUITTO, 'mosquitto');

/** What the flood may send at most, and for how long. */
const FLOOD_BYTES = 200 * MB;
const FLOOD_MS = 20_000;
/** The flood must get at least this far for the memory bound to mean something. */
const FLOOD_MIN_BYTES = 100 * MB;
/** Growth of the live memory allowed while the flood runs: far less than what is sent. */
const MEMORY_BOUND = 64 * MB;
const PAYLOAD = Buffer.alloc(64 * 1024, 'p');

let broker: Mosquitto;
let gw: TestGateway;

before(async () => {
  if (needs.skip) return;
  // Mosquitto drops QoS 0 messages for a client whose queue is full; kept small so that it, too, stays small.
  broker = await startMosquitto({ extraConfig: ['max_queued_messages 100', 'max_queued_bytes 8388608'] });
  gw = await startGateway({ BROKER_URL: broker.url, LOG_LEVEL: 'info' });
});
after(async () => {
  await gw?.close();
  await broker?.stop();
});

interface FloodResult {
  /** Bytes the gateway accepted from the publisher (written and flushed to the kernel). */
  sentBytes: number;
  /** Highest growth of live memory seen, from the baseline taken before the flood. */
  peakGrowth: number;
  /** True when the publisher was held back: no 'drain' within stallMs. */
  stalled: boolean;
}

/**
 * Publishes 64 KiB QoS 0 messages as fast as the socket takes them (write until it refuses, then
 * wait for 'drain'), until FLOOD_BYTES or FLOOD_MS, or until no 'drain' comes within stallMs.
 * Samples the live memory every 4 MB.
 */
async function flood(socket: Socket, topic: string, stallMs: number): Promise<FloodResult> {
  const packet = publishBytes(topic, PAYLOAD);
  const baseline = liveBytes();
  let peakGrowth = 0;
  let written = 0;
  let stalled = false;
  let nextSample = 4 * MB;
  const deadline = Date.now() + FLOOD_MS;
  while (written < FLOOD_BYTES && Date.now() < deadline) {
    const more = socket.write(packet);
    written += packet.length;
    if (written >= nextSample) {
      nextSample += 4 * MB;
      peakGrowth = Math.max(peakGrowth, liveBytes() - baseline);
    }
    if (!more) {
      const drained = await within(waitEvent(socket, 'drain', stallMs), stallMs + 1000, 'drain').then(
        () => true,
        () => false,
      );
      if (!drained) {
        stalled = true;
        break;
      }
    }
  }
  peakGrowth = Math.max(peakGrowth, liveBytes() - baseline);
  return { sentBytes: socket.bytesWritten - socket.writableLength, peakGrowth, stalled };
}

/** A raw TCP client through the gateway's MQTT listener, connected. */
async function tcpClient(clientId: string): Promise<RawTcpClient> {
  const client = await RawTcpClient.open(gw.ports.mqtt as number, 4, false);
  client.socket.write(connectBytes(clientId));
  await client.log.first('connack');
  return client;
}

/**
 * Sends PINGREQ until a PINGRESP comes back (at most every 500 ms, for 30 s): Mosquitto 2.0.11
 * drops a PINGRESP while the client's outgoing queue is full, so the first ones may go unanswered.
 * Mosquitto sends in order, so what it had queued before the PINGRESP has arrived by then.
 */
async function pingThrough(client: { ping(): void; log: PacketLog }): Promise<void> {
  const deadline = Date.now() + 30_000;
  while (client.log.count('pingresp') === 0) {
    if (Date.now() > deadline) throw new Error('no PINGRESP within 30 s');
    client.ping();
    await client.log.first('pingresp', 500).catch(() => undefined);
  }
}

const subscribers = {
  /** A WebSocket client whose socket is paused: its kernel buffer fills, then the gateway's. */
  'a WebSocket subscriber that stops reading': async (topic: string) => {
    const client = await RawWsClient.open(gw.wsUrl, { keepPackets: false });
    await client.connect(`stalled-ws-${topic}`);
    client.send(subscribeBytes(topic));
    await client.log.first('suback');
    client.ws.pause();
    return {
      resume: () => client.ws.resume(),
      ping: () => client.send(packetBytes({ cmd: 'pingreq' })),
      log: client.log,
      close: () => client.ws.terminate(),
    };
  },
  /** A raw MQTT client over TCP that never reads. */
  'a TCP subscriber that never reads': async (topic: string) => {
    const client = await tcpClient(`stalled-tcp-${topic}`);
    client.socket.write(subscribeBytes(topic));
    await client.log.first('suback');
    client.socket.pause();
    return {
      resume: () => client.socket.resume(),
      ping: () => client.socket.write(packetBytes({ cmd: 'pingreq' })),
      log: client.log,
      close: () => client.socket.destroy(),
    };
  },
};

for (const [name, makeSubscriber] of Object.entries(subscribers)) {
  test(`${name}: a QoS 0 flood through the gateway does not grow the gateway's memory`, needs, async () => {
    const topic = `flood/${name.split(' ')[1]}`;
    const subscriber = await makeSubscriber(topic);
    const publisher = await tcpClient(`flooder-${topic}`);
    try {
      // The publisher is never held back here (Mosquitto reads fast and drops for the stalled subscriber).
      const result = await flood(publisher.socket, topic, 10_000);
      assert.equal(result.stalled, false, 'the publisher was held back');
      assert.ok(result.sentBytes >= FLOOD_MIN_BYTES, `only ${(result.sentBytes / MB).toFixed(0)} MB were published in ${FLOOD_MS} ms`);
      assert.ok(
        result.peakGrowth < MEMORY_BOUND,
        `live memory grew by ${(result.peakGrowth / MB).toFixed(1)} MB while ${(result.sentBytes / MB).toFixed(0)} MB were published`,
      );

      // Reading again: whatever was held along the way arrives, then a PINGRESP queued behind it.
      const before = subscriber.log.count('publish');
      subscriber.resume();
      await pingThrough(subscriber);
      const delivered = (subscriber.log.count('publish') - before) * PAYLOAD.length;
      assert.ok(delivered < result.sentBytes / 2, `${(delivered / MB).toFixed(0)} MB of ${(result.sentBytes / MB).toFixed(0)} MB reached the stalled subscriber: nothing was throttled`);
      assert.equal(subscriber.log.error, undefined, 'the subscriber received valid MQTT');
    } finally {
      publisher.socket.destroy();
      subscriber.close();
    }
  });
}

test('a backend that stops reading holds the publisher back; when it reads again, every byte arrives', async () => {
  const backend = await FakeBackend.start((connection) => {
    void connection.log.first('connect').then(() => {
      connection.socket.write(mqttPacket.generate({ cmd: 'connack', returnCode: 0, sessionPresent: false }));
      connection.socket.pause();
    });
  });
  const stalledGw = await startGateway({ BROKER_URL: backend.url, LOG_LEVEL: 'info' });
  const publisher = await RawTcpClient.open(stalledGw.ports.mqtt as number, 4, false);
  try {
    publisher.socket.write(connectBytes('flooder'));
    await publisher.log.first('connack');
    const result = await flood(publisher.socket, 'flood/backend', 1000);
    assert.equal(result.stalled, true, `the publisher was never held back (${(result.sentBytes / MB).toFixed(0)} MB sent)`);
    assert.ok(
      result.peakGrowth < MEMORY_BOUND,
      `live memory grew by ${(result.peakGrowth / MB).toFixed(1)} MB while the backend read nothing`,
    );

    const connection = await backend.connection(0);
    connection.socket.resume();
    if (publisher.socket.writableLength > 0) await within(waitEvent(publisher.socket, 'drain', 10_000), 10_000, 'the publisher to drain');
    const sent = publisher.socket.bytesWritten;
    publisher.socket.end();
    await within(connection.ended, 10_000, 'the backend connection to end');
    assert.equal(connection.bytesReceived, sent, 'every byte the publisher sent reached the backend');
  } finally {
    publisher.socket.destroy();
    await stalledGw.close();
    await backend.close();
  }
});
