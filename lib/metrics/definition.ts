import { z } from 'zod';

/**
 * A metric, declared rather than coded: which events (names, `prefix.*` or `*`), an optional
 * condition, the fields to group by, one aggregation and the event-time windows to keep.
 */
export const WINDOWS = ['1m', '1h', '1d'] as const;
export type WindowSize = (typeof WINDOWS)[number];

const coreFields = {
  deviceId: 'device_id',
  userId: 'user_id',
  sessionId: 'session_id',
  os: 'os',
  osVersion: 'os_version',
  app: 'app',
  appVersion: 'app_version',
  locale: 'locale',
  userKind: 'user_kind',
} as const;

/** `name`, `core.<field>`, `data.<key>[.<key>…]` or `custom.<key>`. */
export const FieldPathSchema = z
  .string()
  .regex(
    new RegExp(
      `^(name|core\\.(${Object.keys(coreFields).join('|')})|data(\\.[A-Za-z0-9_-]{1,128}){1,8}|custom\\.[A-Za-z0-9_.-]{1,128})$`,
    ),
    'a field is `name`, `core.<field>`, `data.<key>` (nested keys joined by dots) or `custom.<key>`',
  );
export type FieldPath = z.infer<typeof FieldPathSchema>;

const Scalar = z.union([z.string().max(256), z.number(), z.boolean()]);

export const ConditionSchema = z
  .strictObject({
    field: FieldPathSchema,
    op: z.enum(['=', '!=', '<', '<=', '>', '>=', 'in', 'exists']),
    /** A literal (a list for `in`) … */
    value: z.union([Scalar, z.array(Scalar).min(1).max(100)]).optional(),
    /** … or another field of the same event (`data.value > data.valueThreshold`). */
    valueField: FieldPathSchema.optional(),
  })
  .superRefine((c, ctx) => {
    const operands = (c.value === undefined ? 0 : 1) + (c.valueField === undefined ? 0 : 1);
    if (c.op === 'exists' ? operands !== 0 : operands !== 1) {
      ctx.addIssue({
        code: 'custom',
        message: c.op === 'exists' ? '`exists` takes no value' : 'give either `value` or `valueField`',
      });
    }
    if ((c.op === 'in') !== Array.isArray(c.value) || (c.op === 'in' && c.valueField)) {
      ctx.addIssue({ code: 'custom', message: '`in` takes a list `value`, and only `in` does' });
    }
  });
export type Condition = z.infer<typeof ConditionSchema>;

export const AggregationSchema = z.discriminatedUnion('fn', [
  z.strictObject({ fn: z.literal('count') }),
  z.strictObject({ fn: z.enum(['sum', 'min', 'max']), field: FieldPathSchema }),
  /** Approximate (HyperLogLog, about 1.6% standard error), mergeable across windows. */
  z.strictObject({ fn: z.literal('distinct'), field: FieldPathSchema }),
]);
export type Aggregation = z.infer<typeof AggregationSchema>;

export const METRIC_NAME = /^[a-z][a-z0-9-]{0,23}$/;

export const MetricDefinitionSchema = z.strictObject({
  name: z.string().regex(METRIC_NAME, 'a metric name is 1-24 lowercase letters, digits and hyphens'),
  description: z.string().max(500).optional(),
  events: z
    .array(
      z
        .string()
        .regex(/^(\*|[A-Za-z][A-Za-z0-9_.-]{0,127}?(\.\*)?)$/, 'an event name, `prefix.*`, or `*` for all'),
    )
    .min(1)
    .max(50),
  /** Every condition must hold. */
  where: z.array(ConditionSchema).max(10).default([]),
  groupBy: z.array(FieldPathSchema).max(5).default([]),
  aggregate: AggregationSchema,
  windows: z.array(z.enum(WINDOWS)).min(1).max(3),
});
export type MetricDefinition = z.infer<typeof MetricDefinitionSchema>;

/** A definition as the workers use it: which version of it, and of which tenant (or built in). */
export interface VersionedMetric {
  definition: MetricDefinition;
  version: number;
}

/** The curated column (or JSON path into `data`/`custom`) a field path reads, as VARCHAR. */
export function fieldSql(path: FieldPath): string {
  if (path === 'name') return 'name';
  const [root, ...rest] = path.split('.');
  if (root === 'core') return coreFields[rest[0] as keyof typeof coreFields];
  // Keys are checked above, so they need no escaping inside the quoted JSON path.
  const jsonPath = root === 'custom' ? `$."${rest.join('.')}"` : `$${rest.map((k) => `."${k}"`).join('')}`;
  return `json_extract_string(${root}, '${jsonPath}')`;
}
