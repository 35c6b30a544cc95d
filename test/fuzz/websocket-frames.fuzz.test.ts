import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Writable } from 'node:stream';
import * as ws from 'ws';
import { FrameReader, readClose, type FrameRefusal } from '../../src/net/websocket-frames.js';
import { CloseReason } from '../../src/errors.js';
import { clientFrame } from '../helpers/websocket-frames.js';

/**
 * The gateway's frame reader against the ws library's, fed the same client frames: random frame
 * sequences (binary messages fragmented at random, pings, pongs, a close), each sometimes with one
 * header byte corrupted, split into random reads. Where ws reads a stream, ours must read the same
 * payloads; where ws refuses it, ours must refuse it with the same close code. Bounded: a fixed
 * number of seeded runs.
 */

/** ws's own frame reader: exported by the package, though not by its type definitions. */
const { Receiver } = ws as unknown as { Receiver: new (options: Record<string, unknown>) => Writable };

const MAX_MESSAGE = 2000;
const RUNS = 1500;

/** A small seeded generator (mulberry32), so that a failure can be replayed from its seed. */
function random(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return Math.floor((((t ^ (t >>> 14)) >>> 0) / 4294967296) * n);
  };
}

function bytes(rand: (n: number) => number, n: number): Buffer {
  return Buffer.from(Array.from({ length: n }, () => rand(256)));
}

/** A stream of frames, and where in it each frame's first byte lies. */
function stream(rand: (n: number) => number): { wire: Buffer; starts: number[] } {
  // Masks from the seeded generator too, so that a seed replays the same bytes.
  const seeded = (opcode: number, fin: boolean, payload: Buffer): Buffer => clientFrame(opcode, payload, { fin, mask: bytes(rand, 4) });
  const frames: Buffer[] = [];
  for (let m = 0, messages = 1 + rand(4); m < messages; m++) {
    const size = rand(3) === 0 ? rand(MAX_MESSAGE + 200) : rand(300);
    const payload = bytes(rand, size);
    const pieces = 1 + rand(3);
    for (let p = 0, at = 0; p < pieces; p++) {
      const end = p === pieces - 1 ? size : at + rand(size - at + 1);
      frames.push(seeded(p === 0 ? 0x2 : 0x0, p === pieces - 1, payload.subarray(at, end)));
      at = end;
      if (rand(4) === 0) frames.push(seeded(rand(2) === 0 ? 0x9 : 0xa, true, bytes(rand, rand(20))));
    }
  }
  if (rand(3) === 0) {
    const close = Buffer.alloc(2);
    close.writeUInt16BE([1000, 1001, 1003, 3000, 4999, 1005, 999][rand(7)] as number);
    frames.push(seeded(0x8, true, rand(5) === 0 ? Buffer.alloc(0) : close));
  }
  const starts: number[] = [];
  let at = 0;
  for (const frame of frames) {
    starts.push(at);
    at += frame.length;
  }
  return { wire: Buffer.concat(frames), starts };
}

interface Outcome {
  data: Buffer;
  controls: string[];
  /** The close code of a refusal, or null. */
  refused: number | null;
  /** Why, in words. */
  detail: string;
  text: boolean;
}

function ours(wire: Buffer, cuts: number[]): Outcome {
  const data: Buffer[] = [];
  const outcome: Outcome = { data: Buffer.alloc(0), controls: [], refused: null, detail: '', text: false };
  const reader = new FrameReader(MAX_MESSAGE, {
    binary: (b) => data.push(Buffer.from(b)),
    control: (opcode, payload) => {
      outcome.controls.push(`${opcode}:${payload.toString('hex')}`);
      // The reader hands close frames on; the client stream judges their payload (as ws's receiver does itself).
      const close = opcode === 0x8 ? readClose(payload) : undefined;
      if (close && 'refusal' in close && outcome.refused === null) {
        outcome.refused = CloseReason[close.refusal].ws;
        outcome.detail = close.detail;
      }
    },
    refused: (reason: FrameRefusal, detail) => {
      outcome.refused = CloseReason[reason].ws;
      outcome.detail = detail;
      outcome.text = reason === 'textFrame';
    },
  });
  let from = 0;
  for (const cut of [...cuts, wire.length]) {
    reader.push(Buffer.from(wire.subarray(from, cut)));
    from = cut;
  }
  outcome.data = Buffer.concat(data);
  return outcome;
}

/** ws reports a refusal through its write callback, a tick later: the outcome is read after one. */
async function theirs(wire: Buffer, cuts: number[]): Promise<Outcome> {
  const data: Buffer[] = [];
  const outcome: Outcome = { data: Buffer.alloc(0), controls: [], refused: null, detail: '', text: false };
  const receiver = new Receiver({ isServer: true, maxPayload: MAX_MESSAGE, binaryType: 'nodebuffer' });
  receiver.on('message', (message: Buffer, isBinary: boolean) => {
    if (isBinary) data.push(Buffer.from(message));
    else outcome.text = true;
  });
  receiver.on('ping', (payload: Buffer) => outcome.controls.push(`9:${payload.toString('hex')}`));
  receiver.on('pong', (payload: Buffer) => outcome.controls.push(`10:${payload.toString('hex')}`));
  receiver.on('conclude', () => outcome.controls.push('8'));
  receiver.on('error', (err: Error & { [key: symbol]: number }) => {
    const code = Object.getOwnPropertySymbols(err).map((s) => err[s]).find((v) => typeof v === 'number');
    if (outcome.refused !== null) return;
    outcome.refused = code ?? -1;
    outcome.detail = err.message;
  });
  let from = 0;
  for (const cut of [...cuts, wire.length]) {
    if (outcome.refused !== null) break;
    receiver.write(Buffer.from(wire.subarray(from, cut)));
    from = cut;
    await new Promise((resolve) => setImmediate(resolve));
  }
  outcome.data = Buffer.concat(data);
  return outcome;
}

test('the frame reader reads and refuses what the ws library reads and refuses (bounded differential fuzz)', async () => {
  let compared = 0;
  for (let seed = 1; seed <= RUNS; seed++) {
    const rand = random(seed);
    const { wire, starts } = stream(rand);
    // Half the runs corrupt the first or second byte of one frame's header.
    const corrupt = rand(2) === 0;
    if (corrupt) {
      const at = (starts[rand(starts.length)] as number) + rand(2);
      wire[at] = (wire[at] as number) ^ (1 << rand(8));
    }
    const cuts = Array.from({ length: rand(6) }, () => rand(wire.length)).sort((a, b) => a - b);
    const mine = ours(wire, cuts);
    const reference = await theirs(wire, cuts);
    // MQTT refuses text frames [MQTT-6.0.0-1] where ws would read them: those runs differ by design.
    if (mine.text || reference.text) continue;
    compared++;
    const where = `seed ${seed}`;
    assert.equal(mine.refused, reference.refused, `${where}: close code of the refusal (ours: ${mine.detail}; ws: ${reference.detail})`);
    // ws hands over whole messages and ours streams them: where a message was cut short (a refusal,
    // a cleared FIN), ours may have read more of it. A stream read to its end is the same to the byte.
    if (corrupt || reference.refused !== null) assert.ok(mine.data.subarray(0, reference.data.length).equals(reference.data), `${where}: payload bytes (${mine.data.length} vs ${reference.data.length}, refused ${mine.refused}/${reference.refused}: ${mine.detail} / ${reference.detail})`);
    else assert.ok(mine.data.equals(reference.data), `${where}: payload bytes (${mine.data.length} vs ${reference.data.length}, refused ${mine.refused}/${reference.refused}: ${mine.detail} / ${reference.detail})`);
    if (reference.refused === null) assert.deepEqual(mine.controls.map((c) => (c.startsWith('8:') ? '8' : c)), reference.controls, `${where}: control frames`);
  }
  assert.ok(compared > RUNS / 2, `most runs compared (${compared} of ${RUNS})`);
});
