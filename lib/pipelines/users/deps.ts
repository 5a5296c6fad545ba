import type { Services } from '../../services/index.js';
import { usersContainer } from '../../users/lookup.js';
import { loadDepsFrom } from '../events/deps.js';
import type { UsersDeps } from './users.js';

/** The users pipeline's dependencies, built from the app's services and settings. */
export function usersDepsFrom(s: Services, log?: (message: string) => void): UsersDeps {
  return { ...loadDepsFrom(s, log), users: s.cosmosContainer(usersContainer) };
}
