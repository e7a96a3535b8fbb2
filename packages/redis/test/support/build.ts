import { buildPackages } from '../../../../scripts/build-packages.mjs';

/**
 * Builds the given workspace packages (`packages/<dir>`) for child processes, which run dist/,
 * skipping those whose dist/ is newer than every file of their src/.
 */
export async function buildForChildren(_root: string, dirs: string[]): Promise<void> {
  buildPackages(dirs);
}
