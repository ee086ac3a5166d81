import { describe, expect, it } from 'vitest';
import { installerImage, schematicId, schematicYaml } from '../../src/factory/schematic.js';

// Vectors: the issue, and siderolabs/image-factory pkg/schematic/schematic_test.go (TestID, TestUnmarshalID).
describe('schematic ID', () => {
  const none = { extensions: [], extraKernelArgs: [] };
  it('empty schematic', () => {
    expect(schematicYaml(none)).toBe('customization: {}\n');
    expect(schematicId(none)).toBe('376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba');
  });
  it('siderolabs/intel-ucode alone', () => {
    expect(schematicId({ extensions: ['siderolabs/intel-ucode'], extraKernelArgs: [] })).toBe('2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8');
  });
  it('extra kernel args noapic nolapic (upstream config1)', () => {
    expect(schematicId({ extensions: [], extraKernelArgs: ['noapic', 'nolapic'] })).toBe('9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c');
  });
  it('follows a schematic that was changed in place: the ids it keeps are by content, not by object', () => {
    const input = { extensions: [] as string[], extraKernelArgs: [] as string[] };
    expect(schematicId(input)).toBe('376567988ad370138ad8b2698212367b8edcb69b5fd68c80be1f2ec7d603b4ba');
    input.extensions.push('siderolabs/intel-ucode');
    expect(schematicId(input)).toBe('2d61dd07b20062062ea671b4d01873506103b67c0f7a4c3fb6cf4ee85585dcb8');
  });
  it('order of kernel args matters (lists are not sorted upstream)', () => {
    expect(schematicId({ extensions: [], extraKernelArgs: ['nolapic', 'noapic'] })).not.toBe('9cba8e32753f91a16c1837ab8abf356af021706ef284aef07380780177d9a06c');
  });
  it('meta key 0x0a = foo (upstream meta)', () => {
    expect(schematicId({ ...none, meta: [{ key: 0x0a, value: 'foo' }] })).toBe('d308a2a5ee2277bed5fbaa104fcbc8d59122abfa737df987a95b4ca763459a7f');
  });
  it('secureboot includeWellKnownCertificates (upstream secureboot)', () => {
    expect(schematicId({ ...none, secureBoot: { includeWellKnownCertificates: true } })).toBe('fa8e05f142a851d3ee568eb0a8e5841eaf6b0ebc8df9a63df16ac5ed2c04f3e6');
  });
  it('overlay rpi_generic (upstream overlay)', () => {
    expect(schematicId({ ...none, overlay: { name: 'rpi_generic', image: 'siderolabs/sbc-raspberrypi' } })).toBe('ee21ef4a5ef808a9b7484cc0dda0f25075021691c8c09a276591eedb638ea1f9');
  });
  it('rejects a meta key outside uint8', () => {
    expect(() => schematicId({ ...none, meta: [{ key: 256, value: 'x' }] })).toThrow(/uint8/);
  });
  it('writes nested lists the Go encoder way', () => {
    expect(schematicYaml({ extensions: ['siderolabs/intel-ucode', 'siderolabs/iscsi-tools'], extraKernelArgs: ['net.ifnames=0'] })).toBe(
      'customization:\n    extraKernelArgs:\n        - net.ifnames=0\n    systemExtensions:\n        officialExtensions:\n            - siderolabs/intel-ucode\n            - siderolabs/iscsi-tools\n',
    );
  });
  it('quotes what yaml.v3 quotes (YAML 1.1 booleans, base-60 numbers, timestamps), and nothing else', () => {
    expect(schematicYaml({ extensions: [], extraKernelArgs: ['on', 'Y', '1:20', '2001-01-01', 'console=ttyS0,115200', 'foo#bar'] })).toBe(
      'customization:\n    extraKernelArgs:\n        - "on"\n        - "Y"\n        - "1:20"\n        - "2001-01-01"\n        - console=ttyS0,115200\n        - foo#bar\n',
    );
  });
  it('installer image follows the factory host', () => {
    expect(installerImage('https://factory.talos.dev', 'abc', 'v1.11.5')).toBe('factory.talos.dev/metal-installer/abc:v1.11.5');
    expect(installerImage('http://127.0.0.1:5000', 'abc', 'v1.11.5')).toBe('127.0.0.1:5000/metal-installer/abc:v1.11.5');
  });
});
