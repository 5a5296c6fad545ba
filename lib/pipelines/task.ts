import { createHash } from 'node:crypto';
import { z } from 'zod';
import { BlockIndexEntrySchema } from '../landing/blockIndex.js';

/** One raw block a task covers (the block index entry without what the task already says). */
export const BlockRefSchema = BlockIndexEntrySchema.omit({ stateId: true, tenant: true });
export type BlockRef = z.infer<typeof BlockRefSchema>;

/** `live` for the pipeline's own cursor, `replay-<id>` for a replay. */
export const RunSchema = z.string().regex(/^(live|replay-[a-z0-9-]{1,48})$/);
export type Run = z.infer<typeof RunSchema>;

/** The run of a replay's tasks (task ids and task-log rows carry it). */
export const replayRun = (replayId: string) => `replay-${replayId}`;

/**
 * The task message main sends to a pipeline's queue (base64 JSON, as the queue trigger expects):
 * one shard of one tenant's blocks in one state. `blocks` lists the shard's blocks; when the list
 * would not fit in a queue message it is left empty and `blocksInMessage` is false: the worker
 * then reads the state's blocks from the index (the index of a closed state does not change) and
 * takes shard `shard` of `shardBlocks(blocks, shardMaxBytes)`, as main did.
 */
export const TaskMessageSchema = z.object({
  taskId: z.string(),
  pipeline: z.string(),
  run: RunSchema,
  stateId: z.string().regex(/^\d{12}$/),
  tenant: z.string().min(1),
  /** This task's shard of the (state, tenant), 0-based, and how many shards it has. */
  shard: z.number().int().min(0),
  shards: z.number().int().min(1),
  /** The byte budget the shards were cut with (uncompressed). */
  shardMaxBytes: z.number().int().min(1),
  /** How many times main has enqueued this task (2+ after a crash or a retried run). */
  attempt: z.number().int().min(1),
  blockCount: z.number().int().min(1),
  events: z.number().int().min(0),
  /** Compressed bytes of the shard's blocks. */
  bytes: z.number().int().min(0),
  blocksInMessage: z.boolean(),
  blocks: z.array(BlockRefSchema),
});
export type TaskMessage = z.infer<typeof TaskMessageSchema>;

/** Storage queue messages are at most 64 KiB; base64 makes 48 KiB of JSON. Keep a margin. */
export const maxMessageJsonBytes = 46 * 1024;

/**
 * The deterministic id of a task: the same (pipeline, run, state, tenant, shard) always gets the
 * same id, so a task enqueued again after a crash is recognisably the same task.
 */
export function taskIdOf(pipeline: string, run: string, stateId: string, tenant: string, shard = 0): string {
  const digest = createHash('sha256')
    .update(`${pipeline}\n${run}\n${stateId}\n${tenant}\n${shard}`)
    .digest('hex');
  return `${pipeline}-${stateId}-${digest.slice(0, 16)}`;
}

export function encodeTask(task: TaskMessage): string {
  let json = JSON.stringify(task);
  if (Buffer.byteLength(json) > maxMessageJsonBytes) {
    json = JSON.stringify({ ...task, blocksInMessage: false, blocks: [] });
  }
  return Buffer.from(json).toString('base64');
}

/** Parses what the queue trigger hands a worker (already JSON-decoded) or a raw base64 text. */
export function decodeTask(input: unknown): TaskMessage {
  const value = typeof input === 'string' ? JSON.parse(Buffer.from(input, 'base64').toString('utf8')) : input;
  return TaskMessageSchema.parse(value);
}
