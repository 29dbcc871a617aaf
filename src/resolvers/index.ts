import type { Db } from '../db/database.js';
import type { PipelineRunClient } from '../k8s/kube-client.js';
import { AuthService } from './auth.js';
import type { PostgresNotifications } from '../pubsub/postgres-notifications.js';
import type { DeploymentPubSub } from '../pubsub/pubsub.js';
import { DeploymentStreams } from './deployment-streams.js';
import { DeploymentService } from './deployments.js';
import { HookService } from './hooks.js';
import type { DeploymentEvent } from './models.js';
import { OrganizationService } from './organizations.js';
import { ServiceCatalog } from './services.js';

/** Every domain service, wired once per app and handed to GraphQL and the hook route alike. */
export interface DomainServices {
  auth: AuthService;
  organizations: OrganizationService;
  catalog: ServiceCatalog;
  hooks: HookService;
  deployments: DeploymentService;
  streams: DeploymentStreams;
}

export interface DomainServicesProps {
  db: Db;
  publicUrl: string;
  pipelineRuns: PipelineRunClient;
  pubsub: DeploymentPubSub;
  notifications: PostgresNotifications;
  onDeploymentQueued?: (deploymentId: string) => void;
}

export function createDomainServices(props: DomainServicesProps): DomainServices {
  const { db } = props;
  return {
    auth: new AuthService({ db }),
    organizations: new OrganizationService({ db, onTokenRevoked: (tokenId) => props.notifications.notifyTokenRevoked(tokenId) }),
    catalog: new ServiceCatalog({ db }),
    hooks: new HookService({ db, publicUrl: props.publicUrl }),
    deployments: new DeploymentService({
      db,
      pipelineRuns: props.pipelineRuns,
      onQueued: props.onDeploymentQueued,
      onTransition: (event: DeploymentEvent) => props.notifications.notify(event),
    }),
    streams: new DeploymentStreams({ db, pubsub: props.pubsub, notifications: props.notifications }),
  };
}
