import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import mqttPacket, { type IConnackPacket, type IDisconnectPacket } from 'mqtt-packet';
import type WebSocket from 'ws';
import { startGateway, type TestGateway } from '../../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { PacketLog, type ProtocolVersion } from '../../helpers/raw-mqtt.js';
import { tcpFrom, wsHandshake, logLines } from '../../helpers/edge-clients.js';
import { makeTokenKeys, token, type TokenKeys } from '../../helpers/tokens.js';
import { within } from '../../helpers/wait.js';
import { upgradeStatus } from '../../helpers/raw-ws.js';

/**
 * AUTH_MODE=jwt: the token travels in the access_token query parameter, a cookie, the
 * Authorization header (all at the WebSocket handshake: 401 when invalid) or as the CONNECT
 * password (CONNACK 5 in 3.1.1; 0x86 / 0x87 in 5.0). Its expiry closes the connection.
 */

const needs = requireProgram(MOSQUITTO, 'mosquitto');
let broker: Mosquitto;
let keys: TokenKeys;
let gw: TestGateway;
const closers: (() => void)[] = [];

before(async () => {
  if (needs.skip) return;
  keys = await makeTokenKeys();
  broker = await startMosquitto();
  gw = await startGateway({
    BROKER_URL: broker.url,
    AUTH_MODE: 'jwt',
    JWT_SECRET: keys.secret,
    JWT_PUBLIC_KEY: keys.rsaPublicFile,
    JWT_AUDIENCE: 'mqtt-gateway',
    JWT_ISSUER: 'https://issuer.test',
  });
});
after(async () => {
  for (const close of closers) close();
  await gw?.close();
  await broker?.stop();
});

const good = { aud: 'mqtt-gateway', iss: 'https://issuer.test' };

function connectPacket(clientId: string, protocolVersion: ProtocolVersion, password?: string): Buffer {
  return mqttPacket.generate(
    {
      cmd: 'connect',
      protocolId: 'MQTT',
      protocolVersion,
      clientId,
      clean: true,
      keepalive: 30,
      ...(password !== undefined && { username: 'ignored', password: Buffer.from(password) }),
    },
    { protocolVersion },
  );
}

interface Session {
  log: PacketLog;
  closed: Promise<unknown>;
  send(bytes: Buffer): void;
}

/** A WebSocket MQTT session after a successful handshake with these headers and query. */
async function overWs(query: string, headers: Record<string, string>, protocolVersion: ProtocolVersion): Promise<Session | number> {
  const handshake = await wsHandshake(`${gw.wsUrl}${query}`, { headers });
  if (handshake.status !== undefined) return handshake.status;
  const ws: WebSocket = handshake.ws;
  closers.push(() => ws.terminate());
  const log = new PacketLog(protocolVersion);
  ws.on('message', (data: Buffer) => log.push(data));
  const closed = new Promise((resolve) => ws.once('close', (code: number) => resolve(code)));
  return { log, closed, send: (bytes) => ws.send(bytes) };
}

async function overTcp(protocolVersion: ProtocolVersion): Promise<Session> {
  const peer = await tcpFrom(gw.ports.mqtt as number, '127.0.0.1', protocolVersion);
  closers.push(() => peer.socket.destroy());
  return { log: peer.log, closed: peer.closed, send: (bytes) => peer.socket.write(bytes) };
}

async function connack(session: Session, clientId: string, protocolVersion: ProtocolVersion, password?: string): Promise<IConnackPacket> {
  session.send(connectPacket(clientId, protocolVersion, password));
  return session.log.first<IConnackPacket>('connack');
}

const code = (packet: IConnackPacket) => packet.reasonCode ?? packet.returnCode;

for (const place of ['query', 'cookie', 'header'] as const) {
  const carry = (jwt: string): { query: string; headers: Record<string, string> } =>
    place === 'query'
      ? { query: `?access_token=${jwt}`, headers: {} }
      : place === 'cookie'
        ? { query: '', headers: { Cookie: `theme=dark; access_token=${jwt}` } }
        : { query: '', headers: { Authorization: `Bearer ${jwt}` } };

  test(`token in the ${place}: a valid one opens the WebSocket and MQTT connects`, needs, async () => {
    const { query, headers } = carry(await token(keys, { claims: good }));
    const session = await overWs(query, headers, 4);
    assert.notEqual(typeof session, 'number', `refused with ${String(session)}`);
    assert.equal(code(await connack(session as Session, `jwt-${place}`, 4)), 0);
  });

  test(`token in the ${place}: a bad signature, an expired token, a wrong audience are refused with 401`, needs, async () => {
    const forged = (await token(keys, { claims: good })).replace(/.{4}$/, 'AAAA');
    const expired = await token(keys, { claims: good, expiresIn: -10 });
    const otherAudience = await token(keys, { claims: { ...good, aud: 'someone-else' } });
    for (const jwt of [forged, expired, otherAudience, 'not-a-jwt']) {
      const { query, headers } = carry(jwt);
      assert.equal(await overWs(query, headers, 4), 401);
    }
    assert.ok(logLines(gw.logs, 'upgrade refused', { status: 401 }).some((l) => /expired/.test(String(l.reason))));
  });
}

test('RS256 token (JWT_PUBLIC_KEY) is accepted; an RS256 token signed with another key is not', needs, async () => {
  const session = await overWs('', { Authorization: `Bearer ${await token(keys, { alg: 'RS256', claims: good })}` }, 4);
  assert.equal(code(await connack(session as Session, 'jwt-rs256', 4)), 0);
  const other = await makeTokenKeys();
  assert.equal(await overWs('', { Authorization: `Bearer ${await token(other, { alg: 'RS256', claims: good })}` }, 4), 401);
});

for (const protocolVersion of [4, 5] as const) {
  const name = protocolVersion === 5 ? '5.0' : '3.1.1';
  for (const transport of ['ws', 'tcp'] as const) {
    const open = () => (transport === 'ws' ? overWs('', {}, protocolVersion) : overTcp(protocolVersion)) as Promise<Session>;

    test(`MQTT ${name} over ${transport}: the token as CONNECT password is accepted`, needs, async () => {
      const session = await open();
      assert.equal(code(await connack(session, `pw-${transport}-${protocolVersion}`, protocolVersion, await token(keys, { claims: good }))), 0);
    });

    test(`MQTT ${name} over ${transport}: a bad token as password gets CONNACK ${protocolVersion === 5 ? '0x86' : '5'} and the close`, needs, async () => {
      const session = await open();
      const answer = await connack(session, `bad-${transport}-${protocolVersion}`, protocolVersion, await token(keys, { claims: good, expiresIn: -5 }));
      assert.equal(code(answer), protocolVersion === 5 ? 0x86 : 5);
      await within(session.closed, 3000, 'the close after the refusal');
    });

    test(`MQTT ${name} over ${transport}: no token at all gets CONNACK ${protocolVersion === 5 ? '0x87' : '5'} and the close`, needs, async () => {
      const session = await open();
      assert.equal(code(await connack(session, `none-${transport}-${protocolVersion}`, protocolVersion)), protocolVersion === 5 ? 0x87 : 5);
      await within(session.closed, 3000, 'the close after the refusal');
      assert.ok(logLines(gw.logs, 'CONNECT refused at the edge', { clientId: `none-${transport}-${protocolVersion}` }).length === 1);
    });
  }
}

test('expiry: an MQTT 5 client whose token expires gets DISCONNECT 0x87 and is closed (1008)', needs, async () => {
  const session = (await overWs('', { Authorization: `Bearer ${await token(keys, { claims: good, expiresIn: 2 })}` }, 5)) as Session;
  assert.equal(code(await connack(session, 'expiring-5', 5)), 0);
  const disconnect = await session.log.first<IDisconnectPacket>('disconnect', 5000);
  assert.equal(disconnect.reasonCode, 0x87);
  assert.equal(await within(session.closed, 3000, 'the close after DISCONNECT'), 1008);
  assert.equal(logLines(gw.logs, 'closing client', { clientId: 'expiring-5', reason: 'credentials expired' }).length, 1);
});

test('expiry: an MQTT 3.1.1 client whose token (the CONNECT password) expires is closed', needs, async () => {
  const session = await overTcp(4);
  const started = Date.now();
  assert.equal(code(await connack(session, 'expiring-4', 4, await token(keys, { claims: good, expiresIn: 2 }))), 0);
  await within(session.closed, 5000, 'the close at expiry');
  assert.ok(Date.now() - started >= 900, 'not closed before the token expired');
  assert.equal(session.log.packets.length, 1, 'only the CONNACK: 3.1.1 has no DISCONNECT from the server');
});

test('a cookie that is not valid percent-encoding is no token, and the gateway keeps serving', async (t) => {
  const gw = await startGateway({ AUTH_MODE: 'jwt', JWT_SECRET: 'a-secret-long-enough-for-hs256-0123456789', HTTPS_PORT: '', MQTTS_PORT: '' });
  t.after(() => gw.close());
  const status = await upgradeStatus(gw.wsUrl, { 'Sec-WebSocket-Protocol': 'mqtt', Cookie: 'access_token=%E0%A4%A' });
  assert.equal(status, 101, 'no token at the handshake: the decision waits for the CONNECT');
  assert.equal((await fetch(`${gw.httpUrl}/healthz`)).status, 200);
});
