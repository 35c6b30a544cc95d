import fs from 'node:fs';
import { createPublicKey, type KeyObject } from 'node:crypto';
import { createLocalJWKSet, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey, type JSONWebKeySet } from 'jose';
import { GatewayError } from '../errors.js';

export interface JwtOptions {
  /** Shared secret for HS256. */
  readonly secret: string | null;
  /** PEM file with the public key for RS256 or ES256. */
  readonly publicKeyFile: string | null;
  /** JWKS JSON file ({"keys": [...]}) for RS256 or ES256, keys picked by `kid`. */
  readonly jwksFile: string | null;
  readonly audience: readonly string[] | null;
  readonly issuer: string | null;
}

/** Why a token was not accepted; the code is stable, the message says what was wrong. */
export class TokenError extends GatewayError {
  constructor(code: 'ERR_TOKEN_INVALID' | 'ERR_TOKEN_EXPIRED', message: string, options?: { cause?: unknown }) {
    super(code, message, options);
  }
}

const SYMMETRIC = ['HS256'];
const ASYMMETRIC = ['RS256', 'ES256'];

/**
 * Verifies access tokens: signature (HS256 with the secret; RS256/ES256 with the public key or
 * the JWKS), then exp, nbf, aud and iss. Only algorithms whose key is configured are accepted,
 * so a token cannot pick a weaker path (e.g. HS256 signed with a public key as the secret).
 */
export class JwtVerifier {
  private readonly algorithms: string[];

  private constructor(
    private readonly options: JwtOptions,
    private readonly secret: Uint8Array | null,
    private readonly publicKey: KeyObject | null,
    private readonly jwks: JWTVerifyGetKey | null,
  ) {
    this.algorithms = [...(secret ? SYMMETRIC : []), ...(publicKey || jwks ? ASYMMETRIC : [])];
  }

  /** Reads the key files once, at start; a file that cannot be used stops the program with its name. */
  static load(options: JwtOptions): JwtVerifier {
    const secret = options.secret === null ? null : new TextEncoder().encode(options.secret);
    const publicKey = options.publicKeyFile === null ? null : readKey(options.publicKeyFile);
    const jwks = options.jwksFile === null ? null : readJwks(options.jwksFile);
    return new JwtVerifier(options, secret, publicKey, jwks);
  }

  /** The token's claims, or a TokenError. */
  async verify(token: string): Promise<JWTPayload> {
    try {
      const { payload } = await jwtVerify(token, (header, jws) => this.keyFor(header, jws), {
        algorithms: this.algorithms,
        ...(this.options.audience && { audience: [...this.options.audience] }),
        ...(this.options.issuer !== null && { issuer: this.options.issuer }),
      });
      return payload;
    } catch (err) {
      if (err instanceof errors.JWTExpired) throw new TokenError('ERR_TOKEN_EXPIRED', 'token expired', { cause: err });
      throw new TokenError('ERR_TOKEN_INVALID', `token refused: ${(err as Error).message}`, { cause: err });
    }
  }

  private keyFor(...[header, jws]: Parameters<JWTVerifyGetKey>): ReturnType<JWTVerifyGetKey> {
    const alg = header.alg;
    if (alg !== undefined && SYMMETRIC.includes(alg) && this.secret) return this.secret;
    if (this.jwks) return this.jwks(header, jws);
    if (this.publicKey) return this.publicKey;
    throw new TokenError('ERR_TOKEN_INVALID', `no key for algorithm ${alg}`);
  }
}

function readKey(file: string): KeyObject {
  try {
    return createPublicKey(fs.readFileSync(file));
  } catch (err) {
    throw new GatewayError('ERR_JWT_KEY', `JWT_PUBLIC_KEY=${file}: not a readable PEM public key (${(err as Error).message})`, { cause: err });
  }
}

function readJwks(file: string): JWTVerifyGetKey {
  try {
    return createLocalJWKSet(JSON.parse(fs.readFileSync(file, 'utf8')) as JSONWebKeySet);
  } catch (err) {
    throw new GatewayError('ERR_JWT_KEY', `JWT_JWKS_FILE=${file}: not a readable JWKS file (${(err as Error).message})`, { cause: err });
  }
}
