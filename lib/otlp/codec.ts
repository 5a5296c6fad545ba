import { opentelemetry } from './generated/logs.js';

/**
 * The protobuf codecs of the OTLP logs service, generated statically from the official
 * opentelemetry-proto definitions (lib/otlp/proto, `npm run gen:otlp`) so that only protobufjs'
 * minimal runtime ships. The generated module is plain JavaScript: typed here by what is used.
 */
interface Codec {
  decode(bytes: Uint8Array): unknown;
  encode(message: object): { finish(): Uint8Array };
}

const service = opentelemetry.proto.collector.logs.v1 as unknown as {
  ExportLogsServiceRequest: Codec;
  ExportLogsServiceResponse: Codec;
};

export const ExportLogsServiceRequest = service.ExportLogsServiceRequest;
export const ExportLogsServiceResponse = service.ExportLogsServiceResponse;
