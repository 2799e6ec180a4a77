"""compute: `sieve N` counts the primes below N (the sieve kernel of
plugins/kernels, so `native("sieve N")` gives the same answer), and `count`
keeps a counter in the agent's persistent state."""
from caxton import Agent, export, reply, state


def sieve(n: int) -> int:
    if n < 2:
        return 0
    composite = bytearray(n)
    count = 0
    for i in range(2, n):
        if composite[i]:
            continue
        count += 1
        start = i * i
        if start < n:
            composite[start::i] = b"\x01" * len(range(start, n, i))
    return count


class Compute(Agent):
    def handle(self, msg):
        command, _, arg = msg.text.partition(" ")
        if command == "sieve":
            if not arg.isdigit() or int(arg) > 50_000_000:
                raise ValueError(f"sieve: bad n `{arg}`")
            reply(msg, str(sieve(int(arg))))
        elif command == "count":
            count = int(state.get_text("count") or "0") + 1
            state.set("count", str(count))
            reply(msg, str(count))
        else:
            raise ValueError(f"unknown command `{command}` (sieve N, count)")


WitWorld = export(Compute)
