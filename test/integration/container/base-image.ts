import { execFile } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import type { Podman } from './podman.js';

const run = promisify(execFile);

export const BUSYBOX = '/bin/busybox';
/** The same uid/gid as the `node` user of the official Node.js images. */
const NODE_UID = 1000;
const NODE_GID = 1000;
const PATH_VAR = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt';

/**
 * Makes a stand-in for the official `node:*-slim` image from the Node.js running this test, because no image
 * registry is reachable here. Same layout where the Dockerfile relies on it: node and npm on PATH under
 * /usr/local, a `node` user with uid 1000, /bin/sh, a world-writable /tmp. Returns the image's name.
 */
export async function importBaseImage(podman: Podman, workDir: string, tag: string): Promise<string> {
  const rootfs = path.join(workDir, 'rootfs');
  await buildRootfs(rootfs);
  const tarball = path.join(workDir, 'rootfs.tar');
  await run('tar', ['--numeric-owner', '-C', rootfs, '-cf', tarball, '.']);
  fs.rmSync(rootfs, { recursive: true, force: true });
  const changes = [`ENV PATH=${PATH_VAR}`, 'CMD ["node"]'];
  // The host trusts a CA that the official image would not know; npm in the build needs it to reach the registry.
  if (fs.existsSync(HOST_CA_BUNDLE)) changes.push(`ENV NODE_EXTRA_CA_CERTS=${HOST_CA_BUNDLE}`);
  await podman.exec(['import', ...changes.flatMap((c) => ['--change', c]), tarball, tag], 120_000);
  fs.rmSync(tarball, { force: true });
  return tag;
}

async function buildRootfs(root: string): Promise<void> {
  const at = (p: string): string => path.join(root, p);
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'usr/local/bin', 'usr/local/lib/node_modules', 'etc/ssl/certs', 'root', 'home/node']) {
    fs.mkdirSync(at(dir), { recursive: true });
  }
  fs.mkdirSync(at('tmp'), { mode: 0o1777 });
  fs.chmodSync(at('tmp'), 0o1777);
  fs.chmodSync(at('root'), 0o700);
  fs.chownSync(at('home/node'), NODE_UID, NODE_GID);

  copyExecutable(process.execPath, at('usr/local/bin/node'));
  copyExecutable(BUSYBOX, at('bin/busybox'));
  for (const lib of new Set([...(await sharedLibraries(process.execPath)), ...(await sharedLibraries(BUSYBOX))])) {
    fs.mkdirSync(path.dirname(at(lib)), { recursive: true });
    fs.copyFileSync(lib, at(lib)); // follows the symlink: the soname gets the real library's bytes
  }
  // busybox-static gives /bin/sh, env (npm's shebang), id, cat and the rest as symlinks to itself.
  const { stdout } = await run(BUSYBOX, ['--list-full']);
  for (const applet of stdout.split('\n').filter(Boolean)) {
    if (!fs.existsSync(at(applet))) fs.symlinkSync('/bin/busybox', at(applet));
  }

  const npmDir = await npmPackageDir();
  fs.cpSync(npmDir, at('usr/local/lib/node_modules/npm'), { recursive: true, verbatimSymlinks: true });
  fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', at('usr/local/bin/npm'));
  fs.symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', at('usr/local/bin/npx'));

  fs.writeFileSync(at('etc/passwd'), `root:x:0:0:root:/root:/bin/sh\nnode:x:${NODE_UID}:${NODE_GID}::/home/node:/bin/sh\n`);
  fs.writeFileSync(at('etc/group'), `root:x:0:\nnode:x:${NODE_GID}:\n`);
  fs.writeFileSync(at('etc/nsswitch.conf'), 'passwd: files\ngroup: files\nhosts: files dns\n');
  if (fs.existsSync(HOST_CA_BUNDLE)) fs.copyFileSync(HOST_CA_BUNDLE, at(HOST_CA_BUNDLE));
}

function copyExecutable(from: string, to: string): void {
  fs.copyFileSync(from, to);
  fs.chmodSync(to, 0o755);
}

/** The absolute paths `ldd` resolves for a binary, the loader included; none for a static one. */
async function sharedLibraries(binary: string): Promise<string[]> {
  let stdout: string;
  try {
    ({ stdout } = await run('ldd', [binary]));
  } catch {
    return []; // "not a dynamic executable"
  }
  return [...stdout.matchAll(/(\/\S+) \(0x[0-9a-f]+\)/g)].map((m) => m[1]!);
}

/** npm as installed beside this node (<prefix>/lib/node_modules/npm), else wherever `npm root -g` says. */
async function npmPackageDir(): Promise<string> {
  const beside = path.resolve(path.dirname(process.execPath), '..', 'lib', 'node_modules', 'npm');
  if (fs.existsSync(path.join(beside, 'bin', 'npm-cli.js'))) return beside;
  const { stdout } = await run('npm', ['root', '-g']);
  return path.join(stdout.trim(), 'npm');
}
