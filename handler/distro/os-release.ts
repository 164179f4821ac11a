// os-release(5) parsing. Pure: the caller reads the file through the fs port.

export type OsRelease = Readonly<Record<string, string>>;

/**
 * KEY=value lines; values may be double- or single-quoted with backslash escapes inside
 * double quotes (the spec's shell-compatible subset). Comments and malformed lines are skipped,
 * as systemd does, rather than failing detection on a stray line.
 */
export function parseOsRelease(text: string): OsRelease {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (line === '' || line.startsWith('#')) continue;
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/.exec(line);
    if (!m) continue;
    out[m[1]!] = unquote(m[2]!.trim());
  }
  return out;
}

function unquote(v: string): string {
  if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) {
    return v.slice(1, -1).replace(/\\([\\"$`])/g, '$1');
  }
  if (v.length >= 2 && v.startsWith("'") && v.endsWith("'")) return v.slice(1, -1);
  return v;
}
