import { builder } from './builder.js';
import './organization.js';
import './service.js';
import './hook.js';
import './deployment.js';
import './subscription.js';

export function buildSchema() {
  return builder.toSchema({ sortSchema: true });
}
