const EXIT_CODES = `Exit codes:
  0  succeeded (or, without --wait, the deployment was queued)
  1  the deployment failed, or a request was refused or could not be made
  2  usage error: bad arguments, or input the server refused as invalid
  3  the deployment was cancelled
  4  the deployment timed out
  5  the wait gave up (--timeout, or the status stream was lost and could not
     be resumed): the deployment carries on and its outcome is unknown here`;

const ADMIN_OPTIONS = `  --api URL       the server, e.g. https://deploy.example.com  [env STACKBLAZE_API_URL]
  --token TOKEN   an API token  [env STACKBLAZE_TOKEN; prefer the variable: flags
                  show up in shell history and process lists]
  --json          one JSON object per line on stdout
  -h, --help      this help`;

export const HELP: Record<string, string> = {
  '': `stackblaze: deploy with StackBlaze deploy hooks, and manage services, hooks and tokens

Usage:
  stackblaze deploy --hook URL [--branch B] [--clear-cache] [--wait] [--timeout SECONDS] [--json]
  stackblaze service create --name NAME --repo URL [--branch BRANCH]
  stackblaze service list
  stackblaze hook create --service ID --name NAME
  stackblaze hook list --service ID
  stackblaze hook revoke ID
  stackblaze token create --name NAME --role ADMIN|MEMBER|VIEWER

deploy needs only the hook URL (keep it in a CI secret, STACKBLAZE_HOOK_URL).
The other commands use the GraphQL API with an API token (STACKBLAZE_API_URL,
STACKBLAZE_TOKEN).

Run "stackblaze COMMAND --help" for a command's options.

${EXIT_CODES}`,

  deploy: `Usage: stackblaze deploy --hook URL [options]

POSTs a deploy hook and prints the deployment's ID and status URL. With --wait,
follows its status live and prints one line per transition:

  2026-12-03T12:00:00Z  running  (Started)

then exits with the outcome (0 only when it succeeded).

Options:
  --hook URL                the deploy hook URL  [env STACKBLAZE_HOOK_URL]
  --branch BRANCH           deploy this branch instead of the service's default
  --clear-cache             build without the build cache
  --wait                    follow the deployment until it finishes
  --timeout SECONDS         give up after this long (exit 5); the deployment
                            carries on
  --idempotency-key KEY     sent as Idempotency-Key: the same key for the same
                            service returns the same deployment instead of a
                            new one. Default: a new random key per run, which
                            covers this command's own retries; pass a key that
                            is stable across retries of your CI job (e.g.
                            "$GITHUB_RUN_ID-$GITHUB_RUN_ATTEMPT") to cover those
  --json                    one JSON object per line on stdout
  -h, --help                this help

The status URL contains the hook's secret token, so it is printed with the
token shortened; --json prints it in full.

${EXIT_CODES}`,

  service: `Usage:
  stackblaze service create --name NAME --repo URL [--branch BRANCH]
  stackblaze service list

Run "stackblaze service create --help" or "stackblaze service list --help".`,

  'service create': `Usage: stackblaze service create --name NAME --repo URL [--branch BRANCH] [options]

Creates a service and prints its ID.

  --name NAME     the service's name
  --repo URL      its repository: https://, ssh:// or git@host:path
  --branch BRANCH the branch a hook deploys by default (default: main)
${ADMIN_OPTIONS}`,

  'service list': `Usage: stackblaze service list [options]

Lists the organization's services, newest first.

${ADMIN_OPTIONS}`,

  hook: `Usage:
  stackblaze hook create --service ID --name NAME
  stackblaze hook list --service ID
  stackblaze hook revoke ID

Run "stackblaze hook COMMAND --help" for a command's options.`,

  'hook create': `Usage: stackblaze hook create --service ID --name NAME [options]

Creates a deploy hook and prints its URL on stdout. The URL is shown once and
never again: store it at once as a CI secret (e.g. STACKBLAZE_HOOK_URL).

  --service ID    the service the hook deploys
  --name NAME     a name to recognise the hook by, e.g. "github-actions"
${ADMIN_OPTIONS}`,

  'hook list': `Usage: stackblaze hook list --service ID [options]

Lists a service's hooks, newest first, revoked ones included.

  --service ID    the service
${ADMIN_OPTIONS}`,

  'hook revoke': `Usage: stackblaze hook revoke ID [options]

Revokes a deploy hook: its URL stops working at once. Revoking twice is
harmless.

${ADMIN_OPTIONS}`,

  token: `Usage:
  stackblaze token create --name NAME --role ADMIN|MEMBER|VIEWER

Run "stackblaze token create --help" for its options.`,

  'token create': `Usage: stackblaze token create --name NAME --role ADMIN|MEMBER|VIEWER [options]

Creates an API token and prints it on stdout. It is shown once and never again.
Needs an ADMIN token. Roles: ADMIN manages tokens; MEMBER creates services and
hooks and deploys; VIEWER only reads.

  --name NAME     a name to recognise the token by
  --role ROLE     ADMIN, MEMBER or VIEWER
${ADMIN_OPTIONS}`,
};
