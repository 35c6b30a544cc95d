import fs from 'node:fs';
import type { Config } from '../config.js';
import type { Logger } from '../log.js';
import type { Metrics } from '../metrics.js';
import { BrokerPool, brokerName } from './pool.js';
import { TcpBridge } from './tcp-bridge.js';
import type { Upstream } from './upstream.js';

/** The upstream for BROKER_URL: one backend through the bridge, or several as a pool. */
export function backendUpstream(config: Config, log: Logger, metrics?: Metrics): Upstream {
  const common = {
    brokerCa: config.brokerCa === null ? null : fs.readFileSync(config.brokerCa),
    connectTimeoutMs: config.brokerConnectTimeoutMs,
    lingerMs: config.shutdownTimeoutMs,
    proxyProtocol: config.brokerProxyProtocol,
    ...(metrics && { metrics }),
  };
  const [first, ...others] = config.brokers;
  if (first === undefined) throw new Error('backendUpstream needs BROKER_URL');
  if (others.length === 0) return new TcpBridge({ ...common, broker: first });
  return new BrokerPool({ ...common, brokers: config.brokers, healthIntervalMs: config.brokerHealthIntervalMs, log });
}

/** BROKER_URL as a log field: every backend, or 'embedded'. */
export function backendNames(config: Config): string {
  return config.brokers.length === 0 ? 'embedded' : config.brokers.map(brokerName).join(',');
}
