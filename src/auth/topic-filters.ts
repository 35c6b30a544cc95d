/**
 * Topic rules for edge restrictions [MQTT-4.7]: levels split on "/", "+" one level, "#" the rest
 * (including the parent level), and wildcards at the first level never match topics starting
 * with "$" [MQTT-4.7.2-1].
 */

/** Does `filter` match the topic name `topic`? */
export function topicMatches(filter: string, topic: string): boolean {
  const f = filter.split('/');
  const t = topic.split('/');
  if (topic.startsWith('$') && (f[0] === '+' || f[0] === '#')) return false;
  for (let i = 0; i < f.length; i++) {
    const level = f[i];
    if (level === '#') return true;
    if (i >= t.length) return false;
    if (level !== '+' && level !== t[i]) return false;
  }
  return f.length === t.length;
}

/**
 * Does `allowed` match every topic `requested` could match? Then a subscription to `requested`
 * cannot deliver anything outside `allowed`.
 */
export function filterCovers(allowed: string, requested: string): boolean {
  const a = allowed.split('/');
  const r = requested.split('/');
  if (requested.startsWith('$') && (a[0] === '+' || a[0] === '#')) return false;
  for (let i = 0; i < a.length; i++) {
    const level = a[i];
    if (level === '#') return true;
    if (i >= r.length) return false;
    const asked = r[i];
    if (asked === '#') return false;
    if (level === '+') continue;
    if (asked === '+' || asked !== level) return false;
  }
  return a.length === r.length;
}

/** `$share/group/filter` subscribes to `filter` [MQTT-4.8.2]; the restriction applies to that filter. */
export function unshared(filter: string): string {
  if (!filter.startsWith('$share/')) return filter;
  const rest = filter.indexOf('/', '$share/'.length);
  return rest < 0 ? filter : filter.slice(rest + 1);
}
