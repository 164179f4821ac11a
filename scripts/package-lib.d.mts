// Types for scripts/package-lib.mjs, so that TypeScript tests can import it under strict mode.
export type Arch = 'x64' | 'arm64';
export type PackageArch = Arch | 'universal';

export const NODE_RUNTIME_VERSION: string;
export const NODE_RUNTIME_INTEGRITY: Record<Arch, string>;
export const NODE_RUNTIME_PINS: Record<Arch, { integrity: string; tarballSha256: string; nodeSha256: string }>;
export const RUNTIME_PINS_FILE: string;
export const ARCHS: readonly Arch[];
export const CACHE_DIR: string;
export const OUT_DIR: string;

export function readPackageInfo(): { name: string; version: string };
export function zipFileName(arch: PackageArch): string;
export function ensureRuntime(arch: Arch, opts?: { cacheDir?: string }): { node: string; license: string };
export function ensureCompressedRuntime(arch: Arch, opts?: { cacheDir?: string }): string;
export function bundledPackages(metafile?: unknown): Array<{ name: string; version: string; license: string; text: string | null }>;
export function buildPackage(opts: {
  outDir?: string;
  arch: PackageArch;
  build?: boolean;
  cacheDir?: string;
}): Promise<{ zipPath: string; sizeBytes: number }>;
export function unpackLikeAgent(zipPath: string, destDir: string, opts?: { addUserExec?: boolean }): string;
export function chmodAllFiles(dir: string, mode: number): void;
export const SIGNING_PUBLISHER: string;
export const SIGNING_TYPE: string;
export function packagedManifest(): string;
