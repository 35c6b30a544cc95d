/** The orchestrator's handle on the load-generator process (bench/load/worker.ts). */
import { fork, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { Job, ResultOf, WorkerReply } from './load/jobs.js';

const WORKER = fileURLToPath(new URL('./load/worker.ts', import.meta.url));
/** A job that overruns its own duration by this much is abandoned and the worker killed. */
const JOB_GRACE_MS = 60_000;

export class LoadGenerator {
  private nextId = 1;
  private readonly pending = new Map<number, { resolve: (reply: WorkerReply) => void; reject: (error: Error) => void }>();
  private exitReason: string | null = null;

  private constructor(private readonly child: ChildProcess) {
    child.on('message', (reply: WorkerReply) => {
      const waiter = this.pending.get(reply.id);
      this.pending.delete(reply.id);
      waiter?.resolve(reply);
    });
    child.once('exit', (code, signal) => {
      this.exitReason = signal === null ? `exit code ${code}` : `signal ${signal}`;
      for (const waiter of this.pending.values()) waiter.reject(new Error(`load generator stopped: ${this.exitReason}`));
      this.pending.clear();
    });
  }

  static start(): LoadGenerator {
    const child = fork(WORKER, [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
    return new LoadGenerator(child);
  }

  /** Runs one job; `expectedMs` is how long it should take, used for the overrun deadline. */
  run<J extends Job>(job: J, expectedMs: number): Promise<ResultOf<J>> {
    if (this.exitReason !== null) return Promise.reject(new Error(`load generator stopped: ${this.exitReason}`));
    const id = this.nextId++;
    return new Promise<ResultOf<J>>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        this.child.kill('SIGKILL');
        reject(new Error(`${job.kind} job did not finish within ${Math.round((expectedMs + JOB_GRACE_MS) / 1000)} s`));
      }, expectedMs + JOB_GRACE_MS);
      timer.unref();
      this.pending.set(id, {
        resolve: (reply) => {
          clearTimeout(timer);
          if (reply.ok) resolve(reply.result as ResultOf<J>);
          else reject(new Error(reply.error));
        },
        reject: (error) => {
          clearTimeout(timer);
          reject(error);
        },
      });
      this.child.send({ id, job });
    });
  }

  stop(): void {
    if (this.exitReason === null) this.child.kill('SIGTERM');
  }
}
