import * as z from 'zod/mini';
import { nonEmpty } from '../schema-mini.js';

// How dockerd is run, as a value that survives the process that found out: the enable worker
// records it for the monitor, which must restart dockerd exactly as the extension started it
// (same binary, config file, pid file, log file) where no service manager does.

export const ManagerSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('systemd'), unit: nonEmpty() }),
  z.object({
    kind: z.literal('direct'),
    dockerdPath: nonEmpty(),
    configFile: nonEmpty(),
    pidFile: nonEmpty(),
    logFile: nonEmpty(),
    socketPath: nonEmpty(),
    extraArgs: z.array(z.string()),
  }),
]);

export type ManagerSpec = z.infer<typeof ManagerSpecSchema>;
