import { badRequest } from './api-errors.js';
import type { KubeObject } from './kube-object.js';
import type { ResourceType } from './resources.js';

export type Selector = (object: KubeObject) => boolean;

const matchEverything: Selector = () => true;

type LabelRequirement =
  | { key: string; op: 'exists' | 'notExists' }
  | { key: string; op: 'in' | 'notIn'; values: string[] };

/**
 * Parses a label selector as `kubectl -l` and client libraries send it: `a=b`, `a==b`, `a!=b`,
 * `a`, `!a`, `a in (x,y)`, `a notin (x)`, joined by commas (AND).
 */
export function parseLabelSelector(text: string | null): Selector {
  if (!text || !text.trim()) return matchEverything;
  const requirements = splitTopLevel(text).map(parseLabelRequirement);
  return (object) => {
    const labels = object.metadata.labels ?? {};
    return requirements.every((requirement) => {
      const value = Object.hasOwn(labels, requirement.key) ? labels[requirement.key] : undefined;
      switch (requirement.op) {
        case 'exists':
          return value !== undefined;
        case 'notExists':
          return value === undefined;
        case 'in':
          return value !== undefined && requirement.values.includes(value);
        case 'notIn':
          return value === undefined || !requirement.values.includes(value);
      }
    });
  };
}

/** Splits on commas that are not inside `( )`, so set values stay together. */
function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i += 1) {
    const c = text[i];
    if (c === '(') depth += 1;
    else if (c === ')') depth -= 1;
    else if (c === ',' && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts.map((part) => part.trim());
}

const labelKey = /^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\/)?[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/;
const labelValue = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;

function parseLabelRequirement(text: string): LabelRequirement {
  const fail = (): never => {
    throw badRequest(`unable to parse requirement: found '${text}', expected: a valid label selector requirement`);
  };
  const checkKey = (key: string): string => (labelKey.test(key) ? key : fail());
  const checkValue = (value: string): string => (labelValue.test(value) && value.length <= 63 ? value : fail());

  const set = /^(\S+)\s+(in|notin)\s*\(([^()]*)\)$/.exec(text);
  if (set) {
    const values = (set[3] ?? '').split(',').map((v) => checkValue(v.trim()));
    return { key: checkKey(set[1] ?? ''), op: set[2] === 'in' ? 'in' : 'notIn', values };
  }
  const equality = /^([^=!\s]+)\s*(==|=|!=)\s*(\S*)$/.exec(text);
  if (equality) {
    const values = [checkValue(equality[3] ?? '')];
    return { key: checkKey(equality[1] ?? ''), op: equality[2] === '!=' ? 'notIn' : 'in', values };
  }
  if (text.startsWith('!')) return { key: checkKey(text.slice(1).trim()), op: 'notExists' };
  return { key: checkKey(text), op: 'exists' };
}

/**
 * Parses a field selector (`f=v`, `f==v`, `f!=v`, comma = AND). Like the API server, only
 * metadata.name, metadata.namespace and the kind's own selectable fields are accepted.
 */
export function parseFieldSelector(text: string | null, type: ResourceType): Selector {
  if (!text || !text.trim()) return matchEverything;
  const allowed = new Set(['metadata.name', 'metadata.namespace', ...type.selectableFields]);
  const requirements = text.split(',').map((part) => {
    const match = /^\s*([^=!\s]+)\s*(==|=|!=)\s*(.*?)\s*$/.exec(part);
    if (!match) throw badRequest(`invalid selector: '${text}'; can't understand '${part}'`);
    const field = match[1] ?? '';
    if (!allowed.has(field)) throw badRequest(`field label not supported: ${field}`);
    return { path: field.split('.'), equal: match[2] !== '!=', value: match[3] ?? '' };
  });
  return (object) =>
    requirements.every(({ path, equal, value }) => (fieldValue(object, path) === value) === equal);
}

function fieldValue(object: KubeObject, path: string[]): string {
  let current: unknown = object;
  for (const segment of path) {
    if (typeof current !== 'object' || current === null) return '';
    current = (current as Record<string, unknown>)[segment];
  }
  return current === undefined || current === null ? '' : String(current);
}
