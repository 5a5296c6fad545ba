/**
 * Performatives written in full. rhea leaves out trailing fields it has no value for, which AMQP allows,
 * but clients that read a performative as a fixed-length list (the Python SDK's pyamqp: `frame[9]` of an
 * open, `frame[13]` of an attach, a transfer's payload at `frame[11]`, `error[2]`) fail on the short
 * list. So every performative and every error in one goes out with all its fields, and the fields whose
 * absence means a default are written with that default, as the service writes them.
 */
interface Shape {
  fields: number;
  /** Fields written with a value when absent: the spec's default, or an empty map. */
  defaults?: [name: string, value: unknown][];
  /** Indexes of the fields that may hold an error (directly, or in a rejected outcome). */
  errors?: number[];
}

/** By descriptor code (AMQP 1.0 part 2.7). */
const performatives = new Map<number, Shape>([
  [
    0x10, // open
    {
      fields: 10,
      defaults: [
        ['max_frame_size', 4294967295],
        ['channel_max', 65535],
        ['properties', {}],
      ],
    },
  ],
  [
    0x11, // begin
    {
      fields: 8,
      defaults: [
        ['handle_max', 4294967295],
        ['properties', {}],
      ],
    },
  ],
  [
    0x12, // attach
    {
      fields: 14,
      defaults: [
        ['snd_settle_mode', 2],
        ['rcv_settle_mode', 0],
        ['properties', {}],
      ],
    },
  ],
  [0x13, { fields: 11 }], // flow
  [0x14, { fields: 11 }], // transfer
  [0x15, { fields: 6, errors: [4] }], // disposition: its state
  [0x16, { fields: 3, errors: [2] }], // detach
  [0x17, { fields: 1, errors: [0] }], // end
  [0x18, { fields: 1, errors: [0] }], // close
]);

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

/** Pads an error (or the error inside an outcome such as rejected) to its three fields, in place. */
function completeError(value: unknown, depth = 0): void {
  if (!value || typeof value !== 'object' || depth > 1) return;
  const typed = value as TypedList;
  if (!Array.isArray(typed.value)) return;
  if (typed.descriptor && Number(typed.descriptor.value) === errorCode) {
    if (typed.value.length < errorFields) typed.value.length = errorFields;
    return;
  }
  for (const item of typed.value) completeError(item, depth + 1);
}

/** Completes a performative (one of rhea's frame composites) in place before it is encoded. */
export function completePerformative(performative: unknown): void {
  if (!performative || typeof performative !== 'object') return;
  const p = performative as Composite;
  const code = p.constructor?.descriptor?.numeric;
  const shape = code === undefined ? undefined : performatives.get(code);
  if (!shape || !Array.isArray(p.value)) return;
  if (shape.defaults) {
    for (const [name, value] of shape.defaults)
      if (p[name] === undefined || p[name] === null) p[name] = value;
  }
  if (p.value.length < shape.fields) p.value.length = shape.fields;
  if (shape.errors) for (const i of shape.errors) completeError(p.value[i]);
}
