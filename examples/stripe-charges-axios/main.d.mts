export interface RunResult {
  label: string;
  charges: number;
  doubleCharged: number;
  lostResponses: number;
  providerReplays: number;
  failedOrders: number;
}
export function run(options?: {
  orders?: number;
  dropRate?: number;
  seed?: number;
  log?: (line: string) => void;
}): Promise<{ bare: RunResult; oncely: RunResult }>;
