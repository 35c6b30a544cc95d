/**
 * The load-generator process. It is forked by bench/run.ts so that it never shares an event loop (or a
 * CPU-time account) with the orchestrator, and it runs one job at a time on request.
 */
import { runFlow } from './flow.js';
import { runHold, runIdle } from './connections.js';
import type { FlowResult, HoldResult, IdleResult, Job, WorkerReply, WorkerRequest } from './jobs.js';

function run(job: Job): Promise<FlowResult | IdleResult | HoldResult> {
  switch (job.kind) {
    case 'flow':
      return runFlow(job);
    case 'idle':
      return runIdle(job);
    case 'hold':
      return runHold(job);
  }
}

const reply = (message: WorkerReply): void => {
  process.send?.(message);
};

process.on('message', (message: WorkerRequest) => {
  run(message.job).then(
    (result) => reply({ id: message.id, ok: true, result }),
    (error: unknown) => reply({ id: message.id, ok: false, error: error instanceof Error ? error.message : String(error) }),
  );
});
