/** Running steps against one started system, so that every path stops what it started. */
import { LoadGenerator } from './loadgen.js';
import type { SystemUnderTest } from './servers.js';

/** Progress goes to stderr; stdout carries only the Markdown report. */
export function progress(message: string): void {
  process.stderr.write(`[bench] ${message}\n`);
}

export function describeError(error: unknown): string {
  return error instanceof Error ? error.message.split('\n')[0] ?? error.message : String(error);
}

/**
 * Starts a system and a fresh load generator, runs `body`, and stops both whatever happens.
 * Returns the start error, if the system could not be started, so the caller can record it per row.
 */
export async function withSystem(
  start: () => Promise<SystemUnderTest>,
  body: (system: SystemUnderTest, load: LoadGenerator) => Promise<void>,
): Promise<string | null> {
  let system: SystemUnderTest;
  try {
    system = await start();
  } catch (error) {
    return describeError(error);
  }
  const load = LoadGenerator.start();
  try {
    await body(system, load);
    return null;
  } finally {
    load.stop();
    await system.stop();
  }
}

/**
 * Runs one measurement step; a failure becomes a message instead of ending the benchmark.
 * On failure the system's recent output is shown on stderr, to tell a crash from a refusal.
 */
export async function attempt<T>(
  what: string,
  errors: string[],
  system: SystemUnderTest,
  step: () => Promise<T>,
): Promise<{ value: T | null; error: string | null }> {
  try {
    return { value: await step(), error: null };
  } catch (error) {
    const message = `${what}: ${describeError(error)}`;
    errors.push(message);
    progress(`FAILED ${message}\n${system.recentOutput().split('\n').slice(-8).join('\n')}`);
    return { value: null, error: message };
  }
}
