// ts-jest's ESM preset: sources are ES modules importing with ".js" suffixes (NodeNext),
// so the mapper strips the suffix for jest's resolver. Type checking is `npm run typecheck`;
// isolatedModules keeps each test file's transform fast.
export default {
  preset: 'ts-jest/presets/default-esm',
  testEnvironment: 'node',
  roots: ['<rootDir>/test'],
  testMatch: ['**/*.test.ts'],
  moduleNameMapper: { '^(\\.{1,2}/.*)\\.js$': '$1' },
  transform: {
    '^.+\\.ts$': ['ts-jest', { useESM: true, diagnostics: false }],
  },
  globalSetup: '<rootDir>/test/global-setup.mjs',
  // stops the VM suites' dockerd and containerd when this run started them
  globalTeardown: '<rootDir>/test/global-teardown.mjs',
  // One VM suite at a time, the others beside it (see both files).
  setupFilesAfterEnv: ['<rootDir>/test/vm-suite-lock.mjs'],
  testSequencer: '<rootDir>/test/vm-sequencer.mjs',
  testTimeout: 30000,
  maxWorkers: 2,
};
