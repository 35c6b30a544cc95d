import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { MqttFramer } from '../../src/mqtt/framer.js';
import { FramingError } from '../../src/errors.js';
import { PacketDecoder } from '../../src/mqtt/codec.js';

// Bounded: a fixed number of random streams. The framer either cuts packets no larger than the
// limit, or throws a FramingError; never anything else, and never holds more than the limit.
test('random bytes never crash the framer or the decoder (bounded fuzz)', () => {
  const limit = 4096;
  for (let run = 0; run < 3000; run++) {
    const input = randomBytes(1 + (run % 512));
    const decoder = new PacketDecoder();
    const framer = new MqttFramer(limit, (packet) => {
      assert.ok(packet.length <= limit);
      try {
        decoder.decode(packet);
      } catch (err) {
        assert.equal((err as { code?: string }).code, 'ERR_MALFORMED_PACKET');
      }
    });
    try {
      for (let offset = 0; offset < input.length; offset += 7) framer.push(input.subarray(offset, offset + 7));
    } catch (err) {
      assert.ok(err instanceof FramingError, String(err));
    }
  }
});
