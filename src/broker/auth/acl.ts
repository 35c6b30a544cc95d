import { readFileSync } from 'node:fs';
import { GatewayError } from '../../errors.js';
import { filterCovers, filtersOverlap, isValidTopicFilter, isValidTopicName, topicMatches } from '../../mqtt/topics.js';

const ACCESS = ['read', 'write', 'readwrite', 'deny'] as const;
type Access = (typeof ACCESS)[number];

interface Rule {
  readonly access: Access;
  readonly filter: string;
}

/** Who is asking: the CONNECT username (absent for anonymous clients) and client id. */
export interface AclSubject {
  readonly username?: string;
  readonly clientId: string;
}

const canRead = (rule: Rule) => rule.access === 'read' || rule.access === 'readwrite';
const canWrite = (rule: Rule) => rule.access === 'write' || rule.access === 'readwrite';
/**
 * A pattern with `%u`/`%c` filled in, or undefined when it does not apply: no username for `%u`
 * (as in Mosquitto), or a value holding a wildcard that would widen the pattern.
 */
function substitute(pattern: string, who: AclSubject): string | undefined {
  const usable = (v: string | undefined): v is string => v !== undefined && v !== '' && !/[+#]/.test(v);
  if (pattern.includes('%u') && !usable(who.username)) return undefined;
  if (pattern.includes('%c') && !usable(who.clientId)) return undefined;
  return pattern.replaceAll('%u', who.username ?? '').replaceAll('%c', who.clientId);
}

/** `<word> <rest of line>`; the rest may hold spaces, as topic names can. */
function splitWord(text: string): [string, string] {
  const m = /^(\S+)\s*(.*)$/.exec(text);
  return [m?.[1] ?? '', m?.[2] ?? ''];
}

/**
 * A Mosquitto-style ACL file. `topic` lines before the first `user` line apply to anonymous
 * clients only; those after it to that user only; `pattern` lines to every client.
 * Deny rules win over allow rules.
 */
export class Acl {
  private constructor(
    private readonly anonymous: readonly Rule[],
    private readonly users: ReadonlyMap<string, readonly Rule[]>,
    private readonly patterns: readonly Rule[],
  ) {}

  /** Throws GatewayError('ERR_ACL_FILE') naming the file and line of the first bad line. */
  static load(path: string): Acl {
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (cause) {
      throw new GatewayError('ERR_ACL_FILE', `cannot read ACL file ${path}`, { cause });
    }
    const anonymous: Rule[] = [];
    const users = new Map<string, Rule[]>();
    const patterns: Rule[] = [];
    let section = anonymous;
    text.split('\n').forEach((raw, index) => {
      const line = raw.trim();
      if (line === '' || line.startsWith('#')) return;
      const fail = (why: string) => new GatewayError('ERR_ACL_FILE', `${path}:${index + 1}: ${why}`);
      const [keyword, rest] = splitWord(line);
      if (keyword === 'user') {
        if (rest === '') throw fail('"user" needs a username');
        section = users.get(rest) ?? [];
        users.set(rest, section);
      } else if (keyword === 'topic' || keyword === 'pattern') {
        const [word, after] = splitWord(rest);
        const explicit = (ACCESS as readonly string[]).includes(word);
        const [access, filter] = explicit ? [word as Access, after] : ['readwrite' as const, rest];
        if (filter === '') throw fail(`"${keyword}" needs a topic filter`);
        if (!isValidTopicFilter(filter)) throw fail(`invalid topic filter "${filter}"`);
        (keyword === 'topic' ? section : patterns).push({ access, filter });
      } else {
        throw fail(`unknown keyword "${keyword}"`);
      }
    });
    return new Acl(anonymous, users, patterns);
  }

  /** Publishing to `topic` needs a write rule that matches it, and no deny rule that does. */
  canPublish(who: AclSubject, topic: string): boolean {
    if (!isValidTopicName(topic)) return false;
    const rules = this.rulesFor(who);
    const denied = rules.some((r) => r.access === 'deny' && topicMatches(r.filter, topic));
    return !denied && rules.some((r) => canWrite(r) && topicMatches(r.filter, topic));
  }

  /**
   * Subscribing to `filter` needs a read rule that covers all of it. Since nothing is checked again
   * per message, a filter that could receive any denied topic is refused as a whole.
   */
  canSubscribe(who: AclSubject, filter: string): boolean {
    if (!isValidTopicFilter(filter)) return false;
    const rules = this.rulesFor(who);
    const denied = rules.some((r) => r.access === 'deny' && filtersOverlap(r.filter, filter));
    return !denied && rules.some((r) => canRead(r) && filterCovers(r.filter, filter));
  }

  private rulesFor(who: AclSubject): Rule[] {
    const own = who.username === undefined ? this.anonymous : (this.users.get(who.username) ?? []);
    const patterns = this.patterns.flatMap((p) => {
      const filter = substitute(p.filter, who);
      return filter === undefined ? [] : [{ access: p.access, filter }];
    });
    return [...own, ...patterns];
  }
}
