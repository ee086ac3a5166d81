import { spawnSync, spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

export const CLI = fileURLToPath(new URL('../../dist/cli.js', import.meta.url));
export const REPO = fileURLToPath(new URL('../..', import.meta.url));

export function runCli(args: string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): { code: number; stdout: string; stderr: string } {
  const r = spawnSync(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? REPO, env: { ...process.env, ...opts.env }, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
}

export function startCli(args: string[], opts: { cwd?: string } = {}): ChildProcess & { output: () => string } {
  const p = spawn(process.execPath, [CLI, ...args], { cwd: opts.cwd ?? REPO, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  p.stdout!.on('data', (d) => (out += d));
  p.stderr!.on('data', (d) => (out += d));
  return Object.assign(p, { output: () => out });
}
