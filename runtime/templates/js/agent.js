// {{name}}: a Caxton agent. It answers every request with its payload and
// counts the messages it has handled in its persistent state; edit
// `handle` to make it yours.
import { agent, reply, state } from './caxton.js';

export const { init, handle, handleBatch } = agent({
  // The spawn's config (JSON when a script passes a map, '' for none); what
  // init returns is passed to every handle.
  init(config) {
    return { config };
  },
  handle(msg, self) {
    const handled = Number(state.getText('handled') ?? '0');
    state.set('handled', String(handled + 1));
    if (msg.text() === 'config') return reply(msg, self.config);
    if (msg.kind === 'request') reply(msg, msg.payload);
  },
});
