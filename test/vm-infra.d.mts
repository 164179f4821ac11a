// Types for test/vm-infra.mjs, so that TypeScript tests can import it under strict mode.
export interface ProcessId { pid: number; start: string }
export interface VmInfra { dockerd?: ProcessId; containerd?: ProcessId }
export const VMCTL: string;
export function vmInfraProcesses(env?: NodeJS.ProcessEnv): VmInfra;
export function startedSince(before: VmInfra, now: VmInfra): string[];
export function stopVmInfraStartedSince(before: VmInfra, env?: NodeJS.ProcessEnv): string | undefined;
