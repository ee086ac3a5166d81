import { describe, expect, it } from 'vitest';
import { applyPatches, jsonPatch, mergePatch, type Json } from '../../../src/talos/config/patch.js';

describe('RFC 7386 merge patch (Appendix A examples)', () => {
  const cases: [Json, Json, Json][] = [
    [{ a: 'b' }, { a: 'c' }, { a: 'c' }],
    [{ a: 'b' }, { b: 'c' }, { a: 'b', b: 'c' }],
    [{ a: 'b' }, { a: null }, {}],
    [{ a: 'b', b: 'c' }, { a: null }, { b: 'c' }],
    [{ a: ['b'] }, { a: 'c' }, { a: 'c' }],
    [{ a: 'c' }, { a: ['b'] }, { a: ['b'] }],
    [{ a: { b: 'c' } }, { a: { b: 'd', c: null } }, { a: { b: 'd' } }],
    [{ a: [{ b: 'c' }] }, { a: [1] }, { a: [1] }],
    [['a', 'b'], ['c', 'd'], ['c', 'd']],
    [{ a: 'b' }, ['c'], ['c']],
    [{ a: 'foo' }, null, null],
    [{ a: 'foo' }, 'bar', 'bar'],
    [{ e: null }, { a: 1 }, { e: null, a: 1 }],
    [[1, 2], { a: 'b', c: null }, { a: 'b' }],
    [{}, { a: { bb: { ccc: null } } }, { a: { bb: {} } }],
  ];
  cases.forEach(([target, patch, result], i) => it(`example ${i + 1}`, () => expect(mergePatch(target, patch)).toEqual(result)));

  it('does not mutate its input', () => {
    const target = { a: { b: 1 } };
    mergePatch(target, { a: { b: 2 } });
    expect(target).toEqual({ a: { b: 1 } });
  });
});

describe('RFC 6902 JSON patch (Appendix A examples)', () => {
  it('A.1 add an object member', () => expect(jsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz', value: 'qux' }])).toEqual({ baz: 'qux', foo: 'bar' }));
  it('A.2 add an array element', () => expect(jsonPatch({ foo: ['bar', 'baz'] }, [{ op: 'add', path: '/foo/1', value: 'qux' }])).toEqual({ foo: ['bar', 'qux', 'baz'] }));
  it('A.3 remove an object member', () => expect(jsonPatch({ baz: 'qux', foo: 'bar' }, [{ op: 'remove', path: '/baz' }])).toEqual({ foo: 'bar' }));
  it('A.4 remove an array element', () => expect(jsonPatch({ foo: ['bar', 'qux', 'baz'] }, [{ op: 'remove', path: '/foo/1' }])).toEqual({ foo: ['bar', 'baz'] }));
  it('A.5 replace a value', () => expect(jsonPatch({ baz: 'qux', foo: 'bar' }, [{ op: 'replace', path: '/baz', value: 'boo' }])).toEqual({ baz: 'boo', foo: 'bar' }));
  it('A.6 move a value', () => expect(jsonPatch({ foo: { bar: 'baz', waldo: 'fred' }, qux: { corge: 'grault' } }, [{ op: 'move', from: '/foo/waldo', path: '/qux/thud' }]))
    .toEqual({ foo: { bar: 'baz' }, qux: { corge: 'grault', thud: 'fred' } }));
  it('A.7 move an array element', () => expect(jsonPatch({ foo: ['all', 'grass', 'cows', 'eat'] }, [{ op: 'move', from: '/foo/1', path: '/foo/3' }])).toEqual({ foo: ['all', 'cows', 'eat', 'grass'] }));
  it('A.8 test success', () => expect(jsonPatch({ baz: 'qux', foo: ['a', 2, 'c'] }, [{ op: 'test', path: '/baz', value: 'qux' }, { op: 'test', path: '/foo/1', value: 2 }])).toEqual({ baz: 'qux', foo: ['a', 2, 'c'] }));
  it('A.9 test error', () => expect(() => jsonPatch({ baz: 'qux' }, [{ op: 'test', path: '/baz', value: 'bar' }])).toThrow('operation 0: test failed at /baz'));
  it('A.10 add a nested member object', () => expect(jsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/child', value: { grandchild: {} } }])).toEqual({ foo: 'bar', child: { grandchild: {} } }));
  it('A.12 add to a nonexistent target', () => expect(() => jsonPatch({ foo: 'bar' }, [{ op: 'add', path: '/baz/bat', value: 'qux' }])).toThrow('path /baz/bat does not exist'));
  it('A.14 ~ escape ordering', () => expect(jsonPatch({ '/': 9, '~1': 10 }, [{ op: 'test', path: '/~01', value: 10 }])).toEqual({ '/': 9, '~1': 10 }));
  it('A.16 add an array value', () => expect(jsonPatch({ foo: ['bar'] }, [{ op: 'add', path: '/foo/-', value: ['abc', 'def'] }])).toEqual({ foo: ['bar', ['abc', 'def']] }));
  it('copy, and a failing operation leaves the input untouched', () => {
    const doc = { a: { b: 1 } };
    expect(jsonPatch(doc, [{ op: 'copy', from: '/a', path: '/c' }])).toEqual({ a: { b: 1 }, c: { b: 1 } });
    expect(() => jsonPatch(doc, [{ op: 'remove', path: '/a/b' }, { op: 'remove', path: '/nope' }])).toThrow('operation 1');
    expect(doc).toEqual({ a: { b: 1 } });
  });
  it('rejects unknown ops and malformed pointers', () => {
    expect(() => jsonPatch({}, [{ op: 'merge', path: '/a' }])).toThrow('unknown op "merge"');
    expect(() => jsonPatch({}, [{ op: 'add', path: 'a', value: 1 }])).toThrow('is not a JSON pointer');
    expect(() => jsonPatch({ a: [1] }, [{ op: 'add', path: '/a/5', value: 1 }])).toThrow('out of range');
  });
});

describe('applyPatches', () => {
  it('applies merge and JSON patches in order and names the failing one with the node', () => {
    const out = applyPatches({ m: { x: 1 } }, [
      { source: 'cluster.patches.all[0]', patch: { m: { y: 2 } } },
      { source: 'nodes[a].patches[0]', patch: [{ op: 'replace', path: '/m/x', value: 3 }] },
    ], 'a');
    expect(out).toEqual({ m: { x: 3, y: 2 } });
    expect(() => applyPatches({}, [{ source: 'cluster.patches.worker[2]', patch: [{ op: 'remove', path: '/m' }] }], 'w-1'))
      .toThrow('patch cluster.patches.worker[2] failed for node w-1: operation 0: path /m does not exist');
  });
});
