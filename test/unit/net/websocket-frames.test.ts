import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { FrameReader, Opcode, closePayload, frame, readClose, unmask, type FrameRefusal } from '../../../src/net/websocket-frames.js';
import { clientFrame } from '../../helpers/websocket-frames.js';

interface Seen {
  binary: Buffer[];
  control: { opcode: number; payload: Buffer }[];
  refused: { reason: FrameRefusal; detail: string }[];
}

function reader(maxMessageBytes = 1 << 20): { reader: FrameReader; seen: Seen } {
  const seen: Seen = { binary: [], control: [], refused: [] };
  const r = new FrameReader(maxMessageBytes, {
    // Copied: the reader hands out views of the chunk it was given.
    binary: (bytes) => seen.binary.push(Buffer.from(bytes)),
    control: (opcode, payload) => seen.control.push({ opcode, payload: Buffer.from(payload) }),
    refused: (reason, detail) => seen.refused.push({ reason, detail }),
  });
  return { reader: r, seen };
}

test('binary frames of every length encoding are unmasked, whether fed whole, byte by byte or merged', () => {
  const payloads = [Buffer.alloc(0), randomBytes(1), randomBytes(125), randomBytes(126), randomBytes(65_535), randomBytes(65_536), randomBytes(200_000)];
  const wire = Buffer.concat(payloads.map((p) => clientFrame(Opcode.binary, p)));
  const expected = Buffer.concat(payloads);
  for (const chunkSize of [wire.length, 1, 7, 4096]) {
    const { reader: r, seen } = reader();
    // Each feed gets its own copy: the reader unmasks in place.
    for (let at = 0; at < wire.length; at += chunkSize) r.push(Buffer.from(wire.subarray(at, at + chunkSize)));
    assert.deepEqual(seen.refused, []);
    assert.ok(Buffer.concat(seen.binary).equals(expected), `chunks of ${chunkSize}`);
  }
});

test('a fragmented binary message streams through, with control frames between its fragments', () => {
  const { reader: r, seen } = reader();
  r.push(
    Buffer.concat([
      clientFrame(Opcode.binary, Buffer.from('ab'), { fin: false }),
      clientFrame(Opcode.ping, Buffer.from('hi')),
      clientFrame(Opcode.continuation, Buffer.from('cd'), { fin: false }),
      clientFrame(Opcode.continuation, Buffer.from('ef')),
    ]),
  );
  assert.equal(Buffer.concat(seen.binary).toString(), 'abcdef');
  assert.deepEqual(seen.control, [{ opcode: Opcode.ping, payload: Buffer.from('hi') }]);
  assert.deepEqual(seen.refused, []);
});

test('a control frame split across reads arrives whole', () => {
  const { reader: r, seen } = reader();
  const wire = clientFrame(Opcode.close, closePayload(1000, 'bye'));
  for (const byte of wire) r.push(Buffer.from([byte]));
  assert.equal(seen.control.length, 1);
  assert.deepEqual(readClose((seen.control[0] as { payload: Buffer }).payload), { code: 1000 });
});

const refusals: [string, Buffer, FrameRefusal][] = [
  ['an unmasked frame (RFC 6455 §5.1)', clientFrame(Opcode.binary, Buffer.from('x'), { masked: false }), 'protocolError'],
  ['reserved bits with no extension', clientFrame(Opcode.binary, Buffer.from('x'), { rsv: 4 }), 'protocolError'],
  ['an unknown opcode', clientFrame(0x3, Buffer.from('x')), 'protocolError'],
  ['a fragmented control frame', clientFrame(Opcode.ping, Buffer.from('x'), { fin: false }), 'protocolError'],
  ['a control frame over 125 bytes', clientFrame(Opcode.ping, Buffer.alloc(126)), 'protocolError'],
  ['a continuation with no message', clientFrame(Opcode.continuation, Buffer.from('x')), 'protocolError'],
  [
    'a new message inside a fragmented one',
    Buffer.concat([clientFrame(Opcode.binary, Buffer.from('x'), { fin: false }), clientFrame(Opcode.binary, Buffer.from('y'))]),
    'protocolError',
  ],
  ['a text frame [MQTT-6.0.0-1]', clientFrame(Opcode.text, Buffer.from('hello')), 'textFrame'],
  ['a message over the limit, by its declared length alone', clientFrame(Opcode.binary, Buffer.alloc(2000)).subarray(0, 8), 'packetTooLarge'],
  [
    'a fragmented message whose fragments add up over the limit',
    Buffer.concat([clientFrame(Opcode.binary, Buffer.alloc(600), { fin: false }), clientFrame(Opcode.continuation, Buffer.alloc(600))]),
    'packetTooLarge',
  ],
];

for (const [what, wire, reason] of refusals) {
  test(`refused: ${what}`, () => {
    const { reader: r, seen } = reader(1000);
    r.push(wire);
    r.push(clientFrame(Opcode.binary, Buffer.from('after')));
    assert.equal(seen.refused.length, 1);
    assert.equal(seen.refused[0]?.reason, reason);
    assert.ok(!Buffer.concat(seen.binary).toString().includes('after'), 'nothing is read after a refusal');
  });
}

test('close payloads: empty is 1005; a code that may not be sent, a one-byte payload or a non-UTF-8 reason is refused', () => {
  assert.deepEqual(readClose(Buffer.alloc(0)), { code: 1005 });
  assert.deepEqual(readClose(closePayload(4001, 'ok')), { code: 4001 });
  assert.equal('refusal' in readClose(Buffer.from([0x03])), true);
  for (const code of [999, 1004, 1005, 1006, 1015, 2999, 5000]) {
    assert.deepEqual(readClose(closePayload(code, '')), { refusal: 'protocolError', detail: `close code ${code} may not be sent` }, String(code));
  }
  assert.equal((readClose(Buffer.concat([closePayload(1000, ''), Buffer.from([0xc3, 0x28])])) as { refusal: string }).refusal, 'invalidPayload');
});

test('server frames: unmasked, FIN set, shortest length encoding; large payloads are not copied', () => {
  for (const length of [0, 125, 126, 4096, 65_535, 65_536]) {
    const payload = randomBytes(length);
    const out = frame(Opcode.binary, payload);
    const bytes = Buffer.isBuffer(out) ? out : Buffer.concat(out);
    assert.equal(bytes[0], 0x82);
    const code = (bytes[1] as number) & 0x7f;
    assert.equal((bytes[1] as number) & 0x80, 0, 'servers do not mask');
    const headerSize = code === 127 ? 10 : code === 126 ? 4 : 2;
    const declared = code === 127 ? Number(bytes.readBigUInt64BE(2)) : code === 126 ? bytes.readUInt16BE(2) : code;
    assert.equal(declared, length);
    assert.equal(headerSize, length < 126 ? 2 : length < 0x10000 ? 4 : 10);
    assert.ok(bytes.subarray(headerSize).equals(payload));
    if (!Buffer.isBuffer(out)) assert.equal(out[1], payload, `${length} bytes go out as the caller's buffer`);
  }
});

test('unmask starts at any offset within the mask, so a frame may be unmasked piece by piece', () => {
  const mask = 0x12345678;
  const plain = randomBytes(37);
  const whole = Buffer.from(plain);
  unmask(whole, mask, 0);
  const pieces = Buffer.from(plain);
  let offset = 0;
  for (const [from, to] of [[0, 3], [3, 10], [10, 11], [11, 37]] as const) {
    unmask(pieces.subarray(from, to), mask, offset);
    offset = (offset + to - from) & 3;
  }
  assert.ok(pieces.equals(whole));
  unmask(whole, mask, 0);
  assert.ok(whole.equals(plain), 'masking twice gives the plain bytes back');
});

test('the payloads of one read are handed on as one view, before a control frame that follows them', () => {
  const order: string[] = [];
  const r = new FrameReader(1 << 20, {
    binary: (bytes) => order.push(`data:${bytes.toString()}`),
    control: (opcode) => order.push(`control:${opcode}`),
    refused: (reason) => order.push(`refused:${reason}`),
  });
  r.push(
    Buffer.concat([
      clientFrame(Opcode.binary, Buffer.from('ab')),
      clientFrame(Opcode.binary, Buffer.from('cd')),
      clientFrame(Opcode.ping, Buffer.from('p')),
      clientFrame(Opcode.binary, Buffer.from('ef')),
      clientFrame(Opcode.text, Buffer.from('no')),
    ]),
  );
  assert.deepEqual(order, ['data:abcd', `control:${Opcode.ping}`, 'data:ef', 'refused:textFrame']);
});
