"""The Caxton SDK for Python agents (componentize-py).

Subclass `Agent`, define `handle` (and `init` if the agent has a config),
and export the class; the SDK turns the node's batches into one `handle`
call per message:

    from caxton import Agent, export, reply

    class Echo(Agent):
        def handle(self, msg):
            reply(msg, msg.payload)

    WitWorld = export(Echo)

An exception from `init` fails the spawn; one from `handle` answers a
waiting request with its text and keeps the agent alive.
"""

from typing import Optional, Union

from componentize_py_types import Err
import wit_world
from wit_world.imports import host, types

Kind = types.Kind
Level = types.Level

Data = Union[str, bytes, bytearray]


def _bytes(data: Data) -> bytes:
    if isinstance(data, str):
        return data.encode()
    if isinstance(data, (bytes, bytearray)):
        return bytes(data)
    raise TypeError("a payload is str or bytes")


def _reason(e: BaseException) -> str:
    if isinstance(e, Err):
        return str(e.value)
    return str(e) or type(e).__name__


def _call(f):
    try:
        return f()
    except Err as e:
        raise RuntimeError(str(e.value)) from None


class Message:
    """A message delivered to the agent."""

    def __init__(self, raw: types.Message):
        self.id: int = raw.id
        self.sender: str = raw.sender
        self.conversation: Optional[int] = raw.conversation
        self.kind: Kind = raw.kind
        self.payload: bytes = raw.payload

    @property
    def text(self) -> str:
        """The payload as UTF-8 text."""
        return self.payload.decode()


def reply(msg: Message, data: Data) -> None:
    """Answers `msg` (a request being handled) with `data`."""
    out = types.Outgoing(kind=Kind.REPLY, conversation=msg.conversation, payload=_bytes(data))
    _call(lambda: host.reply(msg.id, out))


def send(to: str, data: Data) -> None:
    """Sends `data` to the agent `to` as an inform (fire and forget)."""
    out = types.Outgoing(kind=Kind.INFORM, conversation=None, payload=_bytes(data))
    _call(lambda: host.send(to, out))


def forward(msg: Message, to: str, data: Optional[Data] = None) -> None:
    """Hands `msg` on to `to`, which then replies to the original sender."""
    payload = msg.payload if data is None else _bytes(data)
    out = types.Outgoing(kind=Kind.REQUEST, conversation=msg.conversation, payload=payload)
    _call(lambda: host.forward(msg.id, to, out))


def log(text: str, level: Level = Level.INFO) -> None:
    """Writes a line to the node's log, tagged with this agent."""
    host.log(level, str(text))


def now() -> int:
    """Monotonic nanoseconds."""
    return host.now()


def self_id() -> str:
    """This agent's own name."""
    return host.self_id()


class _State:
    """The agent's persistent state: bytes by key, kept by the node."""

    def get(self, key: str) -> Optional[bytes]:
        return host.state_get(key)

    def get_text(self, key: str) -> Optional[str]:
        value = host.state_get(key)
        return None if value is None else value.decode()

    def set(self, key: str, value: Data) -> None:
        _call(lambda: host.state_set(key, _bytes(value)))

    def delete(self, key: str) -> None:
        _call(lambda: host.state_set(key, None))


state = _State()


class Agent:
    """Subclass and define `handle(self, msg)`; `init(self, config)` is optional."""

    def init(self, config: str) -> None:
        pass

    def handle(self, msg: Message) -> None:
        raise NotImplementedError("define handle(self, msg)")


def export(agent_class):
    """The world's exports (assign them to `WitWorld`) for `agent_class`."""
    held = {}

    def agent():
        try:
            return held["agent"]
        except KeyError:
            raise Err("agent called before init") from None

    class World(wit_world.WitWorld):
        def init(self, config: str) -> None:
            try:
                instance = agent_class()
                instance.init(config)
                held["agent"] = instance
            except Exception as e:
                raise Err(_reason(e))

        def handle(self, msg: types.Message) -> None:
            target = agent()
            try:
                target.handle(Message(msg))
            except Exception as e:
                raise Err(_reason(e))

        def handle_batch(self, batch):
            target = agent()
            failures = []
            for raw in batch:
                try:
                    target.handle(Message(raw))
                except Exception as e:
                    failures.append(types.HandleFailure(id=raw.id, reason=_reason(e)))
            return failures

    return World
