import { test } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The broker's modules depend on each other in one direction: broker → connection → dispatch →
 * handlers → context and the leaves. Type-only imports count too: a type cycle is one edit away
 * from a value cycle, and a value cycle in ESM means a module can see another half-initialised.
 */

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../src/broker');

function modules(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return modules(full);
    return entry.name.endsWith('.ts') ? [full] : [];
  });
}

const SPECIFIER = /(?:^|\n)\s*(?:import|export)\s[^;]*?\sfrom\s+'([^']+)'|import\(\s*'([^']+)'\s*\)/g;

/** The broker modules each broker module imports (values and types alike), by path relative to src/broker. */
function graph(): Map<string, string[]> {
  const edges = new Map<string, string[]>();
  for (const file of modules(root)) {
    const source = fs.readFileSync(file, 'utf8');
    const targets: string[] = [];
    for (const match of source.matchAll(SPECIFIER)) {
      const spec = match[1] ?? match[2];
      if (spec === undefined || !spec.startsWith('.')) continue;
      const target = path.resolve(path.dirname(file), spec.replace(/\.js$/, '.ts'));
      if (target.startsWith(root + path.sep)) targets.push(path.relative(root, target));
    }
    edges.set(path.relative(root, file), targets);
  }
  return edges;
}

function cycles(edges: Map<string, string[]>): string[][] {
  const found: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (node: string): void => {
    state.set(node, 'open');
    stack.push(node);
    for (const next of edges.get(node) ?? []) {
      if (state.get(next) === 'open') found.push([...stack.slice(stack.indexOf(next)), next]);
      else if (state.get(next) === undefined) visit(next);
    }
    stack.pop();
    state.set(node, 'done');
  };
  for (const node of [...edges.keys()].sort()) if (state.get(node) === undefined) visit(node);
  return found;
}

test('the broker modules import each other without a cycle, type-only imports included', () => {
  const edges = graph();
  assert.ok(edges.size > 20, `read ${edges.size} modules`);
  assert.deepEqual(cycles(edges).map((c) => c.join(' → ')), []);
});

test('broker.ts is at the top: only embedded.ts, the gateway-facing adapter, imports it', () => {
  const importers = [...graph()].filter(([, targets]) => targets.includes('broker.ts')).map(([file]) => file);
  assert.deepEqual(importers, ['embedded.ts']);
});

test('handlers see the broker and the connection only through context.ts', () => {
  for (const [file, targets] of graph()) {
    if (!file.startsWith(`handlers${path.sep}`) && file !== 'dispatch.ts') continue;
    assert.deepEqual(targets.filter((t) => t === 'broker.ts' || t === 'connection.ts'), [], file);
  }
});

test('the cycle check sees a cycle when there is one', () => {
  const edges = new Map([
    ['a.ts', ['b.ts']],
    ['b.ts', ['c.ts']],
    ['c.ts', ['a.ts']],
    ['d.ts', ['a.ts']],
  ]);
  assert.deepEqual(cycles(edges), [['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
});
