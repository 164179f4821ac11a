// Text that crosses into the agent: status and heartbeat messages (JSON the agent re-encodes and
// uploads) and telemetry events. A lone UTF-16 surrogate (from cutting a string in the middle of
// an emoji) or a control character makes the agent fail to encode the whole event and drop it.

const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

/** Control characters other than tab and newline (C0, DEL, C1), and lone surrogates, made harmless. */
export function cleanText(text: string): string {
  return text.replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, ' ').replace(LONE_SURROGATE, '\ufffd');
}

/** At most `maxChars` code points (never half a surrogate pair), `marker` appended when cut. */
export function capCodePoints(text: string, maxChars: number, marker: string): string {
  const cps = Array.from(text);
  if (cps.length <= maxChars) return text;
  return cps.slice(0, Math.max(0, maxChars - Array.from(marker).length)).join('') + marker;
}

/** At most `maxBytes` of UTF-8, cut at a code point boundary, `marker` appended when cut. */
export function capUtf8(text: string, maxBytes: number, marker: string): string {
  if (Buffer.byteLength(text, 'utf8') <= maxBytes) return text;
  const budget = maxBytes - Buffer.byteLength(marker, 'utf8');
  let used = 0;
  let out = '';
  for (const cp of text) {
    const n = Buffer.byteLength(cp, 'utf8');
    if (used + n > budget) break;
    used += n;
    out += cp;
  }
  return out + marker;
}
