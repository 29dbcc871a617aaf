import { InvalidInputError } from './errors.js';

const CONTROL = /[\u0000-\u001f\u007f]/;
const MAX_BRANCH_LENGTH = 255;

/**
 * A branch name as git's check-ref-format accepts it (for a branch, `refs/heads/x` is `x`).
 * Returns the short name, or throws naming `field`.
 */
export function parseBranch(raw: string, field = 'branch'): string {
  const name = raw.startsWith('refs/heads/') ? raw.slice('refs/heads/'.length) : raw;
  const fail = (why: string): never => {
    throw new InvalidInputError(field, `${field} is not a valid git branch name: ${why}`);
  };
  if (name.length === 0) fail('it is empty');
  if (name.length > MAX_BRANCH_LENGTH) fail(`it is longer than ${MAX_BRANCH_LENGTH} characters`);
  if (CONTROL.test(name)) fail('it contains a control character');
  // What bytes that are not UTF-8 decode to (percent-encoded query values included).
  if (name.includes('\uFFFD')) fail('it is not valid UTF-8');
  if (/[ ~^:?*[\\]/.test(name)) fail('it contains one of space ~ ^ : ? * [ \\');
  if (name.includes('..')) fail('it contains ".."');
  if (name.includes('@{')) fail('it contains "@{"');
  if (name === '@') fail('it is "@"');
  if (name.includes('//')) fail('it contains "//"');
  if (name.startsWith('-')) fail('it starts with "-"');
  if (name.startsWith('/') || name.endsWith('/')) fail('it starts or ends with "/"');
  if (name.endsWith('.')) fail('it ends with "."');
  for (const component of name.split('/')) {
    if (component.startsWith('.')) fail('a component starts with "."');
    if (component.endsWith('.lock')) fail('a component ends with ".lock"');
  }
  if (name === 'HEAD') fail('it is "HEAD"');
  return name;
}

/** `clear_cache` as CI tools spell booleans. */
export function parseBooleanFlag(raw: string, field: string): boolean {
  switch (raw.toLowerCase()) {
    case 'true':
    case '1':
      return true;
    case 'false':
    case '0':
      return false;
    default:
      throw new InvalidInputError(field, `${field} must be one of true, false, 1, 0`);
  }
}

/** A display name: trimmed, 1 to `max` characters, no control characters. */
export function parseName(raw: string, field = 'name', max = 100): string {
  const name = raw.trim();
  if (name.length === 0) throw new InvalidInputError(field, `${field} must not be empty`);
  if (name.length > max) throw new InvalidInputError(field, `${field} must be at most ${max} characters`);
  if (CONTROL.test(name)) throw new InvalidInputError(field, `${field} must not contain control characters`);
  return name;
}

/** A Kubernetes-safe slug for a service name; empty when the name has no usable characters. */
export function slugify(name: string): string {
  return name
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[^a-z0-9]+/g, '-')
    .replace(/^-+|-+$/g, '')
    .slice(0, 50)
    .replace(/-+$/, '');
}

// A user or host that starts with "-" reaches ssh as a command-line option (`-oProxyCommand=...`).
const SCP_LIKE = /^[A-Za-z0-9._][A-Za-z0-9._-]*@[A-Za-z0-9][A-Za-z0-9.-]*:[A-Za-z0-9._~\/-]+$/;
const HOST = /^([A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?|\[[0-9A-Fa-f:.]+\])$/;
const SSH_USER = /^[A-Za-z0-9._][A-Za-z0-9._-]*$/;

/** Repository URLs a build can clone: https://, ssh://, or the scp-like `git@host:path`. */
export function parseRepoUrl(raw: string, field = 'repoUrl'): string {
  const value = raw.trim();
  const fail = (why: string): never => {
    throw new InvalidInputError(field, `${field} ${why}`);
  };
  if (value.length === 0) fail('must not be empty');
  if (value.length > 2048) fail('must be at most 2048 characters');
  if (CONTROL.test(value) || /\s/.test(value)) fail('must not contain spaces or control characters');
  if (SCP_LIKE.test(value)) return value;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    return fail('must be an https://, ssh:// or git@host:path URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'ssh:') fail('must be an https://, ssh:// or git@host:path URL');
  if (!url.hostname) fail('must name a host');
  if (!HOST.test(url.hostname)) fail('must name a host by DNS name or IP address');
  // ssh:// names the login user (ssh://git@host/...), which is no secret; a password always is.
  if (url.password || (url.protocol === 'https:' && url.username)) fail('must not carry credentials');
  if (url.username && !SSH_USER.test(url.username)) fail('must name an ssh user of letters, digits, ".", "_" or "-"');
  if (url.pathname.length <= 1) fail('must name a repository path');
  return value;
}

/** Idempotency-Key: what clients send is usually a UUID; anything printable up to 255 characters. */
export function parseIdempotencyKey(raw: string): string {
  if (raw.length === 0 || raw.length > 255 || !/^[\x21-\x7e]+$/.test(raw)) {
    throw new InvalidInputError('Idempotency-Key', 'Idempotency-Key must be 1 to 255 printable ASCII characters');
  }
  return raw;
}
