import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import fs from 'node:fs';
import { SignJWT } from 'jose';
import { JwtVerifier } from '../../../src/auth/jwt.js';
import { makeTokenKeys, token, type TokenKeys } from '../../helpers/tokens.js';

let keys: TokenKeys;
before(async () => {
  keys = await makeTokenKeys();
});

const only = (options: Partial<Parameters<typeof JwtVerifier.load>[0]>) =>
  JwtVerifier.load({ secret: null, publicKeyFile: null, jwksFile: null, audience: null, issuer: null, ...options });

test('HS256, RS256 (PEM) and ES256 (JWKS) tokens verify with their keys', async () => {
  assert.equal((await only({ secret: keys.secret }).verify(await token(keys))).sub, 'alice');
  assert.equal((await only({ publicKeyFile: keys.rsaPublicFile }).verify(await token(keys, { alg: 'RS256' }))).sub, 'alice');
  assert.equal((await only({ jwksFile: keys.jwksFile }).verify(await token(keys, { alg: 'ES256' }))).sub, 'alice');
});

test('an algorithm without a configured key is refused: HS256 "signed" with the public key as secret', async () => {
  const pem = fs.readFileSync(keys.rsaPublicFile);
  const confused = await new SignJWT({ sub: 'mallory' }).setProtectedHeader({ alg: 'HS256' }).setExpirationTime('1h').sign(pem);
  await assert.rejects(only({ publicKeyFile: keys.rsaPublicFile }).verify(confused), { code: 'ERR_TOKEN_INVALID' });
  await assert.rejects(only({ secret: keys.secret }).verify(await token(keys, { alg: 'RS256' })), { code: 'ERR_TOKEN_INVALID' });
});

test('claims: exp, nbf, aud, iss', async () => {
  const verifier = only({ secret: keys.secret, audience: ['gw', 'other'], issuer: 'https://id' });
  const ok = { aud: 'gw', iss: 'https://id' };
  assert.equal((await verifier.verify(await token(keys, { claims: ok }))).aud, 'gw');
  await assert.rejects(verifier.verify(await token(keys, { claims: ok, expiresIn: -1 })), { code: 'ERR_TOKEN_EXPIRED' });
  await assert.rejects(verifier.verify(await token(keys, { claims: { ...ok, nbf: Math.floor(Date.now() / 1000) + 60 } })), { code: 'ERR_TOKEN_INVALID' });
  await assert.rejects(verifier.verify(await token(keys, { claims: { ...ok, aud: 'nope' } })), { code: 'ERR_TOKEN_INVALID' });
  await assert.rejects(verifier.verify(await token(keys, { claims: { ...ok, iss: 'https://evil' } })), { code: 'ERR_TOKEN_INVALID' });
});

test('unreadable key files stop the start with the variable named', () => {
  assert.throws(() => only({ publicKeyFile: '/nonexistent.pem' }), /JWT_PUBLIC_KEY=\/nonexistent\.pem/);
  assert.throws(() => only({ jwksFile: keys.rsaPublicFile }), /JWT_JWKS_FILE=/);
});
