// compute: `sieve N` counts the primes below N (the sieve kernel of
// plugins/kernels, so `native("sieve N")` gives the same answer), and
// `count` keeps a counter in the agent's persistent state.
import { agent, reply, state } from '../caxton.js';

function sieve(n) {
  if (n < 2) return 0;
  const composite = new Uint8Array(n);
  let count = 0;
  for (let i = 2; i < n; i++) {
    if (composite[i]) continue;
    count++;
    for (let j = i * i; j < n; j += i) composite[j] = 1;
  }
  return count;
}

export const { init, handle, handleBatch } = agent({
  handle(msg) {
    const [command, arg] = msg.text().split(' ');
    if (command === 'sieve') {
      const n = Number(arg);
      if (!Number.isInteger(n) || n < 0 || n > 50_000_000) throw `sieve: bad n \`${arg}\``;
      reply(msg, String(sieve(n)));
    } else if (command === 'count') {
      const next = Number(state.getText('count') ?? '0') + 1;
      state.set('count', String(next));
      reply(msg, String(next));
    } else {
      throw `unknown command \`${command}\` (sieve N, count)`;
    }
  },
});
