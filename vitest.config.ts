import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    include: ['test/**/*.test.ts'],
    globalSetup: ['test/global-setup.ts'],
    exclude: ['test/e2e/**', 'node_modules/**'],
    pool: 'forks',
    testTimeout: 30_000,
    hookTimeout: 60_000,
    // Network-namespace tests bind fixed addresses inside their own namespaces,
    // but share the host's netns list: keep files from racing on names.
    fileParallelism: true,
    reporters: ['default'],
  },
});
