import { READ_LIMITS } from '../system/ports.js';
import * as path from 'node:path';
import * as z from 'zod/mini';
import { nonEmpty } from '../schema-mini.js';
import { ManagerSpecSchema } from '../system/manager-spec.js';
import type { FileSystem, ReadFileSystem } from '../system/ports.js';
import { jsonWhere } from '../agent/json-where.js';

// monitor.json in the non-versioned data directory: what the monitor holds dockerd to. The enable
// worker writes it after every run (the target only after a proven success), disable marks it,
// uninstall removes it. Every path in it is a real path as dockerd sees it, so the monitor needs
// no knowledge of layouts or roots, and a test can point it at an isolated dockerd.

export const MONITOR_SPEC_FILE = 'monitor.json';
export const monitorSpecPath = (dataDir: string) => path.join(dataDir, MONITOR_SPEC_FILE);

/** A file the extension manages, as the extension left it after the last proven enable. */
export const WatchedFileSchema = z.object({
  path: nonEmpty(),
  /** "daemon.json", "systemd drop-in", "CA certificate", "server certificate", "server private key". */
  what: nonEmpty(),
  /** null: the extension left no such file (its creation is a change too). */
  sha256: z.nullable(z.string()),
  mode: z.nullable(z.number().check(z.int())),
  /** Content never logged (the private key). */
  sensitive: z.boolean(),
  /** daemon.json as applied, to name the keys an admin changed. */
  json: z.optional(z.record(z.string(), z.unknown())),
});
export type WatchedFile = z.infer<typeof WatchedFileSchema>;

export const MonitorTargetSchema = z.object({
  /** The unix socket dockerd serves (GET /_ping, the event stream). */
  socketPath: nonEmpty(),
  /** dockerd's own pid file: its liveness without touching the socket (which could socket-activate it). */
  pidFile: nonEmpty(),
  manager: ManagerSpecSchema,
  tcp: z.optional(
    z.object({
      host: nonEmpty(),
      port: z.number().check(z.int(), z.gte(1), z.lte(65535)),
      tls: z.optional(
        z.object({
          caFile: nonEmpty(),
          certFile: nonEmpty(),
          /** The certificate dockerd must present (sha256, colon-separated as TLS peers report it). */
          fingerprint256: z.optional(z.string()),
        }),
      ),
    }),
  ),
  files: z.array(WatchedFileSchema),
  /**
   * "certs.issuer": the monitor renews the certificate it issued. The issuer's key stays in its
   * own 0600 file (issuerKeyFile); only paths and numbers are here.
   */
  issuance: z.optional(
    z.object({
      issuerCertFile: nonEmpty(),
      issuerKeyFile: nonEmpty(),
      keyFile: nonEmpty(),
      validityMs: z.number().check(z.gt(0)),
      renewBeforeMs: z.number().check(z.gt(0)),
      extraNames: z.array(z.string()),
    }),
  ),
  /** Engine version proven at the last enable (decoration for messages). */
  engineVersion: z.optional(z.string()),
});
export type MonitorTarget = z.infer<typeof MonitorTargetSchema>;

export const LastEnableSchema = z.object({
  seq: z.number().check(z.int(), z.gte(0)),
  result: z.enum(['success', 'error']),
  /** The status message the enable reported (secret-free: it is published as the status). */
  message: z.string(),
  at: z.string(),
  version: z.string(),
});
export type LastEnable = z.infer<typeof LastEnableSchema>;

/** The monitor's last renewal of an issued certificate (kept across enables: it is history). */
export const RenewalSchema = z.object({
  at: z.string(),
  notAfter: z.string(),
  fingerprint256: z.string(),
  reason: z.string(),
});
export type Renewal = z.infer<typeof RenewalSchema>;

export const MonitorSpecSchema = z.object({
  schema: z.literal(1),
  renewal: z.optional(RenewalSchema),
  /** The agent disabled the extension: report, restart nothing. */
  disabled: z.boolean(),
  target: z.optional(MonitorTargetSchema),
  lastEnable: z.optional(LastEnableSchema),
});
export type MonitorSpec = z.infer<typeof MonitorSpecSchema>;

export const EMPTY_SPEC: MonitorSpec = { schema: 1, disabled: false };

export type SpecRead = { kind: 'ok'; spec: MonitorSpec } | { kind: 'absent' } | { kind: 'invalid'; why: string };

export async function readMonitorSpec(fs: ReadFileSystem, dataDir: string): Promise<SpecRead> {
  const text = await fs.readText(monitorSpecPath(dataDir), { maxBytes: READ_LIMITS.small });
  if (text === undefined) return { kind: 'absent' };
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return { kind: 'invalid', why: `not valid JSON${jsonWhere(text)}` };
  }
  const parsed = MonitorSpecSchema.safeParse(json);
  if (!parsed.success) return { kind: 'invalid', why: parsed.error.issues.map((i) => i.path.join('.') || '(top level)').join(', ') };
  return { kind: 'ok', spec: parsed.data };
}

/** Read-modify-write; an unreadable record starts over from the empty one. */
export async function updateMonitorSpec(fs: FileSystem, dataDir: string, change: (s: MonitorSpec) => MonitorSpec): Promise<MonitorSpec> {
  const current = await readMonitorSpec(fs, dataDir);
  const next = change(current.kind === 'ok' ? current.spec : EMPTY_SPEC);
  await fs.mkdirp(dataDir, 0o700);
  // 0600: the applied daemon.json may hold proxy credentials.
  await fs.writeAtomic(monitorSpecPath(dataDir), `${JSON.stringify(next, null, 2)}\n`, 0o600);
  return next;
}
