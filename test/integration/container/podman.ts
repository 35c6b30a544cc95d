import { execFile, execFileSync, type ChildProcess } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

export const PODMAN = '/usr/bin/podman';
/**
 * Podman 4.3 writes its blob-info cache here whatever --root says (`podman import` and `podman build` do).
 * When a test run is what created it, the run removes it again.
 */
const SYSTEM_CACHE = '/var/lib/containers';

/** What one podman command printed. */
export interface PodmanOutput {
  stdout: string;
  stderr: string;
}

/**
 * The podman CLI confined to one directory: images, containers, volumes, state and temporary files all live
 * under `dir`, so a test leaves nothing behind once it removes that directory.
 *
 * The global flags are what these machines need: no overlay mounts (vfs), no systemd (cgroupfs), runc as the
 * OCI runtime, events in a file rather than the journal, and a containers.conf with `default_ulimits = []`:
 * podman's default RLIMIT_NOFILE (1048576) is more than the sandbox lets runc set ("error setting rlimit type 7").
 */
export class Podman {
  private readonly globalArgs: string[];
  private readonly env: NodeJS.ProcessEnv;
  private readonly running = new Set<ChildProcess>();
  private readonly ownsSystemCache = !fs.existsSync(SYSTEM_CACHE);

  constructor(readonly dir: string) {
    const tmp = path.join(dir, 'tmp');
    fs.mkdirSync(tmp, { recursive: true });
    const conf = path.join(dir, 'containers.conf');
    fs.writeFileSync(conf, '[containers]\ndefault_ulimits = []\n');
    this.globalArgs = [
      '--root', path.join(dir, 'storage'),
      '--runroot', path.join(dir, 'run'),
      '--tmpdir', path.join(dir, 'libpod'),
      '--storage-driver', 'vfs',
      '--cgroup-manager', 'cgroupfs',
      '--runtime', 'runc',
      '--events-backend', 'file',
    ];
    // TMPDIR: buildah stages build contexts and layer diffs there (default /var/tmp).
    this.env = { ...process.env, CONTAINERS_CONF: conf, TMPDIR: tmp };
  }

  /** Runs `podman <args>`; rejects with the command and its stderr when it fails or outlives `timeoutMs`. */
  exec(args: readonly string[], timeoutMs = 60_000): Promise<PodmanOutput> {
    return new Promise((resolve, reject) => {
      const child = execFile(
        PODMAN,
        [...this.globalArgs, ...args],
        { env: this.env, timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 64 * 1024 * 1024 },
        (err, stdout, stderr) => {
          this.running.delete(child);
          if (err) {
            const tail = `${stdout}\n${stderr}`.trim().split('\n').slice(-40).join('\n');
            reject(new Error(`podman ${args.join(' ')} failed (${err.killed ? `killed after ${timeoutMs} ms` : `exit ${String(err.code)}`}):\n${tail}`, { cause: err }));
          } else {
            resolve({ stdout, stderr });
          }
        },
      );
      this.running.add(child);
    });
  }

  /** stdout of `podman <args>`, trimmed. */
  async output(args: readonly string[], timeoutMs?: number): Promise<string> {
    return (await this.exec(args, timeoutMs)).stdout.trim();
  }

  /** A container's output so far, for failure messages; never throws. */
  async logs(container: string): Promise<string> {
    try {
      const { stdout, stderr } = await this.exec(['logs', container], 10_000);
      return `${stdout}${stderr}`;
    } catch (err) {
      return `(no logs: ${(err as Error).message})`;
    }
  }

  /** Removes every container (with its anonymous volumes) and image, then the whole directory. */
  async dispose(): Promise<void> {
    try {
      await this.exec(['rm', '--all', '--force', '--volumes', '--time', '2'], 60_000);
      await this.exec(['rmi', '--all', '--force'], 60_000);
    } finally {
      this.removeFiles();
    }
  }

  /**
   * The same, synchronously, for a process that is being terminated (the test runner sends SIGTERM when a
   * file outlives its timeout): a build left running would otherwise go on filling the disk.
   */
  disposeSync(): void {
    for (const child of this.running) child.kill('SIGKILL');
    for (const args of [['rm', '--all', '--force', '--volumes', '--time', '0'], ['rmi', '--all', '--force']]) {
      try {
        execFileSync(PODMAN, [...this.globalArgs, ...args], { env: this.env, timeout: 60_000, stdio: 'ignore' });
      } catch {
        // best effort: the files go below either way
      }
    }
    this.removeFiles();
  }

  private removeFiles(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
    if (this.ownsSystemCache) fs.rmSync(SYSTEM_CACHE, { recursive: true, force: true });
  }
}
