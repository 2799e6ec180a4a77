// hostile: misbehaves on request, to show that a JavaScript agent is
// contained like any other: `loop` spins forever (the deadline ends it),
// `alloc` allocates without bound (the memory limit ends it), `throw`
// throws (a handled failure), `ok` answers.
import { agent, reply } from '../caxton.js';

export const { init, handle, handleBatch } = agent({
  handle(msg) {
    const command = msg.text();
    if (command === 'loop') {
      for (;;) {}
    } else if (command === 'alloc') {
      const hoard = [];
      for (;;) hoard.push(new Uint8Array(1 << 20).fill(1));
    } else if (command === 'throw') {
      throw new Error('thrown on purpose');
    }
    reply(msg, 'ok');
  },
});
