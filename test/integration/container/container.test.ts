import { describe, test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import https from 'node:https';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import mqtt, { type IClientOptions, type MqttClient } from 'mqtt';
import { freePort, startMosquitto, MOSQUITTO, type Mosquitto } from '../../helpers/mosquitto.js';
import { requireProgram } from '../../helpers/programs.js';
import { waitFor, within } from '../../helpers/wait.js';
import { BUSYBOX, importBaseImage } from './base-image.js';
import { PODMAN, Podman } from './podman.js';

/**
 * The Dockerfile, built and run with podman: a local stand-in for the official Node.js image (no registry is
 * reachable here), the real `npm ci` from the npm registry, then the image run against a real Mosquitto.
 */
const needs = [
  requireProgram(PODMAN, 'podman runc busybox-static'),
  requireProgram(BUSYBOX, 'busybox-static'),
  requireProgram(MOSQUITTO, 'mosquitto'),
].find((n) => n.skip) ?? {};

const REPO = fileURLToPath(new URL('../../..', import.meta.url));
const BASE_IMAGE = 'localhost/mqtt-ws-gateway-base:test';
const IMAGE = 'localhost/mqtt-ws-gateway:test';
const BUILD_TIMEOUT_MS = 420_000;
const START_TIMEOUT_MS = 30_000;

let podman: Podman;
let broker: Mosquitto;
/** The gateway container on host networking, every listener on a free loopback port. */
let gateway: string;
const ports = { http: 0, https: 0, mqtt: 0, mqtts: 0 };
const timings: string[] = [];

/** The runner's SIGTERM (file timeout) skips `after`: remove the containers and storage before going. */
function onTerminate(): void {
  podman?.disposeSync();
  void broker?.kill();
  process.exit(143);
}

async function timed<T>(what: string, work: () => Promise<T>): Promise<T> {
  const started = Date.now();
  const result = await work();
  timings.push(`${what}: ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return result;
}

async function healthz(): Promise<number | false> {
  try {
    return (await fetch(`http://127.0.0.1:${ports.http}/healthz`)).status;
  } catch {
    return false;
  }
}

/** Fails with the container's logs when it does not answer /healthz in time (or has exited). */
async function waitHealthy(container: string, check: () => Promise<unknown>): Promise<void> {
  try {
    await waitFor(check, `${container} to answer /healthz`, START_TIMEOUT_MS);
  } catch (err) {
    throw new Error(`${(err as Error).message}\ncontainer output:\n${await podman.logs(container)}`, { cause: err });
  }
}

function connect(url: string, options: IClientOptions = {}): Promise<MqttClient> {
  return mqtt.connectAsync(url, { reconnectPeriod: 0, connectTimeout: 5000, ...options });
}

function nextMessage(client: MqttClient): Promise<[string, Buffer, mqtt.IPublishPacket]> {
  const message = new Promise<[string, Buffer, mqtt.IPublishPacket]>((resolve) =>
    client.once('message', (topic, payload, packet) => resolve([topic, payload, packet])),
  );
  return within(message, 5000, 'an MQTT message');
}

/** The credentials of a process as the kernel keeps them (host view: podman here uses no user namespace). */
function processStatus(pid: number): { uid: number; capEff: bigint } {
  const status = fs.readFileSync(`/proc/${pid}/status`, 'utf8');
  const uid = /^Uid:\s+(\d+)/m.exec(status)?.[1];
  const capEff = /^CapEff:\s+([0-9a-f]+)/m.exec(status)?.[1];
  assert.ok(uid !== undefined && capEff !== undefined, `unexpected /proc/${pid}/status:\n${status}`);
  return { uid: Number(uid), capEff: BigInt(`0x${capEff}`) };
}

describe('the container image', { ...needs, timeout: 600_000 }, () => {
  before(
    async () => {
      if (needs.skip) return;
      podman = new Podman(fs.mkdtempSync(path.join(os.tmpdir(), 'container-test-')));
      process.once('SIGTERM', onTerminate);
      // Mosquitto as the backend: the image is tested as a proxy; the embedded broker is tested elsewhere.
      broker = await startMosquitto();
      await timed('base image from the local Node.js', () => importBaseImage(podman, podman.dir, BASE_IMAGE));
      // --network host: RUN npm ci reaches the registry as this machine does. --format docker: the OCI format
      // drops HEALTHCHECK. chroot isolation: no nested namespaces needed. --layers=false: one commit per stage
      // instead of one per instruction, each of which vfs would store as a full copy of the filesystem.
      await timed('podman build', () =>
        podman.exec(
          ['build', '--isolation', 'chroot', '--network', 'host', '--pull=never', '--format', 'docker',
            '--layers=false', '--build-arg', `BASE_IMAGE=${BASE_IMAGE}`, '--tag', IMAGE, '--file', path.join(REPO, 'Dockerfile'), REPO],
          BUILD_TIMEOUT_MS,
        ),
      );
      for (const name of Object.keys(ports) as (keyof typeof ports)[]) ports[name] = await freePort();
      gateway = `gateway-${process.pid}`;
      await timed('container start to healthy', async () => {
        await podman.exec([
          'run', '--detach', '--name', gateway, '--network', 'host',
          // Only loopback: host networking would otherwise listen on every interface of the machine.
          '--env', 'HOST=127.0.0.1',
          '--env', `HTTP_PORT=${ports.http}`, '--env', `HTTPS_PORT=${ports.https}`,
          '--env', `MQTT_PORT=${ports.mqtt}`, '--env', `MQTTS_PORT=${ports.mqtts}`,
          '--env', `BROKER_URL=${broker.url}`, '--env', 'LOG_LEVEL=info',
          IMAGE,
        ]);
        await waitHealthy(gateway, healthz);
      });
    },
    { timeout: 600_000 },
  );

  after(
    async () => {
      if (needs.skip) return;
      process.removeListener('SIGTERM', onTerminate);
      try {
        await podman?.dispose();
      } finally {
        await broker?.stop();
      }
    },
    { timeout: 180_000 },
  );

  test('GET /healthz answers 200, and so does the image HEALTHCHECK', async (t) => {
    t.diagnostic(timings.join('; '));
    assert.equal(await healthz(), 200);
    // Runs the Dockerfile's HEALTHCHECK command inside the container; exit 0 means healthy.
    await podman.exec(['healthcheck', 'run', gateway]);
    const config = JSON.parse(await podman.output(['image', 'inspect', '--format', '{{json .Config}}', IMAGE])) as {
      ExposedPorts: Record<string, unknown>;
      Volumes: Record<string, unknown>;
      User: string;
    };
    assert.deepEqual(Object.keys(config.ExposedPorts).sort(), ['1883/tcp', '443/tcp', '80/tcp', '8883/tcp']);
    assert.deepEqual(Object.keys(config.Volumes), ['/app/certs']);
    assert.equal(config.User, 'node');
  });

  test('an MQTT message crosses the container: WebSocket publisher, TCP subscriber, Mosquitto behind', async () => {
    const sub = await connect(`mqtt://127.0.0.1:${ports.mqtt}`, { clientId: 'container-sub' });
    const pub = await connect(`ws://127.0.0.1:${ports.http}/mqtt`, { clientId: 'container-pub', protocolVersion: 5 });
    try {
      await sub.subscribeAsync('container/round-trip', { qos: 1 });
      const received = nextMessage(sub);
      await pub.publishAsync('container/round-trip', 'through the image', { qos: 1 });
      const [topic, payload, packet] = await received;
      assert.equal(topic, 'container/round-trip');
      assert.equal(payload.toString(), 'through the image');
      assert.equal(packet.qos, 1);
    } finally {
      await Promise.all([sub.endAsync(), pub.endAsync()]);
    }
  });

  test('TLS works from the certs volume: a development certificate is generated there as the node user', async () => {
    const status = await new Promise<number | undefined>((resolve, reject) => {
      https
        .get(`https://127.0.0.1:${ports.https}/healthz`, { rejectUnauthorized: false }, (res) => {
          res.resume();
          resolve(res.statusCode);
        })
        .on('error', reject);
    });
    assert.equal(status, 200);
    const files = await podman.output(['exec', gateway, 'ls', '/app/certs']);
    assert.match(files, /server\.crt/);
    assert.match(files, /server\.key/);
  });

  test('the gateway process runs as an unprivileged user with no capabilities', async () => {
    assert.equal(await podman.output(['exec', gateway, 'id', '-u']), '1000');
    const pid = Number(await podman.output(['inspect', '--format', '{{.State.Pid}}', gateway]));
    assert.ok(pid > 0, 'the container has a main process');
    const { uid, capEff } = processStatus(pid);
    assert.equal(uid, 1000);
    assert.equal(capEff, 0n);
  });

  test('the runtime image holds production dependencies only, and its code is read-only to the process', async () => {
    const modules = (await podman.output(['exec', gateway, 'ls', '/app/node_modules'])).split('\n');
    assert.ok(modules.includes('ws') && modules.includes('mqtt-packet'), `production dependencies: ${modules.join(' ')}`);
    for (const dev of ['typescript', 'tsx', 'eslint', 'playwright-core']) assert.ok(!modules.includes(dev), `${dev} is a dev dependency`);
    await assert.rejects(podman.exec(['exec', gateway, 'touch', '/app/dist/main.js']), /Permission denied|exit 1/);
    // The browser page ships with the image: its files, and the MQTT.js bundle it serves.
    assert.match(await podman.output(['exec', gateway, 'ls', '/app/dist/web']), /index\.html/);
  });

  test('with ip_unprivileged_port_start=0 the non-root gateway binds the default ports 80, 443, 1883 and 8883', async () => {
    // A network namespace of its own (none: no traffic leaves it), so the sysctl is the container's, not the host's.
    const name = `gateway-default-ports-${process.pid}`;
    await podman.exec([
      'run', '--detach', '--name', name, '--network', 'none',
      '--sysctl', 'net.ipv4.ip_unprivileged_port_start=0',
      '--env', 'BROKER_URL=mqtt://127.0.0.1:1883',
      IMAGE,
    ]);
    try {
      // The image's own HEALTHCHECK probes 127.0.0.1:80 from inside the container's namespace.
      await waitHealthy(name, async () => {
        try {
          await podman.exec(['healthcheck', 'run', name], 10_000);
          return true;
        } catch {
          return false;
        }
      });
      const listening = new Set(
        (await podman.output(['exec', name, 'cat', '/proc/net/tcp', '/proc/net/tcp6']))
          .split('\n')
          .map((line) => line.trim().split(/\s+/))
          .filter((fields) => fields[3] === '0A') // TCP_LISTEN
          .map((fields) => parseInt(fields[1]!.split(':')[1]!, 16)),
      );
      for (const port of [80, 443, 1883, 8883]) assert.ok(listening.has(port), `port ${port} is listening: ${[...listening].join(', ')}`);
      assert.equal(await podman.output(['exec', name, 'id', '-u']), '1000');
    } finally {
      await podman.exec(['rm', '--force', '--volumes', '--time', '2', name]);
    }
  });

  test('podman stop ends the gateway gracefully: SIGTERM to node as PID 1, exit code 0', async () => {
    const started = Date.now();
    await podman.exec(['stop', '--time', '20', gateway], 30_000);
    const exitCode = await podman.output(['inspect', '--format', '{{.State.ExitCode}}', gateway]);
    assert.equal(exitCode, '0', await podman.logs(gateway));
    assert.ok(Date.now() - started < 15_000, 'stopped by its own handler, not by the SIGKILL after --time');
  });
});
