export interface RunResult {
  label: string;
  firstRun: string;
  killed: boolean;
  charges: number;
  doubleCharged: number;
  /** The rerun's lines: `<order> <status> <sent | store-replay | provider-replay>`. */
  rerun: string[];
}
export function run(options?: {
  orders?: number;
  killAt?: number;
  redisUrl?: string;
  log?: (line: string) => void;
}): Promise<{ bare: RunResult; oncely: RunResult }>;
