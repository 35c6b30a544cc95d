import { test } from 'node:test';
import assert from 'node:assert/strict';
import pino from 'pino';
import { Session } from '../../../src/broker/session.js';
import { SessionStore } from '../../../src/broker/session-store.js';

const log = pino({ level: 'silent' });
const session = (id: string) => new Session(id, 10, log);

test('session store: a full store admits the client ids it holds and no new one; a deleted session frees its place', () => {
  const store = new SessionStore(2, () => undefined);
  const a = session('a');
  store.set(a);
  assert.equal(store.admits('b'), true);
  store.set(session('b'));
  assert.equal(store.admits('c'), false);
  assert.equal(store.admits('a'), true);
  assert.equal(store.admits('b'), true);
  store.delete(a);
  assert.equal(store.admits('c'), true);
});

test('session store: limit 0 admits every client id', () => {
  const store = new SessionStore(0, () => undefined);
  for (const id of ['a', 'b', 'c']) store.set(session(id));
  assert.equal(store.admits('d'), true);
});
