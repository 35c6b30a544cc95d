import type { IncomingMessage } from 'node:http';
import mqttPacket from 'mqtt-packet';
import type { JWTPayload } from 'jose';
import type { AuthMode, Config } from '../config.js';
import type { Logger } from '../log.js';
import type { IConnectPacket } from '../mqtt/codec.js';
import type { Refusal } from '../net/upgrade.js';
import type { Admission, Admit } from './admission.js';
import { JwtVerifier } from './jwt.js';
import { TopicPolicy, type TopicRestrictions } from './topic-policy.js';

/** Who the client proved to be, and what that allows. */
export interface Identity {
  readonly method: 'jwt' | 'mtls';
  /** The name the broker should know the client by: a token claim, or the certificate's CN. */
  readonly username: string | undefined;
  /** When the credentials end (ms since the epoch). */
  readonly expiresAt?: number;
  readonly restrictions?: TopicRestrictions;
}

export interface IdentityOptions {
  readonly mode: AuthMode;
  readonly verifier: JwtVerifier | null;
  readonly cookie: string;
  readonly usernameClaim: string;
  readonly pubClaim: string;
  readonly subClaim: string;
  readonly connectRewrite: boolean;
  readonly proxyIdleTimeoutS: number;
}

export type HandshakeAuth = { readonly identity: Identity | null; readonly refusal?: undefined } | { readonly refusal: Refusal };

/** CONNACK codes for a refused identity: 3.1.1 "not authorized" (5) [MQTT-3.2.2.3]; 5.0 0x86 / 0x87 [MQTT-3.2.2.2]. */
const REFUSED = { v4: 5, badCredentials: 0x86, notAuthorized: 0x87 } as const;

/**
 * Authentication at the edge (AUTH_MODE): a JWT at the WebSocket handshake (Authorization: Bearer,
 * the access_token query parameter, or a cookie) or as the CONNECT password; or a verified client
 * certificate. Turns the identity into what the backend sees (CONNECT_REWRITE) and into topic
 * restrictions and an expiry for the connection.
 */
export class IdentityPolicy {
  constructor(private readonly options: IdentityOptions) {}

  static fromConfig(config: Config): IdentityPolicy {
    const verifier = config.authMode.includes('jwt')
      ? JwtVerifier.load({
          secret: config.jwtSecret,
          publicKeyFile: config.jwtPublicKey,
          jwksFile: config.jwtJwksFile,
          audience: config.jwtAudience,
          issuer: config.jwtIssuer,
        })
      : null;
    return new IdentityPolicy({
      mode: config.authMode,
      verifier,
      cookie: config.jwtCookie,
      usernameClaim: config.jwtUsernameClaim,
      pubClaim: config.jwtPubClaim,
      subClaim: config.jwtSubClaim,
      connectRewrite: config.connectRewrite,
      proxyIdleTimeoutS: config.proxyIdleTimeoutS,
    });
  }

  /**
   * At the WebSocket handshake: a token that is present must be valid (401 otherwise); with none,
   * the decision waits for the CONNECT password, except in mtls mode, where no certificate is a 401.
   */
  async handshake(req: IncomingMessage, certCn: string | undefined): Promise<HandshakeAuth> {
    const { mode } = this.options;
    if (mode === 'none') return { identity: null };
    const token = mode === 'mtls' ? undefined : handshakeToken(req, this.options.cookie);
    if (token !== undefined) {
      try {
        return { identity: await this.fromToken(token) };
      } catch (err) {
        return { refusal: { status: 401, reason: (err as Error).message } };
      }
    }
    if (certCn !== undefined && mode !== 'jwt') return { identity: certificateIdentity(certCn) };
    if (mode === 'mtls') return { refusal: { status: 401, reason: 'a verified client certificate is required' } };
    return { identity: null };
  }

  /**
   * The CONNECT-time decision for one client, given what its handshake proved. `pinged`: the
   * gateway's WebSocket pings keep this connection from looking idle, whatever its keep alive.
   */
  admitter(handshake: Identity | null, certCn: string | undefined, pinged = false): Admit {
    return (connect, connectBytes, log) => {
      if (!pinged) this.adviseKeepAlive(connect, log);
      const { mode } = this.options;
      const known = handshake ?? (certCn !== undefined && mode !== 'jwt' ? certificateIdentity(certCn) : null);
      if (known !== null || mode === 'none') return this.accept(connect, connectBytes, known, log);
      if (mode === 'mtls') return refuse(connect, REFUSED.notAuthorized, 'a verified client certificate is required');
      const password = connect.password?.toString('utf8');
      if (password === undefined || password === '') {
        return refuse(connect, REFUSED.notAuthorized, 'no token: send it at the handshake or as the CONNECT password');
      }
      return this.fromToken(password).then(
        (identity) => this.accept(connect, connectBytes, identity, log),
        (err: Error) => refuse(connect, REFUSED.badCredentials, err.message),
      );
    };
  }

  private async fromToken(token: string): Promise<Identity> {
    const claims = await (this.options.verifier as JwtVerifier).verify(token);
    const username = claims[this.options.usernameClaim];
    const publish = filters(claims, this.options.pubClaim);
    const subscribe = filters(claims, this.options.subClaim);
    return {
      method: 'jwt',
      username: typeof username === 'string' ? username : undefined,
      ...(claims.exp !== undefined && { expiresAt: claims.exp * 1000 }),
      ...((publish !== null || subscribe !== null) && { restrictions: { publish, subscribe } }),
    };
  }

  private accept(connect: IConnectPacket, connectBytes: Buffer, identity: Identity | null, log: Logger): Admission {
    if (identity) log.info({ method: identity.method, identity: identity.username, restricted: identity.restrictions !== undefined }, 'client authenticated');
    let forwarded = { connect, connectBytes };
    if (this.options.connectRewrite) {
      if (identity !== null && identity.username === undefined) {
        return refuse(connect, REFUSED.notAuthorized, `the token has no ${this.options.usernameClaim} claim to name the client by`);
      }
      forwarded = rewriteConnect(connect, identity?.username);
    }
    return {
      accepted: true,
      ...forwarded,
      ...(identity?.restrictions && { inspector: new TopicPolicy(identity.restrictions, connectBytes, log) }),
      ...(identity?.expiresAt !== undefined && { expiresAt: identity.expiresAt }),
    };
  }

  /** A load balancer cuts connections idle longer than its timeout; a keep alive that long lets it. */
  private adviseKeepAlive(connect: IConnectPacket, log: Logger): void {
    const limit = this.options.proxyIdleTimeoutS;
    const keepalive = connect.keepalive ?? 0;
    if (limit > 0 && (keepalive === 0 || keepalive >= limit)) {
      log.warn(
        { keepalive, proxyIdleTimeoutS: limit },
        'MQTT keep alive is at or above the proxy idle timeout: idle connections may be cut by a proxy',
      );
    }
  }
}

function certificateIdentity(cn: string): Identity {
  return { method: 'mtls', username: cn };
}

/** Authorization: Bearer first, then the access_token query parameter, then the cookie. */
export function handshakeToken(req: IncomingMessage, cookieName: string): string | undefined {
  const bearer = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  if (bearer) return bearer[1];
  const query = new URL(req.url ?? '/', 'http://gateway').searchParams.get('access_token');
  if (query) return query;
  for (const part of (req.headers.cookie ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === cookieName) {
      const value = part.slice(eq + 1).trim();
      if (value !== '') return decodeCookie(value);
    }
  }
  return undefined;
}

/** A cookie value that is not valid percent-encoding is no token (and must not throw). */
function decodeCookie(value: string): string | undefined {
  try {
    return decodeURIComponent(value);
  } catch {
    return undefined;
  }
}

/** A claim naming topic filters: an array of strings, or one string; null when absent. */
function filters(claims: JWTPayload, name: string): string[] | null {
  const value = claims[name];
  if (value === undefined) return null;
  const list = Array.isArray(value) ? value : [value];
  return list.filter((item): item is string => typeof item === 'string');
}

/**
 * The CONNECT as the broker should see it: the proven name as the user name, and no password
 * (the broker trusts the gateway, not the client). With no identity, no name at all: a name the
 * client chose itself must not reach the broker as if it were proven. MQTT 5 properties are kept.
 */
export function rewriteConnect(connect: IConnectPacket, username: string | undefined): { connect: IConnectPacket; connectBytes: Buffer } {
  const rewritten: IConnectPacket = { ...connect };
  delete rewritten.password;
  delete rewritten.username;
  if (username !== undefined) rewritten.username = username;
  const connectBytes = mqttPacket.generate(rewritten, { protocolVersion: connect.protocolVersion ?? 4 });
  return { connect: rewritten, connectBytes };
}

function refuse(connect: IConnectPacket, v5Code: number, detail: string): Admission {
  const v5 = connect.protocolVersion === 5;
  const connack = mqttPacket.generate(
    v5 ? { cmd: 'connack', sessionPresent: false, reasonCode: v5Code } : { cmd: 'connack', sessionPresent: false, returnCode: REFUSED.v4 },
    { protocolVersion: v5 ? 5 : 4 },
  );
  return { accepted: false, connack, reason: 'notAuthorized', detail };
}
