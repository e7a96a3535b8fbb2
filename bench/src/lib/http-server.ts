import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { onCleanup } from './cleanup.js';

export interface DownstreamServer {
  base: string;
  pid: number;
  /** Writes that reached `path`. */
  count(path: string): Promise<number>;
  stop(): void;
}

/** Forks `server.ts` (through tsx) (the downstream API) and waits for its port. */
export async function startDownstream(): Promise<DownstreamServer> {
  const entry = fileURLToPath(new URL('../server.ts', import.meta.url));
  const child = fork(entry, [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    execArgv: ['--import', 'tsx'],
  });
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  };
  const unregister = onCleanup(stop);
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (message) => resolve((message as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`downstream server exited (${code})`)));
  });
  const base = `http://127.0.0.1:${port}`;
  return {
    base,
    pid: child.pid ?? 0,
    async count(path: string) {
      const res = await fetch(`${base}/__count?path=${encodeURIComponent(path)}`);
      return ((await res.json()) as { count: number }).count;
    },
    stop() {
      stop();
      unregister();
    },
  };
}
