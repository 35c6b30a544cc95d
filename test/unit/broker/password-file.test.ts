import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { scryptSync } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test, type TestContext } from 'node:test';
import { addUser, hashPassword, PasswordFile, verifyPassword } from '../../../src/broker/auth/password-file.js';
import { GatewayError } from '../../../src/errors.js';

const REPO = fileURLToPath(new URL('../../../', import.meta.url));
const CLI_DEADLINE_MS = 30_000;

function tempDir(t: TestContext): string {
  const dir = mkdtempSync(join(tmpdir(), 'gateway-passwd-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  return dir;
}

function writeTemp(t: TestContext, text: string): string {
  const path = join(tempDir(t), 'passwd');
  writeFileSync(path, text);
  return path;
}

function assertAuthFileError(fn: () => unknown, path: string, line: number): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof GatewayError);
    assert.equal(err.code, 'ERR_AUTH_FILE');
    assert.ok(err.message.includes(`${path}:${line}:`), err.message);
    return true;
  });
}

/** Runs the CLI through tsx with `stdin` piped in; resolves with its exit code and stderr. */
function runCli(args: string[], stdin: string): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'src/cli/passwd.ts', ...args], { cwd: REPO });
    const timer = setTimeout(() => {
      child.kill();
      reject(new Error('CLI did not exit in time'));
    }, CLI_DEADLINE_MS);
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk));
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stderr });
    });
    child.stdin.end(stdin);
  });
}

test('hashPassword stores its parameters, and verifyPassword accepts only the right password', async () => {
  const stored = await hashPassword('correct horse');
  assert.match(stored, /^\$scrypt\$N=16384,r=8,p=1\$[A-Za-z0-9+/]{22}==\$[A-Za-z0-9+/]{43}=$/);
  assert.equal(await verifyPassword('correct horse', stored), true);
  assert.equal(await verifyPassword('correct horsE', stored), false);
  assert.equal(await verifyPassword('', stored), false);
  assert.notEqual(await hashPassword('correct horse'), stored, 'a fresh salt each time');
});

test('verifyPassword honours the parameters written in the line', async () => {
  const salt = Buffer.alloc(16, 7);
  const hash = scryptSync('pw', salt, 32, { N: 1024, r: 4, p: 2 });
  const stored = `$scrypt$N=1024,r=4,p=2$${salt.toString('base64')}$${hash.toString('base64')}`;
  assert.equal(await verifyPassword('pw', stored), true);
  assert.equal(await verifyPassword('pw', stored.replace('r=4', 'r=8')), false);
});

test('verifyPassword is false for malformed stored values', async () => {
  const good = await hashPassword('pw');
  const [, , , salt, hash] = good.split('$');
  for (const stored of [
    '',
    'pw',
    '$scrypt$',
    good.replace('$scrypt$', '$bcrypt$'),
    `$scrypt$N=1000,r=8,p=1$${salt}$${hash}`, // N not a power of two
    `$scrypt$N=1073741824,r=8,p=1$${salt}$${hash}`, // far too much memory
    `$scrypt$N=16384,r=0,p=1$${salt}$${hash}`,
    `$scrypt$N=16384,r=8,p=1$${salt}$`,
    `$scrypt$N=16384,r=8,p=1$${salt}$not*base64`,
    `$scrypt$N=16384,r=8,p=1$${salt}$AAAA`, // hash too short
    `${good}$extra`,
  ]) {
    assert.equal(await verifyPassword('pw', stored), false, stored);
  }
});

test('PasswordFile authenticates known users and refuses everything else', async (t) => {
  const alice = await hashPassword('alice-pw');
  const path = writeTemp(t, `# users\n\n  alice:${alice}\r\nbob:${await hashPassword('bob-pw')}\n`);
  const file = PasswordFile.load(path);
  assert.equal(await file.authenticate('alice', Buffer.from('alice-pw')), true);
  assert.equal(await file.authenticate('bob', Buffer.from('bob-pw')), true);
  assert.equal(await file.authenticate('alice', Buffer.from('bob-pw')), false);
  assert.equal(await file.authenticate('carol', Buffer.from('alice-pw')), false, 'unknown user');
  assert.equal(await file.authenticate(undefined, Buffer.from('alice-pw')), false);
  assert.equal(await file.authenticate('alice', undefined), false);
});

test('PasswordFile.load names the file and line of a malformed line', async (t) => {
  const good = `alice:${await hashPassword('pw')}`;
  for (const [text, line] of [
    [`# comment\n${good}\nno colon here\n`, 3],
    [`${good}\n\n:${good.split(':')[1]}\n`, 3],
    [`bob:$scrypt$N=16384,r=8,p=1$abc\n`, 1],
    [`# x\n${good}\n${good}\n`, 3],
  ] as const) {
    const path = writeTemp(t, text);
    assertAuthFileError(() => PasswordFile.load(path), path, line);
  }
});

test('PasswordFile.load of a missing file is ERR_AUTH_FILE', (t) => {
  const path = join(tempDir(t), 'missing');
  assert.throws(() => PasswordFile.load(path), { code: 'ERR_AUTH_FILE' });
});

test('addUser creates the file with mode 0600 and replaces a user in place', async (t) => {
  const path = join(tempDir(t), 'passwd');
  await addUser(path, 'alice', 'one');
  if (process.platform !== 'win32') assert.equal(statSync(path).mode & 0o777, 0o600);
  writeFileSync(path, `# keep me\n${readFileSync(path, 'utf8')}`);
  await addUser(path, 'bob', 'two');
  await addUser(path, 'alice', 'three');

  const lines = readFileSync(path, 'utf8').split('\n');
  assert.deepEqual(lines.map((l) => l.split(':')[0]), ['# keep me', 'alice', 'bob', '']);
  const file = PasswordFile.load(path);
  assert.equal(await file.authenticate('alice', Buffer.from('three')), true);
  assert.equal(await file.authenticate('alice', Buffer.from('one')), false);
  assert.equal(await file.authenticate('bob', Buffer.from('two')), true);
});

test('addUser refuses usernames that could not be read back', async (t) => {
  const path = join(tempDir(t), 'passwd');
  for (const username of ['', 'a:b', 'a\nb', '#admin', ' alice']) {
    await assert.rejects(addUser(path, username, 'pw'), { code: 'ERR_AUTH_FILE' }, JSON.stringify(username));
  }
});

test('the passwd CLI reads the password from stdin and writes a line that verifies', async (t) => {
  const path = join(tempDir(t), 'passwd');
  const { code, stderr } = await runCli([path, 'bob'], 's3cret pass\n');
  assert.equal(code, 0, stderr);
  const line = readFileSync(path, 'utf8').split('\n')[0] ?? '';
  assert.ok(line.startsWith('bob:$scrypt$'), line);
  assert.equal(await verifyPassword('s3cret pass', line.slice('bob:'.length)), true);
});

test('the passwd CLI exits with 2 and a message on stderr for bad usage or no password', async (t) => {
  const path = join(tempDir(t), 'passwd');
  const usage = await runCli([path], 'pw\n');
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /usage: mqtt-ws-gateway-passwd <file> <username>/);
  const empty = await runCli([path, 'bob'], '');
  assert.equal(empty.code, 2);
  assert.match(empty.stderr, /no password/);
  const badUser = await runCli([path, 'a:b'], 'pw\n');
  assert.equal(badUser.code, 2);
  assert.match(badUser.stderr, /cannot be stored/);
});
