// What protected "login.server" may be: the registry host `docker login` takes, with an optional
// port and an optional leading https:// (the old extension's examples had it). Nothing else: no
// path, no other scheme, no whitespace or shell metacharacters. Once it passes, it is a host name
// and shown in the status like one (not secret); a value that does not pass is never echoed.

const LABEL = '[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?';
const HOST = `(?:${LABEL})(?:\\.${LABEL})*`;
// IPv6 only in brackets (the port would be ambiguous otherwise); hex digits, colons and an
// embedded IPv4 tail.
const IPV6 = '\\[[0-9A-Fa-f:.]{2,45}\\]';
export const REGISTRY_HOST_RE = new RegExp(`^(?:https://)?(?:${HOST}|${IPV6})(?::(\\d{1,5}))?$`);

export function isRegistryHost(value: string): boolean {
  if (value.length > 253 + 8 + 6) return false;
  const m = REGISTRY_HOST_RE.exec(value);
  if (!m) return false;
  const port = m[1];
  return port === undefined || (Number(port) >= 1 && Number(port) <= 65535);
}
