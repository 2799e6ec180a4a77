// echo: answers every request with its own payload.
import { agent, reply } from '../caxton.js';

export const { init, handle, handleBatch } = agent({
  handle(msg) {
    if (msg.kind === 'request') reply(msg, msg.payload);
  },
});
