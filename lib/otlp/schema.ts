import { z } from 'zod';

/**
 * OTLP/HTTP logs (opentelemetry-proto v1.11.0, `ExportLogsServiceRequest`) in its JSON encoding:
 * lowerCamelCase fields, int64 as decimal strings (or numbers), trace and span ids as hex, bytes as
 * base64, enums as numbers. The protobuf encoding decodes (lib/otlp/generated) to the same field
 * names with int64 as Long and bytes as Uint8Array; the converter reads both. These schemas
 * document the route and type the converter; it reads each field defensively itself.
 */

const int64 = z.union([z.string().regex(/^-?\d+$/), z.number().int()]);

export type AnyValue = {
  stringValue?: string;
  boolValue?: boolean;
  intValue?: string | number;
  doubleValue?: number;
  arrayValue?: { values?: AnyValue[] };
  kvlistValue?: { values?: KeyValue[] };
  bytesValue?: string;
};
export type KeyValue = { key: string; value?: AnyValue };

export const AnyValueSchema: z.ZodType<AnyValue> = z
  .lazy(() =>
    z.object({
      stringValue: z.string().optional(),
      boolValue: z.boolean().optional(),
      intValue: int64.optional(),
      doubleValue: z.number().optional(),
      arrayValue: z.object({ values: z.array(AnyValueSchema).optional() }).optional(),
      kvlistValue: z.object({ values: z.array(KeyValueSchema).optional() }).optional(),
      bytesValue: z.string().optional().meta({ description: 'base64' }),
    }),
  )
  .meta({ id: 'OtlpAnyValue' });

export const KeyValueSchema: z.ZodType<KeyValue> = z
  .lazy(() => z.object({ key: z.string(), value: AnyValueSchema.optional() }))
  .meta({ id: 'OtlpKeyValue' });

export const LogRecordSchema = z
  .looseObject({
    timeUnixNano: int64.optional(),
    observedTimeUnixNano: int64.optional(),
    severityNumber: z.number().int().optional(),
    severityText: z.string().optional(),
    eventName: z.string().optional(),
    body: AnyValueSchema.optional(),
    attributes: z.array(KeyValueSchema).optional(),
    flags: z.number().int().optional(),
    traceId: z.string().optional().meta({ description: 'hex, 32 characters' }),
    spanId: z.string().optional().meta({ description: 'hex, 16 characters' }),
  })
  .meta({ id: 'OtlpLogRecord' });

export const ExportLogsRequestSchema = z
  .object({
    resourceLogs: z
      .array(
        z.looseObject({
          resource: z.looseObject({ attributes: z.array(KeyValueSchema).optional() }).optional(),
          scopeLogs: z
            .array(
              z.looseObject({
                scope: z
                  .looseObject({ name: z.string().optional(), version: z.string().optional() })
                  .optional(),
                logRecords: z.array(LogRecordSchema).optional(),
              }),
            )
            .optional(),
        }),
      )
      .optional(),
  })
  .meta({ id: 'OtlpExportLogsServiceRequest' });
export type ExportLogsRequest = z.infer<typeof ExportLogsRequestSchema>;
export type LogRecord = z.infer<typeof LogRecordSchema>;

export const ExportLogsResponseSchema = z
  .object({
    partialSuccess: z
      .object({
        rejectedLogRecords: int64.meta({ description: 'int64, as a decimal string in JSON' }),
        errorMessage: z.string(),
      })
      .optional()
      .meta({ description: 'Present when some records were rejected' }),
  })
  .meta({ id: 'OtlpExportLogsServiceResponse' });

/** google.rpc.Status, the body of every OTLP error answer. */
export const StatusSchema = z
  .object({
    code: z.number().int().meta({ description: 'gRPC status code' }),
    message: z.string().meta({ description: 'Starts with the stable error code, e.g. `BODY_MALFORMED: …`' }),
  })
  .meta({ id: 'OtlpStatus' });
