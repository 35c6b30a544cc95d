#!/usr/bin/env node
/**
 * mqtt-ws-gateway-passwd <file> <username>: adds or replaces a user in the embedded broker's
 * password file. The password is read from stdin: the first line of a pipe, or typed twice
 * without echo on a terminal. Exit code 2 on any error.
 */
import { createInterface } from 'node:readline';
import { Writable } from 'node:stream';
import { addUser } from '../broker/auth/password-file.js';

const USAGE = 'usage: mqtt-ws-gateway-passwd <file> <username>   (the password is read from stdin)\n';

async function readPassword(): Promise<string | undefined> {
  const tty = process.stdin.isTTY === true;
  // On a terminal readline echoes what is typed to its output: give it one that discards.
  const silent = new Writable({ write: (_chunk, _encoding, done) => done() });
  const rl = createInterface({ input: process.stdin, output: tty ? silent : undefined, terminal: tty });
  rl.on('SIGINT', () => rl.close());
  const lines = rl[Symbol.asyncIterator]();
  try {
    if (tty) process.stderr.write('Password: ');
    const first = await lines.next();
    if (!tty) return first.done ? undefined : first.value;
    process.stderr.write('\n');
    if (first.done) return undefined;
    process.stderr.write('Reenter password: ');
    const second = await lines.next();
    process.stderr.write('\n');
    if (second.value !== first.value) throw new Error('passwords do not match');
    return first.value;
  } finally {
    rl.close();
    process.stdin.destroy();
  }
}

async function main(args: readonly string[]): Promise<void> {
  const [file, username, ...extra] = args;
  if (file === undefined || username === undefined || extra.length > 0) throw new Error(USAGE.trimEnd());
  const password = await readPassword();
  if (!password) throw new Error('no password given on stdin');
  await addUser(file, username, password);
}

try {
  await main(process.argv.slice(2));
} catch (err) {
  process.stderr.write(`mqtt-ws-gateway-passwd: ${err instanceof Error ? err.message : String(err)}\n`);
  process.exitCode = 2;
}
