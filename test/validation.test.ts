import { describe, expect, it } from 'vitest';
import { DomainError } from '../src/resolvers/errors.js';
import { parseBooleanFlag, parseBranch, parseRepoUrl, slugify } from '../src/resolvers/validation.js';

function refusal(fn: () => unknown): DomainError | null {
  try {
    fn();
    return null;
  } catch (error) {
    return error as DomainError;
  }
}

describe('parseBranch follows git check-ref-format for branches', () => {
  it.each([
    ['main', 'main'],
    ['refs/heads/main', 'main'],
    ['feature/a-b_c.d', 'feature/a-b_c.d'],
    ['release/1.2.3', 'release/1.2.3'],
    ['ünïcode', 'ünïcode'],
    ['a@b', 'a@b'],
    ['refs/heads/refs/heads/x', 'refs/heads/x'],
  ])('accepts %j as %j', (raw, expected) => {
    expect(parseBranch(raw)).toBe(expected);
  });

  it.each([
    '', 'a..b', '-x', '.x', 'x/.y', 'x.lock', 'x.lock/y', 'a b', 'a~', 'a^', 'a:', 'a?', 'a*', 'a[', 'a\\b', 'a@{0}', '@',
    'a//b', 'a/', '/a', 'a.', 'HEAD', '\u0001', 'x\u007f', 'x'.repeat(256),
  ])('refuses %j with a BAD_USER_INPUT naming the field', (raw) => {
    const error = refusal(() => parseBranch(raw, 'branch'));
    expect(error?.code).toBe('BAD_USER_INPUT');
    expect(error?.details.field).toBe('branch');
  });
});

describe('parseRepoUrl', () => {
  it.each(['https://github.com/acme/web.git', 'ssh://git@github.com/acme/web.git', 'git@github.com:acme/web.git', 'https://gitlab.example.com:8443/group/sub/repo'])(
    'accepts %s',
    (url) => expect(parseRepoUrl(url)).toBe(url),
  );
  it.each(['http://github.com/acme/web', 'file:///etc/passwd', 'javascript:alert(1)', 'https://user:pw@github.com/a/b', 'https://github.com', 'git@github.com:', 'https://github.com/a b', 'ext::sh -c id', '--upload-pack=x'])(
    'refuses %s',
    (url) => expect(refusal(() => parseRepoUrl(url))?.details.field).toBe('repoUrl'),
  );
});

describe('parseBooleanFlag and slugify', () => {
  it('reads the four spellings CI tools use and nothing else', () => {
    expect(['true', '1', 'TRUE', 'false', '0', 'False'].map((v) => parseBooleanFlag(v, 'clear_cache'))).toEqual([true, true, true, false, false, false]);
    expect(refusal(() => parseBooleanFlag('yes', 'clear_cache'))?.details.field).toBe('clear_cache');
  });
  it('makes DNS-safe slugs', () => {
    expect(slugify('  My Web_App!! ')).toBe('my-web-app');
    expect(slugify('!!!')).toBe('');
    expect(slugify('x'.repeat(80))).toHaveLength(50);
  });
});
