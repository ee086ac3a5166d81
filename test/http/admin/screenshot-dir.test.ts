import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { screenshotDir } from '../../helpers/screenshots.js';

// The browser tests write their screenshots here: a run leaves docs/ alone unless asked.
describe('where the browser tests write screenshots', () => {
  it('a fresh temp dir by default, outside the checkout', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'rb-shots-cwd-'));
    try {
      const a = screenshotDir({}, cwd);
      const b = screenshotDir({ RACKBOOT_SCREENSHOTS: '' }, cwd);
      expect(a.startsWith(tmpdir())).toBe(true);
      expect(a.startsWith(cwd)).toBe(false);
      expect(a).not.toBe(b);
      expect(existsSync(join(cwd, 'docs'))).toBe(false);
      rmSync(a, { recursive: true });
      rmSync(b, { recursive: true });
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });

  it('docs/screenshots with RACKBOOT_SCREENSHOTS=docs; any other value is refused', () => {
    const cwd = mkdtempSync(join(tmpdir(), 'rb-shots-cwd-'));
    try {
      expect(screenshotDir({ RACKBOOT_SCREENSHOTS: 'docs' }, cwd)).toBe(join(cwd, 'docs', 'screenshots'));
      expect(existsSync(join(cwd, 'docs', 'screenshots'))).toBe(true);
      expect(() => screenshotDir({ RACKBOOT_SCREENSHOTS: 'yes' }, cwd)).toThrow(/only value is "docs"/);
    } finally {
      rmSync(cwd, { recursive: true, force: true });
    }
  });
});
