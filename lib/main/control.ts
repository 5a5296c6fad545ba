import { odata, type TableClient } from '@azure/data-tables';
import { z } from 'zod';
import { isStatus } from '../clients/errors.js';
import { type Backoff, BackoffSchema } from './backoff.js';
import { MainError } from './errors.js';

/**
 * Main's control table: the live cursor of each pipeline (partition `live`, row = pipeline), its
 * completed-through state (partition `completed`), the back-off of each scope (partition
 * `backoff`) and replays (partition `replay`, row = `<pipeline>~<id>`). A cursor names the next state to process; it only moves by ETag-conditional
 * writes, so two writers can never both advance it.
 */
export const controlTable = 'cursors';

const stateId = z.string().regex(/^\d{12}$/);

export const CursorSchema = z.object({
  pipeline: z.string(),
  next: stateId,
  updatedAt: z.string(),
});
export type Cursor = z.infer<typeof CursorSchema> & { etag: string };

/** Every task of the pipeline's live run at or before `through` is done (as is every earlier state). */
export const CompletedSchema = z.object({
  pipeline: z.string(),
  through: stateId,
  updatedAt: z.string(),
});
export type Completed = z.infer<typeof CompletedSchema>;

export const ReplayStatusSchema = z.enum(['pending', 'running', 'done']);

export const ReplaySchema = z.object({
  id: z.string(),
  pipeline: z.string(),
  from: stateId,
  to: stateId,
  /** Empty: every tenant. */
  tenant: z.string().default(''),
  next: stateId,
  status: ReplayStatusSchema,
  requestedAt: z.string(),
  states: z.number().int().default(0),
  tasks: z.number().int().default(0),
  finishedAt: z.string().default(''),
});
export type Replay = z.infer<typeof ReplaySchema> & { etag: string };

export interface Control {
  cursors: Map<string, Cursor>;
  completed: Map<string, Completed>;
  backoffs: Map<string, Backoff & { etag: string }>;
  /** Replays not yet done, oldest request first. */
  replays: Replay[];
}

const withEtag = <T>(value: T, entity: { etag?: string }) => ({ ...value, etag: entity.etag ?? '*' });

/** Everything a run needs from the control table, in one query. */
export async function readControl(table: TableClient): Promise<Control> {
  const control: Control = { cursors: new Map(), completed: new Map(), backoffs: new Map(), replays: [] };
  const filter =
    "PartitionKey eq 'live' or PartitionKey eq 'completed' or PartitionKey eq 'backoff' or (PartitionKey eq 'replay' and status ne 'done')";
  try {
    for await (const entity of table.listEntities({ queryOptions: { filter } })) {
      if (entity.partitionKey === 'live') {
        const c = CursorSchema.parse(entity);
        control.cursors.set(c.pipeline, withEtag(c, entity));
      } else if (entity.partitionKey === 'completed') {
        const c = CompletedSchema.parse(entity);
        control.completed.set(c.pipeline, c);
      } else if (entity.partitionKey === 'backoff') {
        const b = BackoffSchema.parse(entity);
        control.backoffs.set(b.scope, withEtag(b, entity));
      } else {
        control.replays.push(withEtag(ReplaySchema.parse(entity), entity));
      }
    }
  } catch (err) {
    throw new MainError('CONTROL_UNAVAILABLE', `Could not read main's control table '${table.tableName}'`, {
      cause: err,
    });
  }
  control.replays.sort((a, b) => a.requestedAt.localeCompare(b.requestedAt) || a.id.localeCompare(b.id));
  return control;
}

/** Creates a cursor for a pipeline that has none; when another writer got there first, returns theirs. */
export async function createCursor(
  table: TableClient,
  pipeline: string,
  next: string,
  now: Date,
): Promise<Cursor> {
  const value = { pipeline, next, updatedAt: now.toISOString() };
  const { entity } = await createOrGet(table, 'live', pipeline, value, CursorSchema);
  return entity;
}

/** Moves a cursor to `next` if nobody else moved it since it was read. */
export async function advanceCursor(
  table: TableClient,
  cursor: Cursor,
  next: string,
  now: Date,
): Promise<Cursor> {
  const value = { pipeline: cursor.pipeline, next, updatedAt: now.toISOString() };
  return replaceIfMatch(
    table,
    'live',
    cursor.pipeline,
    value,
    cursor.etag,
    `The cursor of pipeline '${cursor.pipeline}' was moved by another writer; this run stops for it`,
  );
}

/** Main is the only writer (under its lease) and only moves it forward. */
export async function saveCompleted(table: TableClient, completed: Completed): Promise<void> {
  await table.upsertEntity(
    { partitionKey: 'completed', rowKey: completed.pipeline, ...completed },
    'Replace',
  );
}

export async function saveBackoff(table: TableClient, backoff: Backoff): Promise<void> {
  await table.upsertEntity({ partitionKey: 'backoff', rowKey: backoff.scope, ...backoff }, 'Replace');
}

export async function clearBackoff(table: TableClient, scope: string): Promise<void> {
  await table.deleteEntity('backoff', scope).catch((err) => {
    if (!isStatus(err, 404)) throw err;
  });
}

export const replayRowKey = (pipeline: string, id: string) => `${pipeline}~${id}`;

/** Inserts a replay; if one with the same id exists, returns it (the caller compares parameters). */
export async function insertReplay(
  table: TableClient,
  replay: Omit<Replay, 'etag'>,
): Promise<{ created: boolean; replay: Replay }> {
  const { created, entity } = await createOrGet(
    table,
    'replay',
    replayRowKey(replay.pipeline, replay.id),
    replay,
    ReplaySchema,
  );
  return { created, replay: entity };
}

/** Records a replay's progress, ETag-conditional like a cursor. */
export async function updateReplay(table: TableClient, replay: Replay): Promise<Replay> {
  const { etag, ...value } = replay;
  return replaceIfMatch(
    table,
    'replay',
    replayRowKey(replay.pipeline, replay.id),
    value,
    etag,
    `Replay '${replay.id}' was moved by another writer`,
  );
}

/** Creates the row; when another writer created it first, returns theirs (with its ETag). */
async function createOrGet<T extends Record<string, unknown>>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
  value: T,
  schema: z.ZodType<T>,
): Promise<{ created: boolean; entity: T & { etag: string } }> {
  try {
    const res = await table.createEntity({ partitionKey, rowKey, ...value });
    return { created: true, entity: { ...value, etag: res.etag ?? '*' } };
  } catch (err) {
    if (!isStatus(err, 409)) throw err;
    const entity = await table.getEntity(partitionKey, rowKey);
    return { created: false, entity: withEtag(schema.parse(entity), entity) };
  }
}

/** Replaces the row if its ETag is still `etag`; a lost race is a CURSOR_CONFLICT. */
async function replaceIfMatch<T extends Record<string, unknown>>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
  value: T,
  etag: string,
  conflict: string,
): Promise<T & { etag: string }> {
  try {
    const res = await table.updateEntity({ partitionKey, rowKey, ...value }, 'Replace', { etag });
    return { ...value, etag: res.etag ?? '*' };
  } catch (err) {
    if (isStatus(err, 412)) throw new MainError('CURSOR_CONFLICT', conflict, { cause: err });
    throw err;
  }
}

export async function readReplay(
  table: TableClient,
  pipeline: string,
  id: string,
): Promise<Replay | undefined> {
  try {
    const entity = await table.getEntity('replay', replayRowKey(pipeline, id));
    return withEtag(ReplaySchema.parse(entity), entity);
  } catch (err) {
    if (isStatus(err, 404)) return undefined;
    throw err;
  }
}

/** Every replay (done ones too), newest request first, for the status endpoint. */
export async function listReplays(table: TableClient, limit = 50): Promise<Replay[]> {
  const out: Replay[] = [];
  const filter = odata`PartitionKey eq ${'replay'}`;
  for await (const entity of table.listEntities({ queryOptions: { filter } })) {
    out.push(withEtag(ReplaySchema.parse(entity), entity));
  }
  out.sort((a, b) => b.requestedAt.localeCompare(a.requestedAt) || b.id.localeCompare(a.id));
  return out.slice(0, limit);
}
