import type { Viewer } from '../resolvers/auth.js';
import type { DomainServices } from '../resolvers/index.js';

/** What every resolver receives: the authenticated caller and the domain services. */
export interface GraphQLContext {
  viewer: Viewer;
  services: DomainServices;
}
