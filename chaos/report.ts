export type Figure = number | string | boolean | null;

export interface ScenarioResult {
  name: string;
  pass: boolean;
  seconds: number;
  figures: Record<string, Figure>;
  /** Every check that did not hold, in words. */
  failures: string[];
}

/** Collects a scenario's figures and the checks that failed, and prints both as it goes. */
export class ScenarioReport {
  readonly figures: Record<string, Figure> = {};
  readonly failures: string[] = [];
  private readonly startedAt = Date.now();

  constructor(
    readonly name: string,
    private readonly print: (line: string) => void = (line) => process.stdout.write(`${line}\n`),
  ) {}

  log(message: string): void {
    this.print(`[${this.name}] ${((Date.now() - this.startedAt) / 1000).toFixed(1).padStart(6)} s  ${message}`);
  }

  figure(name: string, value: Figure): void {
    this.figures[name] = value;
  }

  /** Records a failure unless `ok`; `detail` is printed only on failure. */
  check(ok: boolean, what: string, detail?: () => string): boolean {
    if (!ok) {
      const text = detail ? `${what}: ${detail()}` : what;
      this.failures.push(text);
      this.log(`CHECK FAILED: ${text}`);
    }
    return ok;
  }

  /** A step that threw ends the scenario as failed, with the reason. */
  crashed(error: unknown): void {
    const text = `scenario aborted: ${error instanceof Error ? error.message : String(error)}`;
    this.failures.push(text);
    this.log(text);
  }

  result(): ScenarioResult {
    const result: ScenarioResult = {
      name: this.name,
      pass: this.failures.length === 0,
      seconds: Math.round((Date.now() - this.startedAt) / 100) / 10,
      figures: this.figures,
      failures: this.failures,
    };
    this.print(`[${this.name}] figures ${JSON.stringify(this.figures)}`);
    this.print(`[${this.name}] ${result.pass ? 'PASS' : 'FAIL'} in ${result.seconds} s${result.pass ? '' : `: ${this.failures.length} failed check(s)`}`);
    return result;
  }
}

/** The n-th percentile (0..100) of `values`, or null when empty. */
export function percentile(values: number[], p: number): number | null {
  if (values.length === 0) return null;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.ceil((p / 100) * sorted.length) - 1)]!;
}
