import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { readFile, rename, rm, writeFile } from 'node:fs/promises';
import { GatewayError } from '../../errors.js';

/**
 * Cost of new hashes. Each line stores its own parameters, so these can be raised later and
 * older lines keep verifying.
 */
const DEFAULT_COST = { N: 16384, r: 8, p: 1 } as const;
const SALT_BYTES = 16;
const KEY_BYTES = 32;
/** A stored value that would make scrypt use more memory than this is malformed, not run. */
const MAX_SCRYPT_MEMORY = 256 * 1024 * 1024;

const BASE64 = '[A-Za-z0-9+/]+={0,2}';
const STORED = new RegExp(`^\\$scrypt\\$N=(\\d+),r=(\\d+),p=(\\d+)\\$(${BASE64})\\$(${BASE64})$`);

interface ScryptHash {
  readonly N: number;
  readonly r: number;
  readonly p: number;
  readonly salt: Buffer;
  readonly hash: Buffer;
}

/** Verified against for unknown users, so they cost as much time as known ones. */
const DUMMY: ScryptHash = { ...DEFAULT_COST, salt: Buffer.alloc(SALT_BYTES), hash: Buffer.alloc(KEY_BYTES) };

function parseHash(stored: string): ScryptHash | undefined {
  const m = STORED.exec(stored);
  if (!m) return undefined;
  const [N, r, p] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const salt = Buffer.from(m[4] ?? '', 'base64');
  const hash = Buffer.from(m[5] ?? '', 'base64');
  const sane =
    N >= 2 && Number.isInteger(Math.log2(N)) && r >= 1 && p >= 1 && p <= 16 &&
    128 * r * (N + 2 + p) <= MAX_SCRYPT_MEMORY && salt.length >= 8 && hash.length >= 16 && hash.length <= 64;
  return sane ? { N, r, p, salt, hash } : undefined;
}

function derive(password: Buffer, cost: Omit<ScryptHash, 'hash'>, keylen: number): Promise<Buffer> {
  const { N, r, p, salt } = cost;
  return new Promise((resolve, reject) => {
    scrypt(password, salt, keylen, { N, r, p, maxmem: MAX_SCRYPT_MEMORY }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

async function verifyHash(password: Buffer, stored: ScryptHash): Promise<boolean> {
  const key = await derive(password, stored, stored.hash.length);
  return timingSafeEqual(key, stored.hash);
}

/** `$scrypt$N=16384,r=8,p=1$<salt base64>$<hash base64>` with a fresh random salt. */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const hash = await derive(Buffer.from(password, 'utf8'), { ...DEFAULT_COST, salt }, KEY_BYTES);
  const { N, r, p } = DEFAULT_COST;
  return `$scrypt$N=${N},r=${r},p=${p}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** false also when `stored` is not a well-formed scrypt line. */
export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parsed = parseHash(stored);
  return parsed !== undefined && verifyHash(Buffer.from(password, 'utf8'), parsed);
}

/** The username of a `user:hash` line; undefined for blank lines, comments and lines without one. */
function userOf(line: string): string | undefined {
  const text = line.trim();
  const colon = text.indexOf(':');
  return text === '' || text.startsWith('#') || colon <= 0 ? undefined : text.slice(0, colon);
}

/** Users whose credentials are checked against a Mosquitto-like password file. */
export class PasswordFile {
  private constructor(private readonly users: ReadonlyMap<string, ScryptHash>) {}

  /** Reads and checks the whole file; throws GatewayError('ERR_AUTH_FILE') naming the bad line. */
  static load(path: string): PasswordFile {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new GatewayError('ERR_AUTH_FILE', `cannot read password file ${path}`, { cause });
    }
    const users = new Map<string, ScryptHash>();
    text.split('\n').forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const fail = (why: string) => new GatewayError('ERR_AUTH_FILE', `${path}:${index + 1}: ${why}`);
      const username = userOf(line);
      if (username === undefined) throw fail('expected username:$scrypt$...');
      const parsed = parseHash(line.slice(username.length + 1));
      if (!parsed) throw fail(`malformed scrypt hash for user "${username}"`);
      if (users.has(username)) throw fail(`duplicate user "${username}"`);
      users.set(username, parsed);
    });
    return new PasswordFile(users);
  }

  /** false for a missing username or password, an unknown user, or a wrong password. */
  async authenticate(username: string | undefined, password: Buffer | undefined): Promise<boolean> {
    if (username === undefined || password === undefined) return false;
    const stored = this.users.get(username);
    const match = await verifyHash(password, stored ?? DUMMY);
    return stored !== undefined && match;
  }
}

function checkUsername(username: string): void {
  // Anything else could not be read back: `:` ends the name, `#` starts a comment, lines are trimmed.
  // eslint-disable-next-line no-control-regex
  const unreadable = /[:\u0000-\u001f\u007f]/.test(username) || username.startsWith('#');
  if (username === '' || unreadable || username.trim() !== username) {
    const shown = JSON.stringify(username);
    throw new GatewayError('ERR_AUTH_FILE', `username ${shown} cannot be stored in a password file`);
  }
}

/** Adds the user, or replaces its line in place; the file is rewritten atomically with mode 0600. */
export async function addUser(path: string, username: string, password: string): Promise<void> {
  checkUsername(username);
  let existing = '';
  try {
    existing = await readFile(path, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') {
      throw new GatewayError('ERR_AUTH_FILE', `cannot read password file ${path}`, { cause: err });
    }
  }
  const entry = `${username}:${await hashPassword(password)}`;
  const lines: string[] = [];
  let placed = false;
  for (const line of existing.split('\n')) {
    if (userOf(line) !== username) lines.push(line);
    else if (!placed) {
      lines.push(entry);
      placed = true;
    }
  }
  if (lines.at(-1) === '') lines.pop();
  if (!placed) lines.push(entry);

  const temp = `${path}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    await writeFile(temp, `${lines.join('\n')}\n`, { mode: 0o600, flag: 'wx' });
    await rename(temp, path);
  } catch (cause) {
    await rm(temp, { force: true });
    throw new GatewayError('ERR_AUTH_FILE', `cannot write password file ${path}`, { cause });
  }
}
