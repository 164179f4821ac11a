import { capUtf8, cleanText } from './text.js';

// The agent publishes what a command prints (its log, the portal's extension view), so each
// stream is bounded and carries no raw control characters: the full story is in the status and
// handler.log, never only on stdout.

export const MAX_STREAM_BYTES = 4 * 1024;

const CUT = '\n… (cut at 4 KiB; the status file and handler.log hold the rest)';

/** Control characters other than tab and newline made spaces, then at most 4 KiB of UTF-8. */
export function forAgentStream(text: string): string {
  return capUtf8(cleanText(text), MAX_STREAM_BYTES, CUT);
}
