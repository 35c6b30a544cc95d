/** Topic names and filters: what is valid, and how shared subscriptions are spelled. */

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
