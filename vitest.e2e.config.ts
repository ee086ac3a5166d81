import { defineConfig } from 'vitest/config';

// End-to-end cases: real firmware in QEMU (TCG) booting through the built
// `rackboot serve`. One machine at a time: the hosts have two cores.
export default defineConfig({
  test: {
    include: ['test/e2e/**/*.e2e.test.ts'],
    globalSetup: ['test/e2e/global-setup.ts'],
    pool: 'forks',
    fileParallelism: false,
    maxWorkers: 1,
    testTimeout: 180_000,
    hookTimeout: 120_000,
    reporters: ['default'],
  },
});
