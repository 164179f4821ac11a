// Proof that dockerd serves what we configured: the Engine API over the local unix socket, and a
// real TLS handshake with the TCP port, verified against the configured CA. We hold no client
// key, so instead of an authenticated request we check that a client without a certificate is
// turned away — that is what tlsverify means.
import * as net from 'node:net';
import * as tls from 'node:tls';
import { httpGet } from './http-get.js';

export interface SocketPing {
  ok: boolean;
  detail: string;
  version?: string;
  apiVersion?: string;
}

export interface TlsProbe {
  /** Something accepted the TCP connection. */
  reachable: boolean;
  /** The server's certificate chains to the CA we gave. */
  serverVerified: boolean;
  fingerprint256?: string;
  /** A client without a certificate was refused. */
  clientCertRequired: boolean;
  detail: string;
}

export interface DaemonInfo {
  swarmActive?: boolean;
  /** live-restore as the running dockerd has it (a SIGHUP changes it without a restart). */
  liveRestore?: boolean;
  /** DockerRootDir: where this dockerd keeps images, containers and volumes. */
  rootDir?: string;
}

export interface PlainProbe {
  ok: boolean;
  detail: string;
}

/**
 * A subscription to dockerd's daemon events, opened before a SIGHUP. dockerd sends the daemon
 * event "reload" only after it applied a new configuration; one it rejects (invalid JSON, a
 * default runtime that does not exist, a flag also in the file) it only logs, and it keeps serving
 * the old one, so a ping after the SIGHUP proves nothing.
 */
export interface ReloadWatch {
  /** True once dockerd reported a reload; false when `timeoutMs` passed without one. */
  reloaded(timeoutMs: number): Promise<boolean>;
  close(): void;
}

export interface DaemonProbe {
  /** Subscribes to dockerd's reload events; undefined when it cannot (then a reload cannot be proved). */
  watchReload(socketPath: string, timeoutMs: number): Promise<ReloadWatch | undefined>;
  pingSocket(socketPath: string, timeoutMs: number): Promise<SocketPing>;
  /** What GET /info says about swarm membership and live-restore; undefined when dockerd does not answer. */
  info(socketPath: string, timeoutMs: number): Promise<DaemonInfo | undefined>;
  probeTls(host: string, port: number, caPem: string, timeoutMs: number): Promise<TlsProbe>;
  probePlain(host: string, port: number, timeoutMs: number): Promise<PlainProbe>;
  /** A TCP connection only: the port accepts connections (nothing is sent, so nothing is logged). */
  probeTcp(host: string, port: number, timeoutMs: number): Promise<PlainProbe>;
}

export class NodeDaemonProbe implements DaemonProbe {
  async pingSocket(socketPath: string, timeoutMs: number): Promise<SocketPing> {
    const ping = await httpGet({ socketPath, path: '/_ping' }, timeoutMs);
    if (ping.error) return { ok: false, detail: ping.error };
    if (ping.status !== 200) return { ok: false, detail: `GET /_ping answered ${ping.status}` };
    const out: SocketPing = { ok: true, detail: 'GET /_ping answered OK' };
    const api = ping.headers['api-version'];
    if (typeof api === 'string') out.apiVersion = api;
    const ver = await httpGet({ socketPath, path: '/version' }, timeoutMs);
    if (ver.status === 200) {
      try {
        const v = JSON.parse(ver.body) as { Version?: string };
        if (v.Version) out.version = v.Version;
      } catch {
        // version is decoration only
      }
    }
    return out;
  }

  watchReload(socketPath: string, timeoutMs: number): Promise<ReloadWatch | undefined> {
    return new Promise((resolve) => {
      let text = '';
      let open = false;
      let seen = false;
      let notify: (() => void) | undefined;
      const filters = encodeURIComponent(JSON.stringify({ type: ['daemon'], event: ['reload'] }));
      const sock = net.createConnection(socketPath);
      const timer = setTimeout(() => {
        sock.destroy();
        resolve(undefined);
      }, timeoutMs);
      sock.once('connect', () => sock.write(`GET /events?filters=${filters} HTTP/1.1\r\nHost: docker\r\n\r\n`));
      sock.on('data', (b: Buffer) => {
        text += b.toString('latin1');
        if (!open) {
          if (!text.includes('\r\n')) return;
          clearTimeout(timer);
          if (!/^HTTP\/1\.[01] 200 /.test(text)) {
            sock.destroy();
            resolve(undefined);
            return;
          }
          open = true;
          resolve({
            reloaded: (ms) =>
              new Promise<boolean>((done) => {
                if (seen) return done(true);
                const t = setTimeout(() => done(false), ms);
                notify = () => {
                  clearTimeout(t);
                  done(true);
                };
              }),
            close: () => sock.destroy(),
          });
        }
        // The filter lets only reload events through; the body is chunked JSON, one per event.
        if (!seen && /"Action":"reload"/.test(text)) {
          seen = true;
          notify?.();
        }
        if (text.length > 65_536) text = text.slice(-1024);
      });
      sock.once('error', () => {
        clearTimeout(timer);
        if (!open) resolve(undefined);
      });
    });
  }

  async info(socketPath: string, timeoutMs: number): Promise<DaemonInfo | undefined> {
    const r = await httpGet({ socketPath, path: '/info' }, timeoutMs);
    if (r.status !== 200) return undefined;
    try {
      const info = JSON.parse(r.body) as { Swarm?: { LocalNodeState?: string }; LiveRestoreEnabled?: boolean; DockerRootDir?: string };
      const state = info.Swarm?.LocalNodeState;
      return {
        ...(state !== undefined ? { swarmActive: state !== 'inactive' && state !== '' } : {}),
        ...(typeof info.LiveRestoreEnabled === 'boolean' ? { liveRestore: info.LiveRestoreEnabled } : {}),
        ...(typeof info.DockerRootDir === 'string' && info.DockerRootDir !== '' ? { rootDir: info.DockerRootDir } : {}),
      };
    } catch {
      return undefined;
    }
  }

  probeTls(host: string, port: number, caPem: string, timeoutMs: number): Promise<TlsProbe> {
    return new Promise((resolve) => {
      let settled = false;
      let secure = false;
      let fingerprint: string | undefined;
      let data = '';
      const done = (r: TlsProbe) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        sock.destroy();
        if (fingerprint !== undefined) r.fingerprint256 = fingerprint;
        resolve(r);
      };
      const sock = tls.connect({
        host,
        port,
        ca: caPem,
        rejectUnauthorized: true,
        // The certificate names the VM (DNS name, public IP); we dial 127.0.0.1. Chain trust is
        // what is checked here, host names are the clients' business.
        checkServerIdentity: () => undefined,
        ...(net.isIP(host) ? {} : { servername: host }),
      });
      const timer = setTimeout(
        () =>
          done(
            secure
              ? { reachable: true, serverVerified: true, clientCertRequired: false, detail: `no answer within ${timeoutMs} ms after the handshake` }
              : { reachable: false, serverVerified: false, clientCertRequired: false, detail: `no TLS handshake within ${timeoutMs} ms` },
          ),
        timeoutMs,
      );
      sock.once('secureConnect', () => {
        secure = true;
        fingerprint = sock.getPeerCertificate()?.fingerprint256;
        // TLS 1.3: the server checks the (absent) client certificate after the client finished;
        // the refusal arrives as an alert on the first read.
        sock.write(`GET /_ping HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
      });
      sock.on('data', (chunk: Buffer) => {
        data += chunk.toString('latin1');
        if (/^HTTP\/1\.[01] \d{3}/.test(data)) {
          done({ reachable: true, serverVerified: true, clientCertRequired: false, detail: `answered "${data.split('\r\n')[0]}" to a client without a certificate` });
        }
      });
      sock.once('error', (e: NodeJS.ErrnoException) => {
        const code = e.code ?? '';
        if (code === 'ECONNREFUSED' || code === 'EHOSTUNREACH' || code === 'ENETUNREACH') {
          done({ reachable: false, serverVerified: false, clientCertRequired: false, detail: `connection refused (${code})` });
        } else if (!secure && /CERT|SELF_SIGNED|UNABLE_TO|VERIFY/.test(code) && !/ALERT/.test(code)) {
          done({ reachable: true, serverVerified: false, clientCertRequired: false, detail: `server certificate not trusted by the configured CA (${code}: ${e.message})` });
        } else if (/ALERT_(CERTIFICATE_REQUIRED|BAD_CERTIFICATE|HANDSHAKE_FAILURE)/.test(code) || code === 'ECONNRESET' || code === 'EPIPE') {
          // TLS 1.2 rejects during the handshake, after the client already verified the server.
          done({ reachable: true, serverVerified: true, clientCertRequired: true, detail: `a client without a certificate is refused (${code || e.message})` });
        } else {
          done({ reachable: true, serverVerified: secure, clientCertRequired: false, detail: `TLS error ${code}: ${e.message}` });
        }
      });
      sock.once('close', () => {
        if (secure) done({ reachable: true, serverVerified: true, clientCertRequired: true, detail: 'a client without a certificate is refused (connection closed)' });
        else done({ reachable: false, serverVerified: false, clientCertRequired: false, detail: 'connection closed before the TLS handshake' });
      });
    });
  }

  probeTcp(host: string, port: number, timeoutMs: number): Promise<PlainProbe> {
    return new Promise((resolve) => {
      const sock = net.createConnection(port, host);
      const done = (r: PlainProbe) => {
        clearTimeout(timer);
        sock.destroy();
        resolve(r);
      };
      const timer = setTimeout(() => done({ ok: false, detail: `no connection within ${timeoutMs} ms` }), timeoutMs);
      sock.once('connect', () => done({ ok: true, detail: 'accepts connections' }));
      sock.once('error', (e: NodeJS.ErrnoException) => done({ ok: false, detail: e.code ?? e.message }));
    });
  }

  async probePlain(host: string, port: number, timeoutMs: number): Promise<PlainProbe> {
    const r = await httpGet({ host, port, path: '/_ping' }, timeoutMs);
    if (r.error) return { ok: false, detail: r.error };
    return r.status === 200 ? { ok: true, detail: 'GET /_ping answered OK over plain TCP' } : { ok: false, detail: `GET /_ping answered ${r.status}` };
  }
}
