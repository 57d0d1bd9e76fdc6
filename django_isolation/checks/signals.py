"""``signals``: receivers a test connected to a Django signal and never disconnected (or disconnected for good).

A receiver connected in a test keeps firing in every later test: a
``post_save`` handler that sends mail, a ``request_finished`` hook that counts
requests. Every ``django.dispatch.Signal`` is covered (model, request and the
project's own): the signals bound to module globals are found once at start,
any other one at its first connect or disconnect, and ``Signal.connect``/``disconnect`` are wrapped
at class level to count calls and keep the connecting stack (no work at check
points when nobody connects). The fingerprint is that count (plus, at sweeps,
the length of every signal's receiver list, which catches direct edits such as
factory_boy's ``mute_signals``); receivers are compared only when it moved.

Not leaks: a receiver connected by the top-level code of a module imported for
the first time (``@receiver`` in a late-imported module), one Django connects
itself (``ImageField`` dimensions, ``CaptureQueriesContext``), one whose
sender is a model class the app registry does not hold (a field's
``contribute_to_class`` connecting for the models Django builds to render
migration states, for an ``isolate_apps`` model, or for a class whose creation
failed: nothing ever sends it), this package's own, and a weakly connected
receiver that was garbage collected (Django no longer calls it).
"""

from __future__ import annotations

import functools
import os
import sys
import weakref
from collections.abc import Callable, Hashable
from itertools import compress
from types import FrameType, MethodType, ModuleType
from typing import Any, Final, NamedTuple

import django
from django.apps import apps
from django.db.models.base import ModelBase
from django.dispatch import Signal
from django.dispatch.dispatcher import NONE_ID, _make_id

from django_isolation import origin
from django_isolation.checks import Change, register

_DJANGO_DIR: Final = os.path.join(os.path.dirname(django.__file__ or ""), "")
# Signal plumbing (@receiver, ModelSignal.connect): the code that called it is the connecting code.
_PLUMBING: Final = (os.path.join(_DJANGO_DIR, "dispatch", ""), os.path.join(_DJANGO_DIR, "db", "models", "signals.py"))
_OWN_PACKAGE: Final = "django_isolation."
SENDS: Final = tuple(name for name in ("send", "send_robust", "asend", "asend_robust") if hasattr(Signal, name))
ADVICE_CONNECTED: Final = (
    "disconnect the receiver when the test ends: self.addCleanup({signal}.disconnect, receiver, ...) "
    "or in tearDown; or connect it at module level / in AppConfig.ready() if it should always run"
)
ADVICE_DISCONNECTED: Final = (
    "a test that disconnects a receiver must reconnect it: self.addCleanup({signal}.connect, receiver, ...), "
    "a try/finally, or factory_boy's mute_signals as a context manager"
)
LookupKey = tuple[Hashable, Hashable]
ReceiverKey = tuple[int, LookupKey]  # (id of the signal, Django's lookup key)
Receivers = dict[ReceiverKey, "_Receiver"]
_Connect = Callable[..., None]
_Disconnect = Callable[..., bool]


class _Receiver(NamedTuple):
    signal: Signal
    lookup_key: LookupKey
    ref: Any  # what Signal.receivers holds: a weak reference, or the receiver itself for weak=False

    def target(self) -> Any:
        """The receiver, or None when it was weakly connected and is gone."""
        return self.ref() if isinstance(self.ref, weakref.ReferenceType) else self.ref

    def same(self, other: _Receiver) -> bool:
        # A WeakMethod makes a new bound method at each call: compare what it is bound to.
        return bool(_make_id(self.target()) == _make_id(other.target()))


class _Connection(NamedTuple):
    stack: origin.RawStack
    exempt: bool  # made by Django itself or by a module's top-level code: not a test's doing
    sender_name: str
    sender: weakref.ref[Any] | None  # to the sender, when it is a model class


@register
class SignalsCheck:
    """Receivers connected to or disconnected from any ``django.dispatch.Signal`` and not restored."""

    name = "signals"

    def __init__(self) -> None:
        self._events = 0
        self._signals: weakref.WeakValueDictionary[int, Signal] = weakref.WeakValueDictionary()
        self._before_first_seen: Receivers = {}
        # signal id -> (the signal, its receivers' count, its receivers) at the last capture that read it
        self._read: dict[int, tuple[weakref.ref[Signal], int, Receivers]] = {}
        self._dirty: set[int] = set()  # signals connected to or disconnected from since the last capture
        self._connections: dict[ReceiverKey, _Connection] = {}
        self._names: weakref.WeakKeyDictionary[Signal, str] = weakref.WeakKeyDictionary()
        self._originals: tuple[_Connect, _Disconnect] | None = None
        self._hooks: tuple[_Connect, _Disconnect] | None = None
        self._sent: set[tuple[int, Hashable]] = set()  # (signal id, sender id) the running test sent
        self._receivers_of: dict[str, tuple[int, Hashable]] = {}  # change key -> (signal id, sender id)
        self._send_originals: dict[str, Callable[..., Any]] = {}

    def start(self) -> None:
        for signal in _module_signals(_subclasses(Signal)):
            self._signals[id(signal)] = signal
        self._originals = (Signal.connect, Signal.disconnect)
        self._hooks = (self._connect(Signal.connect), self._disconnect(Signal.disconnect))
        Signal.connect, Signal.disconnect = self._hooks

    def stop(self) -> None:
        # Put Django's methods back only if nobody wrapped ours in the meantime.
        if self._originals is None or self._hooks is None:
            return
        if Signal.__dict__["connect"] is self._hooks[0]:
            Signal.connect = self._originals[0]
        if Signal.__dict__["disconnect"] is self._hooks[1]:
            Signal.disconnect = self._originals[1]
        self._watch_sends(False)
        self._originals = self._hooks = None

    def _watch_sends(self, on: bool) -> None:
        """Wrap the send methods while a change is live (the sends are evidence only then), unwrap them when not."""
        if on and not self._send_originals:
            for name in SENDS:
                original = self._send_originals[name] = Signal.__dict__[name]
                setattr(Signal, name, self._sending(original))
        elif not on:
            for name, original in list(self._send_originals.items()):
                if getattr(Signal.__dict__[name], "__wrapped__", None) is original:  # nobody wrapped ours since
                    setattr(Signal, name, original)
                    del self._send_originals[name]

    def test_started(self) -> None:
        self._sent.clear()

    def touched(self, change: Change) -> str | None:
        """Evidence that the running test sent the signal of the leaked (or missing) receiver, for its sender."""
        signal, sender = self._receivers_of.get(change.key, (None, None))
        if (signal, sender) in self._sent or (sender == NONE_ID and any(s == signal for s, _ in self._sent)):
            for_sender = f" for sender {change.details['sender']}" if change.details.get("sender") else ""
            return f"it sent {change.details['signal']}{for_sender}"
        return None

    def _sending(self, original: Callable[..., Any]) -> Callable[..., Any]:
        sent = self._sent

        @functools.wraps(original)
        def send(signal: Signal, *args: Any, **kwargs: Any) -> Any:
            sender = args[0] if args else kwargs.get("sender")
            # _make_id(sender) is id(sender) but for a bound method: most senders are model classes or None.
            sent.add((id(signal), id(sender) if type(sender) is not MethodType else _make_id(sender)))
            return original(signal, *args, **kwargs)

        return send

    def fingerprint(self, sweep: bool) -> Hashable:
        if not sweep:
            return self._events
        return self._events, tuple(len(signal.receivers) for signal in self._signals.values())

    def capture(self) -> Receivers:
        """Every signal's receivers; read again only for a signal connected to, disconnected from or resized since."""
        captured: Receivers = {}
        for key, signal in list(self._signals.items()):
            read = self._read.get(key)
            if read is None or key in self._dirty or read[0]() is not signal or read[1] != len(signal.receivers):
                read = self._read[key] = (weakref.ref(signal), len(signal.receivers), _receivers(signal))
            captured.update(read[2])
        self._dirty.clear()
        return captured

    def diff(self, baseline: Receivers, current: Receivers) -> list[Change]:
        before = {**self._before_first_seen, **baseline}
        changes = [
            self._disconnected(key, entry) for key, entry in before.items() if key not in current and entry.target()
        ]
        for key, entry in current.items():
            old = before.get(key)
            connection = self._connections.get(key)
            target = entry.target()  # once: the collector may free a weak receiver's object at any allocation
            if target is None or (connection is not None and _never_sent(connection)):
                continue  # collected: Django no longer calls it
            if (old is None or not old.same(entry)) and not (connection and connection.exempt):
                changes.append(self._connected(entry, target, connection))
        self._watch_sends(bool(changes))
        return changes

    def _connect(self, original: _Connect) -> _Connect:
        def connect(
            signal: Signal, receiver: Any, sender: Any = None, weak: bool = True, dispatch_uid: Hashable = None
        ) -> None:
            key = (id(signal), _lookup_key(receiver, sender, dispatch_uid))
            self._see(signal)
            self._dirty.add(key[0])
            known = any(entry[0] == key[1] for entry in signal.receivers)
            original(signal, receiver, sender, weak, dispatch_uid)
            self._events += 1
            if not known:
                self._connections[key] = _connection(sys._getframe(1), sender)

        return connect

    def _disconnect(self, original: _Disconnect) -> _Disconnect:
        def disconnect(signal: Signal, receiver: Any = None, sender: Any = None, dispatch_uid: Hashable = None) -> bool:
            self._see(signal)
            self._events += 1
            self._dirty.add(id(signal))
            return original(signal, receiver, sender, dispatch_uid)

        return disconnect

    def _see(self, signal: Signal) -> None:
        # A signal created after start: what it held before its first connect is its baseline.
        if id(signal) not in self._signals:
            self._signals[id(signal)] = signal
            self._before_first_seen.update(_receivers(signal))

    def _connected(self, entry: _Receiver, target: Any, connection: _Connection | None) -> Change:
        signal = self._signal_name(entry.signal)
        receiver = _name(target)
        sender = connection.sender_name if connection else _sender_name(entry.lookup_key[1])
        key = self._keyed(entry, _key(signal, receiver, sender, entry.lookup_key))
        return Change(
            key=key,
            token=_make_id(target),
            summary=f"receiver {receiver} connected to {signal}" + (f" for sender {sender}" if sender else ""),
            before=None,
            after=receiver,
            advice=ADVICE_CONNECTED.format(signal=signal.rpartition(".")[2]),
            details=_details("connected", signal, receiver, sender, entry.lookup_key),
            subjects=(signal.rpartition(".")[2], receiver.rpartition(".")[2]),
            origin=origin.user_frames_of(connection.stack) if connection else (),
        )

    def _disconnected(self, key: ReceiverKey, entry: _Receiver) -> Change:
        signal = self._signal_name(entry.signal)
        receiver = _name(entry.target())
        sender = _sender_name(entry.lookup_key[1])
        return Change(
            key=self._keyed(entry, _key(signal, receiver, sender, entry.lookup_key)),
            token=None,
            summary=f"receiver {receiver} disconnected from {signal}" + (f" for sender {sender}" if sender else ""),
            before=receiver,
            after=None,
            advice=ADVICE_DISCONNECTED.format(signal=signal.rpartition(".")[2]),
            details=_details("disconnected", signal, receiver, sender, entry.lookup_key),
            subjects=(signal.rpartition(".")[2], receiver.rpartition(".")[2]),
        )

    def _keyed(self, entry: _Receiver, key: str) -> str:
        """`key`, remembering which signal and sender the change's receiver is for (the evidence of a send)."""
        self._receivers_of[key] = (id(entry.signal), entry.lookup_key[1])
        return key

    def _signal_name(self, signal: Signal) -> str:
        name = self._names.get(signal)
        if name is None:
            name = self._names[signal] = _find_name(signal)
        return name


def _module_signals(kinds: set[type]) -> list[Signal]:
    """The signals bound to a global of an imported module, found in C.

    ``type()``, not ``isinstance()``, which reads ``__class__`` and so evaluates a lazy object; ``vars()`` of
    modules only. Several times cheaper than a walk of the garbage collector's objects; a signal held
    elsewhere is seen at its first ``connect``/``disconnect``.
    """
    found: list[Signal] = []
    for module in list(sys.modules.values()):
        namespace = vars(module) if issubclass(type(module), ModuleType) else None
        if isinstance(namespace, dict):
            values = list(namespace.values())
            found += compress(values, map(kinds.__contains__, map(type, values)))
    return found


def _subclasses(cls: type) -> set[type]:
    """`cls` and its subclasses, to any depth."""
    found, pending = {cls}, [cls]
    while pending:
        for subclass in pending.pop().__subclasses__():
            if subclass not in found:
                found.add(subclass)
                pending.append(subclass)
    return found


def _receivers(signal: Signal) -> Receivers:
    """The live receivers of `signal` except this package's own."""
    found: Receivers = {}
    for entry in signal.receivers:  # (lookup_key, receiver_or_ref, ...): the tail differs between Django versions
        receiver = _Receiver(signal, entry[0], entry[1])
        target = receiver.target()
        if target is not None and not getattr(target, "__module__", "").startswith(_OWN_PACKAGE):
            found[(id(signal), entry[0])] = receiver
    return found


def _lookup_key(receiver: Any, sender: Any, dispatch_uid: Hashable) -> LookupKey:
    # The same key Django's Signal.connect computes.
    return (dispatch_uid, _make_id(sender)) if dispatch_uid else (_make_id(receiver), _make_id(sender))


def _connection(caller: FrameType | None, sender: Any) -> _Connection:
    while caller is not None and os.path.abspath(caller.f_code.co_filename).startswith(_PLUMBING):
        caller = caller.f_back
    exempt = caller is None or caller.f_code.co_name == "<module>" or _in_django(caller)
    sender_name = "" if sender is None else _object_name(sender)
    reference = weakref.ref(sender) if issubclass(type(sender), ModelBase) else None
    return _Connection(origin.raw_stack(caller, depth=32), exempt, sender_name, reference)


def _never_sent(connection: _Connection) -> bool:
    """Connected for a model class that is gone, or that the app registry does not hold (its creation failed)."""
    if connection.sender is None:
        return False
    sender = connection.sender()
    meta = vars(sender).get("_meta") if issubclass(type(sender), ModelBase) else None
    return meta is None or apps.all_models.get(meta.app_label, {}).get(meta.model_name) is not sender


def _in_django(frame: FrameType) -> bool:
    return os.path.abspath(frame.f_code.co_filename).startswith(_DJANGO_DIR)


def _find_name(signal: Signal) -> str:
    """The dotted name of a module attribute holding `signal`, preferring ``*.signals`` modules, then short names."""
    homes = [
        f"{module_name}.{attribute}"
        for module_name, module in list(sys.modules.items())
        for attribute, value in list(getattr(module, "__dict__", {}).items())
        if value is signal
    ]
    if not homes:
        return f"<Signal at {id(signal):#x}>"
    return min(homes, key=lambda home: (not home.rpartition(".")[0].endswith("signals"), home.count("."), home))


def _name(receiver: Any) -> str:
    if hasattr(receiver, "__func__") and hasattr(receiver, "__self__"):
        owner = receiver.__self__
        owner_type = owner if isinstance(owner, type) else type(owner)
        return f"{owner_type.__module__}.{receiver.__func__.__qualname__}"
    return _object_name(receiver)


def _object_name(value: Any) -> str:
    if isinstance(value, type) and hasattr(value, "_meta"):
        return str(value._meta.label)
    module, qualname = getattr(value, "__module__", None), getattr(value, "__qualname__", None)
    if module and qualname:
        return f"{module}.{qualname}"
    return f"<{type(value).__name__} object>"


def _sender_name(sender_id: Hashable) -> str:
    """A baseline receiver's sender, from the id in its lookup key: None, a model, or unknown."""
    if sender_id == NONE_ID:
        return ""
    for model in apps.get_models(include_auto_created=True):
        if _make_id(model) == sender_id:
            return str(model._meta.label)
    return "<sender not found>"


def _key(signal: str, receiver: str, sender: str, lookup_key: LookupKey) -> str:
    key = f"{signal}:{receiver}"
    if sender:
        key += f":sender={sender}"
    if isinstance(lookup_key[0], str):
        key += f":dispatch_uid={lookup_key[0]}"
    return key


def _details(change: str, signal: str, receiver: str, sender: str, lookup_key: LookupKey) -> dict[str, Any]:
    uid = lookup_key[0] if isinstance(lookup_key[0], str) else None
    return {"change": change, "signal": signal, "receiver": receiver, "sender": sender or None, "dispatch_uid": uid}
