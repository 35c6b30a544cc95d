import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rendezvousOrder } from '../../../src/upstream/pool.js';

const nodes = ['mqtt://a:1883', 'mqtt://b:1883', 'mqtt://c:1883', 'mqtt://d:1883'];
const ids = Array.from({ length: 2000 }, (_, i) => `client-${i}`);
const first = (key: string, among: string[]) => rendezvousOrder(key, among, (n) => n)[0];

test('the same key always gets the same order, whatever the order of the list', () => {
  for (const id of ids.slice(0, 50)) {
    assert.deepEqual(rendezvousOrder(id, nodes, (n) => n), rendezvousOrder(id, [...nodes].reverse(), (n) => n));
  }
});

test('keys spread over the nodes', () => {
  const counts = new Map<string, number>();
  for (const id of ids) counts.set(first(id, nodes) as string, (counts.get(first(id, nodes) as string) ?? 0) + 1);
  for (const node of nodes) assert.ok((counts.get(node) ?? 0) > ids.length / nodes.length / 2, `${node}: ${counts.get(node)}`);
});

test('a node leaving moves only its own keys, each to its second choice; its return brings them back', () => {
  const without = nodes.filter((n) => n !== 'mqtt://b:1883');
  for (const id of ids) {
    const before = rendezvousOrder(id, nodes, (n) => n);
    const after = first(id, without);
    if (before[0] !== 'mqtt://b:1883') assert.equal(after, before[0], id);
    else assert.equal(after, before[1], id);
    assert.equal(first(id, nodes), before[0]);
  }
});
