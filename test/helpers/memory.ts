import v8 from 'node:v8';
import vm from 'node:vm';

/**
 * Memory still in use by this process: the V8 heap plus memory outside it (Buffers), after a full
 * garbage collection, so that what is measured is what is held, not what is waiting to be freed.
 * The gateway under test runs in this process, so this bounds what it buffers.
 */
v8.setFlagsFromString('--expose-gc');
const gc = (globalThis.gc ?? vm.runInNewContext('gc')) as () => void;

export function liveBytes(): number {
  gc();
  const { heapUsed, external } = process.memoryUsage();
  return heapUsed + external;
}

export const MB = 1024 * 1024;
