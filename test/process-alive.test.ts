import { spawnSync } from 'node:child_process';
import { expect, it } from 'vitest';
import { processAlive } from '../src/process-alive.js';

it('is true for a running process, also one we may not signal, and false once it has exited', () => {
  expect(processAlive(process.pid)).toBe(true);
  // PID 1 is root's: a test running as another user gets EPERM, which still means it runs.
  expect(processAlive(1)).toBe(true);
  const exited = spawnSync(process.execPath, ['-e', '']).pid!;
  expect(processAlive(exited)).toBe(false);
});
