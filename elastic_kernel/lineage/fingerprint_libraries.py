"""Fingerprint descriptions of library objects whose own pickling carries process history (ids,
counters, serialization ids) instead of content: equal values must hash alike in another
process and after a load, and hashing must not change them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from elastic_kernel.lineage.modules import imported

__all__ = ["Describer", "Description", "library_describer", "names_and_values"]

Description = tuple[tuple[object, ...], object]
"""A name (strings and numbers) and the state to hash after it."""

Describer = Callable[[Any], Description | None]
"""Describes an object of its class; None for one it leaves to the generic library path (a
GPU tensor: the class's own reduction)."""


def names_and_values(attributes: dict[Any, Any]) -> tuple[str, tuple[Any, ...]]:
    """An instance's attributes with their names as one text, not as str objects the memo
    would link to equal strings elsewhere: unpickling interns instance-dict keys, so which of
    them are the same object as a string in a tuple (sklearn's ``estimator_params``) changes
    between a value and its loaded copy."""
    # "+" makes a new object even for one name (a one-item join returns the item itself).
    names = "\0" + "\0".join(k if type(k) is str else repr(k) for k in attributes)
    return names, tuple(attributes.values())


def _transform_node(node: Any) -> Description | None:
    # Parents are keyed by id(): the same figure built again (a re-run cell, another
    # process) has other keys, so only the parents themselves are content.
    attrs = dict(vars(node))
    attrs["_parents"] = tuple(attrs.get("_parents", {}).values())
    return ("matplotlib transform", type(node).__qualname__), attrs


def _callback_registry(registry: Any) -> Description | None:
    # Its __getstate__ advances the callback counter (each fingerprint would change the figure)
    # and pickling keeps only the callbacks marked picklable: those, without ids, are content.
    kept = registry._pickled_cids
    callbacks = tuple(
        (signal, tuple(proxy() for cid, proxy in by_id.items() if cid in kept))
        for signal, by_id in registry.callbacks.items()
    )
    return ("matplotlib callbacks",), (registry._signals, callbacks)


def _tensor(tensor: Any) -> Description | None:
    # torch pickles a tensor's storage with torch.save, whose archive carries a fresh
    # serialization id: equal tensors would never hash alike. Dense CPU tensors are hashed
    # from their elements (numpy's view of them); other layouts and devices keep torch's own.
    torch = imported("torch")
    if torch is None or tensor.layout != torch.strided or tensor.device.type != "cpu":
        return None
    data = tensor.detach().resolve_conj().resolve_neg()
    try:
        values = data.numpy()
    except (TypeError, RuntimeError):
        # A dtype numpy lacks (bfloat16, float8): its bytes.
        values = data.contiguous().reshape(-1).view(torch.uint8).numpy()
    # Reading .grad of a non-leaf tensor makes torch warn, in the user's cell output.
    grad = tensor.grad if tensor.is_leaf else None
    kind = type(tensor)
    name = ("torch tensor", kind.__module__, kind.__qualname__, str(tensor.dtype))
    return (*name, tuple(tensor.shape), tensor.requires_grad), (values, grad, vars(tensor))


def _random_state(state: Any) -> Description | None:
    # numpy's global generator (behind np.random.rand, and the default of scipy's frozen
    # distributions) is seeded from OS entropy at import; its SeedSequence keeps that entropy,
    # so its pickle differs in every process even when its draws will not. Only its state counts.
    mtrand = imported("numpy.random.mtrand")
    if mtrand is None or state is not getattr(mtrand, "_rand", None):
        return None
    return ("numpy global RandomState",), mtrand._rand.get_state()


def _vectorizer(vectorizer: Any) -> Description | None:
    # scikit-learn keeps id(stop_words) to notice a change between calls: an address, which
    # a re-run in another process never repeats.
    state = {k: v for k, v in vars(vectorizer).items() if k != "_stop_words_id"}
    kind = type(vectorizer)
    return ("sklearn vectorizer", kind.__module__, kind.__qualname__), names_and_values(state)


# Library classes (and their subclasses), by (module, name).
_DESCRIBERS: dict[tuple[str, str], Describer] = {
    ("torch", "Tensor"): _tensor,
    ("matplotlib.transforms", "TransformNode"): _transform_node,
    ("matplotlib.cbook", "CallbackRegistry"): _callback_registry,
    ("numpy.random.mtrand", "RandomState"): _random_state,
    ("sklearn.feature_extraction.text", "_VectorizerMixin"): _vectorizer,
}


def library_describer(cls: type) -> Describer | None:
    """How to describe instances of ``cls``; None for a class this module does not know."""
    for klass in cls.__mro__:
        describer = _DESCRIBERS.get((klass.__module__, klass.__qualname__))
        if describer is not None:
            return describer
    return None
