/**
 * Aedes as a standalone broker process for the broker comparison: raw MQTT on AEDES_TCP_PORT and
 * MQTT over WebSocket (any path, subprotocol `mqtt`) on AEDES_WS_PORT, both on AEDES_HOST.
 *
 * bench/run.ts finds Aedes (a devDependency, or BENCH_AEDES_FROM; see findAedes in servers.ts) and
 * passes its entry point in AEDES_MODULE; it is imported dynamically so that type-checking does not
 * depend on where it is installed. `ws` serves the WebSocket side.
 */
import http from 'node:http';
import net from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, createWebSocketStream } from 'ws';

/** The part of Aedes' API used here. */
interface AedesBroker {
  handle(stream: Duplex, request?: http.IncomingMessage): void;
  close(done?: () => void): void;
}
interface AedesModule {
  Aedes: { createBroker(): Promise<AedesBroker> };
}

const host = process.env.AEDES_HOST ?? '127.0.0.1';
const tcpPort = Number(process.env.AEDES_TCP_PORT);
const wsPort = Number(process.env.AEDES_WS_PORT);
const modulePath = process.env.AEDES_MODULE ?? 'aedes';

const { Aedes } = (await import(modulePath)) as AedesModule;
const broker = await Aedes.createBroker();

const tcpServer = net.createServer((socket) => {
  socket.setNoDelay(true);
  broker.handle(socket);
});
const httpServer = http.createServer();
const wss = new WebSocketServer({ server: httpServer, perMessageDeflate: false });
wss.on('connection', (socket, request) => broker.handle(createWebSocketStream(socket), request));

tcpServer.listen(tcpPort, host);
httpServer.listen(wsPort, host);

const stop = (): void => {
  tcpServer.close();
  httpServer.close();
  broker.close(() => process.exit(0));
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
