import { isDeepStrictEqual } from 'node:util';
import { ApiError, badRequest } from './api-errors.js';
import { isJsonObject, type Json } from './kube-object.js';

/** RFC 7386: objects merge recursively, `null` removes a key, anything else replaces. */
export function applyMergePatch(target: Json, patch: Json): Json {
  if (!isJsonObject(patch)) return patch;
  const result = isJsonObject(target) ? { ...target } : {};
  for (const [key, value] of Object.entries(patch)) {
    if (value === null) delete result[key];
    else result[key] = applyMergePatch(result[key] ?? null, value);
  }
  return result;
}

interface JsonPatchOperation {
  op: 'add' | 'remove' | 'replace' | 'move' | 'copy' | 'test';
  path: string;
  value?: Json;
  from?: string;
}

/** RFC 6902, applied to a copy; a failed `test` or a missing path fails the whole patch. */
export function applyJsonPatch(target: Json, operations: Json): Json {
  if (!Array.isArray(operations)) throw badRequest('json: cannot unmarshal object into Go value of type jsonpatch.Patch');
  let document = structuredClone(target);
  for (const raw of operations) {
    const operation = parseOperation(raw);
    switch (operation.op) {
      case 'add':
        document = addAt(document, pointer(operation.path), requireValue(operation));
        break;
      case 'remove':
        document = removeAt(document, pointer(operation.path));
        break;
      case 'replace':
        getAt(document, pointer(operation.path));
        document = addAt(removeAt(document, pointer(operation.path)), pointer(operation.path), requireValue(operation));
        break;
      case 'move': {
        const from = pointer(operation.from ?? '');
        const value = getAt(document, from);
        document = addAt(removeAt(document, from), pointer(operation.path), value);
        break;
      }
      case 'copy':
        document = addAt(document, pointer(operation.path), structuredClone(getAt(document, pointer(operation.from ?? ''))));
        break;
      case 'test':
        if (!isDeepStrictEqual(getAt(document, pointer(operation.path)), requireValue(operation))) {
          throw invalidPatch(`testing value ${operation.path} failed: test failed`);
        }
        break;
    }
  }
  return document;
}

function invalidPatch(message: string): ApiError {
  return new ApiError(422, 'Invalid', `the server rejected our request due to an error in our request: ${message}`);
}

function parseOperation(raw: Json): JsonPatchOperation {
  const ops = ['add', 'remove', 'replace', 'move', 'copy', 'test'];
  if (!isJsonObject(raw) || typeof raw.op !== 'string' || !ops.includes(raw.op) || typeof raw.path !== 'string') {
    throw badRequest(`invalid JSON patch operation: ${JSON.stringify(raw)}`);
  }
  return raw as unknown as JsonPatchOperation;
}

function requireValue(operation: JsonPatchOperation): Json {
  if (operation.value === undefined) throw badRequest(`missing value for "${operation.op}" at ${operation.path}`);
  return operation.value;
}

/** RFC 6901 JSON Pointer into path segments. */
function pointer(path: string): string[] {
  if (path === '') return [];
  if (!path.startsWith('/')) throw badRequest(`invalid JSON pointer: ${path}`);
  return path
    .slice(1)
    .split('/')
    .map((segment) => segment.replaceAll('~1', '/').replaceAll('~0', '~'));
}

function getAt(document: Json, segments: string[]): Json {
  let current: Json = document;
  for (const segment of segments) {
    const next: Json | undefined = Array.isArray(current)
      ? current[arrayIndex(current, segment, false)]
      : isJsonObject(current) && Object.hasOwn(current, segment)
        ? current[segment]
        : undefined;
    if (next === undefined) throw invalidPatch(`doc is missing path: "/${segments.join('/')}"`);
    current = next;
  }
  return current;
}

function arrayIndex(array: Json[], segment: string, forInsert: boolean): number {
  if (forInsert && segment === '-') return array.length;
  const index = /^(0|[1-9][0-9]*)$/.test(segment) ? Number(segment) : NaN;
  const limit = forInsert ? array.length : array.length - 1;
  if (!(index >= 0 && index <= limit)) throw invalidPatch(`index out of bounds: ${segment}`);
  return index;
}

/** Returns a document with `value` placed at the path (the parent must exist). */
function addAt(document: Json, segments: string[], value: Json): Json {
  const [head, ...rest] = segments;
  if (head === undefined) return value;
  if (Array.isArray(document)) {
    const copy = [...document];
    if (rest.length === 0) copy.splice(arrayIndex(copy, head, true), 0, value);
    else {
      const index = arrayIndex(copy, head, false);
      copy[index] = addAt(copy[index] ?? null, rest, value);
    }
    return copy;
  }
  if (!isJsonObject(document)) throw invalidPatch(`doc is missing path: "/${segments.join('/')}"`);
  if (rest.length > 0 && !Object.hasOwn(document, head)) throw invalidPatch(`doc is missing path: "/${segments.join('/')}"`);
  return { ...document, [head]: rest.length === 0 ? value : addAt(document[head] ?? null, rest, value) };
}

function removeAt(document: Json, segments: string[]): Json {
  const [head, ...rest] = segments;
  if (head === undefined) throw invalidPatch('cannot remove the whole document');
  if (Array.isArray(document)) {
    const copy = [...document];
    const index = arrayIndex(copy, head, false);
    if (rest.length === 0) copy.splice(index, 1);
    else copy[index] = removeAt(copy[index] ?? null, rest);
    return copy;
  }
  if (!isJsonObject(document) || !Object.hasOwn(document, head)) {
    throw invalidPatch(`unable to remove nonexistent key: ${head}: missing value`);
  }
  if (rest.length > 0) return { ...document, [head]: removeAt(document[head] ?? null, rest) };
  const { [head]: _removed, ...remaining } = document;
  return remaining;
}
