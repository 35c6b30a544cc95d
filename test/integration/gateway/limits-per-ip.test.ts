import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { IConnackPacket } from 'mqtt-packet';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { connectBytes } from '../../helpers/raw-mqtt.js';
import { tcpFrom, wsHandshake, logLines, type TcpPeer } from '../../helpers/edge-clients.js';
import { waitFor, within } from '../../helpers/wait.js';

/**
 * Per-address limits: a flood from one address (127.0.0.2) is refused while another address
 * (127.0.0.1) still gets in. Both are loopback, so one machine plays two peers.
 */

const needs = requireProgram(MOSQUITTO, 'mosquitto');
let broker: Mosquitto;
const opened: TcpPeer[] = [];

before(async () => {
  if (needs.skip) return;
  broker = await startMosquitto();
});
after(async () => {
  await Promise.all(opened.map((peer) => peer.close()));
  await broker?.stop();
});

/** A raw MQTT client from `from` that completed CONNECT/CONNACK through the gateway. */
async function connected(gw: TestGateway, from: string, id: string): Promise<TcpPeer> {
  const peer = await tcpFrom(gw.ports.mqtt as number, from);
  opened.push(peer);
  peer.socket.write(connectBytes(id));
  const connack = await peer.log.first<IConnackPacket>('connack');
  assert.equal(connack.returnCode, 0);
  return peer;
}

/** A raw TCP connection the gateway drops without a byte. */
async function refused(gw: TestGateway, from: string): Promise<void> {
  const peer = await tcpFrom(gw.ports.mqtt as number, from);
  opened.push(peer);
  await within(peer.closed, 3000, 'the gateway to drop the connection');
  assert.equal(peer.log.packets.length, 0);
}

test('MAX_CONNECTIONS_PER_IP: the next connection from a full address is refused, another address connects, a close frees a place', needs, async () => {
  const gw = await startGateway({ BROKER_URL: broker.url, MAX_CONNECTIONS_PER_IP: '3' });
  try {
    const flood = [];
    for (let i = 0; i < 3; i++) flood.push(await connected(gw, '127.0.0.2', `flood-${i}`));
    await refused(gw, '127.0.0.2');
    const ws = await wsHandshake(gw.wsUrl, { localAddress: '127.0.0.2' });
    assert.equal(ws.status, 429);
    await connected(gw, '127.0.0.1', 'other-address');
    const lines = logLines(gw.logs, 'connection refused', { reason: 'too many connections from this address' });
    assert.ok(lines.length >= 2);
    assert.match(String(lines[0]?.remote), /^127\.0\.0\.2:/);

    await (flood[0] as TcpPeer).close();
    await waitFor(() => gw.gateway.edge.limiter.openFrom('127.0.0.2') === 2, 'the place to be released');
    await connected(gw, '127.0.0.2', 'flood-again');
    assert.equal(gw.gateway.edge.limiter.snapshot().perIpConnections, 2);
  } finally {
    await gw.close();
  }
});

test('CONNECTION_RATE_PER_IP: a burst is let in, the next is refused, another address connects', needs, async () => {
  const gw = await startGateway({ BROKER_URL: broker.url, CONNECTION_RATE_PER_IP: '1', CONNECTION_BURST_PER_IP: '4' });
  try {
    for (let i = 0; i < 4; i++) await connected(gw, '127.0.0.2', `burst-${i}`);
    await refused(gw, '127.0.0.2');
    const ws = await wsHandshake(gw.wsUrl, { localAddress: '127.0.0.2' });
    assert.equal(ws.status, 429);
    if (ws.status !== undefined) assert.match(ws.body, /too many new connections per second/);
    await connected(gw, '127.0.0.1', 'calm-address');
    assert.equal(gw.gateway.edge.limiter.snapshot().perIpRate, 2);
  } finally {
    await gw.close();
  }
});
