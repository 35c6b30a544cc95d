/**
 * The benchmark: `npm run bench` (or `npx tsx bench/run.ts`). See bench/README.md.
 *
 * Builds the gateway, then starts each system under test on free loopback ports, drives it from a
 * separate load-generator process, stops it, and finally prints Markdown tables (stdout) and writes
 * the full results as JSON. Progress goes to stderr.
 */
import { writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadBenchOptions, type BenchOptions } from './options.js';
import { runToEnd, killAllSpawned } from './spawn.js';
import { findAedes, GATEWAY_MAIN, REPO_ROOT, type AedesInstall } from './servers.js';
import { runProxyComparison } from './proxy-bench.js';
import { runBrokerComparison } from './broker-bench.js';
import { renderMarkdown } from './report.js';
import { progress } from './session.js';
import { openFilesLimit } from './proc.js';
import type { Meta, Results } from './results.js';

function installExitHandlers(): void {
  process.on('exit', killAllSpawned);
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.once(signal, () => {
      killAllSpawned();
      process.exit(130);
    });
  }
}

async function buildGateway(options: BenchOptions, errors: string[]): Promise<void> {
  if (!options.build) return;
  progress('npm run build');
  const { code, output } = await runToEnd('npm', ['run', 'build'], REPO_ROOT);
  if (code !== 0) {
    // tsc still emits on type errors; go on with whatever dist/ holds, but say so.
    const firstError = output.split('\n').find((line) => /error TS\d+/.test(line))?.trim() ?? output.trim().split('\n').at(-1);
    const message = `npm run build exited with ${code} (${firstError ?? 'no output'}); dist/ used as it is`;
    errors.push(message);
    progress(message);
  }
}

async function versionOf(command: string, args: readonly string[], pattern: RegExp): Promise<string> {
  const { output } = await runToEnd(command, args);
  return pattern.exec(output)?.[1] ?? 'unknown';
}

async function collectMeta(options: BenchOptions, aedes: AedesInstall | null, loadBefore: number): Promise<Meta> {
  const versions: Record<string, string> = {
    mosquitto: await versionOf('/usr/sbin/mosquitto', ['-h'], /mosquitto version (\S+)/),
    nginx: await versionOf('/usr/sbin/nginx', ['-v'], /nginx\/(\S+)/),
    websockify: await versionOf('dpkg-query', ['-W', '-f', '${Version}', 'websockify'], /^(\S+)/),
  };
  if (aedes !== null) versions.aedes = aedes.version;
  return {
    date: new Date().toISOString(),
    quick: options.quick,
    node: process.versions.node,
    cpu: os.cpus()[0]?.model.trim() ?? 'unknown',
    cores: os.cpus().length,
    memoryGiB: Math.round(os.totalmem() / 2 ** 30),
    versions,
    loadAverage: { before: loadBefore, after: null },
    settings: {
      warmupMs: options.warmupMs,
      proxyThroughputMs: options.proxyThroughputMs,
      proxyLatencyMs: options.proxyLatencyMs,
      latencyWarmupMs: options.latencyWarmupMs,
      latencyWindows: options.latencyWindows,
      proxyPairs: options.proxyPairs,
      payloads: options.payloads,
      brokerThroughputMs: options.brokerThroughputMs,
      brokerLatencyMs: options.brokerLatencyMs,
      brokerPayload: options.brokerPayload,
      fan: options.fan,
      window: options.window,
      latencyRate: options.latencyRate,
      idleConnections: options.idleConnections,
      idleConnectionsWebsockify: options.idleConnectionsWebsockify,
      holdTarget: options.connections ? options.holdTarget : null,
    },
  };
}

/** Each proxied connection holds two descriptors in the proxy, one in the backend, one in the load generator. */
function checkOpenFiles(options: BenchOptions): void {
  const limit = openFilesLimit();
  const needed = 2 * (options.connections ? options.holdTarget : options.idleConnections) + 100;
  if (limit !== null && limit < needed) {
    progress(`warning: ulimit -n is ${limit}; the connection steps need about ${needed} (run \`ulimit -n 20000\` first)`);
  }
}

async function main(): Promise<void> {
  installExitHandlers();
  const loadBefore = os.loadavg()[0] ?? 0;
  const options = loadBenchOptions(process.env);
  const startedAt = Date.now();
  const errors: string[] = [];
  checkOpenFiles(options);

  await buildGateway(options, errors);
  const aedes = findAedes(options.aedesFrom ?? REPO_ROOT);
  if (options.brokerPart && aedes === null) {
    errors.push('aedes is not installed: `npm ci` (it is a devDependency), or BENCH_AEDES_FROM=<dir with node_modules/aedes>');
  }
  progress(`gateway: ${GATEWAY_MAIN}; aedes: ${aedes === null ? 'not found' : aedes.version}`);

  const results: Results = {
    meta: await collectMeta(options, aedes, loadBefore),
    proxy: { flows: [], memory: [], connections: [] },
    broker: { runs: [] },
    errors,
  };

  if (options.proxyPart) await runProxyComparison(options, results);
  if (options.brokerPart) await runBrokerComparison(options, results, aedes);

  results.meta.loadAverage.after = os.loadavg()[0] ?? null;
  writeFileSync(options.outFile, `${JSON.stringify(results, null, 2)}\n`);
  process.stdout.write(renderMarkdown(results));
  progress(`done in ${Math.round((Date.now() - startedAt) / 1000)} s; results in ${path.relative(process.cwd(), options.outFile)}`);
}

main().catch((error: unknown) => {
  process.stderr.write(`${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
  killAllSpawned();
  process.exitCode = 1;
});
