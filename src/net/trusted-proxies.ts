import net from 'node:net';

/**
 * The peers (load balancers, reverse proxies) whose word about the client's address is believed:
 * X-Forwarded-For / Forwarded on a WebSocket upgrade, a PROXY protocol header on raw MQTT.
 * Anyone else could write those headers to hide behind another address.
 */
export class TrustedProxies {
  private readonly ranges = new net.BlockList();
  readonly empty: boolean;

  /** Throws TypeError naming the first entry that is not an address or CIDR range. */
  constructor(cidrs: readonly string[]) {
    for (const cidr of cidrs) addRange(this.ranges, cidr);
    this.empty = cidrs.length === 0;
  }

  /** An IPv4-mapped IPv6 address (::ffff:10.0.0.1) matches the IPv4 ranges too. */
  has(address: string): boolean {
    if (this.empty) return false;
    const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
    return family !== undefined && this.ranges.check(address, family);
  }
}

/** `10.0.0.0/8`, `fd00::/8`, or a single address (a /32 or /128). */
function addRange(ranges: net.BlockList, cidr: string): void {
  const [address = '', prefixText, extra] = cidr.split('/');
  const family = net.isIPv4(address) ? 'ipv4' : net.isIPv6(address) ? 'ipv6' : undefined;
  const maxPrefix = family === 'ipv4' ? 32 : 128;
  const prefix = prefixText === undefined ? maxPrefix : Number(prefixText);
  if (family === undefined || extra !== undefined || (prefixText !== undefined && !/^\d+$/.test(prefixText)) || !(prefix >= 0 && prefix <= maxPrefix)) {
    throw new TypeError(`not an IP address or CIDR range: ${cidr}`);
  }
  ranges.addSubnet(address, prefix, family);
}

/** Checks a TRUSTED_PROXIES list; returns the problem, or null when every entry is usable. */
export function checkCidrs(cidrs: readonly string[]): string | null {
  try {
    new TrustedProxies(cidrs);
    return null;
  } catch (err) {
    return (err as Error).message;
  }
}

/** `::ffff:10.0.0.1` is an IPv4 client seen through a dual-stack socket: say it as IPv4. */
export function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(address);
  return mapped ? (mapped[1] as string) : address;
}
