// Types for test/global-teardown.mjs (its own test imports it).
export default function globalTeardown(): Promise<void>;
