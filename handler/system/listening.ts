import { readFile } from 'node:fs/promises';

// Whether something listens on a TCP port, from /proc/net/tcp{,6}: no connection is made, so
// dockerd logs nothing (a TLS handshake without a client certificate is logged as an error).

const LISTEN = '0A';

/** True when a socket in state LISTEN has local port `port` in a /proc/net/tcp-format table. */
export function listensOn(table: string, port: number): boolean {
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    if (!local || f[3] !== LISTEN) continue;
    const hexPort = local.slice(local.lastIndexOf(':') + 1);
    if (Number.parseInt(hexPort, 16) === port) return true;
  }
  return false;
}

export async function isListening(port: number, procNet = '/proc/net'): Promise<boolean> {
  for (const f of ['tcp', 'tcp6']) {
    try {
      if (listensOn(await readFile(`${procNet}/${f}`, 'utf8'), port)) return true;
    } catch {
      // no IPv6 table on this kernel
    }
  }
  return false;
}
