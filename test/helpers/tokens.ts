import { generateKeyPairSync, type KeyObject } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SignJWT, exportJWK, type JWTPayload } from 'jose';

/** Signing material for JWT tests: an HS256 secret, an RS256 key (PEM file) and an ES256 key (JWKS file). */
export interface TokenKeys {
  readonly secret: string;
  readonly rsaPublicFile: string;
  readonly jwksFile: string;
  readonly rsaPrivate: KeyObject;
  readonly ecPrivate: KeyObject;
}

export async function makeTokenKeys(): Promise<TokenKeys> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'jwt-keys-'));
  const rsa = generateKeyPairSync('rsa', { modulusLength: 2048 });
  const ec = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  const rsaPublicFile = path.join(dir, 'rsa.pub.pem');
  fs.writeFileSync(rsaPublicFile, rsa.publicKey.export({ type: 'spki', format: 'pem' }));
  const jwk = { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' };
  const jwksFile = path.join(dir, 'jwks.json');
  fs.writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  return { secret: 'a-test-secret-of-at-least-32-bytes!!', rsaPublicFile, jwksFile, rsaPrivate: rsa.privateKey, ecPrivate: ec.privateKey };
}

export interface TokenOptions {
  alg?: 'HS256' | 'RS256' | 'ES256';
  /** Seconds from now; negative: already expired. */
  expiresIn?: number;
  claims?: JWTPayload;
}

/** A signed token with sub, iat and exp (default: valid for an hour). */
export function token(keys: TokenKeys, { alg = 'HS256', expiresIn = 3600, claims = {} }: TokenOptions = {}): Promise<string> {
  const now = Math.floor(Date.now() / 1000);
  const jwt = new SignJWT({ sub: 'alice', ...claims })
    .setProtectedHeader({ alg, ...(alg === 'ES256' && { kid: 'ec-1' }) })
    .setIssuedAt(now)
    .setExpirationTime(now + expiresIn);
  const key = alg === 'HS256' ? new TextEncoder().encode(keys.secret) : alg === 'RS256' ? keys.rsaPrivate : keys.ecPrivate;
  return jwt.sign(key);
}
