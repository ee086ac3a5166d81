// The fake node lives in src/lab/fake-talos/ because `rackboot lab` runs it too.
export * from '../../src/lab/fake-talos/node.js';
