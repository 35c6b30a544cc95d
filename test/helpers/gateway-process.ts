import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { waitFor } from './wait.js';

const REPO = fileURLToPath(new URL('../..', import.meta.url));

export interface GatewayProcess {
  readonly child: ChildProcess;
  /** Every JSON log line from its stdout so far, parsed. */
  readonly logs: Record<string, unknown>[];
  readonly output: () => string;
  /** Settles when the process exits, with when it did. */
  readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
  /** SIGKILL if still running (for cleanup). */
  kill(): Promise<void>;
}

/**
 * Runs the gateway as its own process, as deployed (`src/main.ts` through tsx), with only the
 * environment given (plus PATH); resolves once it logs 'gateway started'.
 */
export async function spawnGateway(env: Record<string, string>): Promise<GatewayProcess> {
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/main.ts'], {
    cwd: REPO,
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const logs: Record<string, unknown>[] = [];
  let output = '';
  let partial = '';
  child.stdout?.on('data', (chunk: Buffer) => {
    output += chunk.toString();
    const lines = (partial + chunk.toString()).split('\n');
    partial = lines.pop() ?? '';
    for (const line of lines) {
      try {
        logs.push(JSON.parse(line) as Record<string, unknown>);
      } catch {
        // not a log line
      }
    }
  });
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  let gone = false;
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => {
      gone = true;
      resolve({ code, signal, at: Date.now() });
    }),
  );
  const kill = async (): Promise<void> => {
    if (gone) return;
    child.kill('SIGKILL');
    await exited;
  };
  try {
    await waitFor(
      () => {
        if (gone) throw new Error(`the gateway exited at start:\n${output}`);
        return logs.some((line) => line.msg === 'gateway started');
      },
      'the gateway process to start',
      20_000,
    );
  } catch (err) {
    await kill();
    throw err;
  }
  return { child, logs, output: () => output, exited, kill };
}
