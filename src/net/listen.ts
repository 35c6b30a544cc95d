import type { Server } from 'node:net';
import { GatewayError } from '../errors.js';

/**
 * Binds a server and returns the port it got (port 0 picks a free one). A port that cannot be
 * bound stops the program with one line naming the variable and a way out.
 */
export function listen(server: Server, port: number, host: string, variable: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const onError = (err: NodeJS.ErrnoException): void => {
      const hint =
        err.code === 'EADDRINUSE'
          ? `port ${port} is already in use; set ${variable} to a free port, or to empty to disable this listener`
          : err.code === 'EACCES'
            ? `no permission to bind port ${port} (ports below 1024 need root or CAP_NET_BIND_SERVICE); ` +
              `set ${variable} to a port above 1023, e.g. ${port + 8000}`
            : `cannot listen on ${host}:${port}: ${err.message}`;
      reject(new GatewayError('ERR_LISTEN', `${variable}=${port}: ${hint}`, { cause: err }));
    };
    server.once('error', onError);
    server.listen(port, host, () => {
      server.off('error', onError);
      const address = server.address();
      resolve(typeof address === 'object' && address !== null ? address.port : port);
    });
  });
}
