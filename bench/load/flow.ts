/**
 * Message flow between publishers and subscribers: throughput under a bounded window, or latency at a
 * fixed rate. Publishers and subscribers live in this one process, so a payload can carry the send time
 * and the receiver can compute the round trip with the same clock.
 */
import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import mqttPacket from 'mqtt-packet';
import { BenchClient } from './mqtt-client.js';
import { Histogram } from './histogram.js';
import type { FlowJob, FlowResult, Topology } from './jobs.js';
import { treeCpuSeconds } from '../proc.js';

/** Payload layout: publisher index (u16), sequence (u32), send time in ms (f64), then filler. */
const PAYLOAD = { publisher: 0, sequence: 2, sentAt: 6, header: 14 } as const;
/** A publisher whose window has made no progress for this long gives the missing messages up as lost. */
const STALL_MS = 2000;
const WATCHDOG_INTERVAL_MS = 250;
/** In rate mode, how often due messages are sent. */
const RATE_TICK_MS = 1;
/** In rate mode, stop adding to a backlog that a slow system cannot drain. */
const RATE_MAX_INFLIGHT = 2000;

interface Publisher {
  readonly index: number;
  readonly client: BenchClient;
  readonly template: Buffer;
  readonly payloadOffset: number;
  /** Offset of the packet identifier in the template, or -1 at QoS 0. */
  readonly packetIdOffset: number;
  /** Subscribers that receive this publisher's messages. */
  readonly receivers: Subscriber[];
  sent: number;
  /** Messages written off by the stall watchdog; they no longer count as in flight. */
  forgiven: number;
  /** Rate mode: scheduled messages not sent because the backlog was full. */
  skipped: number;
  nextPacketId: number;
  lastMinReceived: number;
  lastProgressAt: number;
}

interface Subscriber {
  readonly client: BenchClient;
  /** Messages received from each publisher, by publisher index. */
  readonly received: Float64Array;
}

/** Topic index per publisher and per subscriber. */
function layout(topology: Topology): { publishers: number[]; subscribers: number[] } {
  const zeros = (n: number): number[] => Array.from({ length: n }, () => 0);
  switch (topology.kind) {
    case 'pairs': {
      const topics = Array.from({ length: topology.pairs }, (_, i) => i);
      return { publishers: topics, subscribers: topics };
    }
    case 'fan-in':
      return { publishers: zeros(topology.publishers), subscribers: [0] };
    case 'fan-out':
      return { publishers: [0], subscribers: zeros(topology.subscribers) };
  }
}

type Template = Pick<Publisher, 'index' | 'template' | 'payloadOffset' | 'packetIdOffset'>;

function publishTemplate(topic: string, index: number, payloadBytes: number, qos: 0 | 1): Template {
  const payload = Buffer.alloc(Math.max(payloadBytes, PAYLOAD.header), 'x');
  payload.writeUInt16BE(index, PAYLOAD.publisher);
  const template = mqttPacket.generate({
    cmd: 'publish',
    topic,
    payload,
    qos,
    dup: false,
    retain: false,
    ...(qos > 0 ? { messageId: 1 } : {}),
  });
  const payloadOffset = template.length - payload.length;
  return { index, template, payloadOffset, packetIdOffset: qos > 0 ? payloadOffset - 2 : -1 };
}

export async function runFlow(job: FlowJob): Promise<FlowResult> {
  const runId = randomBytes(4).toString('hex');
  const topic = (index: number): string => `bench/${runId}/${index}`;
  const topics = layout(job.topology);

  const clients: BenchClient[] = [];
  let failure: string | null = null;
  const track = (client: BenchClient): BenchClient => {
    clients.push(client);
    client.onClose = (reason) => (failure ??= reason);
    return client;
  };

  try {
    const subscribers: Subscriber[] = [];
    for (const [i, topicIndex] of topics.subscribers.entries()) {
      const client = track(await BenchClient.connect(job.target, `${runId}-s${i}`));
      await client.subscribe(topic(topicIndex), job.qos);
      subscribers.push({ client, received: new Float64Array(topics.publishers.length) });
    }
    const publishers: Publisher[] = [];
    for (const [i, topicIndex] of topics.publishers.entries()) {
      const client = track(await BenchClient.connect(job.target, `${runId}-p${i}`));
      publishers.push({
        ...publishTemplate(topic(topicIndex), i, job.payloadBytes, job.qos),
        client,
        receivers: subscribers.filter((_, s) => topics.subscribers[s] === topicIndex),
        sent: 0,
        forgiven: 0,
        skipped: 0,
        nextPacketId: 1,
        lastMinReceived: 0,
        lastProgressAt: performance.now(),
      });
    }
    return await measure(job, publishers, subscribers, () => failure);
  } finally {
    for (const client of clients) client.close();
  }
}

function minReceived(publisher: Publisher): number {
  let min = Number.POSITIVE_INFINITY;
  for (const subscriber of publisher.receivers) min = Math.min(min, subscriber.received[publisher.index] as number);
  return min;
}

function inFlight(publisher: Publisher): number {
  return publisher.sent - publisher.forgiven - minReceived(publisher);
}

function nextMessage(publisher: Publisher): Buffer {
  const packet = Buffer.allocUnsafe(publisher.template.length);
  publisher.template.copy(packet);
  if (publisher.packetIdOffset >= 0) {
    packet.writeUInt16BE(publisher.nextPacketId, publisher.packetIdOffset);
    publisher.nextPacketId = publisher.nextPacketId === 0xffff ? 1 : publisher.nextPacketId + 1;
  }
  packet.writeUInt32BE(publisher.sent >>> 0, publisher.payloadOffset + PAYLOAD.sequence);
  packet.writeDoubleLE(performance.now(), publisher.payloadOffset + PAYLOAD.sentAt);
  publisher.sent++;
  return packet;
}

function sendBurst(publisher: Publisher, count: number): void {
  if (count <= 0 || publisher.client.closed) return;
  const packets: Buffer[] = [];
  for (let i = 0; i < count; i++) packets.push(nextMessage(publisher));
  publisher.client.sendMany(packets);
}

async function measure(
  job: FlowJob,
  publishers: Publisher[],
  subscribers: Subscriber[],
  failure: () => string | null,
): Promise<FlowResult> {
  const histogram = new Histogram();
  const windows = Array.from({ length: Math.max(1, job.latencyWindows) }, () => new Histogram());
  const windowMs = job.durationMs / windows.length;
  let measureStart = 0;
  let measuring = false;
  let running = true;
  let delivered = 0;

  // Window mode: top publishers up once per turn of the event loop, after all arrived data is read.
  const dirty = new Set<Publisher>();
  let topUpScheduled = false;
  const topUp = (): void => {
    topUpScheduled = false;
    if (!running || job.pace.kind !== 'window') return;
    for (const publisher of dirty) sendBurst(publisher, job.pace.window - inFlight(publisher));
    dirty.clear();
  };
  const markDirty = (publisher: Publisher): void => {
    dirty.add(publisher);
    if (!topUpScheduled) {
      topUpScheduled = true;
      setImmediate(topUp);
    }
  };

  for (const subscriber of subscribers) {
    subscriber.client.onMessage = (payload) => {
      const index = payload.readUInt16BE(PAYLOAD.publisher);
      const publisher = publishers[index];
      if (publisher === undefined) return;
      subscriber.received[index] = (subscriber.received[index] as number) + 1;
      delivered++;
      if (measuring) {
        const now = performance.now();
        const latencyMs = now - payload.readDoubleLE(PAYLOAD.sentAt);
        histogram.record(latencyMs);
        windows[Math.min(windows.length - 1, Math.floor((now - measureStart) / windowMs))]?.record(latencyMs);
      }
      if (job.pace.kind === 'window') markDirty(publisher);
    };
  }

  const timers: NodeJS.Timeout[] = [];
  let lost = 0;
  const startedAt = performance.now();
  if (job.pace.kind === 'window') {
    for (const publisher of publishers) sendBurst(publisher, job.pace.window);
    timers.push(
      setInterval(() => {
        const now = performance.now();
        for (const publisher of publishers) {
          const min = minReceived(publisher);
          if (min !== publisher.lastMinReceived) {
            publisher.lastMinReceived = min;
            publisher.lastProgressAt = now;
          } else if (now - publisher.lastProgressAt > STALL_MS && inFlight(publisher) > 0) {
            const missing = inFlight(publisher);
            lost += missing;
            publisher.forgiven += missing;
            publisher.lastProgressAt = now;
            markDirty(publisher);
          }
        }
      }, WATCHDOG_INTERVAL_MS),
    );
  } else {
    // Equal publish rates, chosen so that deliveries (fan-out multiplies them) add up to the target rate.
    const deliveriesPerRound = publishers.reduce((sum, p) => sum + p.receivers.length, 0);
    const perPublisherPerMs = job.pace.deliveredPerSecond / deliveriesPerRound / 1000;
    timers.push(
      setInterval(() => {
        const due = Math.floor((performance.now() - startedAt) * perPublisherPerMs);
        for (const publisher of publishers) {
          const owed = due - publisher.sent - publisher.skipped;
          const count = Math.min(owed, RATE_MAX_INFLIGHT - inFlight(publisher));
          // Behind schedule with a full backlog: skip ahead rather than queue without bound.
          if (owed > count) publisher.skipped += owed - Math.max(count, 0);
          sendBurst(publisher, count);
        }
      }, RATE_TICK_MS),
    );
  }

  const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
  const cpuNow = (): Record<string, { total: number; system: number }> =>
    Object.fromEntries(Object.entries(job.watch).map(([label, roots]) => [label, treeCpuSeconds(roots)]));
  const spent = (before: ReturnType<typeof cpuNow>, after: ReturnType<typeof cpuNow>, kind: 'total' | 'system') =>
    Object.fromEntries(Object.entries(after).map(([label, times]) => [label, times[kind] - (before[label]?.[kind] ?? 0)]));
  const published = (): number => publishers.reduce((sum, p) => sum + p.sent, 0);

  try {
    await sleep(job.warmupMs);
    if (failure() !== null) throw new Error(`connection lost during warm-up: ${failure()}`);
    const cpuBefore = cpuNow();
    const ownBefore = process.cpuUsage();
    const publishedBefore = published();
    const deliveredBefore = delivered;
    const lostBefore = lost;
    const t0 = performance.now();
    measureStart = t0;
    measuring = true;

    await sleep(job.durationMs);

    measuring = false;
    const elapsedMs = performance.now() - t0;
    const deliveredCount = delivered - deliveredBefore;
    const publishedCount = published() - publishedBefore;
    const lostCount = lost - lostBefore;
    const own = process.cpuUsage(ownBefore);
    const cpuAfter = cpuNow();
    if (failure() !== null) throw new Error(`connection lost during measurement: ${failure()}`);
    return {
      published: publishedCount,
      delivered: deliveredCount,
      lost: lostCount,
      elapsedMs,
      deliveredPerSecond: (deliveredCount / elapsedMs) * 1000,
      latency: histogram.summary(),
      latencyWindows: windows.map((window) => window.summary()),
      cpuSeconds: spent(cpuBefore, cpuAfter, 'total'),
      systemCpuSeconds: spent(cpuBefore, cpuAfter, 'system'),
      loadGeneratorCpuSeconds: (own.user + own.system) / 1e6,
    };
  } finally {
    running = false;
    for (const timer of timers) clearInterval(timer);
  }
}
