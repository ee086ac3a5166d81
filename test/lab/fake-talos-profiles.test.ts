// The fake node's version table: every behaviour names the upstream file and
// tag it was read from and has a value for every profile, and a Talos
// version string picks the right profile.
import { describe, expect, it } from 'vitest';
import { BEHAVIOURS, PROFILES, profile, profileFor } from '../../src/lab/fake-talos/profiles.js';

describe('fake Talos profiles', () => {
  it('every behaviour cites an upstream file and tag, and has a value for every profile', () => {
    for (const [name, row] of Object.entries(BEHAVIOURS)) {
      expect(row.source, name).toMatch(/(\.go|\.proto|tags?) ?@?v1\.1[1-3]\.\d+|@v1\.1[1-3]\.\d+|tags v1\.1/);
      expect(Object.keys(row.values).sort(), name).toEqual([...PROFILES].sort());
      for (const p of PROFILES) expect((row.values as Record<string, unknown>)[p], `${name} ${p}`).toBeDefined();
    }
  });

  it('flattens a profile into one value per behaviour', () => {
    const p = profile('v1.11');
    expect(p.name).toBe('v1.11');
    expect(p.maintenanceCalls.Version).toMatchObject({ code: 12 });
    expect(profile('v1.13+').maintenanceCalls.Version).toBe('answers');
    expect(profile('v1.12').maintenanceApply.AUTO).toEqual({ replyMode: undefined, modeDetails: '', installs: true });
  });

  it('maps Talos versions to profiles; unknown or newer minors get the newest', () => {
    expect(profileFor('v1.11.5')).toBe('v1.11');
    expect(profileFor('v1.12.0')).toBe('v1.12');
    expect(profileFor('v1.13.9')).toBe('v1.13+');
    expect(profileFor('v1.14.0')).toBe('v1.13+');
    expect(profileFor(undefined)).toBe('v1.13+');
  });
});
