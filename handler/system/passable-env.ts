/** Environment an agent command may hand to its detached work: the agent's own variables and ours (none secret). */
export function passableEnv(env: NodeJS.ProcessEnv): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) continue;
    if (/^(AZURE_GUEST_AGENT_|DOCKER_EXTENSION_)/.test(k) || ['ConfigSequenceNumber', 'ConfigExtensionName', 'PATH', 'HOME', 'LANG', 'NODE_COMPILE_CACHE'].includes(k)) out[k] = v;
  }
  return out;
}
