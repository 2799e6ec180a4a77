"""hostile: misbehaves on request, to show that a Python agent is contained
like any other: `loop` spins forever (the deadline ends it), `alloc`
allocates without bound (the memory limit ends it), `throw` raises (a
handled failure), `exit` exits the process (a trap), `ok` answers."""
import sys

from caxton import Agent, export, reply


class Hostile(Agent):
    def handle(self, msg):
        command = msg.text
        if command == "loop":
            while True:
                pass
        elif command == "alloc":
            hoard = []
            while True:
                hoard.append(bytearray(1 << 20))
        elif command == "throw":
            raise RuntimeError("raised on purpose")
        elif command == "exit":
            sys.exit(1)
        reply(msg, "ok")


WitWorld = export(Hostile)
