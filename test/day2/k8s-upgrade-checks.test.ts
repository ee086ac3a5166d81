// upgrade-k8s's refusals, restated from upstream (go-kubernetes upgrade/path.go; talos compatibility/talosNNN, v1.13.0).
import { expect, it } from 'vitest';
import { imageVersion, k8sTalosProblem, k8sUpgradePathProblem } from '../../src/day2/k8s-upgrade-checks.js';

it('allows the same minor or the next one, refuses a skipped minor and any step down', () => {
  expect(k8sUpgradePathProblem('1.35.0', '1.35.3')).toBeUndefined();
  expect(k8sUpgradePathProblem('v1.35.2', '1.36.0')).toBeUndefined();
  expect(k8sUpgradePathProblem('1.34.1', '1.36.0')).toMatch(/unsupported upgrade path 1\.34->1\.36 \(from 1\.34\.1 to 1\.36\.0\)/);
  expect(k8sUpgradePathProblem('1.35.0', '1.34.1')).toMatch(/unsupported upgrade path 1\.35->1\.34/);
  expect(k8sUpgradePathProblem('1.35.0', 'latest')).toMatch(/not a Kubernetes version: latest/);
});

it('refuses a Kubernetes version the node\'s Talos does not run', () => {
  expect(k8sTalosProblem('v1.12.4', '1.35.2')).toBeUndefined();
  expect(k8sTalosProblem('v1.12.4', '1.36.0')).toBe('Talos v1.12.4 supports Kubernetes 1.30.0 to 1.35.x, not 1.36.0');
  expect(k8sTalosProblem('v1.13.0', '1.36.0')).toBeUndefined();
  expect(k8sTalosProblem('v1.13.0', '1.30.9')).toMatch(/supports Kubernetes 1\.31\.0 to 1\.36\.x/);
  expect(k8sTalosProblem('v1.11.5', '1.29.0')).toBeUndefined();
  expect(imageVersion('registry.k8s.io/kube-apiserver:v1.35.0')).toBe('1.35.0');
  expect(imageVersion('127.0.0.1:5000/kube-apiserver:v1.35.0')).toBe('1.35.0');
});
