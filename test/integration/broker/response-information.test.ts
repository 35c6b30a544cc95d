import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import type { TestGateway } from '../../helpers/gateway.js';
import { closeAll, connectWithConnack, connectWithInbox, next, startBroker } from './helpers.js';

/**
 * Request Response Information (MQTT 5 section 3.1.2.11.6): asked for, CONNACK carries Response
 * Information `response/<client id>/`, the start of Response Topics the client may use (section 4.10).
 */

let gw: TestGateway;
before(async () => (gw = await startBroker()));
after(async () => {
  await closeAll();
  await gw.close();
});

test('MQTT 5.0: Request Response Information 1 gets Response Information response/<client id>/', async () => {
  const [, connack] = await connectWithConnack(gw.mqttUrl, { protocolVersion: 5, clientId: 'rri-asks', properties: { requestResponseInformation: true } });
  assert.equal(connack.properties?.responseInformation, 'response/rri-asks/');
});

test('MQTT 5.0: [MQTT-3.1.2-28] without Request Response Information 1 there is none', async () => {
  const [, absent] = await connectWithConnack(gw.mqttUrl, { protocolVersion: 5, clientId: 'rri-silent' });
  assert.equal(absent.properties?.responseInformation, undefined);
  const [, zero] = await connectWithConnack(gw.mqttUrl, { protocolVersion: 5, clientId: 'rri-zero', properties: { requestResponseInformation: false } });
  assert.equal(zero.properties?.responseInformation, undefined);
});

test('MQTT 5.0: a client id that cannot be one topic level (/, +, #) gets no Response Information', async () => {
  for (const clientId of ['rri/slash', 'rri+plus', 'rri#hash']) {
    const [, connack] = await connectWithConnack(gw.mqttUrl, { protocolVersion: 5, clientId, properties: { requestResponseInformation: true } });
    assert.equal(connack.properties?.responseInformation, undefined, clientId);
  }
});

test('MQTT 5.0: an assigned client id gets its Response Information too', async () => {
  const [, connack] = await connectWithConnack(gw.mqttUrl, { protocolVersion: 5, clientId: '', properties: { requestResponseInformation: true } });
  const assigned = connack.properties?.assignedClientIdentifier;
  assert.ok(assigned);
  assert.equal(connack.properties?.responseInformation, `response/${assigned}/`);
});

test('MQTT 5.0: a request answered on a Response Topic under the Response Information reaches the requester', async () => {
  const [requester, connack] = await connectWithConnack(gw.mqttUrl, { protocolVersion: 5, clientId: 'rri-requester', properties: { requestResponseInformation: true } });
  const info = connack.properties?.responseInformation;
  assert.ok(info);
  const [responder, requests] = await connectWithInbox(gw.mqttUrl, { protocolVersion: 5, clientId: 'rri-responder' });
  await responder.subscribeAsync('rri/service');
  await requester.subscribeAsync(`${info}#`);
  const reply = next<[string, Buffer, { properties?: { correlationData?: Buffer } }]>(requester, 'message');
  await requester.publishAsync('rri/service', 'ping', { qos: 1, properties: { responseTopic: `${info}service`, correlationData: Buffer.from('c-1') } });
  const [request] = await requests.take(1);
  const { responseTopic, correlationData } = request?.packet.properties ?? {};
  assert.equal(responseTopic, 'response/rri-requester/service');
  await responder.publishAsync(responseTopic as string, 'pong', { qos: 1, properties: { correlationData } });
  const [topic, payload, packet] = await reply;
  assert.equal(topic, 'response/rri-requester/service');
  assert.equal(payload.toString(), 'pong');
  assert.equal(packet.properties?.correlationData?.toString(), 'c-1');
});
