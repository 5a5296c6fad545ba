import type { Container } from '@azure/cosmos';
import { pseudonymizerFor } from '../ingest/privacy.js';
import { readUserLookup, type UserLookup } from '../users/lookup.js';
import { badRequest, QueryApiError } from './errors.js';
import { UserIdSchema } from './schemas.js';

export interface UsersDeps {
  users: Container;
  privacySecret: string;
}

/**
 * GET /v1/users/{userId}: the caller passes the id its app knows; ingest stored external users
 * under the tenant's keyed pseudonym of it, so that is looked up first. Internal and test users
 * are stored as sent, so the id itself is looked up next.
 */
export async function lookUpUser(deps: UsersDeps, tenant: string, userId: string): Promise<UserLookup> {
  if (!UserIdSchema.safeParse(userId).success)
    throw badRequest('USER_ID_INVALID', 'A user id is 1-256 characters, as the app sent it in core.userId');
  const pseudonym = pseudonymizerFor(deps.privacySecret, tenant).pseudonym(userId);
  const found =
    (await readUserLookup(deps.users, tenant, pseudonym)) ??
    (await readUserLookup(deps.users, tenant, userId));
  if (!found) {
    throw new QueryApiError(
      404,
      'USER_NOT_FOUND',
      'No events of this user have been processed (user lookups follow the pipeline by a minute or two)',
    );
  }
  return found;
}
