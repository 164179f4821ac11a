// Bundled in place of node:assert for pino's sonic-boom and thread-stream, which call only
// assert(condition, message). Loading node:assert costs ~5 ms at every command start (it sets up
// process.stderr for its colours); this is all those two calls need.
'use strict';
module.exports = function assert(condition, message) {
  if (!condition) throw new Error(message === undefined ? 'assertion failed' : String(message));
};
