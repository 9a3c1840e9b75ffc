"""Beam's state-and-timer introspection of a DoFn, memoized by DoFn class.

Beam asks for a DoFn's state and timer specs (``apache_beam.transforms.userstate.
get_dofn_specs``) several times per ParDo while a graph is built and converted, and again
for every ParDo of every bundle processor; each time it takes ``inspect.signature`` of every
method the DoFn has (~35, nearly all Beam's own). On the embedded sample that was ~1.4 of
``curate run stage2``'s CPU seconds. The specs are parameter defaults of the methods of the
DoFn's class, so every instance of a class holding no bound method of its own has the same
specs: those are asked of Beam once per class; any other DoFn is asked of Beam every time.
``install`` puts the memo in Beam's place (the module attribute every caller looks up).
"""

from __future__ import annotations

import types

from apache_beam.transforms import userstate

_beam_get_dofn_specs = userstate.get_dofn_specs
_by_class: dict[type, tuple[frozenset, frozenset]] = {}


def get_dofn_specs(dofn) -> tuple[set, set]:
    """(state specs, timer specs) of ``dofn``, as Beam's ``get_dofn_specs`` returns them."""
    own = getattr(dofn, "__dict__", None)
    if own is None or any(isinstance(v, types.MethodType) for v in own.values()):
        return _beam_get_dofn_specs(dofn)
    cls = type(dofn)
    specs = _by_class.get(cls)
    if specs is None:
        state, timers = _beam_get_dofn_specs(dofn)
        specs = _by_class[cls] = (frozenset(state), frozenset(timers))
    return set(specs[0]), set(specs[1])


def install() -> None:
    """Use the memo for every later Beam call in this process (idempotent)."""
    userstate.get_dofn_specs = get_dofn_specs
