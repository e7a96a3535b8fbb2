import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';

/**
 * Real redis-server processes for tests: on free loopback ports, without RDB snapshots, in temp dirs,
 * stopped by the test that started them. Shared with other suites (chaos, CLI).
 */
export interface RedisServer {
  readonly port: number;
  readonly url: string;
  readonly dir: string;
  readonly running: boolean;
  /** SIGTERM (or SIGKILL) and wait for the exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
  /** Starts again on the same port and dir (AOF files, if any, are replayed). */
  restart(): Promise<void>;
  /** Stops and removes the temp dir. */
  destroy(): Promise<void>;
}

export interface StartOptions {
  /** Extra redis-server arguments, e.g. `['--appendonly', 'yes']`. */
  args?: string[];
  port?: number;
}

const execFileAsync = promisify(execFile);

/** A TCP port free now on 127.0.0.1 (and, when asked, its cluster bus port +10000 too). */
export async function freePort(withBus = false): Promise<number> {
  for (;;) {
    const port = await listenOnce(0);
    if (!withBus || (port < 55_535 && (await isFree(port + 10_000)))) return port;
  }
}

function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => resolve(typeof address === 'object' && address ? address.port : port));
    });
  });
}

async function isFree(port: number): Promise<boolean> {
  try {
    await listenOnce(port);
    return true;
  } catch {
    return false;
  }
}

export async function startRedis(options: StartOptions = {}): Promise<RedisServer> {
  const port = options.port ?? (await freePort(options.args?.includes('--cluster-enabled')));
  const dir = mkdtempSync(join(tmpdir(), `oncely-redis-${port}-`));
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--dir',
    dir,
    ...(options.args ?? []),
  ];
  let child: ChildProcess | undefined = await launch(args);
  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir,
    get running() {
      return child !== undefined;
    },
    async stop(signal = 'SIGTERM') {
      const current = child;
      child = undefined;
      if (!current || current.exitCode !== null) return;
      const exited = once(current, 'exit');
      current.kill(signal);
      await exited;
    },
    async restart() {
      if (child) throw new Error(`redis-server on ${port} is still running`);
      child = await launch(args);
    },
    async destroy() {
      await server.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}

/** Spawns redis-server and resolves once it accepts connections. */
async function launch(args: string[]): Promise<ChildProcess> {
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let log = '';
  await new Promise<void>((resolve, reject) => {
    const onData = (chunk: Buffer) => {
      log += chunk.toString();
      if (/Ready to accept connections/.test(log)) {
        child.stdout?.off('data', onData);
        child.off('exit', onExit);
        child.off('error', reject);
        resolve();
      }
    };
    const onExit = (code: number | null) =>
      reject(new Error(`redis-server exited (${code}) before ready:\n${log}`));
    child.stdout?.on('data', onData);
    child.once('exit', onExit);
    child.once('error', reject);
  });
  child.stdout?.resume();
  child.stderr?.resume();
  return child;
}

export interface RedisCluster {
  readonly nodes: RedisServer[];
  /** `{ host, port }` of every master, for ioredis `new Cluster(...)`. */
  readonly startupNodes: { host: string; port: number }[];
  destroy(): Promise<void>;
}

/** A real cluster of `masters` masters without replicas, slots spread by `redis-cli --cluster create`. */
export async function startCluster(masters = 3): Promise<RedisCluster> {
  const nodes: RedisServer[] = [];
  try {
    for (let i = 0; i < masters; i++) {
      nodes.push(
        await startRedis({
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--appendonly', 'no'],
        }),
      );
    }
    const addresses = nodes.map((node) => `127.0.0.1:${node.port}`);
    await execFileAsync('redis-cli', [
      '--cluster',
      'create',
      ...addresses,
      '--cluster-replicas',
      '0',
      '--cluster-yes',
    ]);
    for (const node of nodes) await waitClusterOk(node.port);
  } catch (error) {
    await Promise.all(nodes.map((node) => node.destroy()));
    throw error;
  }
  return {
    nodes,
    startupNodes: nodes.map((node) => ({ host: '127.0.0.1', port: node.port })),
    destroy: async () => {
      await Promise.all(nodes.map((node) => node.destroy()));
    },
  };
}

/** Polls `CLUSTER INFO` until the node sees every slot covered (bounded: throws after 20 s). */
async function waitClusterOk(port: number): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (;;) {
    const { stdout } = await execFileAsync('redis-cli', ['-p', String(port), 'cluster', 'info']);
    if (stdout.includes('cluster_state:ok')) return;
    if (Date.now() > deadline)
      throw new Error(`cluster node ${port} never reached cluster_state:ok:\n${stdout}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
