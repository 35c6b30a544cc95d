import pino, { type Logger, type DestinationStream } from 'pino';
import type { LogLevel } from './config.js';

export type { Logger };

/** JSON lines with stable field names; passwords never reach a log line. */
export function createLogger(level: LogLevel, destination?: DestinationStream): Logger {
  return pino(
    {
      level,
      base: { name: 'mqtt-ws-gateway' },
      redact: { paths: ['password', '*.password', 'connect.password'], censor: '[redacted]' },
    },
    destination,
  );
}
