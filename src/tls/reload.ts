import { createHash, X509Certificate } from 'node:crypto';
import fs from 'node:fs';
import { dirname, join } from 'node:path';
import type tls from 'node:tls';
import type { Logger } from 'pino';
import type { Metrics } from '../metrics.js';
import { loadTlsMaterial, tlsServerOptions, type ClientAuth, type TlsFiles, type TlsMaterial } from './certificates.js';
import { loadSniCertificate, matchServername, sniDirectories, SNI_CERT_FILE, SNI_KEY_FILE, type SniCertificate } from './sni.js';

export interface TlsReloaderOptions {
  readonly files: TlsFiles;
  readonly clientAuth: ClientAuth;
  readonly minVersion: 'TLSv1.2' | 'TLSv1.3';
  readonly log: Logger;
  readonly metrics?: Metrics;
  /** Watch the files and reload when they change; false: load once. */
  readonly watch: boolean;
  /** Quiet time after the last change before reading: an editor or a deploy writes several files. */
  readonly debounceMs: number;
}

/** Key of the default certificate among the per-name ones (a directory name is never empty). */
const DEFAULT = '';

/** Polling interval where the file system cannot be watched (inotify exhausted, some network mounts). */
const POLL_INTERVAL_MS = 5000;

/**
 * The servers' certificates, kept current: the default one (TLS_CERT / TLS_KEY or certs/server.*)
 * and one per server name (certs/<hostname>/server.*, picked by SNI). When the files change, the
 * new material is read and checked; if it is good, new handshakes use it (connections already
 * open keep theirs), and if it is not, one line says why and the old certificate stays.
 */
export class TlsReloader {
  /** Pass to tls.createServer / https.createServer. */
  readonly serverOptions: tls.TlsOptions;
  private readonly servers: tls.Server[] = [];
  private material: TlsMaterial;
  private defaultOptions: tls.TlsOptions;
  private signature: string;
  private sni = new Map<string, SniCertificate & { signature: string }>();
  /** Signatures of file sets already refused, so a broken file is reported once, not on every event. */
  private readonly refused = new Map<string, string>();
  private readonly watchers = new Map<string, fs.FSWatcher>();
  private readonly polled = new Set<string>();
  private timer: NodeJS.Timeout | undefined;
  private closed = false;

  /** Loads the certificates (generating a development one if there is none) and starts watching. */
  static start(options: TlsReloaderOptions): TlsReloader {
    return new TlsReloader(options);
  }

  private constructor(private readonly options: TlsReloaderOptions) {
    this.material = loadTlsMaterial(options.files, options.log);
    this.defaultOptions = this.optionsFor(this.material);
    this.signature = signatureOf(this.defaultPaths());
    this.loadSni(true);
    this.serverOptions = {
      ...this.defaultOptions,
      // Returning no context keeps the server's default one, which setSecureContext replaces on reload.
      SNICallback: (servername, callback) => callback(null, matchServername(this.sni, servername)?.context),
    };
    this.reportExpiry();
    if (options.watch) this.watch();
  }

  /** A server whose default certificate follows the files. */
  attach(server: tls.Server): void {
    this.servers.push(server);
  }

  /** Reads the files again now; what changed and is good goes into service. */
  reload(): void {
    if (this.closed) return;
    this.reloadDefault();
    this.loadSni(false);
    this.reportExpiry();
    if (this.options.watch) this.watch();
  }

  close(): void {
    this.closed = true;
    clearTimeout(this.timer);
    for (const watcher of this.watchers.values()) watcher.close();
    this.watchers.clear();
    for (const path of this.polled) fs.unwatchFile(path);
    this.polled.clear();
  }

  private reloadDefault(): void {
    const paths = this.defaultPaths();
    const signature = signatureOf(paths);
    if (signature === this.signature || signature === this.refused.get(DEFAULT)) return;
    const { files, log } = this.options;
    try {
      // The paths in service, given explicitly: a reload never generates a development certificate.
      const material = loadTlsMaterial(
        { certPath: this.material.certPath, keyPath: this.material.keyPath, caPath: files.caPath, certsDir: files.certsDir },
        log,
      );
      const options = this.optionsFor(material);
      for (const server of this.servers) server.setSecureContext(options);
      this.material = material;
      this.defaultOptions = options;
      this.signature = signature;
      this.refused.delete(DEFAULT);
      const x509 = new X509Certificate(material.cert);
      log.info(
        { certPath: material.certPath, fingerprint256: x509.fingerprint256, notAfter: x509.validTo },
        'TLS certificate reloaded',
      );
      this.options.metrics?.tlsReloaded('ok');
    } catch (err) {
      this.refused.set(DEFAULT, signature);
      log.error(
        { certPath: this.material.certPath, reason: (err as Error).message },
        'TLS certificate reload refused; the previous certificate stays in service',
      );
      this.options.metrics?.tlsReloaded('refused');
    }
  }

  /** (Re)loads the per-name certificates; a name whose new files are bad keeps its old certificate. */
  private loadSni(initial: boolean): void {
    const { certsDir } = this.options.files;
    const next = new Map<string, SniCertificate & { signature: string }>();
    // The client CA is part of every per-name context too: a new CA rebuilds them all.
    const caPath = this.defaultPaths()[2] as string;
    for (const dir of sniDirectories(certsDir)) {
      const name = dir.toLowerCase();
      const signature = signatureOf([join(certsDir, dir, SNI_CERT_FILE), join(certsDir, dir, SNI_KEY_FILE), caPath]);
      const current = this.sni.get(name);
      if (current?.signature === signature) {
        next.set(name, current);
        continue;
      }
      if (this.refused.get(name) === signature) {
        if (current) next.set(name, current);
        continue;
      }
      try {
        const loaded = { ...loadSniCertificate(certsDir, dir, this.contextOptions()), signature };
        next.set(name, loaded);
        this.refused.delete(name);
        if (!initial) {
          this.options.log.info({ servername: name, fingerprint256: loaded.fingerprint256, notAfter: loaded.notAfter }, 'TLS certificate reloaded');
          this.options.metrics?.tlsReloaded('ok');
        }
      } catch (err) {
        this.refused.set(name, signature);
        if (current) next.set(name, current);
        this.options.log.error(
          { servername: name, reason: (err as Error).message },
          current ? 'TLS certificate reload refused; the previous certificate stays in service' : 'TLS certificate refused',
        );
        this.options.metrics?.tlsReloaded('refused');
      }
    }
    this.sni = next;
  }

  private optionsFor(material: TlsMaterial): tls.TlsOptions {
    return tlsServerOptions(material, { clientAuth: this.options.clientAuth, minVersion: this.options.minVersion });
  }

  /** What every per-name context shares with the default one: protocol floor and the client CA. */
  private contextOptions(): tls.SecureContextOptions {
    const { minVersion, ca } = this.defaultOptions;
    return ca === undefined ? { minVersion } : { minVersion, ca };
  }

  private defaultPaths(): string[] {
    const { files } = this.options;
    return [this.material.certPath, this.material.keyPath, files.caPath ?? join(files.certsDir, 'ca.crt')];
  }

  private reportExpiry(): void {
    const metrics = this.options.metrics;
    if (!metrics) return;
    const expiry = new Map<string, Date>([['default', new Date(new X509Certificate(this.material.cert).validTo)]]);
    for (const [name, entry] of this.sni) expiry.set(name, entry.notAfter);
    metrics.tlsCertificates(expiry);
  }

  /**
   * Watches the directories, not the files: editors and secret mounts replace a file by renaming
   * another over it, which a watch on the old file would miss. Called again after each reload,
   * for directories that appeared since.
   */
  private watch(): void {
    const { files } = this.options;
    const watched = this.watchedFiles();
    const dirs = new Set([files.certsDir, ...watched.map((path) => dirname(path))]);
    for (const dir of dirs) {
      if (this.watchers.has(dir)) continue;
      try {
        const watcher = fs.watch(dir, { persistent: false }, () => this.schedule());
        watcher.on('error', (err) => {
          // The directory went away (or was replaced); the next reload watches it again if it is back.
          this.options.log.debug({ dir, reason: err.message }, 'certificate directory watch ended');
          watcher.close();
          this.watchers.delete(dir);
          this.schedule();
        });
        this.watchers.set(dir, watcher);
      } catch (err) {
        if (!fs.existsSync(dir)) continue;
        const polled = [dir, ...watched.filter((path) => dirname(path) === dir)].filter((path) => !this.polled.has(path));
        if (polled.length === 0) continue;
        this.options.log.warn({ dir, reason: (err as Error).message }, `cannot watch ${dir}; polling its files every ${POLL_INTERVAL_MS} ms`);
        for (const path of polled) {
          this.polled.add(path);
          fs.watchFile(path, { persistent: false, interval: POLL_INTERVAL_MS }, () => this.schedule());
        }
      }
    }
  }

  private watchedFiles(): string[] {
    const { certsDir } = this.options.files;
    const sni = sniDirectories(certsDir).flatMap((dir) => [join(certsDir, dir, SNI_CERT_FILE), join(certsDir, dir, SNI_KEY_FILE)]);
    return [...this.defaultPaths(), ...sni];
  }

  private schedule(): void {
    if (this.closed) return;
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.reload(), this.options.debounceMs).unref();
  }
}

/** A digest of the files' contents (a missing file counts as empty), to tell a real change from a touch. */
function signatureOf(paths: readonly string[]): string {
  const hash = createHash('sha256');
  for (const path of paths) {
    let content: Buffer;
    try {
      content = fs.readFileSync(path);
    } catch {
      content = Buffer.alloc(0);
    }
    hash.update(String(content.length)).update(':').update(content);
  }
  return hash.digest('hex');
}
