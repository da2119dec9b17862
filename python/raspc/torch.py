"""PyTorch integration: a compiled program as a PyTorch custom operator.

    import torch, raspc, raspc.torch
    program = raspc.compile("layer.rasp").bind("layer.safetensors")
    attend = raspc.torch.op(program)           # registered as torch.ops.raspc.<name>

    class Block(torch.nn.Module):
        def forward(self, x):
            return x + attend(x)               # inside forward, and inside torch.compile

The operator takes the program's inputs and its parameters that are not
bound, as tensors in declaration order (`attend.arguments` lists them); the
bound ones travel inside. Its shape function comes from the program's
declared result, so torch.compile traces through it without running it.
raspc programs have no gradients yet: backward through the operator raises
a RuntimeError that says so.
"""

from __future__ import annotations

import hashlib
import re
from typing import Optional

import torch

from . import Program

_DTYPES = {
    "f32": torch.float32,
    "f16": torch.float16,
    "bf16": torch.bfloat16,
    "i32": torch.int32,
    "i64": torch.int64,
    "bool": torch.bool,
}

_library = torch.library.Library("raspc", "FRAGMENT")
_registered: dict[str, "Operator"] = {}


class Operator:
    """A program registered as torch.ops.raspc.<name>; call it on tensors."""

    def __init__(self, program: Program, name: str):
        self.program = program
        self.name = name
        bound = set(program.bound)
        signature = program.signature
        self.arguments = tuple(a for a in (*signature.inputs, *signature.parameters)
                               if a.name not in bound)
        self._by_name = [a.name for a in self.arguments]
        self._input_count = len(signature.inputs)
        names = _schema_names([a.name for a in self.arguments])
        schema = f"{name}({', '.join(f'Tensor {n}' for n in names)}) -> Tensor"
        _library.define(schema)
        _library.impl(name, self._run, "CPU")
        torch.library.register_fake(f"raspc::{name}", lib=_library)(self._fake)
        torch.library.register_autograd(f"raspc::{name}", _no_backward(program.name),
                                        lib=_library)
        self._op = getattr(torch.ops.raspc, name).default

    def __call__(self, *tensors):
        return self._op(*tensors)

    def __repr__(self) -> str:
        return f"<raspc.torch.Operator torch.ops.raspc.{self.name}: {self.program.signature}>"

    def _run(self, *tensors):
        inputs = tensors[:self._input_count]
        params = dict(zip(self._by_name[self._input_count:], tensors[self._input_count:]))
        return self.program(*inputs, **params)

    def _fake(self, *tensors):
        # The result's sizes from the arguments' by symbol.
        sizes = {}
        for argument, tensor in zip(self.arguments, tensors):
            for symbol, size in zip(argument.shape, tensor.shape):
                if isinstance(symbol, str):
                    sizes.setdefault(symbol, size)
        for argument in self.program.signature.parameters:
            if argument.name in self.program.bound:
                for symbol, size in zip(argument.shape,
                                        self.program._bound[argument.name].shape):
                    if isinstance(symbol, str):
                        sizes.setdefault(symbol, size)
        result = self.program.signature.result
        shape = []
        for symbol in result.shape:
            if isinstance(symbol, int):
                shape.append(symbol)
            elif symbol in sizes:
                shape.append(sizes[symbol])
            else:
                raise RuntimeError(f"raspc.torch: the size '{symbol}' of {self.program.name}'s "
                                   "result is not known before it runs")
        return torch.empty(shape, dtype=_DTYPES[result.dtype], device="cpu")


def _schema_names(names):
    """Argument names as a schema takes them: identifiers, unique."""
    seen, result = set(), []
    for name in names:
        clean = re.sub(r"\W", "_", name)
        if not clean or clean[0].isdigit() or clean in ("self", "out"):
            clean = "arg_" + clean
        while clean in seen:
            clean += "_"
        seen.add(clean)
        result.append(clean)
    return result


def _no_backward(name):
    def backward(ctx, grad):
        raise RuntimeError(f"raspc program '{name}' has no gradient yet: raspc compiles the "
                           "forward pass only; run it under torch.no_grad() or "
                           "torch.inference_mode(), or detach its inputs")

    return backward


def op(program: Program, name: Optional[str] = None) -> Operator:
    """Registers `program` (parameters bound or not) as the custom operator
    torch.ops.raspc.NAME (default: the entry's name and a hash of the
    program and its bound parameters) and returns it. Registering the same
    program again returns the same operator."""
    key = f"{id(program)}"
    if key in _registered:
        return _registered[key]
    if name is None:
        digest = hashlib.sha1(program._source.encode() + repr(sorted(program._options.items()))
                              .encode() + key.encode()).hexdigest()[:8]
        name = f"{re.sub(r'[^A-Za-z0-9_]', '_', program.name)}_{digest}"
    operator = Operator(program, name)
    _registered[key] = operator
    return operator
