import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadSettings, SettingsError } from '../../src/settings/settings.js';

describe('settings factory.url', () => {
  const dir = mkdtempSync(join(tmpdir(), 'rb-set-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const load = (text: string) => {
    const file = join(dir, 'rackboot.yaml');
    writeFileSync(file, text);
    return loadSettings({ config: file }, dir);
  };

  it('defaults to the public Image Factory', () => {
    expect(load('logLevel: info\n').factory.url).toBe('https://factory.talos.dev');
  });
  it('takes a local factory or mirror, without a trailing slash', () => {
    expect(load('factory:\n  url: http://127.0.0.1:5000/\n').factory.url).toBe('http://127.0.0.1:5000');
    expect(load('factory:\n  url: https://factory.example.com/mirror\n').factory.url).toBe('https://factory.example.com/mirror');
  });
  it('rejects a non-URL or an unknown key with the line', () => {
    expect(() => load('factory:\n  url: factory.talos.dev\n')).toThrow(SettingsError);
    expect(() => load('factory:\n  mirror: x\n')).toThrow(/2:3: factory: unknown key "mirror"/);
  });
});
