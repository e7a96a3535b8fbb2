/** Builds the given `packages/<dir>` whose dist/ is older than src/, in order, with the workspace's tsc. */
export function buildPackages(dirs: string[]): void;
/** Whether a package folder's dist/ is missing or older than its src/. */
export function isStale(pkg: string): boolean;
