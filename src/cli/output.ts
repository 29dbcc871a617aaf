/** Where a command writes: results to stdout, notes and errors to stderr, so `$(...)` captures only results. */
export interface CliIo {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream;
  env: NodeJS.ProcessEnv;
}

export class Output {
  /** `--json`: stdout carries one JSON object per line and nothing else. */
  readonly json: boolean;
  private readonly color: boolean;

  constructor(
    private readonly io: CliIo,
    options: { json: boolean },
  ) {
    this.json = options.json;
    // Colour only for a person at a terminal: never in CI logs, pipes or files.
    this.color = !options.json && io.stdout.isTTY === true && io.env.NO_COLOR === undefined && io.env.TERM !== 'dumb';
  }

  /** A result line for people (ignored in --json mode, where `record` carries the result). */
  line(text: string): void {
    if (!this.json) this.io.stdout.write(`${text}\n`);
  }

  /** A result for scripts: one JSON object per line (only in --json mode). */
  record(value: Record<string, unknown>): void {
    if (this.json) this.io.stdout.write(`${JSON.stringify(value)}\n`);
  }

  /** Progress and advice that is not the result: retries, resumes, "shown once" notes. */
  note(text: string): void {
    this.io.stderr.write(`${text}\n`);
  }

  error(text: string): void {
    this.io.stderr.write(`stackblaze: ${text}\n`);
  }

  /** A deployment status word, coloured at a terminal. */
  status(status: string): string {
    if (!this.color) return status;
    const code = STATUS_COLOURS[status];
    return code ? `\u001b[${code}m${status}\u001b[0m` : status;
  }

  /** Rows as aligned columns under a header. */
  table(header: string[], rows: string[][]): void {
    const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)));
    for (const row of [header, ...rows]) {
      this.line(row.map((cell, i) => (i === row.length - 1 ? cell : cell.padEnd(widths[i]!))).join('  ').trimEnd());
    }
  }
}

const STATUS_COLOURS: Record<string, string> = {
  queued: '2',
  running: '36',
  cancelling: '33',
  succeeded: '32',
  failed: '31',
  cancelled: '33',
  timed_out: '31',
};

/** `2026-12-03T12:00:00.123Z` as `2026-12-03T12:00:00Z`: seconds are enough in a log. */
export function formatTime(iso: string | null | undefined): string {
  if (!iso) return '-';
  return iso.replace(/\.\d+Z$/, 'Z');
}
