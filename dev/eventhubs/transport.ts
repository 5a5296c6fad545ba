/**
 * Output path for rhea connections. Every performative is completed first (`performatives.ts`).
 * Fast path: rhea encodes each frame into a fresh zero-filled buffer, copies
 * the payload (the event bytes) into it and writes it with its own `socket.write`. Here the frame header
 * and performative are encoded into a small buffer and the payload is written as is, and the socket is
 * corked until the next tick so the frames of one pass leave in a single writev.
 */
import type { Socket } from 'node:net';
import rhea, { type Connection } from 'rhea';
import { completePerformative } from './performatives.js';

interface Frame {
  type: number;
  channel: number;
  performative?: unknown;
  payload?: Buffer;
}

interface Transport {
  header_sent: unknown;
  pending: Frame[];
  encode(frame: Frame): void;
  write(socket: Socket): void;
}

interface ConnectionInternals {
  socket?: Socket;
  amqp_transport?: Transport;
  output(): void;
}

interface Writer {
  buffer: Buffer;
  position: number;
  write(value: unknown): void;
  toBuffer(): Buffer;
}
type WriterCtor = new (buffer?: Buffer) => Writer;

const Writer = (rhea.types as unknown as { Writer: WriterCtor }).Writer;

function encodeHead(frame: Frame): Buffer {
  const w = new Writer(Buffer.allocUnsafe(256));
  // size (filled in below), data offset 2 (words), frame type, channel
  w.buffer.writeUInt8(2, 4);
  w.buffer.writeUInt8(frame.type, 5);
  w.buffer.writeUInt16BE(frame.channel, 6);
  w.position = 8;
  if (frame.performative) w.write(frame.performative);
  return w.toBuffer();
}

export function fastOutput(conn: Connection): void {
  const c = conn as unknown as ConnectionInternals;
  const transport = c.amqp_transport;
  if (transport) {
    const encode = transport.encode;
    transport.encode = function (this: Transport, frame: Frame) {
      completePerformative(frame.performative);
      encode.call(this, frame);
    };
    const original = transport.write;
    transport.write = function (this: Transport, socket: Socket) {
      // The protocol header goes out through rhea's own path.
      if (!this.header_sent) {
        original.call(this, socket);
        return;
      }
      const pending = this.pending;
      this.pending = [];
      for (const frame of pending) {
        const head = encodeHead(frame);
        const payload = frame.payload;
        head.writeUInt32BE(head.length + (payload ? payload.length : 0), 0);
        socket.write(head);
        if (payload && payload.length > 0) socket.write(payload);
      }
    };
  }
  const output = c.output;
  c.output = function (this: ConnectionInternals) {
    const socket = this.socket;
    if (socket && socket.writableCorked === 0) {
      socket.cork();
      process.nextTick(() => socket.uncork());
    }
    output.call(this);
  };
}
