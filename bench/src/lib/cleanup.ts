/** Child processes and temp dirs the bench owns: removed at exit, on error and on SIGINT/SIGTERM. */
const tasks: Array<() => void> = [];
let installed = false;

/** Registers a synchronous cleanup; it runs once, in reverse order of registration. */
export function onCleanup(task: () => void): () => void {
  install();
  tasks.push(task);
  return () => {
    const i = tasks.indexOf(task);
    if (i >= 0) tasks.splice(i, 1);
  };
}

export function runCleanup(): void {
  while (tasks.length > 0) {
    const task = tasks.pop()!;
    try {
      task();
    } catch {
      // best effort: the others must still run
    }
  }
}

function install(): void {
  if (installed) return;
  installed = true;
  process.on('exit', runCleanup);
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.on(signal, () => {
      runCleanup();
      process.exit(signal === 'SIGINT' ? 130 : 143);
    });
  }
  process.on('uncaughtException', (error) => {
    console.error(error);
    runCleanup();
    process.exit(1);
  });
  process.on('unhandledRejection', (error) => {
    console.error(error);
    runCleanup();
    process.exit(1);
  });
}
