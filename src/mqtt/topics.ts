/**
 * Topic names and filters, for every part of the gateway that reads them (the broker, the ACL,
 * the edge's topic restrictions) [MQTT-4.7]: what is valid, how filters match and cover, and how
 * shared subscriptions are spelled. Levels split on "/", "+" is one level, "#" the rest (including
 * the parent level), and a wildcard at the first level never matches a "$" topic [MQTT-4.7.2-1].
 */

const SLASH = 0x2f;
const PLUS = 0x2b;
const HASH = 0x23;

/**
 * A topic name a client may publish to: at least one character [MQTT-4.7.3-1], no wildcards
 * [MQTT-3.3.2-2], no U+0000 [MQTT-4.7.3-2]. UTF-8 validity is checked on the bytes by the decoder.
 */
export function isValidTopicName(topic: string): boolean {
  if (topic.length === 0) return false;
  for (let i = 0; i < topic.length; i++) {
    const c = topic.charCodeAt(i);
    if (c === PLUS || c === HASH || c === 0) return false;
  }
  return true;
}

/**
 * A topic filter: `#` only alone as the last level [MQTT-4.7.1-2], `+` only alone in its level
 * [MQTT-4.7.1-3], at least one character [MQTT-4.7.3-1], no U+0000 [MQTT-4.7.3-2].
 */
export function isValidTopicFilter(filter: string): boolean {
  const n = filter.length;
  if (n === 0) return false;
  for (let i = 0; i < n; i++) {
    const c = filter.charCodeAt(i);
    if (c === 0) return false;
    if (c !== PLUS && c !== HASH) continue;
    const alone = (i === 0 || filter.charCodeAt(i - 1) === SLASH) && (i === n - 1 || filter.charCodeAt(i + 1) === SLASH);
    if (!alone) return false;
    if (c === HASH && i !== n - 1) return false;
  }
  return true;
}

export interface ParsedFilter {
  /** The filter matched against topics (without any `$share/group/` prefix). */
  readonly filter: string;
  /** The share name of a shared subscription, or null. */
  readonly group: string | null;
}

const SHARE_PREFIX = '$share/';

/**
 * Splits `$share/{ShareName}/{filter}` [MQTT-4.8.2]. Returns null when the filter is not valid: a
 * share name must be non-empty without wildcards or `/` [MQTT-4.8.2-1], followed by a filter
 * [MQTT-4.8.2-2].
 */
export function parseFilter(raw: string): ParsedFilter | null {
  if (!raw.startsWith(SHARE_PREFIX)) return isValidTopicFilter(raw) ? { filter: raw, group: null } : null;
  const slash = raw.indexOf('/', SHARE_PREFIX.length);
  if (slash < 0) return null;
  const group = raw.slice(SHARE_PREFIX.length, slash);
  const filter = raw.slice(slash + 1);
  if (group.length === 0 || group.includes('+') || group.includes('#')) return null;
  return isValidTopicFilter(filter) ? { filter, group } : null;
}

const isWildcard = (level: string | undefined): boolean => level === '+' || level === '#';

/** A filter starting with a wildcard never reaches names starting with `$` [MQTT-4.7.2-1]. */
function dollarBlocked(wild: readonly string[], named: readonly string[]): boolean {
  return isWildcard(wild[0]) && named[0]?.startsWith('$') === true;
}

/** Does `filter` match the topic name `topic`? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (dollarBlocked(f, t)) return false;
  for (let i = 0; i < f.length; i++) {
    if (f[i] === '#') return true;
    if (i >= t.length || (f[i] !== '+' && f[i] !== t[i])) return false;
  }
  return f.length === t.length;
}

/**
 * Does `allowed` match every topic `requested` could match? Then a subscription to `requested`
 * cannot deliver anything outside `allowed` (`a/#` covers `a/b/+`; `a/+` does not cover `a/#`).
 */
export function filterCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  if (dollarBlocked(a, r)) return false;
  for (let i = 0; i < a.length; i++) {
    if (a[i] === '#') return true;
    if (i >= r.length || r[i] === '#' || (a[i] !== '+' && a[i] !== r[i])) return false;
  }
  return a.length === r.length;
}

/** Is there a topic that both filters match? */
export function filtersOverlap(a: string, b: string): boolean {
  const x = a.split('/');
  const y = b.split('/');
  if (dollarBlocked(x, y) || dollarBlocked(y, x)) return false;
  for (let i = 0; ; i++) {
    if (x[i] === '#' || y[i] === '#') return true;
    if (i >= x.length || i >= y.length) return x.length === y.length;
    if (x[i] !== '+' && y[i] !== '+' && x[i] !== y[i]) return false;
  }
}

/** `$share/group/filter` subscribes to `filter` [MQTT-4.8.2]: what a restriction applies to. */
export function unshared(filter: string): string {
  return parseFilter(filter)?.filter ?? filter;
}
