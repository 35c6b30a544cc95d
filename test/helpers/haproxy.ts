import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startPeer } from './peer-process.js';

export const HAPROXY = '/usr/sbin/haproxy';

export interface Haproxy {
  /** Every log line so far (tcplog format, one per connection as soon as it is established). */
  readonly lines: () => string[];
  stop(): Promise<void>;
}

/**
 * A real HAProxy in TCP mode, as the load balancer in front of the gateway or as a PROXY-reading
 * peer behind it. `sections` are the frontend/backend blocks; logs go to stdout, read by the test.
 */
export async function startHaproxy(sections: string, listenPort: number): Promise<Haproxy> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'haproxy-'));
  const config = path.join(dir, 'haproxy.cfg');
  fs.writeFileSync(
    config,
    [
      'global',
      '  log stdout format raw local0 info',
      'defaults',
      '  mode tcp',
      '  log global',
      '  option tcplog',
      '  option logasap',
      '  timeout connect 5s',
      '  timeout client 60s',
      '  timeout server 60s',
      sections,
      '',
    ].join('\n'),
  );
  const peer = await startPeer(HAPROXY, ['-f', config, '-db'], listenPort, dir);
  return {
    lines: () => peer.output().split('\n').filter((line) => line !== ''),
    stop: () => peer.stop(),
  };
}
