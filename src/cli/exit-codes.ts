/**
 * Exit codes are part of the CLI's interface: CI scripts branch on them. Keep them stable and keep
 * src/cli/README.md in step.
 */
export const EXIT = {
  OK: 0,
  /** The deployment failed, or a request was refused or could not be made. */
  FAILED: 1,
  /** Wrong arguments, or a request the server refused as invalid (400). */
  USAGE: 2,
  CANCELLED: 3,
  /** The deployment itself timed out (Tekton's PipelineRun timeout). */
  TIMED_OUT: 4,
  /** The wait gave up (--timeout, or the status stream broke and could not be resumed): the outcome is unknown. */
  OUTCOME_UNKNOWN: 5,
} as const;

export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** An error the CLI reports as one line on stderr, then exits with `exitCode`. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: ExitCode = EXIT.FAILED,
  ) {
    super(message);
    this.name = 'CliError';
  }
}

export class UsageError extends CliError {
  constructor(
    message: string,
    /** The command whose --help to point at, e.g. `deploy` or `hook create`. */
    readonly command?: string,
  ) {
    super(message, EXIT.USAGE);
    this.name = 'UsageError';
  }
}
