/**
 * The systems under test: each starts on free loopback ports in its own temporary directory and
 * stops completely (process group, directory) when asked.
 */
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Spawned } from './spawn.js';
import { generateSelfSignedCertificate } from '../src/tls/self-signed.js';
import { freePort, waitForPort, LOOPBACK } from './ports.js';
import type { Target } from './load/jobs.js';

export const REPO_ROOT = fileURLToPath(new URL('..', import.meta.url));
export const GATEWAY_MAIN = path.join(REPO_ROOT, 'dist', 'main.js');
const AEDES_SERVER = fileURLToPath(new URL('./aedes-server.ts', import.meta.url));
/** Generous: the gateway may first generate a self-signed certificate for wss. */
const READY_DEADLINE_MS = 30_000;
const WS_PATH = '/mqtt';
/** Each proxied connection costs the proxy two descriptors; ulimit -n is 20000 here. */
const NGINX_CONNECTIONS = 20_000;

export interface SystemUnderTest {
  readonly name: string;
  /** Roots of the process tree whose CPU and memory we measure. */
  readonly roots: readonly number[];
  /** Mosquitto behind a proxy, measured separately; empty when the system is the broker. */
  readonly backendRoots: readonly number[];
  readonly ws?: Target;
  readonly wss?: Target;
  readonly tcp?: Target;
  /** The last lines each process printed, for error reports. */
  recentOutput(): string;
  stop(): Promise<void>;
}

/** A temporary directory plus the processes started in it, stopped in reverse order. */
class Stack {
  readonly dir = mkdtempSync(path.join(tmpdir(), 'mqtt-bench-'));
  private readonly processes: Spawned[] = [];

  add(spawned: Spawned): Spawned {
    this.processes.push(spawned);
    return spawned;
  }

  async ready(spawned: Spawned, ports: readonly number[]): Promise<void> {
    for (const port of ports) await waitForPort(port, READY_DEADLINE_MS, () => spawned.exitedWith());
  }

  recentOutput(): string {
    return this.processes.map((p) => `--- ${p.name} (pid ${p.pid})\n${p.recentOutput()}`).join('\n');
  }

  async stop(): Promise<void> {
    for (const spawned of [...this.processes].reverse()) await spawned.stop();
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Starts the stack with `build`; if that fails, stops what was started and rethrows. */
  static async run<T>(build: (stack: Stack) => Promise<T>): Promise<T> {
    const stack = new Stack();
    try {
      return await build(stack);
    } catch (error) {
      await stack.stop();
      throw error;
    }
  }
}

const wsTarget = (port: number, subprotocol: string | null = 'mqtt', scheme = 'ws'): Target => ({
  url: `${scheme}://${LOOPBACK}:${port}${WS_PATH}`,
  subprotocol,
});
const tcpTarget = (port: number): Target => ({ url: `tcp://${LOOPBACK}:${port}`, subprotocol: null });

// ---------------------------------------------------------------------------------------------------
// Mosquitto: the backend of every proxy, and a broker under test itself.

interface Mosquitto {
  readonly process: Spawned;
  readonly tcpPort: number;
  readonly wsPort: number;
}

async function startMosquitto(stack: Stack): Promise<Mosquitto> {
  const tcpPort = await freePort();
  const wsPort = await freePort();
  const conf = path.join(stack.dir, 'mosquitto.conf');
  writeFileSync(
    conf,
    [
      'per_listener_settings false',
      'allow_anonymous true',
      'persistence false',
      'log_dest stderr',
      'log_type error',
      'log_type warning',
      // Large queues: the bench bounds what is in flight itself, and must never see drops for queue limits.
      'max_queued_messages 1000000',
      // Without this, Nagle's algorithm on Mosquitto's sockets adds up to 40 ms to some deliveries.
      'set_tcp_nodelay true',
      `listener ${tcpPort} ${LOOPBACK}`,
      `listener ${wsPort} ${LOOPBACK}`,
      'protocol websockets',
      '',
    ].join('\n'),
  );
  const broker = stack.add(new Spawned('mosquitto', '/usr/sbin/mosquitto', ['-c', conf], {}));
  await stack.ready(broker, [tcpPort, wsPort]);
  return { process: broker, tcpPort, wsPort };
}

// ---------------------------------------------------------------------------------------------------
// Part A: WebSocket proxies in front of Mosquitto.

export type ProxyKind = 'gateway' | 'nginx' | 'websockify' | 'mosquitto';
export const PROXY_LABELS: Record<ProxyKind, string> = {
  gateway: 'gateway',
  nginx: 'nginx',
  websockify: 'websockify',
  mosquitto: 'mosquitto (direct ws)',
};

export interface ProxyOptions {
  /** Also serve wss, with a self-signed development certificate made the gateway's way. */
  readonly tls?: boolean;
}

export function startProxy(kind: ProxyKind, options: ProxyOptions = {}): Promise<SystemUnderTest> {
  return Stack.run(async (stack) => {
    const mosquitto = await startMosquitto(stack);
    const backend = [mosquitto.process.pid];
    const done = (proxy: Spawned, targets: Pick<SystemUnderTest, 'ws' | 'wss'>): SystemUnderTest => ({
      name: PROXY_LABELS[kind],
      roots: [proxy.pid],
      backendRoots: kind === 'mosquitto' ? [] : backend,
      ...targets,
      recentOutput: () => stack.recentOutput(),
      stop: () => stack.stop(),
    });

    switch (kind) {
      case 'mosquitto':
        return done(mosquitto.process, { ws: wsTarget(mosquitto.wsPort) });

      case 'gateway': {
        const httpPort = await freePort();
        const httpsPort = options.tls ? await freePort() : null;
        const proxy = stack.add(
          startGateway(stack, {
            HTTP_PORT: String(httpPort),
            HTTPS_PORT: httpsPort === null ? '' : String(httpsPort),
            MQTT_PORT: '',
            BROKER_URL: `mqtt://${LOOPBACK}:${mosquitto.tcpPort}`,
          }),
        );
        await stack.ready(proxy, httpsPort === null ? [httpPort] : [httpPort, httpsPort]);
        return done(proxy, {
          ws: wsTarget(httpPort),
          ...(httpsPort === null ? {} : { wss: wsTarget(httpsPort, 'mqtt', 'wss') }),
        });
      }

      case 'nginx': {
        const port = await freePort();
        const tlsPort = options.tls ? await freePort() : null;
        const proxy = stack.add(startNginx(stack, port, tlsPort, mosquitto.wsPort));
        await stack.ready(proxy, tlsPort === null ? [port] : [port, tlsPort]);
        return done(proxy, { ws: wsTarget(port), ...(tlsPort === null ? {} : { wss: wsTarget(tlsPort, 'mqtt', 'wss') }) });
      }

      case 'websockify': {
        const port = await freePort();
        const proxy = stack.add(
          new Spawned('websockify', 'websockify', [`${LOOPBACK}:${port}`, `${LOOPBACK}:${mosquitto.tcpPort}`], {}),
        );
        await stack.ready(proxy, [port]);
        // websockify accepts only the `binary` subprotocol (or none); it refuses `mqtt`.
        return done(proxy, { ws: wsTarget(port, null) });
      }
    }
  });
}

function startGateway(stack: Stack, ports: Record<string, string>): Spawned {
  if (!existsSync(GATEWAY_MAIN)) throw new Error(`${GATEWAY_MAIN} does not exist (npm run build)`);
  const certsDir = path.join(stack.dir, 'certs');
  mkdirSync(certsDir);
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    HOST: LOOPBACK,
    HTTP_PORT: '',
    HTTPS_PORT: '',
    MQTT_PORT: '',
    MQTTS_PORT: '',
    LOG_LEVEL: 'warn',
    WS_PATH,
    // Development certificates go to the temporary directory, not the repository.
    CERTS_DIR: certsDir,
    ...ports,
  };
  if (ports.BROKER_URL === undefined) delete env.BROKER_URL;
  // cwd is the temporary directory so that a developer's .env is not picked up.
  // BENCH_GATEWAY_NODE_ARGS: extra node flags for the gateway, e.g. "--cpu-prof --cpu-prof-dir=/tmp/prof".
  const nodeArgs = process.env.BENCH_GATEWAY_NODE_ARGS?.split(' ').filter(Boolean) ?? [];
  return new Spawned('gateway', process.execPath, [...nodeArgs, GATEWAY_MAIN], { env, cwd: stack.dir });
}

function startNginx(stack: Stack, port: number, tlsPort: number | null, upstreamPort: number): Spawned {
  const temp = (name: string): string => path.join(stack.dir, name);
  const conf = temp('nginx.conf');
  let tls = '';
  if (tlsPort !== null) {
    const { certPem, keyPem } = generateSelfSignedCertificate('localhost');
    writeFileSync(temp('server.crt'), certPem);
    writeFileSync(temp('server.key'), keyPem);
    tls = `listen ${LOOPBACK}:${tlsPort} ssl;
    ssl_certificate ${temp('server.crt')};
    ssl_certificate_key ${temp('server.key')};
    ssl_protocols TLSv1.2 TLSv1.3;`;
  }
  writeFileSync(
    conf,
    `worker_processes 1;
daemon off;
master_process on;
error_log stderr warn;
pid ${temp('nginx.pid')};
worker_rlimit_nofile ${NGINX_CONNECTIONS};
events { worker_connections ${NGINX_CONNECTIONS}; }
http {
  access_log off;
  client_body_temp_path ${temp('client_body')};
  proxy_temp_path ${temp('proxy')};
  fastcgi_temp_path ${temp('fastcgi')};
  uwsgi_temp_path ${temp('uwsgi')};
  scgi_temp_path ${temp('scgi')};
  server {
    listen ${LOOPBACK}:${port};
    ${tls}
    location / {
      proxy_pass http://${LOOPBACK}:${upstreamPort};
      proxy_http_version 1.1;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection "upgrade";
      proxy_read_timeout 1h;
    }
  }
}
`,
  );
  // -e: the compiled-in error log path (/var/log/nginx) is opened before the config is read.
  return new Spawned('nginx', '/usr/sbin/nginx', ['-p', stack.dir, '-c', conf, '-e', 'stderr'], {});
}

// ---------------------------------------------------------------------------------------------------
// Part B: brokers, each with a raw MQTT TCP listener and a WebSocket listener.

export type BrokerKind = 'gateway' | 'mosquitto' | 'aedes';
export const BROKER_LABELS: Record<BrokerKind, string> = {
  gateway: 'gateway (embedded)',
  mosquitto: 'mosquitto',
  aedes: 'aedes',
};

export interface AedesInstall {
  /** file: URL of the package entry point, for a dynamic import. */
  readonly module: string;
  readonly version: string;
}

/**
 * Finds Aedes in `fromDir` (default: the repository, where it is a devDependency), or null.
 * A separate directory (BENCH_AEDES_FROM) survives a later `npm install` that prunes unsaved packages.
 */
export function findAedes(fromDir: string = REPO_ROOT): AedesInstall | null {
  // Aedes' "exports" hides package.json from require.resolve, so look along the node_modules chain.
  const searchPaths = createRequire(path.join(fromDir, 'package.json')).resolve.paths('aedes') ?? [];
  for (const dir of searchPaths) {
    const packageJson = path.join(dir, 'aedes', 'package.json');
    if (!existsSync(packageJson)) continue;
    const manifest = JSON.parse(readFileSync(packageJson, 'utf8')) as {
      version: string;
      main?: string;
      exports?: { '.'?: { default?: string } };
    };
    const entry = manifest.exports?.['.']?.default ?? manifest.main ?? 'aedes.js';
    return { module: pathToFileURL(path.join(dir, 'aedes', entry)).href, version: manifest.version };
  }
  return null;
}

/** Queue limits of the embedded broker, raised like Mosquitto's so no run drops for a limit. */
const EMBEDDED_BROKER_LIMITS = { MAX_QUEUED_MESSAGES: '1000000' };

export function startBroker(kind: BrokerKind, aedes: AedesInstall | null = null): Promise<SystemUnderTest> {
  return Stack.run(async (stack) => {
    const done = (broker: Spawned, tcpPort: number, wsPort: number): SystemUnderTest => ({
      name: BROKER_LABELS[kind],
      roots: [broker.pid],
      backendRoots: [],
      tcp: tcpTarget(tcpPort),
      ws: wsTarget(wsPort),
      recentOutput: () => stack.recentOutput(),
      stop: () => stack.stop(),
    });
    switch (kind) {
      case 'mosquitto': {
        const mosquitto = await startMosquitto(stack);
        return done(mosquitto.process, mosquitto.tcpPort, mosquitto.wsPort);
      }
      case 'gateway': {
        const httpPort = await freePort();
        const mqttPort = await freePort();
        const broker = stack.add(
          startGateway(stack, { HTTP_PORT: String(httpPort), MQTT_PORT: String(mqttPort), ...EMBEDDED_BROKER_LIMITS }),
        );
        await stack.ready(broker, [httpPort, mqttPort]);
        return done(broker, mqttPort, httpPort);
      }
      case 'aedes': {
        if (aedes === null) throw new Error('aedes is not installed (npm ci)');
        const tcpPort = await freePort();
        const wsPort = await freePort();
        const broker = stack.add(
          new Spawned('aedes', process.execPath, ['--import', 'tsx', AEDES_SERVER], {
            env: { ...process.env, AEDES_HOST: LOOPBACK, AEDES_TCP_PORT: String(tcpPort), AEDES_WS_PORT: String(wsPort), AEDES_MODULE: aedes.module },
            cwd: REPO_ROOT,
          }),
        );
        await stack.ready(broker, [tcpPort, wsPort]);
        return done(broker, tcpPort, wsPort);
      }
    }
  });
}
