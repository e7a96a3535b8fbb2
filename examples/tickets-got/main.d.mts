export interface RunResult {
  label: string;
  tickets: number;
  duplicated: number;
  lostResponses: number;
  errors5xx: number;
  failed: number;
}
export function run(options?: {
  incidents?: number;
  seed?: number;
  log?: (line: string) => void;
}): Promise<{ bare: RunResult; oncely: RunResult }>;
