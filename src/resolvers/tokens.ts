import { createHash, randomBytes } from 'node:crypto';

/** Fixed prefixes let secret scanners recognise leaked tokens. */
export const HOOK_TOKEN_PREFIX = 'sbhook_';
export const API_TOKEN_PREFIX = 'sbapi_';

/** 32 random bytes, base64url: 43 URL-safe characters after the prefix. */
export function generateToken(prefix: string): string {
  return prefix + randomBytes(32).toString('base64url');
}

/** Only this digest is stored; the token itself is shown once. */
export function hashToken(token: string): Buffer {
  return createHash('sha256').update(token, 'utf8').digest();
}

/** Enough of a token to recognise it in a list, far too little to use it. */
export function displayPrefix(token: string): string {
  const underscore = token.indexOf('_');
  return token.slice(0, underscore + 1 + 4);
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';

function base32(bytes: Buffer): string {
  let bits = 0;
  let value = 0;
  let out = '';
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += BASE32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += BASE32[(value << (5 - bits)) & 31];
  return out;
}

/** Opaque IDs such as `svc_...`: 128 random bits, so none can be guessed from another. */
export function newId(kind: 'org' | 'tok' | 'svc' | 'hook'): string {
  return `${kind}_${base32(randomBytes(16))}`;
}

/**
 * A deployment's ID is also its PipelineRun's name: a lowercase DNS label (30 characters here,
 * within the 40 allowed) that starts with a letter, with 128 random bits.
 */
export function newDeploymentId(): string {
  return `dep-${base32(randomBytes(16))}`;
}
