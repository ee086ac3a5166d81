// Once per e2e run: build the CLI the cases start, build the Talos stand-in,
// and at the end print the timings table.
import { execFileSync } from 'node:child_process';
import { existsSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import type { TestProject } from 'vitest/node';
import { buildStandin, DEFAULT_STANDIN_CACHE, standinPrerequisites } from '../../src/lab/standin.js';
import { timingsTable } from './timings.js';
import { OUTPUT, REPO } from './world.js';

export default function setup(project: TestProject) {
  // Each run starts from an empty output directory: old worlds' logs would only confuse.
  rmSync(OUTPUT, { recursive: true, force: true });
  execFileSync('npx', ['tsc', '-p', '.'], { cwd: REPO, stdio: 'inherit' });
  buildDhcpAddonIfMissing();
  const missing = standinPrerequisites();
  if (missing.length > 0) throw new Error(`cannot build the Talos stand-in: missing ${missing.join(', ')}`);
  const standin = buildStandin(process.env.RACKBOOT_STANDIN_CACHE ?? DEFAULT_STANDIN_CACHE);
  project.provide('standin', standin);
  return () => {
    console.log('\n' + timingsTable() + '\n');
  };
}

/**
 * DHCP's SO_BINDTODEVICE addon is built from source, not shipped. Offline,
 * node-gyp must use the installed Node headers rather than download them.
 */
function buildDhcpAddonIfMissing(): void {
  const dir = join(REPO, 'native', 'bindtodevice');
  if (!existsSync(join(dir, 'binding.gyp')) || existsSync(join(dir, 'build', 'Release', 'bindtodevice.node'))) return;
  const npmBin = execFileSync('sh', ['-c', 'dirname "$(command -v npm)"'], { encoding: 'utf8' }).trim();
  const gyp = join(npmBin, '..', 'lib', 'node_modules', 'npm', 'node_modules', 'node-gyp', 'bin', 'node-gyp.js');
  const nodedir = existsSync('/usr/include/node/node_api.h') ? ['--nodedir=/usr'] : [];
  execFileSync('node', [gyp, 'rebuild', ...nodedir, '-C', dir], { cwd: REPO, stdio: ['ignore', 'ignore', 'inherit'] });
}

declare module 'vitest' {
  export interface ProvidedContext {
    standin: { kernel: string; initramfs: string; kernelPackage: string };
  }
}
