import { mkdir, mkdtemp, writeFile, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { encryptLikePlatform, makeWaagentCertificate, type WaagentCertificate } from './openssl-vectors.js';

// A /var/lib/waagent + /var/log/azure layout as the agent creates it, under a temp directory:
// HandlerEnvironment.json with the Linux agent's exact keys, config/N.settings with real CMS
// protected settings encrypted to a waagent-style certificate made by openssl at test time.

export interface AgentTree {
  root: string;
  libDir: string;
  extDir: string;
  logDir: string;
  name: string;
  version: string;
  cert: WaagentCertificate;
  writeSettings(seq: number, pub: unknown, prot?: unknown, opts?: { empty?: boolean }): Promise<void>;
  readStatus(seq: number): Promise<any>;
  readHeartbeat(): Promise<any>;
  env(seq?: number): Record<string, string>;
  cleanup(): Promise<void>;
}

const certCache = new Map<string, Promise<WaagentCertificate>>();

export async function makeAgentTree(opts: { name?: string; version?: string; cert?: WaagentCertificate } = {}): Promise<AgentTree> {
  const root = await mkdtemp(path.join(tmpdir(), 'agent-tree-'));
  const name = opts.name ?? 'Microsoft.Azure.Extensions.DockerExtension';
  const version = opts.version ?? '1.0.0';
  const libDir = path.join(root, 'var/lib/waagent');
  const logDir = path.join(root, 'var/log/azure', name);
  await mkdir(libDir, { recursive: true, mode: 0o700 });
  const cert = opts.cert ?? (await makeWaagentCertificate(libDir));
  const extDir = await addVersion(libDir, logDir, name, version);
  const tree: AgentTree = {
    root,
    libDir,
    extDir,
    logDir,
    name,
    version,
    cert,
    async writeSettings(seq, pub, prot, o = {}) {
      const file = path.join(extDir, 'config', `${seq}.settings`);
      if (o.empty) return writeFile(file, '');
      const protectedSettings = prot === undefined ? null : await encryptLikePlatform(JSON.stringify(prot), cert.crtPath);
      const hs = { publicSettings: pub ?? null, protectedSettings, protectedSettingsCertThumbprint: prot === undefined ? null : cert.thumbprint };
      await writeFile(file, JSON.stringify({ runtimeSettings: [{ handlerSettings: hs }] }));
    },
    async readStatus(seq) {
      return JSON.parse(await readFile(path.join(extDir, 'status', `${seq}.status`), 'utf8'));
    },
    async readHeartbeat() {
      return JSON.parse(await readFile(path.join(extDir, 'heartbeat.log'), 'utf8'));
    },
    env(seq) {
      return {
        AZURE_GUEST_AGENT_EXTENSION_PATH: extDir,
        AZURE_GUEST_AGENT_EXTENSION_VERSION: version,
        ...(seq === undefined ? {} : { ConfigSequenceNumber: String(seq) }),
      };
    },
    cleanup: () => rm(root, { recursive: true, force: true }),
  };
  return tree;
}

/** Unpacks another version beside the first, as the agent does at the start of an update. */
export async function addVersion(libDir: string, logDir: string, name: string, version: string): Promise<string> {
  const extDir = path.join(libDir, `${name}-${version}`);
  await mkdir(path.join(extDir, 'config'), { recursive: true, mode: 0o700 });
  await mkdir(path.join(extDir, 'status'), { recursive: true, mode: 0o700 });
  await mkdir(path.join(logDir, 'events'), { recursive: true, mode: 0o700 });
  await writeFile(path.join(extDir, 'HandlerManifest.json'), '[]');
  const he = [
    {
      name,
      version: 1.0,
      handlerEnvironment: {
        logFolder: logDir,
        configFolder: path.join(extDir, 'config'),
        statusFolder: path.join(extDir, 'status'),
        heartbeatFile: path.join(extDir, 'heartbeat.log'),
        eventsFolder: path.join(logDir, 'events'),
        eventsFolder_preview: path.join(logDir, 'events'),
      },
    },
  ];
  await writeFile(path.join(extDir, 'HandlerEnvironment.json'), JSON.stringify(he));
  return extDir;
}

export function sharedCertificate(dir: string): Promise<WaagentCertificate> {
  let p = certCache.get(dir);
  if (!p) certCache.set(dir, (p = makeWaagentCertificate(dir)));
  return p;
}
