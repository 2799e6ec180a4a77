// The Caxton SDK for JavaScript agents (componentize-js).
//
// An agent module exports the world's three functions; `agent()` makes
// them from an `init` and a `handle`, so the agent never sees batches:
//
//   import { agent, reply } from './caxton.js';
//   export const { init, handle, handleBatch } = agent({
//     init(config) { return { seen: 0 }; },            // the agent's own state
//     handle(msg, self) { self.seen++; reply(msg, msg.payload); },
//   });
//
// Throwing from `init` fails the spawn; throwing from `handle` answers a
// waiting request with the error's message and keeps the agent alive.

import * as host from 'caxton:agent/host@0.1.0';

const encoder = new TextEncoder();
const decoder = new TextDecoder();

/** Bytes from a string (UTF-8) or a Uint8Array. */
function bytes(data) {
  if (typeof data === 'string') return encoder.encode(data);
  if (data instanceof Uint8Array) return data;
  if (ArrayBuffer.isView(data)) return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  if (data instanceof ArrayBuffer || Array.isArray(data)) return new Uint8Array(data);
  throw new TypeError(`a payload is a string or bytes (a Uint8Array), not ${Object.prototype.toString.call(data)}`);
}

/** The text of an error, a host error (its `payload`) or anything thrown. */
function reason(e) {
  if (typeof e === 'string') return e;
  if (e && typeof e.payload === 'string') return e.payload;
  if (e && typeof e.message === 'string') return e.message;
  return String(e);
}

/** Calls a host function; a host error becomes an Error with its text. */
function call(f) {
  try {
    return f();
  } catch (e) {
    throw new Error(reason(e));
  }
}

/** A message delivered to the agent. */
export class Message {
  constructor(raw) {
    /** Node-assigned id (a BigInt). */
    this.id = raw.id;
    /** The sender's address, or '' for a script or client. */
    this.sender = raw.sender;
    /** The conversation (a BigInt), or undefined. */
    this.conversation = raw.conversation;
    /** 'request', 'inform', 'reply' or 'failure'. */
    this.kind = raw.kind;
    /** The payload, a Uint8Array. */
    this.payload = raw.payload;
  }
  /** The payload as UTF-8 text. */
  text() {
    return decoder.decode(this.payload);
  }
  /** The payload parsed as JSON. */
  json() {
    return JSON.parse(this.text());
  }
}

/** Answers `msg` (a request being handled) with `data`. */
export function reply(msg, data) {
  call(() => host.reply(msg.id, { kind: 'reply', conversation: msg.conversation, payload: bytes(data) }));
}

/** Sends `data` to the agent `to` as an inform (fire and forget). */
export function send(to, data) {
  call(() => host.send(to, { kind: 'inform', conversation: undefined, payload: bytes(data) }));
}

/** Hands `msg` on to `to` (with `data`, or its own payload); `to` replies to the original sender. */
export function forward(msg, to, data) {
  const payload = data === undefined ? msg.payload : bytes(data);
  call(() => host.forward(msg.id, to, { kind: 'request', conversation: msg.conversation, payload }));
}

/** Writes to the node's log: log.info('text'), log.warn(...), and so on. */
export const log = {
  trace: (text) => host.log('trace', String(text)),
  debug: (text) => host.log('debug', String(text)),
  info: (text) => host.log('info', String(text)),
  warn: (text) => host.log('warn', String(text)),
  error: (text) => host.log('error', String(text)),
};

/** The agent's persistent state: bytes by key, kept by the node. */
export const state = {
  /** The value of `key` (a Uint8Array), or undefined. */
  get: (key) => host.stateGet(key),
  /** The value of `key` as UTF-8 text, or undefined. */
  getText: (key) => {
    const value = host.stateGet(key);
    return value === undefined ? undefined : decoder.decode(value);
  },
  /** Sets `key` to `value` (a string or Uint8Array). */
  set: (key, value) => call(() => host.stateSet(key, bytes(value))),
  /** Deletes `key`. */
  delete: (key) => call(() => host.stateSet(key, undefined)),
};

/** Monotonic nanoseconds (a BigInt). */
export const now = () => host.now();

/** This agent's own name. */
export const selfId = () => host.selfId();

/**
 * The world's exports from `{ init(config) -> self, handle(msg, self) }`.
 * `init` is optional; its return value is passed to every `handle`.
 */
export function agent(definition) {
  if (typeof definition?.handle !== 'function') {
    throw new TypeError('agent({ handle(msg, self) { ... } }): handle is missing');
  }
  let self = {};
  const run = (raw) => definition.handle(new Message(raw), self);
  return {
    init(config) {
      try {
        if (definition.init) self = definition.init(config) ?? {};
      } catch (e) {
        throw reason(e);
      }
    },
    handle(raw) {
      try {
        run(raw);
      } catch (e) {
        throw reason(e);
      }
    },
    handleBatch(batch) {
      const failures = [];
      for (const raw of batch) {
        try {
          run(raw);
        } catch (e) {
          failures.push({ id: raw.id, reason: reason(e) });
        }
      }
      return failures;
    },
  };
}
