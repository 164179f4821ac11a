// The monitor's timers, as pure functions of attempt counts: coarse when all is well, quicker
// only while something is wrong and no file event can be expected to say it recovered.

/** Every heartbeat is rewritten at least this often (the agent calls one older than 600 s unresponsive). */
export const TICK_MS = 60_000;
/** Events of one burst (an editor's save, an apt upgrade) are judged once. */
export const DEBOUNCE_MS = 200;
/** A TLS handshake is made when dockerd or a certificate changed, else this seldom: dockerd logs each one. */
export const TLS_RECHECK_MS = 30 * 60_000;
/** dockerd must serve this long before the monitor forgets its earlier restart attempts. */
export const HEALTHY_RESET_MS = 10 * 60_000;
/** After a restart by the monitor, how long dockerd may take to answer on its socket. */
export const RESTART_READY_MS = 60_000;

const RESTART_DELAYS_MS = [2_000, 5_000, 15_000, 30_000, 60_000, 120_000, 300_000];

/** Delay before restart attempt `attempt` (0 = the first) of a dockerd that exited. */
export function restartDelay(attempt: number): number {
  return RESTART_DELAYS_MS[Math.min(Math.max(attempt, 0), RESTART_DELAYS_MS.length - 1)]!;
}

/** While unhealthy: re-look after 1, 2, 4, 8, then every 10 s, so a recovery is seen within 10 s. */
export function recheckDelay(n: number): number {
  return Math.min(1000 * 2 ** Math.max(n, 0), 10_000);
}
