import { builder } from './builder.js';
import './organization.js';
import './service.js';
import './hook.js';
import './deployment.js';

export function buildSchema() {
  return builder.toSchema({ sortSchema: true });
}
