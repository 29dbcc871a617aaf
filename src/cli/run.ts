import { randomUUID } from 'node:crypto';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { parseHookUrl, runDeploy } from './deploy.js';
import { CliError, EXIT, UsageError, type ExitCode } from './exit-codes.js';
import type { GraphQLClient } from './graphql-client.js';
import { HELP } from './help.js';
import { Output, type CliIo } from './output.js';

type Options = NonNullable<ParseArgsConfig['options']>;

const COMMON: Options = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const ADMIN: Options = {
  ...COMMON,
  api: { type: 'string' },
  token: { type: 'string' },
};

const DEPLOY: Options = {
  ...COMMON,
  hook: { type: 'string' },
  branch: { type: 'string' },
  'clear-cache': { type: 'boolean' },
  wait: { type: 'boolean' },
  timeout: { type: 'string' },
  'idempotency-key': { type: 'string' },
};

/** Every command: its words, its flags and how many positional arguments it takes. */
const COMMANDS: Record<string, { options: Options; positionals?: string[] }> = {
  deploy: { options: DEPLOY },
  'service create': { options: { ...ADMIN, name: { type: 'string' }, repo: { type: 'string' }, branch: { type: 'string' } } },
  'service list': { options: ADMIN },
  'hook create': { options: { ...ADMIN, service: { type: 'string' }, name: { type: 'string' } } },
  'hook list': { options: { ...ADMIN, service: { type: 'string' } } },
  'hook revoke': { options: ADMIN, positionals: ['ID'] },
  'token create': { options: { ...ADMIN, name: { type: 'string' }, role: { type: 'string' } } },
};

type Values = Record<string, string | boolean | undefined>;

/** Runs the CLI on `argv` (without node and the script) and returns the exit code. */
export async function runCli(argv: string[], io: CliIo): Promise<ExitCode> {
  const wantsJson = argv.includes('--json');
  const out = new Output(io, { json: wantsJson });
  try {
    return await dispatch(argv, io, out);
  } catch (error) {
    if (error instanceof UsageError) {
      out.error(error.message);
      out.note(`Run "stackblaze${error.command ? ` ${error.command}` : ''} --help" for usage.`);
      return error.exitCode;
    }
    if (error instanceof CliError) {
      out.error(error.message);
      return error.exitCode;
    }
    out.error(`unexpected error: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    return EXIT.FAILED;
  }
}

async function dispatch(argv: string[], io: CliIo, out: Output): Promise<ExitCode> {
  const [first, second] = argv;
  if (first === undefined || first === '--help' || first === '-h') return help(io, '');
  if (first === 'help') return help(io, argv.slice(1).filter((a) => !a.startsWith('-')).join(' '));
  if (first === '--version' || first === '-V') {
    io.stdout.write(`${await version()}\n`);
    return EXIT.OK;
  }

  const name = first === 'deploy' ? 'deploy' : `${first} ${second ?? ''}`.trim();
  const command = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (!command) {
    const group = first !== 'deploy' && Object.hasOwn(HELP, first);
    if (group && (second === '--help' || second === '-h')) return help(io, first);
    if (group && second === undefined) {
      io.stderr.write(`stackblaze: "${first}" needs a subcommand\n${HELP[first]}\n`);
      return EXIT.USAGE;
    }
    throw new UsageError(`unknown command "${name}"`);
  }
  const rest = argv.slice(name.split(' ').length);
  if (rest.includes('--help') || rest.includes('-h')) return help(io, name);

  let parsed: { values: Values; positionals: string[] };
  try {
    parsed = parseArgs({ args: rest, options: command.options, allowPositionals: true, strict: true }) as typeof parsed;
  } catch (error) {
    // parseArgs appends advice about `--` that only confuses here.
    const message = error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error);
    throw new UsageError(message, name);
  }
  const expected = command.positionals ?? [];
  if (parsed.positionals.length !== expected.length) {
    throw new UsageError(
      expected.length ? `${name} takes exactly: ${expected.join(' ')}` : `unexpected argument "${parsed.positionals[0]}"`,
      name,
    );
  }
  const values = parsed.values;
  const [positional] = parsed.positionals;

  if (name === 'deploy') return deploy(values, io, out);

  // Loaded only here: graphql and the typed documents are most of the CLI's start-up time.
  const { createHook, createService, createToken, listHooks, listServices, parseRole, revokeHook } = await import('./admin.js');
  const client = await adminClient(values, io, out, name);
  switch (name) {
    case 'service create':
      return createService(client, out, {
        name: required(values, 'name', name),
        repoUrl: required(values, 'repo', name),
        defaultBranch: optional(values, 'branch'),
      });
    case 'service list':
      return listServices(client, out);
    case 'hook create':
      return createHook(client, out, { serviceId: required(values, 'service', name), name: required(values, 'name', name) });
    case 'hook list':
      return listHooks(client, out, required(values, 'service', name));
    case 'hook revoke':
      return revokeHook(client, out, positional!);
    case 'token create':
      return createToken(client, out, { name: required(values, 'name', name), role: parseRole(required(values, 'role', name)) });
    default:
      throw new UsageError(`unknown command "${name}"`);
  }
}

async function deploy(values: Values, io: CliIo, out: Output): Promise<ExitCode> {
  const hook = optional(values, 'hook') ?? nonEmpty(io.env.STACKBLAZE_HOOK_URL);
  if (!hook) throw new UsageError('--hook URL is required (or set STACKBLAZE_HOOK_URL)', 'deploy');
  const hookUrl = parseHookUrl(hook);
  if (hookUrl.protocol === 'http:' && !isLoopback(hookUrl.hostname)) {
    out.note('warning: the hook URL is http://, so its secret token crosses the network unencrypted; use https://');
  }
  let timeoutSeconds: number | null = null;
  const timeout = optional(values, 'timeout');
  if (timeout !== null) {
    timeoutSeconds = Number(timeout);
    if (!/^\d+(\.\d+)?$/.test(timeout) || !(timeoutSeconds > 0)) throw new UsageError('--timeout must be a number of seconds above 0', 'deploy');
  }
  const idempotencyKey = optional(values, 'idempotency-key') ?? randomUUID();
  if (!/^[\x21-\x7e]{1,255}$/.test(idempotencyKey)) {
    throw new UsageError('--idempotency-key must be 1 to 255 printable ASCII characters without spaces', 'deploy');
  }
  return runDeploy(
    {
      hookUrl,
      branch: optional(values, 'branch'),
      clearCache: values['clear-cache'] === true,
      wait: values.wait === true,
      timeoutSeconds,
      idempotencyKey,
    },
    out,
  );
}

async function adminClient(values: Values, io: CliIo, out: Output, command: string): Promise<GraphQLClient> {
  const apiUrl = optional(values, 'api') ?? nonEmpty(io.env.STACKBLAZE_API_URL);
  if (!apiUrl) throw new UsageError('--api URL is required (or set STACKBLAZE_API_URL)', command);
  const token = optional(values, 'token') ?? nonEmpty(io.env.STACKBLAZE_TOKEN);
  if (!token) throw new UsageError('--token is required (or set STACKBLAZE_TOKEN)', command);
  const { GraphQLClient } = await import('./graphql-client.js');
  return new GraphQLClient({ apiUrl, token, onRetry: (why, wait) => out.note(`${why}; retrying in ${wait}s`) });
}

function help(io: CliIo, topic: string): ExitCode {
  const text = Object.hasOwn(HELP, topic) ? HELP[topic] : undefined;
  if (text === undefined) {
    io.stderr.write(`stackblaze: no help for "${topic}"\n${HELP['']}\n`);
    return EXIT.USAGE;
  }
  io.stdout.write(`${text}\n`);
  return EXIT.OK;
}

function optional(values: Values, key: string): string | null {
  const value = values[key];
  return typeof value === 'string' ? value : null;
}

function required(values: Values, key: string, command: string): string {
  const value = optional(values, key);
  if (value === null || value.trim() === '') throw new UsageError(`--${key} is required`, command);
  return value;
}

function nonEmpty(value: string | undefined): string | null {
  return value === undefined || value.trim() === '' ? null : value.trim();
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname);
}

async function version(): Promise<string> {
  const { readFile } = await import('node:fs/promises');
  const pkg = JSON.parse(await readFile(new URL('../../package.json', import.meta.url), 'utf8')) as { version?: string };
  return pkg.version ?? 'unknown';
}
