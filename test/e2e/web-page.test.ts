import { test, before, after, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import type { EventEmitter } from 'node:events';
import fs from 'node:fs';
import net from 'node:net';
import { fileURLToPath } from 'node:url';
import mqtt, { type MqttClient } from 'mqtt';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { startGateway, type TestGateway } from '../helpers/gateway.js';
import { startMosquitto, MOSQUITTO, type Mosquitto } from '../helpers/mosquitto.js';
import { requireProgram } from '../helpers/programs.js';
import { waitEvent } from '../helpers/wait.js';

const CHROMIUM = '/usr/bin/chromium';
const needsBrowser = requireProgram(CHROMIUM, 'chromium');
const needsBroker = requireProgram(MOSQUITTO, 'mosquitto');
const needs = needsBrowser.skip ? needsBrowser : needsBroker;
const ARTIFACTS = fileURLToPath(new URL('../../test-artifacts/', import.meta.url));
const UI_TIMEOUT_MS = 10_000;

let broker: Mosquitto;
let gw: TestGateway;
let browser: Browser;

before(async () => {
  if (needs.skip) return;
  broker = await startMosquitto();
  gw = await startGateway({ BROKER_URL: broker.url });
  // launch() gives every run a fresh temporary profile, removed on close.
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run'],
    timeout: 30_000,
  });
});
after(async () => {
  await browser?.close();
  await gw?.close();
  await broker?.stop();
});

/** A page in a context of its own; any script error or CSP violation on it fails the test. */
async function openPage(t: TestContext, url: string, options: { ignoreHTTPSErrors?: boolean } = {}): Promise<Page> {
  const context: BrowserContext = await browser.newContext({ viewport: { width: 1200, height: 900 }, ...options });
  t.after(() => context.close());
  const page = await context.newPage();
  const problems: string[] = [];
  page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
  page.on('console', (message) => {
    // A refused WebSocket or fetch logs a console error on purpose in the diagnosis tests.
    if (message.type() === 'error' && /Content Security Policy|Uncaught/.test(message.text())) problems.push(message.text());
  });
  t.after(() => assert.deepEqual(problems, [], 'no script errors on the page'));
  await page.goto(url);
  return page;
}

async function nodeClient(url: string): Promise<MqttClient> {
  const client = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ca: gw.ca });
  await waitEvent(client as unknown as EventEmitter, 'connect');
  return client;
}

/** Connects the page with what is in its form, and waits until it says Connected. */
async function connectPage(page: Page): Promise<void> {
  await page.click('#connect');
  await page.waitForSelector('#status[data-state="connected"]', { timeout: UI_TIMEOUT_MS });
}

async function subscribePage(page: Page, filter: string): Promise<void> {
  await page.fill('#sub-topic', filter);
  await page.click('#subscribe');
  await page.locator('#subscriptions li', { hasText: filter }).waitFor({ timeout: UI_TIMEOUT_MS });
}

/** Messages cross both ways between the page and a Node MQTT.js client through the gateway. */
async function exchange(page: Page, node: MqttClient, prefix: string): Promise<void> {
  await subscribePage(page, `${prefix}/to-page`);
  await node.publishAsync(`${prefix}/to-page`, `hello page via ${prefix}`, { qos: 1 });
  await page.locator('#messages li', { hasText: `hello page via ${prefix}` }).waitFor({ timeout: UI_TIMEOUT_MS });

  await node.subscribeAsync(`${prefix}/from-page`, { qos: 1 });
  const received = waitEvent<[string, Buffer]>(node as unknown as EventEmitter, 'message', UI_TIMEOUT_MS);
  await page.fill('#pub-topic', `${prefix}/from-page`);
  await page.fill('#pub-payload', `hello node via ${prefix}`);
  await page.click('#publish');
  const [topic, payload] = await received;
  assert.equal(topic, `${prefix}/from-page`);
  assert.equal(payload.toString(), `hello node via ${prefix}`);
}

async function diagnosis(page: Page): Promise<string> {
  await page.waitForSelector('#status[data-state="failed"]', { timeout: UI_TIMEOUT_MS });
  const text = page.locator('#diagnosis-text');
  await text.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
  // The handshake diagnosis fills in after a probe request; wait until it has words.
  await page.locator('#diagnosis-text:not(:empty)').waitFor({ timeout: UI_TIMEOUT_MS });
  return (await text.textContent()) ?? '';
}

test('the page at / connects over ws, shows a message from Node, and sends one back', needs, async (t) => {
  const page = await openPage(t, `${gw.httpUrl}/`);
  assert.equal(await page.inputValue('#url'), `ws://127.0.0.1:${gw.ports.http}/mqtt`, 'same host and port as the page, path /mqtt');
  const node = await nodeClient(gw.mqttUrl);
  t.after(() => node.end(true));
  await connectPage(page);
  await exchange(page, node, 'ws');
  await node.publishAsync('ws/to-page', Buffer.from([0x00, 0xff, 0x10, 0x80]), { qos: 0 });
  await page.locator('#messages li .payload.binary').waitFor({ timeout: UI_TIMEOUT_MS });
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}page.png`, fullPage: true });
  await page.click('#disconnect');
  await page.waitForSelector('#status[data-state="disconnected"]', { timeout: UI_TIMEOUT_MS });
  await node.endAsync();
});

test('the page served over HTTPS connects over wss with the development certificate', needs, async (t) => {
  const page = await openPage(t, `${gw.httpsUrl}/`, { ignoreHTTPSErrors: true });
  assert.equal(await page.inputValue('#url'), `wss://localhost:${gw.ports.https}/mqtt`);
  await page.selectOption('#version', '5');
  const node = await nodeClient(gw.wssUrl);
  t.after(() => node.end(true));
  await connectPage(page);
  await exchange(page, node, 'wss');
  await node.endAsync();
});

test('the page explains a wrong path, an untrusted certificate, a refused origin and a refused CONNECT', needs, async (t) => {
  const strict = await startMosquitto({ extraConfig: ['allow_anonymous false'] });
  t.after(() => strict.stop());
  const authGateway = await startGateway({ BROKER_URL: strict.url, HTTPS_PORT: '', MQTT_PORT: '', MQTTS_PORT: '' });
  t.after(() => authGateway.close());
  const originGateway = await startGateway({
    BROKER_URL: broker.url,
    ALLOWED_ORIGINS: 'https://app.example',
    HTTPS_PORT: '',
    MQTT_PORT: '',
    MQTTS_PORT: '',
  });
  t.after(() => originGateway.close());

  const page = await openPage(t, `${gw.httpUrl}/`);
  const attempt = async (url: string): Promise<string> => {
    await page.fill('#url', url);
    await page.click('#connect');
    return diagnosis(page);
  };

  assert.match(await attempt(`ws://127.0.0.1:${gw.ports.http}/wrong`), /no MQTT endpoint at the path \/wrong/);
  assert.match(await attempt(`wss://localhost:${gw.ports.https}/mqtt`), /does not trust the gateway's TLS certificate/);
  assert.match(await attempt(`${originGateway.wsUrl}`), /refused this page's origin .*ALLOWED_ORIGINS/);
  assert.match(await attempt(`${authGateway.wsUrl}`), /Not authorized/);
  fs.mkdirSync(ARTIFACTS, { recursive: true });
  await page.screenshot({ path: `${ARTIFACTS}page-diagnosis.png`, fullPage: true });
});

test('the page explains a connection cut without a close frame, as an idle proxy does', needs, async (t) => {
  // A TCP proxy in front of the gateway that can drop its connections the way an idle timeout does.
  const sockets = new Set<net.Socket>();
  const proxy = net.createServer((inbound) => {
    const outbound = net.connect(gw.ports.http as number, '127.0.0.1');
    for (const socket of [inbound, outbound]) {
      sockets.add(socket);
      socket.on('error', () => socket.destroy()); // the cut itself resets the other side
      socket.on('close', () => sockets.delete(socket));
    }
    inbound.pipe(outbound).pipe(inbound);
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.after(() => new Promise((resolve) => proxy.close(resolve)));
  const { port } = proxy.address() as net.AddressInfo;

  const page = await openPage(t, `${gw.httpUrl}/`);
  await page.fill('#url', `ws://127.0.0.1:${port}/mqtt`);
  await page.fill('#keepalive', '120');
  await connectPage(page);
  for (const socket of sockets) socket.destroy();
  const text = await diagnosis(page);
  assert.match(text, /dropped without a proper close/);
  assert.match(text, /keep alive below their timeout/);
});
