"""echo: answers every request with its own payload."""
from caxton import Agent, Kind, export, reply


class Echo(Agent):
    def handle(self, msg):
        if msg.kind == Kind.REQUEST:
            reply(msg, msg.payload)


WitWorld = export(Echo)
