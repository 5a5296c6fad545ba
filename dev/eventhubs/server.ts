/**
 * The AMQP side: accepts connections over plain TCP and TLS (SASL ANONYMOUS, as the SDKs negotiate with
 * a development endpoint), answers `$cbs` and `$management` requests, and routes sender links to
 * partition logs and receiver links to consumers.
 */
import type { Server, Socket } from 'node:net';
import rhea, {
  type Connection,
  type Delivery,
  type EventContext,
  type Message,
  type Receiver,
  type Sender,
} from 'rhea';
import { audienceCovers, parseAddress } from './address.js';
import { checkSasToken, type SharedAccessKey } from './cbs.js';
import { type AmqpErrorBody, Consumer, Ownership } from './consumer.js';
import { FilterError, startPositionOf } from './filters.js';
import type { Hub, HubStore } from './hubs.js';
import type { PartitionLog } from './log.js';
import { handleManagement } from './management.js';
import { batchMessageFormat, unpackTransfer } from './message.js';
import { fastOutput } from './transport.js';

export const maxMessageSize = 1024 * 1024;
const runtimeMetricCapability = 'com.microsoft:enable-receiver-runtime-metric';
const epochProperty = 'com.microsoft:epoch';

export interface ServerOptions {
  host: string;
  hubs: HubStore;
  keys: SharedAccessKey[];
}

export interface Listener {
  port: number;
  /** Key and certificate (PEM) for an AMQPS listener; plain TCP without. */
  tls?: { key: string; cert: string };
}

type ProducerTarget = { kind: 'hub'; hub: Hub } | { kind: 'partition'; log: PartitionLog };

interface ConnectionState {
  /** Audiences with an accepted token. */
  audiences: Set<string>;
  /** Reply links of `$cbs` / `$management`, by the address the client listens on. */
  replyLinks: Map<string, Sender>;
  consumers: Set<{ key: string; consumer: Consumer }>;
}

/** Accepts a delivery whose link may have gone in the meantime (nothing to tell the peer then). */
function acceptQuietly(delivery: Delivery): void {
  try {
    delivery.accept();
  } catch {
    // The link or connection closed first.
  }
}

const notFound = (entity: string): AmqpErrorBody => ({
  condition: 'amqp:not-found',
  description: `The messaging entity '${entity}' could not be found. status-code: 404`,
});

const unauthorized = (address: string): AmqpErrorBody => ({
  condition: 'amqp:unauthorized-access',
  description: `Unauthorized access to '${address}': no accepted token covers it (put-token first).`,
});

const partitionOutOfRange = (hub: string, partitionId: string): AmqpErrorBody => ({
  condition: 'com.microsoft:argument-out-of-range',
  description: `Partition '${partitionId}' does not exist in event hub '${hub}'.`,
});

function hasCapability(value: unknown, capability: string): boolean {
  return Array.isArray(value) ? value.includes(capability) : value === capability;
}

/**
 * Answers an attach with the client's own terminus (address, and a receiver's filter): a reply with a
 * null source or target means "no such terminus", which pyamqp treats as a dead link.
 */
function echoTerminus(link: Sender | Receiver): void {
  const source = link.source as { address?: string; filter?: unknown } | undefined;
  link.set_source({ address: source?.address, filter: source?.filter } as Parameters<
    Sender['set_source']
  >[0]);
  link.set_target({ address: link.target?.address });
}

function toNumber(value: unknown): number | undefined {
  if (typeof value === 'number') return value;
  if (typeof value === 'bigint') return Number(value);
  if (Buffer.isBuffer(value) && value.length === 8) return Number(value.readBigInt64BE(0));
  return undefined;
}

export class AmqpServer {
  private readonly container = rhea.create_container({ id: 'eventhubs-emulator' });
  private readonly states = new WeakMap<Connection, ConnectionState>();
  private readonly producers = new WeakMap<Receiver, ProducerTarget>();
  private readonly consumers = new WeakMap<Sender, { key: string; consumer: Consumer }>();
  private readonly ownership = new Ownership();
  private readonly sockets = new Set<Socket>();
  private readonly connections = new Set<Connection>();
  private readonly servers: Server[] = [];

  constructor(private readonly options: ServerOptions) {
    this.container.sasl_server_mechanisms.enable_anonymous();
    const c = this.container;
    c.on('connection_open', (ctx: EventContext) => {
      this.connections.add(ctx.connection);
      fastOutput(ctx.connection);
      this.states.set(ctx.connection, { audiences: new Set(), replyLinks: new Map(), consumers: new Set() });
    });
    c.on('receiver_open', (ctx: EventContext) => this.onReceiverOpen(ctx.receiver!));
    c.on('sender_open', (ctx: EventContext) => this.onSenderOpen(ctx.sender!));
    c.on('message', (ctx: EventContext) => this.onMessage(ctx));
    c.on('sendable', (ctx: EventContext) => this.consumers.get(ctx.sender!)?.consumer.pump());
    c.on('sender_close', (ctx: EventContext) => this.dropConsumer(ctx.sender!));
    c.on('connection_close', (ctx: EventContext) => this.dropConnection(ctx.connection));
    c.on('disconnected', (ctx: EventContext) => this.dropConnection(ctx.connection));
    // Peer-side errors are reported to the peer already; without these handlers rhea would throw.
    for (const ev of [
      'error',
      'connection_error',
      'session_error',
      'sender_error',
      'receiver_error',
      'protocol_error',
    ]) {
      c.on(ev, () => {});
    }
  }

  /** Starts one more listener; resolves with the port it listens on. */
  async listen(listener: Listener): Promise<number> {
    const server = this.container.listen({
      host: this.options.host,
      port: listener.port,
      ...(listener.tls ? { transport: 'tls', key: listener.tls.key, cert: listener.tls.cert } : {}),
      // Producer deliveries are settled by us: accepted once appended, rejected with the reason otherwise.
      autoaccept: false,
    } as Parameters<typeof this.container.listen>[0]) as Server;
    // The raw TCP socket, before any TLS: what close() cuts.
    server.on('connection', (s: Socket) => {
      s.setNoDelay(true);
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    // A TLS handshake that fails (a client that does not trust the certificate) ends that socket only.
    server.on('tlsClientError', () => {});
    try {
      await new Promise<void>((resolve, reject) => {
        server.once('listening', resolve);
        server.once('error', reject);
      });
    } catch (e) {
      server.close();
      throw e;
    }
    this.servers.push(server);
    const address = server.address();
    if (!address || typeof address === 'string') throw new Error('The AMQP listener has no TCP address');
    return address.port;
  }

  async close(): Promise<void> {
    for (const conn of this.connections) {
      try {
        conn.close();
      } catch {
        // Already gone.
      }
    }
    const closed = this.servers.map(
      (server) => new Promise<void>((resolve) => server.close(() => resolve())),
    );
    // Give the close frames a moment to go out, then cut what is left.
    setTimeout(() => {
      for (const s of this.sockets) s.destroy();
    }, 50).unref();
    await Promise.all(closed);
  }

  private state(conn: Connection): ConnectionState {
    let st = this.states.get(conn);
    if (!st) {
      st = { audiences: new Set(), replyLinks: new Map(), consumers: new Set() };
      this.states.set(conn, st);
    }
    return st;
  }

  private authorized(conn: Connection, address: string): boolean {
    for (const a of this.state(conn).audiences) if (audienceCovers(a, address)) return true;
    return false;
  }

  /**
   * Refuses a link the way the service does: an attach that echoes the client's terminus, then a detach
   * with the error. (An attach without a terminus is legal AMQP too, but pyamqp then drops the link
   * before the detach arrives and attaches again, forever, without surfacing the error.)
   */
  private refuse(link: Sender | Receiver, error: AmqpErrorBody): void {
    echoTerminus(link);
    link.close(error);
  }

  // The client's sender: $cbs / $management requests, or events for a hub or partition.
  private onReceiverOpen(link: Receiver): void {
    const address = link.target?.address ?? '';
    if (address === '$cbs' || address.endsWith('$management')) {
      echoTerminus(link);
      return;
    }
    (link as unknown as { local: { attach: { max_message_size: number } } }).local.attach.max_message_size =
      maxMessageSize;
    const parsed = parseAddress(address);
    const hub = parsed ? this.options.hubs.get(parsed.hub) : undefined;
    if (!parsed || !hub || parsed.kind === 'consumer') {
      this.refuse(link, notFound(address));
      return;
    }
    if (!this.authorized(link.connection, address)) {
      this.refuse(link, unauthorized(address));
      return;
    }
    if (parsed.kind === 'hub') {
      echoTerminus(link);
      this.producers.set(link, { kind: 'hub', hub });
      return;
    }
    const log = hub.partition(parsed.partitionId);
    if (!log) {
      this.refuse(link, partitionOutOfRange(hub.name, parsed.partitionId));
      return;
    }
    echoTerminus(link);
    this.producers.set(link, { kind: 'partition', log });
  }

  // The client's receiver: replies of $cbs / $management, or a consumer of a partition.
  private onSenderOpen(link: Sender): void {
    const source = link.source;
    const address = source?.address ?? '';
    if (address === '$cbs' || address.endsWith('$management')) {
      echoTerminus(link);
      // The client names its reply link (and usually its target address) after its reply-to address.
      const replies = this.state(link.connection).replyLinks;
      replies.set(link.name, link);
      const replyTo = link.target?.address;
      if (replyTo) replies.set(replyTo, link);
      return;
    }
    const parsed = parseAddress(address);
    const hub = parsed ? this.options.hubs.get(parsed.hub) : undefined;
    if (!parsed || !hub || parsed.kind !== 'consumer') {
      this.refuse(link, notFound(address));
      return;
    }
    if (!hub.hasConsumerGroup(parsed.consumerGroup)) {
      this.refuse(link, notFound(`${hub.name}/ConsumerGroups/${parsed.consumerGroup}`));
      return;
    }
    const log = hub.partition(parsed.partitionId);
    if (!log) {
      this.refuse(link, partitionOutOfRange(hub.name, parsed.partitionId));
      return;
    }
    if (!this.authorized(link.connection, address)) {
      this.refuse(link, unauthorized(address));
      return;
    }
    let start: ReturnType<typeof startPositionOf>;
    try {
      start = startPositionOf((source as { filter?: unknown }).filter);
    } catch (e) {
      const description = e instanceof FilterError ? e.message : String(e);
      this.refuse(link, { condition: 'amqp:invalid-field', description });
      return;
    }
    const ownerLevel = toNumber(link.properties?.[epochProperty]);
    const track = hasCapability(link.desired_capabilities, runtimeMetricCapability);
    echoTerminus(link);
    const local = (link as unknown as { local: { attach: Record<string, unknown> } }).local.attach;
    // Deliveries are pre-settled: nothing to track per event, the client's settlement is not needed.
    local.snd_settle_mode = 1;
    if (track) local.offered_capabilities = [runtimeMetricCapability];
    if (ownerLevel !== undefined) local.properties = { [epochProperty]: rhea.types.wrap_long(ownerLevel) };
    const consumer = new Consumer(link, log, start, ownerLevel, track);
    const key = `${hub.name}/${parsed.consumerGroup.toLowerCase()}/${parsed.partitionId}`;
    const refused = this.ownership.claim(key, consumer);
    if (refused) {
      consumer.close();
      this.refuse(link, refused);
      return;
    }
    const entry = { key, consumer };
    this.consumers.set(link, entry);
    this.state(link.connection).consumers.add(entry);
    // Credit may arrive with the attach; pump once the attach is out.
    setImmediate(() => consumer.pump());
  }

  private dropConsumer(link: Sender): void {
    const entry = this.consumers.get(link);
    if (!entry) return;
    this.consumers.delete(link);
    entry.consumer.close();
    this.ownership.release(entry.key, entry.consumer);
    this.states.get(link.connection)?.consumers.delete(entry);
  }

  private dropConnection(conn: Connection): void {
    const st = this.states.get(conn);
    if (st) {
      for (const entry of st.consumers) {
        entry.consumer.close();
        this.ownership.release(entry.key, entry.consumer);
      }
      st.consumers.clear();
    }
    this.connections.delete(conn);
  }

  private onMessage(ctx: EventContext): void {
    const link = ctx.receiver!;
    const delivery = ctx.delivery!;
    const address = link.target?.address ?? '';
    if (address === '$cbs') {
      this.onCbs(link, delivery, ctx.message!);
      return;
    }
    if (address.endsWith('$management')) {
      this.onManagement(link, delivery, ctx.message!);
      return;
    }
    const target = this.producers.get(link);
    if (!target) {
      delivery.reject({ condition: 'amqp:not-found', description: `No event hub at '${address}'.` });
      return;
    }
    const format = (ctx as { format?: number }).format ?? 0;
    const payload = Buffer.isBuffer(ctx.message)
      ? (ctx.message as Buffer)
      : (rhea.message.encode(ctx.message!) as Buffer);
    if (payload.length > maxMessageSize) {
      delivery.reject({
        condition: 'amqp:link:message-size-exceeded',
        description: `The received message (delivery-id:${delivery.id}, size:${payload.length} bytes) exceeds the limit (${maxMessageSize} bytes) currently allowed on the link.`,
      });
      return;
    }
    let unpacked: ReturnType<typeof unpackTransfer>;
    try {
      unpacked = unpackTransfer(payload, format === batchMessageFormat ? batchMessageFormat : 0);
    } catch (e) {
      delivery.reject({ condition: 'amqp:decode-error', description: `Malformed message: ${String(e)}` });
      return;
    }
    const log = target.kind === 'partition' ? target.log : target.hub.route(unpacked.partitionKey);
    log.append(unpacked.messages.map((raw) => ({ raw, partitionKey: unpacked.partitionKey })));
    // With a folder, the log writes on the next immediate; accepting after it (immediates run in order)
    // means an accepted event is in the file, so it survives a crash of this process.
    if (log.persistent) setImmediate(() => acceptQuietly(delivery));
    else delivery.accept();
  }

  private reply(
    link: Receiver,
    request: Message,
    status: number,
    description: string,
    body?: unknown,
    condition?: string,
  ): void {
    // Without a reply-to (pyamqp's requests), the reply goes to the link listening on the request
    // link's own address (`$cbs`, `<hub>/$management`).
    const replyTo = request.reply_to ?? link.target?.address;
    const replyLink = replyTo ? this.state(link.connection).replyLinks.get(replyTo) : undefined;
    if (!replyLink) return;
    const props: Record<string, unknown> = { 'status-code': status, 'status-description': description };
    if (condition) props['error-condition'] = condition;
    replyLink.send({
      correlation_id: request.message_id,
      to: replyTo,
      application_properties: props,
      body: body ?? null,
    } as Message);
  }

  private onCbs(link: Receiver, delivery: Delivery, request: Message): void {
    delivery.accept();
    const props = request.application_properties ?? {};
    if (props.operation !== 'put-token') {
      this.reply(link, request, 400, `Unsupported $cbs operation '${String(props.operation)}'.`);
      return;
    }
    const audience = String(props.name ?? '');
    const check = checkSasToken(request.body, props.type, this.options.keys);
    if (!check.ok) {
      this.reply(link, request, check.status, check.description);
      return;
    }
    // The management link's token is for `<hub>/$management`; it grants what a token for the hub grants.
    const entity = audience.replace(/\/\$management$/i, '');
    const parsed = parseAddress(entity);
    const hub = parsed ? this.options.hubs.get(parsed.hub) : undefined;
    if (!parsed || !hub) {
      this.reply(link, request, 404, notFound(audience).description);
      return;
    }
    if (parsed.kind === 'consumer' && !hub.hasConsumerGroup(parsed.consumerGroup)) {
      this.reply(link, request, 404, notFound(audience).description);
      return;
    }
    this.state(link.connection).audiences.add(entity);
    this.reply(link, request, 202, 'Accepted');
  }

  private onManagement(link: Receiver, delivery: Delivery, request: Message): void {
    delivery.accept();
    const props = request.application_properties ?? {};
    const name = String(props.name ?? '');
    const token = props.security_token;
    const allowed =
      this.authorized(link.connection, name) ||
      (typeof token === 'string' &&
        checkSasToken(token, 'servicebus.windows.net:sastoken', this.options.keys).ok);
    if (!allowed) {
      this.reply(link, request, 401, `Unauthorized access to the management of '${name}'.`);
      return;
    }
    const r = handleManagement(this.options.hubs, props);
    this.reply(link, request, r.status, r.description, r.body, r.condition);
  }
}
