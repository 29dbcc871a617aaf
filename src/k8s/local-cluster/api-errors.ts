import type { ResourceType } from './resources.js';
import { groupResource } from './resources.js';

/** The `details` of a Kubernetes `Status`, as clients such as client-node and kubectl read it. */
export interface StatusDetails {
  name?: string;
  group?: string;
  kind?: string;
  causes?: { reason: string; message: string; field: string }[];
  retryAfterSeconds?: number;
}

export interface StatusObject {
  kind: 'Status';
  apiVersion: 'v1';
  metadata: Record<string, never>;
  status: 'Failure';
  message: string;
  reason: string;
  details?: StatusDetails;
  code: number;
}

/**
 * A failed API call. Every handler throws these and the server turns them into `Status`
 * bodies in one place, so clients always get the shape a real API server sends.
 */
export class ApiError extends Error {
  constructor(
    readonly code: number,
    readonly reason: string,
    message: string,
    readonly details?: StatusDetails,
  ) {
    super(message);
  }

  toStatus(): StatusObject {
    return {
      kind: 'Status',
      apiVersion: 'v1',
      metadata: {},
      status: 'Failure',
      message: this.message,
      reason: this.reason,
      ...(this.details ? { details: this.details } : {}),
      code: this.code,
    };
  }
}

function objectDetails(type: ResourceType, name: string): StatusDetails {
  return type.group ? { name, group: type.group, kind: type.plural } : { name, kind: type.plural };
}

export function notFound(type: ResourceType, name: string): ApiError {
  return new ApiError(404, 'NotFound', `${groupResource(type)} "${name}" not found`, objectDetails(type, name));
}

export function alreadyExists(type: ResourceType, name: string): ApiError {
  return new ApiError(
    409,
    'AlreadyExists',
    `${groupResource(type)} "${name}" already exists`,
    objectDetails(type, name),
  );
}

export function conflict(type: ResourceType, name: string): ApiError {
  return new ApiError(
    409,
    'Conflict',
    `Operation cannot be fulfilled on ${groupResource(type)} "${name}": the object has been modified; please apply your changes to the latest version and try again`,
    objectDetails(type, name),
  );
}

/** A validation failure (422), worded like the API server's field errors. */
export function invalid(type: ResourceType, name: string, field: string, detail: string): ApiError {
  const qualifiedKind = type.group ? `${type.kind}.${type.group}` : type.kind;
  return new ApiError(422, 'Invalid', `${qualifiedKind} "${name}" is invalid: ${field}: ${detail}`, {
    name,
    ...(type.group ? { group: type.group } : {}),
    kind: type.kind,
    causes: [{ reason: detail.startsWith('Required') ? 'FieldValueRequired' : 'FieldValueInvalid', message: detail, field }],
  });
}

export function badRequest(message: string): ApiError {
  return new ApiError(400, 'BadRequest', message);
}

export function pathNotFound(): ApiError {
  return new ApiError(404, 'NotFound', 'the server could not find the requested resource');
}

export function methodNotAllowed(): ApiError {
  return new ApiError(405, 'MethodNotAllowed', 'the server does not allow this method on the requested resource');
}

export function unsupportedMediaType(accepted: readonly string[]): ApiError {
  return new ApiError(
    415,
    'UnsupportedMediaType',
    `the body of the request was in an unknown format - accepted media types include: ${accepted.join(', ')}`,
  );
}

export function serviceUnavailable(message = 'the server is currently unable to handle the request'): ApiError {
  return new ApiError(503, 'ServiceUnavailable', message, { retryAfterSeconds: 1 });
}

export function internalError(message: string): ApiError {
  return new ApiError(500, 'InternalError', `Internal error occurred: ${message}`);
}
