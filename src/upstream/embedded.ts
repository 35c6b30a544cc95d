// PLACEHOLDER written by the lead so the gateway compiles; the broker author replaces this whole file.
import type { Logger } from 'pino';
import { GatewayError } from '../errors.js';
import type { Upstream } from './upstream.js';

export interface BrokerOptions {
  log: Logger;
  maxPacketSize: number;
  maxQueuedMessages: number;
  maxInflightMessages: number;
  authFile: string | null;
  aclFile: string | null;
}

export function createEmbeddedBroker(_options: BrokerOptions): Upstream {
  const refuse = async (): Promise<never> => {
    throw new GatewayError('ERR_NO_BROKER', 'the embedded broker is not built yet; set BROKER_URL');
  };
  return { open: refuse, ready: async () => false, close: async () => {} };
}
