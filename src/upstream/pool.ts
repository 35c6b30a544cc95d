import { createHash } from 'node:crypto';
import type { BrokerAddress } from '../config.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../log.js';
import { TcpBridge, type BridgeOptions } from './tcp-bridge.js';
import type { ClientLink, Upstream, UpstreamSession } from './upstream.js';

export interface PoolOptions extends Omit<BridgeOptions, 'broker'> {
  readonly brokers: readonly BrokerAddress[];
  /** How often every backend is probed with a TCP (and TLS) connect. */
  readonly healthIntervalMs: number;
  readonly log: Logger;
}

interface PoolNode {
  readonly broker: BrokerAddress;
  /** `mqtt://host:port`: the node's name in logs, and its key in the hash. */
  readonly name: string;
  healthy: boolean;
}

/**
 * Several backend brokers behind one gateway. A client goes to the healthy node that ranks first
 * for its client id by rendezvous hashing, so its persistent session is found on the same node
 * every time while the pool is stable; when a node leaves, only its clients move (each to its
 * next-ranked node), and when it returns they come back on their next connect. Nothing is shared
 * between gateway replicas: each computes the same choice from the same list.
 */
export class BrokerPool implements Upstream {
  private readonly bridge: TcpBridge;
  private readonly nodes: PoolNode[];
  private readonly timer: NodeJS.Timeout;
  private checking: Promise<void> | undefined;

  constructor(private readonly options: PoolOptions) {
    const first = options.brokers[0];
    if (first === undefined) throw new GatewayError('ERR_CONFIG', 'a broker pool needs at least one broker');
    this.bridge = new TcpBridge({ ...options, broker: first });
    this.nodes = options.brokers.map((broker) => ({ broker, name: brokerName(broker), healthy: true }));
    this.timer = setInterval(() => void this.checkAll(), options.healthIntervalMs).unref();
    void this.checkAll();
  }

  async open(client: ClientLink): Promise<UpstreamSession> {
    const key = client.connect.clientId || client.conn;
    const healthy = this.nodes.filter((node) => node.healthy);
    // With every node marked down, try them all anyway: the marks may be older than a recovery.
    const candidates = rendezvousOrder(key, healthy.length > 0 ? healthy : this.nodes, (node) => node.name);
    let failure: unknown;
    for (const node of candidates) {
      try {
        const session = await this.bridge.openOn(node.broker, client);
        client.log.debug({ backend: node.name }, 'backend chosen');
        return session;
      } catch (err) {
        if (err instanceof GatewayError && err.code === 'ERR_SHUTTING_DOWN') throw err;
        this.mark(node, false, (err as Error).message);
        failure = err;
      }
    }
    throw failure ?? new GatewayError('ERR_BACKEND_UNREACHABLE', 'no backend in the pool is reachable');
  }

  async ready(): Promise<boolean> {
    return this.nodes.some((node) => node.healthy);
  }

  async close(): Promise<void> {
    clearInterval(this.timer);
    await this.bridge.close();
  }

  /** Each node's name and health, in BROKER_URL order. */
  health(): { name: string; healthy: boolean }[] {
    return this.nodes.map(({ name, healthy }) => ({ name, healthy }));
  }

  /** Probes every node once (a probe still running is awaited instead of overlapped). */
  checkAll(): Promise<void> {
    this.checking ??= Promise.all(
      this.nodes.map(async (node) => this.mark(node, await this.bridge.reachable(node.broker), 'health check failed')),
    ).then(() => {
      this.checking = undefined;
    });
    return this.checking;
  }

  private mark(node: PoolNode, healthy: boolean, reason: string): void {
    if (node.healthy === healthy) return;
    node.healthy = healthy;
    if (healthy) this.options.log.info({ backend: node.name }, 'backend up');
    else this.options.log.warn({ backend: node.name, reason }, 'backend down');
  }
}

export function brokerName(broker: BrokerAddress): string {
  const host = broker.host.includes(':') ? `[${broker.host}]` : broker.host;
  return `${broker.tls ? 'mqtts' : 'mqtt'}://${host}:${broker.port}`;
}

/**
 * Rendezvous (highest random weight) hashing: every node gets a score from hash(node, key) and
 * the order is by score. Removing a node changes only the choice of the keys it ranked first.
 */
export function rendezvousOrder<T>(key: string, nodes: readonly T[], name: (node: T) => string): T[] {
  return nodes
    .map((node) => ({ node, score: score(name(node), key) }))
    .sort((a, b) => b.score - a.score)
    .map(({ node }) => node);
}

function score(node: string, key: string): number {
  return createHash('sha256').update(node).update('\0').update(key).digest().readUIntBE(0, 6);
}
