// Helpers for the handler's schemas, all on zod/mini: it adds about 2 MiB to a process where
// classic zod adds 13 MiB and ~50 ms of start-up (the monitor lives for weeks; every enable pays
// the start-up). The messages an admin reads are the schemas' own, never zod's locale texts.
import * as z from 'zod/mini';

export const nonEmpty = (message?: string) => z.string().check(z.minLength(1, message));
