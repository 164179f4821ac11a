import { z } from 'zod';

// How dockerd is run, as a value that survives the process that found out: the enable worker
// records it for the monitor, which must restart dockerd exactly as the extension started it
// (same binary, config file, pid file, log file) where no service manager does.

export const ManagerSpecSchema = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('systemd'), unit: z.string().min(1) }),
  z.object({
    kind: z.literal('direct'),
    dockerdPath: z.string().min(1),
    configFile: z.string().min(1),
    pidFile: z.string().min(1),
    logFile: z.string().min(1),
    socketPath: z.string().min(1),
    extraArgs: z.array(z.string()),
  }),
]);

export type ManagerSpec = z.infer<typeof ManagerSpecSchema>;
