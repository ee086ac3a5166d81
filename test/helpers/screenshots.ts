// Where the browser tests put the screenshots the README shows. A test run
// must not rewrite committed files, so by default they go to a fresh temp
// dir; RACKBOOT_SCREENSHOTS=docs writes them into docs/screenshots, which is
// how the committed images are regenerated.
import { mkdirSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function screenshotDir(env: NodeJS.ProcessEnv = process.env, cwd = process.cwd()): string {
  const wanted = env.RACKBOOT_SCREENSHOTS;
  if (wanted === 'docs') {
    const dir = join(cwd, 'docs', 'screenshots');
    mkdirSync(dir, { recursive: true });
    return dir;
  }
  if (wanted !== undefined && wanted !== '') throw new Error(`RACKBOOT_SCREENSHOTS=${wanted}: the only value is "docs" (unset writes to a temp dir)`);
  return mkdtempSync(join(tmpdir(), 'rackboot-screenshots-'));
}
