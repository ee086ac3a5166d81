import { describe, expect, it } from 'vitest';
import { storableText } from '../../src/store/client-text.js';

describe('storableText', () => {
  it('drops every NUL, leading, inside and trailing, and leaves other text and undefined as they are', () => {
    expect(storableText('\0no\0\0de1\0')).toBe('node1');
    expect(storableText('PXEClient:Arch:00007')).toBe('PXEClient:Arch:00007');
    expect(storableText(undefined)).toBeUndefined();
  });
});
