#!/usr/bin/env node
import dotenv from 'dotenv';
import { loadConfig } from './config.js';
import { ConfigError, GatewayError } from './errors.js';
import { createLogger } from './log.js';
import { Gateway } from './gateway.js';

dotenv.config({ quiet: true });

let config;
try {
  config = loadConfig(process.env);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`mqtt-ws-gateway: ${err.message}\n`);
  process.exit(2);
}

const log = createLogger(config.logLevel);
const gateway = await Gateway.start(config, log).catch((err: unknown) => {
  if (!(err instanceof GatewayError)) throw err;
  log.fatal({ code: err.code }, err.message);
  process.stderr.write(`mqtt-ws-gateway: ${err.message}\n`);
  process.exit(1);
});

let stopping = false;
for (const signal of ['SIGTERM', 'SIGINT'] as const) {
  process.on(signal, () => {
    if (stopping) return;
    stopping = true;
    log.info({ signal }, 'shutting down');
    gateway.close().then(
      () => process.exit(0),
      (err: unknown) => {
        log.error({ err }, 'shutdown failed');
        process.exit(1);
      },
    );
  });
}
