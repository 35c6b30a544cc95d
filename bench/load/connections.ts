/**
 * Many idle connections: what each costs the system in memory, and how many it can hold.
 */
import { randomBytes } from 'node:crypto';
import { BenchClient } from './mqtt-client.js';
import type { HoldJob, HoldResult, IdleJob, IdleResult, MemoryKiB, Target } from './jobs.js';
import { availableMemoryMiB, processCount, treeMemory } from '../proc.js';

const WARMUP_CONNECTIONS = 20;
const WARMUP_SETTLE_MS = 500;
/** Machine-wide guards are read every this many connections (reading /proc is not free). */
const GUARD_EVERY = 100;

const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));

interface OpenOutcome {
  readonly clients: BenchClient[];
  readonly attempted: number;
  /** Why opening stopped before `count`, or null. */
  readonly stoppedBy: string | null;
}

/**
 * Opens up to `count` connections, `concurrency` at a time, and stops at the first failure,
 * at the first close of an already open connection, or when `shouldStop()` says so.
 */
async function openMany(
  target: Target,
  count: number,
  concurrency: number,
  shouldStop: (opened: number) => string | null,
): Promise<OpenOutcome> {
  const prefix = randomBytes(4).toString('hex');
  const clients: BenchClient[] = [];
  let attempted = 0;
  let stoppedBy: string | null = null;
  const worker = async (): Promise<void> => {
    while (stoppedBy === null && attempted < count) {
      if (attempted % GUARD_EVERY === 0) stoppedBy ??= shouldStop(clients.length);
      if (stoppedBy !== null) return;
      const index = attempted++;
      try {
        const client = await BenchClient.connect(target, `${prefix}-i${index}`);
        clients.push(client);
        client.onClose = (reason) => {
          stoppedBy ??= `an open connection closed: ${reason}`;
        };
      } catch (error) {
        stoppedBy ??= `connection ${index + 1} failed: ${(error as Error).message}`;
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { clients, attempted, stoppedBy };
}

function closeAll(clients: readonly BenchClient[]): void {
  for (const client of clients) client.close();
}

/**
 * Memory per idle connection is the slope between half the connections and all of them, so that
 * a cost paid once (a runtime's young generation filling up, a worker's buffers) is not spread over
 * the connections. The cost from zero is reported beside it.
 */
export async function runIdle(job: IdleJob): Promise<IdleResult> {
  // Let the system allocate its per-process structures before the baseline.
  const warm = await openMany(job.target, WARMUP_CONNECTIONS, job.concurrency, () => null);
  closeAll(warm.clients);
  if (warm.stoppedBy !== null) throw new Error(`warm-up: ${warm.stoppedBy}`);
  await sleep(WARMUP_SETTLE_MS);

  const before = treeMemory(job.watch);
  const clients: BenchClient[] = [];
  try {
    const half = Math.floor(job.count / 2);
    const middle = await openAndSettle(job, half, clients);
    const after = await openAndSettle(job, job.count - half, clients);
    const slope = (from: MemoryKiB, to: MemoryKiB, key: 'rssKiB' | 'pssKiB'): number => (to[key] - from[key]) / (clients.length - half);
    return {
      opened: clients.length,
      before,
      middle,
      after,
      rssKiBPerConnection: slope(middle, after, 'rssKiB'),
      pssKiBPerConnection: slope(middle, after, 'pssKiB'),
      rssKiBPerConnectionFromZero: (after.rssKiB - before.rssKiB) / clients.length,
    };
  } finally {
    closeAll(clients);
  }
}

/** Opens `count` more connections into `clients`, waits for the system to settle, and reads its memory. */
async function openAndSettle(job: IdleJob, count: number, clients: BenchClient[]): Promise<MemoryKiB> {
  const outcome = await openMany(job.target, count, job.concurrency, () => null);
  clients.push(...outcome.clients);
  if (outcome.stoppedBy !== null) throw new Error(`after ${clients.length} connections: ${outcome.stoppedBy}`);
  await sleep(job.settleMs);
  return treeMemory(job.watch);
}

export async function runHold(job: HoldJob): Promise<HoldResult> {
  const deadline = Date.now() + job.budgetMs;
  const guard = (): string | null => {
    if (Date.now() > deadline) return `time budget of ${job.budgetMs / 1000} s`;
    const available = availableMemoryMiB();
    if (available < job.minAvailableMiB) return `memory guard (MemAvailable ${Math.round(available)} MiB)`;
    const processes = processCount();
    if (processes > job.maxProcesses) return `process guard (${processes} processes)`;
    return null;
  };
  const outcome = await openMany(job.target, job.max, job.concurrency, guard);
  try {
    await sleep(job.holdMs);
    const held = outcome.clients.filter((client) => !client.closed).length;
    return {
      attempted: outcome.attempted,
      opened: outcome.clients.length,
      held,
      stoppedBy: outcome.stoppedBy ?? `reached ${job.max}`,
      memory: treeMemory(job.watch),
    };
  } finally {
    closeAll(outcome.clients);
  }
}
