// Names, not patterns, except the agent's own AZURE_GUEST_AGENT_* family (the agent adds members
// across versions; none carries a secret). Whatever else the caller's environment holds stays
// with the caller: the values travel as `systemd-run --setenv` arguments, visible in ps.
const PASSABLE = new Set([
  'ConfigSequenceNumber',
  'ConfigExtensionName',
  'DOCKER_EXTENSION_ENGINE',
  'DOCKER_EXTENSION_LOG_LEVEL',
  // Tests only (handler/monitor/test-gate.ts): reaches the monitor that enable starts.
  'DOCKER_EXTENSION_TEST_RENEWAL_GATE',
  'PATH',
  'HOME',
  'LANG',
  'NODE_COMPILE_CACHE',
]);

/** Environment an agent command may hand to its detached work: the agent's own variables and ours (none secret). */
export function passableEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined || /[\0\n]/.test(v)) continue;
    if (/^AZURE_GUEST_AGENT_[A-Z0-9_]+$/.test(k) || PASSABLE.has(k)) out[k] = v;
  }
  return out;
}
