import { test } from 'node:test';
import assert from 'node:assert/strict';
import { VERIFY_BUSY, VERIFY_CONCURRENCY, VERIFY_QUEUE, VerifyLimit } from '../../../src/broker/auth/verify-limit.js';

/** A check the test finishes by hand, recording when it started. */
function held(started: string[], name: string): { check: () => Promise<string>; finish: () => void; fail: () => void } {
  let finish!: () => void;
  let fail!: () => void;
  const done = new Promise<string>((resolve, reject) => {
    finish = () => resolve(name);
    fail = () => reject(new Error(`${name} failed`));
  });
  return {
    check: () => {
      started.push(name);
      return done;
    },
    finish,
    fail,
  };
}

/** Lets every pending promise reaction run. */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

test('verify limit: the defaults are libuv\'s thread pool size and a queue of 64', () => {
  const limit = new VerifyLimit();
  assert.equal(VERIFY_CONCURRENCY, 4);
  assert.equal(VERIFY_QUEUE, 64);
  assert.equal(limit.concurrency, 4);
  assert.equal(limit.queueSize, 64);
});

test('verify limit: at most `concurrency` checks run; the others wait and start in arrival order as slots free', async () => {
  const limit = new VerifyLimit({ concurrency: 2, queue: 3 });
  const started: string[] = [];
  const checks = ['a', 'b', 'c', 'd', 'e'].map((name) => held(started, name));
  const results = checks.map((c) => limit.run(c.check));
  await settle();
  assert.deepEqual(started, ['a', 'b']);
  assert.equal(limit.active, 2);
  assert.equal(limit.queued, 3);
  checks[1]?.finish();
  await settle();
  assert.deepEqual(started, ['a', 'b', 'c']);
  assert.equal(limit.active, 2);
  checks[0]?.finish();
  checks[2]?.finish();
  await settle();
  assert.deepEqual(started, ['a', 'b', 'c', 'd', 'e']);
  assert.equal(limit.queued, 0);
  checks[3]?.finish();
  checks[4]?.finish();
  assert.deepEqual(await Promise.all(results), ['a', 'b', 'c', 'd', 'e']);
  assert.equal(limit.active, 0);
});

test('verify limit: with every slot taken and the queue full, a check is refused (BUSY) without being run', async () => {
  const limit = new VerifyLimit({ concurrency: 1, queue: 1 });
  const started: string[] = [];
  const [a, b, c] = ['a', 'b', 'c'].map((name) => held(started, name));
  const ra = limit.run(a!.check);
  const rb = limit.run(b!.check);
  assert.equal(await limit.run(c!.check), VERIFY_BUSY);
  await settle();
  assert.deepEqual(started, ['a']);
  a!.finish();
  b!.finish();
  assert.deepEqual(await Promise.all([ra, rb]), ['a', 'b']);
  assert.deepEqual(started, ['a', 'b']);
});

test('verify limit: a check that fails frees its slot and its caller sees the error', async () => {
  const limit = new VerifyLimit({ concurrency: 1, queue: 1 });
  const started: string[] = [];
  const [a, b] = ['a', 'b'].map((name) => held(started, name));
  const ra = limit.run(a!.check);
  const rb = limit.run(b!.check);
  a!.fail();
  await assert.rejects(ra, /a failed/);
  await settle();
  assert.deepEqual(started, ['a', 'b']);
  b!.finish();
  assert.equal(await rb, 'b');
  assert.equal(limit.active, 0);
});

test('verify limit: saturation is reported once per burst, again only after the queue has emptied', async () => {
  const reports: unknown[] = [];
  const limit = new VerifyLimit({ concurrency: 1, queue: 2, onSaturated: (limits) => reports.push(limits) });
  const started: string[] = [];
  const burst = async (names: string[]) => {
    const checks = names.map((name) => held(started, name));
    const results = checks.map((c) => limit.run(c.check));
    return { checks, results };
  };
  const first = await burst(['a', 'b', 'c', 'd', 'e']);
  assert.equal(await first.results[3], VERIFY_BUSY);
  assert.equal(await first.results[4], VERIFY_BUSY);
  assert.deepEqual(reports, [{ concurrency: 1, queue: 2 }]);
  // One waiting check starts: the queue is not empty yet, the burst goes on.
  first.checks[0]?.finish();
  await settle();
  const more = await burst(['f', 'g']);
  assert.equal(await more.results[1], VERIFY_BUSY);
  assert.equal(reports.length, 1);
  for (const c of [...first.checks, ...more.checks]) c.finish();
  await Promise.all([...first.results, ...more.results]);
  assert.equal(limit.queued, 0);
  const second = await burst(['h', 'i', 'j', 'k']);
  assert.equal(await second.results[3], VERIFY_BUSY);
  assert.equal(reports.length, 2);
  for (const c of second.checks) c.finish();
  await Promise.all(second.results);
});
