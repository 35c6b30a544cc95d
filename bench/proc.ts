/**
 * Reads CPU time and memory of a system under test from /proc.
 *
 * A system is a process tree: nginx is a master plus workers, websockify forks one process per connection.
 * We always account the whole tree below the root pids we started.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { execFileSync } from 'node:child_process';

/** Clock ticks per second, the unit of utime/stime in /proc/<pid>/stat. */
const CLOCK_TICKS_PER_SECOND = readClockTicks();

function readClockTicks(): number {
  try {
    const value = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    return Number.isFinite(value) && value > 0 ? value : 100;
  } catch {
    return 100;
  }
}

interface StatLine {
  readonly pid: number;
  readonly ppid: number;
  /** utime + cutime, in clock ticks: time running the program itself. */
  readonly userTicks: number;
  /** stime + cstime, in clock ticks: time in the kernel on its behalf (system calls, the network stack). */
  readonly systemTicks: number;
}

/**
 * Parses /proc/<pid>/stat. The command name (field 2) may contain spaces and parentheses,
 * so fields are counted from the last ')'.
 */
function readStat(pid: number): StatLine | null {
  let text: string;
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch {
    return null; // exited meanwhile
  }
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // rest[0] is field 3 (state); field N is rest[N - 3].
  const field = (n: number): number => Number(rest[n - 3]);
  // Children that exited and were reaped move their time into the parent's cutime/cstime,
  // so counting those keeps the sum continuous when a websockify child exits mid-measurement.
  return { pid, ppid: field(4), userTicks: field(14) + field(16), systemTicks: field(15) + field(17) };
}

/** The given roots plus all their live descendants. */
export function processTree(roots: readonly number[]): number[] {
  const children = new Map<number, number[]>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    const stat = readStat(Number(entry));
    if (stat === null) continue;
    const list = children.get(stat.ppid);
    if (list === undefined) children.set(stat.ppid, [stat.pid]);
    else list.push(stat.pid);
  }
  const seen = new Set<number>();
  const pending = [...roots];
  while (pending.length > 0) {
    const pid = pending.pop() as number;
    if (seen.has(pid)) continue;
    seen.add(pid);
    pending.push(...(children.get(pid) ?? []));
  }
  return [...seen];
}

/** CPU seconds consumed so far by the tree below the roots: in all, and of that in the kernel. */
export function treeCpuSeconds(roots: readonly number[]): { total: number; system: number } {
  let user = 0;
  let system = 0;
  for (const pid of processTree(roots)) {
    const stat = readStat(pid);
    user += stat?.userTicks ?? 0;
    system += stat?.systemTicks ?? 0;
  }
  return { total: (user + system) / CLOCK_TICKS_PER_SECOND, system: system / CLOCK_TICKS_PER_SECOND };
}

export interface MemorySample {
  /** Sum of VmRSS over the tree, KiB. Counts pages shared between forked processes once per process. */
  readonly rssKiB: number;
  /** Sum of Pss over the tree, KiB: shared pages divided among their sharers. */
  readonly pssKiB: number;
  readonly processes: number;
}

function statusField(pid: number, file: string, name: string): number {
  try {
    const text = readFileSync(`/proc/${pid}/${file}`, 'utf8');
    const match = new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(text);
    return match === null ? 0 : Number(match[1]);
  } catch {
    return 0;
  }
}

export function treeMemory(roots: readonly number[]): MemorySample {
  const pids = processTree(roots);
  let rssKiB = 0;
  let pssKiB = 0;
  for (const pid of pids) {
    rssKiB += statusField(pid, 'status', 'VmRSS');
    pssKiB += statusField(pid, 'smaps_rollup', 'Pss');
  }
  return { rssKiB, pssKiB, processes: pids.length };
}

/** MemAvailable of the machine, MiB: the guard that stops connection ramps before they hurt others. */
export function availableMemoryMiB(): number {
  const text = readFileSync('/proc/meminfo', 'utf8');
  const match = /^MemAvailable:\s+(\d+) kB/m.exec(text);
  return match === null ? Number.POSITIVE_INFINITY : Number(match[1]) / 1024;
}

/** Number of processes on the machine, against kernel.pid_max (32768 here). */
export function processCount(): number {
  return readdirSync('/proc').filter((entry) => /^\d+$/.test(entry)).length;
}

/** The soft limit on open files of this process (inherited by everything it starts), or null. */
export function openFilesLimit(): number | null {
  const text = readFileSync('/proc/self/limits', 'utf8');
  const match = /^Max open files\s+(\d+|unlimited)/m.exec(text);
  if (match === null) return null;
  return match[1] === 'unlimited' ? Number.POSITIVE_INFINITY : Number(match[1]);
}
