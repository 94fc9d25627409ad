"""torch tensors that share storage stay shared after loading.

Plain pickling of a tensor copies its storage, so ``base`` and ``row = base[1]`` come back as
two independent tensors. Here every CPU strided tensor is reduced to (its storage, offset, size,
stride, dtype, requires_grad, grad) with ONE placeholder object per storage, which the pickle
memo then writes once: the storage's bytes go out of band as a numpy buffer, and every tensor of
the group is rebuilt on the same storage.

Optimizers are pickled with their whole ``__dict__``: torch's own ``__getstate__`` keeps only
defaults, state and param groups, so registered hooks, the learning-rate scheduler's wrapper of
``step`` (and its ``_opt_called`` flag, which decides the scheduler's call-order warning) would
not come back. The scheduler's wrapper holds a weak reference to its optimizer, which is
pickled as a weak reference to the same optimizer of the stream.
"""

from __future__ import annotations

import sys
import weakref
from typing import Any, cast

import numpy as np

__all__ = ["TorchReducer"]


class _Storage:
    """Stands for one torch storage in a pickle stream (memoized: one per storage)."""

    __slots__ = ("data",)

    def __init__(self, data: np.ndarray[Any, Any]) -> None:
        self.data = data

    def __reduce__(self) -> tuple[Any, ...]:
        return (_rebuild_storage, (self.data,))


def _rebuild_storage(data: np.ndarray[Any, Any]) -> object:
    import torch

    return torch.from_numpy(np.ascontiguousarray(data)).untyped_storage()


def _rebuild_tensor(
    storage: Any,
    offset: int,
    size: tuple[int, ...],
    stride: tuple[int, ...],
    dtype_name: str,
    requires_grad: bool,
    grad: object,
    is_parameter: bool,
) -> object:
    import torch

    dtype = getattr(torch, dtype_name)
    tensor = torch.empty(0, dtype=dtype).set_(storage, offset, size, stride)
    if is_parameter:
        tensor = torch.nn.Parameter(tensor, requires_grad=requires_grad)
    elif requires_grad:
        tensor.requires_grad_(True)
    if grad is not None:
        tensor.grad = cast(Any, grad)  # a tensor that was pickled with the group
    return tensor


def _new_optimizer(cls: type[Any]) -> object:
    """An empty optimizer whose class ``step`` is already wrapped with torch's hook runner, as
    in the saving process: the scheduler's wrapper in the state refers to that ``step`` by name,
    and must find the one that runs the step hooks. The state (the whole ``__dict__``) follows
    through the optimizer's own ``__setstate__``."""
    optimizer = object.__new__(cls)
    patch = getattr(optimizer, "_patch_step_function", None)
    if patch is not None:
        patch()
    return optimizer


class TorchReducer:
    """Reduces the tensors and optimizers of one pickle call; ``NotImplemented`` for anything
    else."""

    def __init__(self) -> None:
        self._storages: dict[tuple[int, int], _Storage] = {}
        self._optimizers: set[int] = set()
        self._keep: list[object] = []

    def _reduce_optimizer(self, obj: object, torch: Any) -> Any:
        optimizer = torch.optim.Optimizer
        if isinstance(obj, optimizer):
            if type(obj).__getstate__ is not optimizer.__getstate__:
                return NotImplemented
            self._optimizers.add(id(obj))
            return (_new_optimizer, (type(obj),), dict(vars(obj)))
        if type(obj) is weakref.ref:
            referent = obj()
            if referent is not None and id(referent) in self._optimizers:
                return (weakref.ref, (referent,))
        return NotImplemented

    def reduce(self, obj: object) -> Any:
        torch = sys.modules.get("torch")
        if torch is None:
            return NotImplemented
        if not isinstance(obj, torch.Tensor):
            return self._reduce_optimizer(obj, torch)
        is_parameter = type(obj) is torch.nn.Parameter
        if not (type(obj) is torch.Tensor or is_parameter):
            return NotImplemented
        if (
            obj.device.type != "cpu"
            or obj.layout != torch.strided
            or obj.is_quantized
            or obj.is_conj()
            or obj.is_neg()
            or (obj.requires_grad and not obj.is_leaf)
        ):
            return NotImplemented
        storage = obj.untyped_storage()
        key = (storage.data_ptr(), storage.nbytes())
        placeholder = self._storages.get(key)
        if placeholder is None or key[0] == 0:
            raw = torch.empty(0, dtype=torch.uint8).set_(storage).numpy()
            placeholder = _Storage(raw)
            self._storages[key] = placeholder
            # The placeholder must outlive the pickle call: the memo is keyed by id.
            self._keep.append(placeholder)
        return (
            _rebuild_tensor,
            (
                placeholder,
                obj.storage_offset(),
                tuple(obj.size()),
                tuple(obj.stride()),
                str(obj.dtype).removeprefix("torch."),
                bool(obj.requires_grad),
                obj.grad,
                is_parameter,
            ),
        )
