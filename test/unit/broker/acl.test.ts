import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test, type TestContext } from 'node:test';
import { Acl } from '../../../src/broker/auth/acl.js';
import { GatewayError } from '../../../src/errors.js';

const EXAMPLE = `# applies to anonymous clients: everything before the first user line
topic read public/#
user alice
topic readwrite alice/#
topic write sensors/+/temp
pattern readwrite devices/%c/#
pattern read users/%u/inbox
`;

const anon = { clientId: 'anon-1' };
const alice = { username: 'alice', clientId: 'alice-laptop' };
const bob = { username: 'bob', clientId: 'bob-phone' };

function writeAcl(t: TestContext, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-acl-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const path = join(dir, 'acl');
  writeFileSync(path, text);
  return path;
}

const aclOf = (t: TestContext, text: string) => Acl.load(writeAcl(t, text));

test('topic lines before the first user line apply to anonymous clients only', (t) => {
  const acl = aclOf(t, EXAMPLE);
  assert.equal(acl.canSubscribe(anon, 'public/#'), true);
  assert.equal(acl.canSubscribe(anon, 'public/news'), true);
  assert.equal(acl.canPublish(anon, 'public/news'), false, 'read only');
  assert.equal(acl.canSubscribe(alice, 'public/news'), false, 'a user gets its own section instead');
  assert.equal(acl.canSubscribe(bob, 'public/news'), false, 'a user without a section gets patterns only');
});

test('a user section grants its rules to that user only', (t) => {
  const acl = aclOf(t, EXAMPLE);
  assert.equal(acl.canPublish(alice, 'alice/notes'), true);
  assert.equal(acl.canSubscribe(alice, 'alice/#'), true);
  assert.equal(acl.canPublish(alice, 'sensors/kitchen/temp'), true);
  assert.equal(acl.canPublish(alice, 'sensors/kitchen/humidity'), false);
  assert.equal(acl.canSubscribe(alice, 'sensors/kitchen/temp'), false, 'write only');
  assert.equal(acl.canPublish(bob, 'alice/notes'), false);
  assert.equal(acl.canPublish(anon, 'alice/notes'), false);
});

test('a topic line without an access word means readwrite; sections with one name merge', (t) => {
  const acl = aclOf(t, 'user carol\ntopic carol/#\nuser dave\ntopic read x\nuser carol\ntopic read shared/a b\n');
  const carol = { username: 'carol', clientId: 'c' };
  assert.equal(acl.canPublish(carol, 'carol/x'), true);
  assert.equal(acl.canSubscribe(carol, 'carol/x'), true);
  assert.equal(acl.canSubscribe(carol, 'shared/a b'), true, 'the filter is the rest of the line');
  assert.equal(acl.canSubscribe(carol, 'x'), false);
});

test('patterns substitute %c and %u for every client', (t) => {
  const acl = aclOf(t, EXAMPLE);
  assert.equal(acl.canPublish(anon, 'devices/anon-1/state'), true);
  assert.equal(acl.canSubscribe(alice, 'devices/alice-laptop/#'), true);
  assert.equal(acl.canPublish(alice, 'devices/bob-phone/state'), false);
  assert.equal(acl.canSubscribe(bob, 'users/bob/inbox'), true);
  assert.equal(acl.canSubscribe(bob, 'users/alice/inbox'), false);
  assert.equal(acl.canPublish(bob, 'users/bob/inbox'), false, 'read only');
});

test('a %u pattern does not apply to clients without a username', (t) => {
  const acl = aclOf(t, 'pattern readwrite users/%u/#\n');
  assert.equal(acl.canSubscribe(anon, 'users//inbox'), false);
  assert.equal(acl.canSubscribe(anon, 'users/+/inbox'), false);
  assert.equal(acl.canPublish(anon, 'users/%u/x'), false);
  assert.equal(acl.canPublish(alice, 'users/alice/x'), true);
});

test('a pattern does not apply when the username or client id holds a wildcard', (t) => {
  const acl = aclOf(t, 'pattern readwrite devices/%c/#\npattern read users/%u\n');
  assert.equal(acl.canSubscribe({ clientId: '+' }, 'devices/+/#'), false);
  assert.equal(acl.canSubscribe({ clientId: '#' }, 'devices/#'), false);
  assert.equal(acl.canSubscribe({ username: '#', clientId: 'x' }, 'users/#'), false);
});

test('deny rules win over allow rules, wherever they are written', (t) => {
  for (const text of [
    'topic readwrite a/#\ntopic deny a/secret/#\n',
    'topic deny a/secret/#\ntopic readwrite a/#\n',
    'topic deny a/secret/#\npattern readwrite a/#\n',
  ]) {
    const acl = aclOf(t, text);
    assert.equal(acl.canPublish(anon, 'a/public'), true, text);
    assert.equal(acl.canPublish(anon, 'a/secret'), false, text);
    assert.equal(acl.canPublish(anon, 'a/secret/x/y'), false, text);
    assert.equal(acl.canSubscribe(anon, 'a/public/+'), true, text);
    assert.equal(acl.canSubscribe(anon, 'a/secret/x'), false, text);
    // These filters could deliver a denied topic, and nothing checks each message later.
    assert.equal(acl.canSubscribe(anon, 'a/#'), false, text);
    assert.equal(acl.canSubscribe(anon, 'a/+/x'), false, text);
    assert.equal(acl.canSubscribe(anon, '+/+'), false, text);
  }
});

test('a subscription is allowed only when a read rule covers the whole filter', (t) => {
  const acl = aclOf(t, 'topic read a/#\ntopic read b/+\ntopic read +/c\ntopic read d/+/e\n');
  const ok = (filter: string) => acl.canSubscribe(anon, filter);
  assert.equal(ok('a/#'), true);
  assert.equal(ok('a/b/+'), true);
  assert.equal(ok('a'), true, 'a/# also matches its parent a');
  assert.equal(ok('a/+/+/#'), true);
  assert.equal(ok('b/x'), true);
  assert.equal(ok('b/+'), true);
  assert.equal(ok('b/#'), false);
  assert.equal(ok('b/x/y'), false);
  assert.equal(ok('b'), false);
  assert.equal(ok('x/c'), true);
  assert.equal(ok('+/c'), true);
  assert.equal(ok('d/x/e'), true);
  assert.equal(ok('d/+/+'), false);
  assert.equal(ok('#'), false);
  assert.equal(ok('+'), false);
});

test('a leading wildcard does not match $ topics [MQTT-4.7.2-1]', (t) => {
  const acl = aclOf(t, 'topic readwrite #\ntopic read +/broker/#\n');
  assert.equal(acl.canPublish(anon, 'anything/at/all'), true);
  assert.equal(acl.canSubscribe(anon, '#'), true);
  assert.equal(acl.canPublish(anon, '$SYS/broker/uptime'), false);
  assert.equal(acl.canSubscribe(anon, '$SYS/#'), false);
  assert.equal(acl.canSubscribe(anon, '$SYS/broker/+'), false);

  const sys = aclOf(t, 'topic read $SYS/#\ntopic deny #\n');
  assert.equal(sys.canSubscribe(anon, '$SYS/broker/+'), true, 'a deny # does not reach $SYS either');
  assert.equal(sys.canSubscribe(anon, '$SYS/#'), true);
  assert.equal(sys.canSubscribe(anon, '#'), false);
});

test('malformed topics and filters are refused', (t) => {
  const acl = aclOf(t, 'topic readwrite #\n');
  assert.equal(acl.canPublish(anon, ''), false);
  assert.equal(acl.canPublish(anon, 'a/+'), false, 'a topic name has no wildcards');
  assert.equal(acl.canPublish(anon, 'a/#'), false);
  assert.equal(acl.canSubscribe(anon, 'a/#/b'), false);
  assert.equal(acl.canSubscribe(anon, 'a+/b'), false);
  assert.equal(acl.canSubscribe(anon, ''), false);
});

test('Acl.load names the file and line of a malformed line', (t) => {
  for (const [text, line] of [
    ['# ok\ntopic read a\nfrobnicate a\n', 3],
    ['topic read\n', 1],
    ['user alice\n\ntopic readwrite a/#/b\n', 3],
    ['pattern write a+/%c\n', 1],
    ['topic a\nuser\n', 2],
  ] as const) {
    const path = writeAcl(t, text);
    assert.throws(
      () => Acl.load(path),
      (err: unknown) =>
        err instanceof GatewayError && err.code === 'ERR_ACL_FILE' && err.message.includes(`${path}:${line}:`),
      text,
    );
  }
});

test('Acl.load of a missing file is ERR_ACL_FILE', (t) => {
  const path = join(writeAcl(t, ''), '..', 'missing');
  assert.throws(() => Acl.load(path), { code: 'ERR_ACL_FILE' });
});
