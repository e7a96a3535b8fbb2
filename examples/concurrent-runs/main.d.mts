export interface RunResult {
  label: string;
  invoices: number;
  duplicated: number;
  perProcess: Array<{ sent: number; replayed: number }>;
}
export function run(options?: {
  customers?: number;
  redisUrl?: string;
  log?: (line: string) => void;
}): Promise<{ bare: RunResult; oncely: RunResult }>;
