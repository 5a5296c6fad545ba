/**
 * Performatives written in full. rhea leaves out trailing fields it has no value for, which AMQP allows,
 * but clients that read a performative as a fixed-length list (the Python SDK's pyamqp: `frame[9]` of an
 * open, `frame[13]` of an attach, a transfer's payload at `frame[11]`, `error[2]`) fail on the short
 * list. So every performative and every error in one goes out with all its fields, and the fields whose
 * absence means a default are written with that default, as the service writes them.
 */
interface Shape {
  fields: number;
  /** Field name → value written when the field is absent (the spec's default, or an empty map). */
  defaults?: Record<string, unknown>;
}

/** By descriptor code (AMQP 1.0 part 2.7). */
const performatives: Record<number, Shape> = {
  16: { fields: 10, defaults: { max_frame_size: 4294967295, channel_max: 65535, properties: {} } },
  17: { fields: 8, defaults: { handle_max: 4294967295, properties: {} } },
  18: { fields: 14, defaults: { snd_settle_mode: 2, rcv_settle_mode: 0, properties: {} } },
  19: { fields: 11 },
  20: { fields: 11 },
  21: { fields: 6 },
  22: { fields: 3 },
  23: { fields: 1 },
  24: { fields: 1 },
};

const errorCode = 0x1d;
const errorFields = 3;

interface Composite {
  value: unknown[];
  constructor: { descriptor?: { numeric: number } };
  [field: string]: unknown;
}

interface TypedList {
  descriptor?: { value: unknown };
  value: unknown;
}

// rhea writes a missing (undefined) list entry as null, so lengthening a list appends nulls.

/** Pads described lists that hold an error (a detach's, or a rejected outcome's), in place. */
function completeErrors(value: unknown, depth: number): void {
  if (!value || typeof value !== 'object' || depth > 2) return;
  const typed = value as TypedList;
  if (!Array.isArray(typed.value)) return;
  if (typed.descriptor && Number(typed.descriptor.value) === errorCode) {
    if (typed.value.length < errorFields) typed.value.length = errorFields;
    return;
  }
  for (const item of typed.value) completeErrors(item, depth + 1);
}

/** Completes a performative (one of rhea's frame composites) in place before it is encoded. */
export function completePerformative(performative: unknown): void {
  if (!performative || typeof performative !== 'object') return;
  const p = performative as Composite;
  const code = p.constructor?.descriptor?.numeric;
  const shape = code === undefined ? undefined : performatives[code];
  if (!shape || !Array.isArray(p.value)) return;
  for (const [name, value] of Object.entries(shape.defaults ?? {})) {
    if (p[name] === undefined || p[name] === null) p[name] = value;
  }
  if (p.value.length < shape.fields) p.value.length = shape.fields;
  for (const field of p.value) completeErrors(field, 0);
}
