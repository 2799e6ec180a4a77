"""{{name}}: a Caxton agent. It answers every request with its payload and
counts the messages it has handled in its persistent state; edit `handle`
to make it yours."""
from caxton import Agent, Kind, export, reply, state


class {{type}}(Agent):
    def init(self, config):
        # The spawn's config (JSON when a script passes a map, "" for none).
        self.config = config

    def handle(self, msg):
        handled = int(state.get_text("handled") or "0")
        state.set("handled", str(handled + 1))
        if msg.text == "config":
            return reply(msg, self.config)
        if msg.kind == Kind.REQUEST:
            reply(msg, msg.payload)


WitWorld = export({{type}})
