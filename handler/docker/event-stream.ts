import * as net from 'node:net';

// A long-lived GET /events on dockerd's local socket, filtered to daemon events so that almost
// nothing flows. Its only job is to end: the kernel closes the connection the moment dockerd
// exits, SIGKILL included, which tells the monitor at once without any polling. A raw socket:
// nothing of the answer is read beyond its status line.

export interface EventStream {
  close(): void;
}

export function openEventStream(socketPath: string, handlers: { onOpen?: () => void; onEnd: (why: string) => void }): EventStream {
  let ended = false;
  let head = '';
  const end = (why: string) => {
    if (ended) return;
    ended = true;
    sock.destroy();
    handlers.onEnd(why);
  };
  const filters = encodeURIComponent(JSON.stringify({ type: ['daemon'] }));
  const sock = net.createConnection(socketPath);
  sock.once('connect', () => sock.write(`GET /events?filters=${filters} HTTP/1.1\r\nHost: docker\r\n\r\n`));
  sock.on('data', (b: Buffer) => {
    if (head.includes('\r\n')) return;
    head += b.toString('latin1');
    const line = head.split('\r\n')[0]!;
    if (!head.includes('\r\n')) return;
    if (/^HTTP\/1\.[01] 200 /.test(line)) handlers.onOpen?.();
    else end(`GET /events answered "${line.slice(0, 80)}"`);
  });
  sock.once('end', () => end('dockerd closed its event stream'));
  sock.once('close', () => end('dockerd closed its event stream'));
  sock.once('error', (e: NodeJS.ErrnoException) => end(e.code ? `${e.code}: ${e.message}` : e.message));
  return {
    close() {
      ended = true;
      sock.destroy();
    },
  };
}
