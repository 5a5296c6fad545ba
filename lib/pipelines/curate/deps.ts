import type { Services } from '../../services/index.js';
import { loadDepsFrom } from '../events/deps.js';
import type { CurateDeps } from './curate.js';

/** Curate's dependencies, built from the app's services and settings. */
export function curateDepsFrom(s: Services, log?: (message: string) => void): CurateDeps {
  const load = loadDepsFrom(s, log);
  return { ...load, lake: load.read.lake };
}
