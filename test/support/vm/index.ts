// Test VM helpers: see README.md in this directory.
export * from './vm.js';
export * from './harness.js';
