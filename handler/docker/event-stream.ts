import * as http from 'node:http';

// A long-lived GET /events on dockerd's local socket, filtered to daemon events so that almost
// nothing flows. Its only job is to end: the kernel closes the connection the moment dockerd
// exits, SIGKILL included, which tells the monitor at once without any polling.

export interface EventStream {
  close(): void;
}

export function openEventStream(socketPath: string, handlers: { onOpen?: () => void; onEnd: (why: string) => void }): EventStream {
  let ended = false;
  const end = (why: string) => {
    if (ended) return;
    ended = true;
    handlers.onEnd(why);
  };
  const filters = encodeURIComponent(JSON.stringify({ type: ['daemon'] }));
  const req = http.get({ socketPath, path: `/events?filters=${filters}`, headers: { Host: 'docker' }, agent: false }, (res) => {
    if (res.statusCode !== 200) {
      res.resume();
      end(`GET /events answered ${res.statusCode}`);
      return;
    }
    handlers.onOpen?.();
    res.resume();
    res.on('end', () => end('dockerd closed its event stream'));
    res.on('error', (e) => end(e.message));
    res.on('close', () => end('dockerd closed its event stream'));
  });
  req.on('error', (e: NodeJS.ErrnoException) => end(e.code ? `${e.code}: ${e.message}` : e.message));
  return {
    close() {
      ended = true;
      req.destroy();
    },
  };
}
