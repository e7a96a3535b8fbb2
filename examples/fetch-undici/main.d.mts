export interface RunResult {
  label: string;
  payouts: number;
  doublePaid: number;
  lostResponses: number;
  providerReplays: number;
  failed: number;
}
export function run(options?: {
  payouts?: number;
  dropRate?: number;
  seed?: number;
  log?: (line: string) => void;
}): Promise<{ bare: RunResult; oncely: RunResult }>;
