/**
 * Starting and stopping the processes we benchmark.
 *
 * Each process is started in its own process group so that stopping it also stops what it forked
 * (nginx workers, websockify's per-connection children) and nothing else. Output is always drained
 * into a small ring buffer: a chatty child blocked on a full pipe would distort the measurement.
 */
import { spawn, type ChildProcess } from 'node:child_process';

const OUTPUT_LINES_KEPT = 40;
const STOP_GRACE_MS = 5000;

const running = new Set<Spawned>();

export class Spawned {
  readonly name: string;
  readonly pid: number;
  private readonly child: ChildProcess;
  private readonly output: string[] = [];
  private exitReason: string | null = null;
  private readonly exited: Promise<void>;

  constructor(name: string, command: string, args: readonly string[], options: { env?: NodeJS.ProcessEnv; cwd?: string }) {
    this.name = name;
    this.child = spawn(command, args, {
      env: options.env ?? process.env,
      cwd: options.cwd,
      detached: true, // own process group: see stop()
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    if (this.child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
    this.pid = this.child.pid;
    const keep = (chunk: Buffer): void => {
      for (const line of chunk.toString('utf8').split('\n')) {
        if (line.trim() === '') continue;
        this.output.push(line);
        if (this.output.length > OUTPUT_LINES_KEPT) this.output.shift();
      }
    };
    this.child.stdout?.on('data', keep);
    this.child.stderr?.on('data', keep);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        this.exitReason = signal === null ? `exit code ${code}` : `signal ${signal}`;
        running.delete(this);
        resolve();
      });
      this.child.once('error', (error) => {
        this.exitReason = error.message;
        running.delete(this);
        resolve();
      });
    });
    running.add(this);
  }

  /** null while running; otherwise why it stopped, with its last output lines. */
  exitedWith(): string | null {
    return this.exitReason === null ? null : `${this.exitReason}\n${this.recentOutput()}`;
  }

  recentOutput(): string {
    return this.output.join('\n');
  }

  /** SIGTERM to the process group, SIGKILL after a grace period. */
  async stop(): Promise<void> {
    if (this.exitReason !== null) return;
    signalGroup(this.pid, 'SIGTERM');
    const timer = setTimeout(() => signalGroup(this.pid, 'SIGKILL'), STOP_GRACE_MS);
    timer.unref();
    await this.exited;
    clearTimeout(timer);
    // The leader is gone; make sure forked children (websockify handlers) are gone too.
    signalGroup(this.pid, 'SIGKILL');
  }
}

function signalGroup(pid: number, signal: NodeJS.Signals): void {
  try {
    process.kill(-pid, signal);
  } catch {
    // the group is already empty
  }
}

/** Kills every process group we started and that is still running; for exit paths. */
export function killAllSpawned(): void {
  for (const spawned of running) signalGroup(spawned.pid, 'SIGKILL');
}

/** Runs a command to completion, returning its output (for versions and the build). */
export function runToEnd(command: string, args: readonly string[], cwd?: string): Promise<{ code: number; output: string }> {
  return new Promise((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString('utf8')));
    child.once('error', (error) => resolve({ code: -1, output: error.message }));
    child.once('close', (code) => resolve({ code: code ?? -1, output }));
  });
}
