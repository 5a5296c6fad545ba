import { randomBytes } from 'node:crypto';
import type { TableClient } from '@azure/data-tables';
import { z } from 'zod';
import type { Pipeline } from '../pipelines/pipeline.js';
import { isStateId, stateIdOf } from '../temporal/index.js';
import { insertReplay, type Replay } from './control.js';
import { MainError } from './errors.js';

/** A state id (`yyyyMMddHHmm`) or an ISO-8601 time with a zone, normalised to the state containing it. */
const StateOrTime = z.union([
  z
    .string()
    .regex(/^\d{12}$/)
    .refine(isStateId, 'not a valid state id (yyyyMMddHHmm)'),
  z.iso.datetime({ offset: true }).transform((t) => stateIdOf(Date.parse(t))),
]);

export const ReplayRequestSchema = z
  .strictObject({
    pipeline: z.string().min(1),
    from: StateOrTime,
    to: StateOrTime,
    tenant: z.string().min(1).max(128).optional(),
    /** Idempotency key: the same id with the same parameters returns the existing replay. */
    id: z
      .string()
      .regex(/^[a-z0-9][a-z0-9-]{0,39}$/, 'lowercase letters, digits and hyphens, at most 40')
      .optional(),
  })
  .refine((r) => r.from <= r.to, { message: '`from` must not be after `to`', path: ['from'] });
export type ReplayRequest = z.infer<typeof ReplayRequestSchema>;

function newReplayId(nowMs: number): string {
  const stamp = new Date(nowMs).toISOString().replace(/\D/g, '').slice(0, 14);
  return `${stamp}-${randomBytes(3).toString('hex')}`;
}

/**
 * Records a replay of `from`..`to` (inclusive) for one pipeline; main enqueues it in order on its
 * next runs, with its own task ids (`replay-<id>`) and without moving the live cursor.
 */
export async function requestReplay(
  deps: { control: TableClient; pipelines: readonly Pick<Pipeline, 'name'>[]; now: () => number },
  body: unknown,
): Promise<{ created: boolean; replay: Replay }> {
  const parsed = ReplayRequestSchema.safeParse(body);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    const where = issue.path.length ? `${issue.path.join('.')}: ` : '';
    throw new MainError('REPLAY_INVALID', `${where}${issue.message}`);
  }
  const request = parsed.data;
  if (!deps.pipelines.some((p) => p.name === request.pipeline)) {
    const known = deps.pipelines.map((p) => p.name).join(', ') || 'none';
    throw new MainError('UNKNOWN_PIPELINE', `No pipeline '${request.pipeline}' (known: ${known})`);
  }
  const nowMs = deps.now();
  const replay = {
    id: request.id ?? newReplayId(nowMs),
    pipeline: request.pipeline,
    from: request.from,
    to: request.to,
    tenant: request.tenant ?? '',
    next: request.from,
    status: 'pending' as const,
    requestedAt: new Date(nowMs).toISOString(),
    states: 0,
    tasks: 0,
    finishedAt: '',
  };
  const result = await insertReplay(deps.control, replay);
  if (!result.created) {
    const same = (['from', 'to', 'tenant'] as const).every((k) => result.replay[k] === replay[k]);
    if (!same) {
      throw new MainError(
        'REPLAY_CONFLICT',
        `Replay '${replay.id}' already exists with different parameters; use another id`,
      );
    }
  }
  return result;
}
