"""raspc from Python: compile attention programs and RASP sequence programs,
and run them on NumPy arrays and PyTorch tensors.

    import numpy as np, raspc
    layer = raspc.compile('''
    model scaled(x: f32[T, 4]) -> f32[T, 4] {
      param w: f32[4, 4];
      return x @ w;
    }''')
    y = layer(np.ones((3, 4), np.float32), w=np.eye(4, dtype=np.float32))

See docs/python.md for the whole API, the dtypes and when arrays are copied.
"""

from __future__ import annotations

import os
import re
import sys
from typing import Any, Iterable, Mapping, NamedTuple, Optional, Sequence, Tuple, Union

import numpy as np

from . import _raspc
from ._raspc import Error, RuntimeError  # noqa: A004 - raspc.RuntimeError, as documented

__all__ = [
    "Argument",
    "CompileError",
    "Diagnostic",
    "Error",
    "Program",
    "RuntimeError",
    "Signature",
    "compile",
    "compile_file",
    "load",
    "num_threads",
    "set_num_threads",
    "SelectorPattern",
    "show_selectors",
]

__version__ = "0.1.0"

num_threads = _raspc.num_threads
set_num_threads = _raspc.set_num_threads


class Diagnostic(NamedTuple):
    """One located message of the compiler."""

    file: str
    line: int
    column: int
    severity: str  # "error", "warning" or "note"
    message: str
    source_line: str = ""  # the line of source it points into, if shown

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.column}: {self.severity}: {self.message}"


_LOCATED = re.compile(r"^(.*?):(\d+):(\d+): (error|warning|note): (.*)$")


def _parse_diagnostics(text: str) -> list[Diagnostic]:
    diagnostics: list[Diagnostic] = []
    lines = text.splitlines()
    for i, line in enumerate(lines):
        match = _LOCATED.match(line)
        if not match:
            continue
        source = lines[i + 1] if i + 2 < len(lines) and lines[i + 2].lstrip().startswith("^") else ""
        file, row, column, severity, message = match.groups()
        diagnostics.append(Diagnostic(file, int(row), int(column), severity, message, source))
    return diagnostics


class CompileError(Error):
    """A program that does not compile. `str(error)` is the compiler's
    output (file:line:col: error: ..., the source line, a caret);
    `diagnostics` holds each message located, and `file`, `line`, `column`
    and `message` are those of the first error."""

    def __init__(self, text: str):
        super().__init__(text.rstrip("\n"))
        self.text = text
        self.diagnostics = _parse_diagnostics(text)
        first = next((d for d in self.diagnostics if d.severity == "error"), None)
        self.file = first.file if first else None
        self.line = first.line if first else None
        self.column = first.column if first else None
        self.message = first.message if first else text.strip()


class Argument(NamedTuple):
    """An input, a parameter or the result of a compiled entry point."""

    name: str
    dtype: str  # "f32", "f16", "bf16", "i32", "i64", "bool"
    shape: Tuple[Union[int, str, None], ...]  # a symbol ("T") for sizes known at run time
    parameter: bool = False
    vocab: Tuple[str, ...] = ()  # token sequences: their vocabulary

    def __str__(self) -> str:
        dims = ", ".join("?" if d is None else str(d) for d in self.shape)
        return f"{self.name}: {self.dtype}[{dims}]" if self.name else f"{self.dtype}[{dims}]"


def _argument(d: dict) -> Argument:
    return Argument(d["name"], d["dtype"], tuple(d["shape"]), d["parameter"], tuple(d["vocab"]))


class Signature(NamedTuple):
    """What a compiled entry point takes and gives."""

    name: str
    is_model: bool
    inputs: Tuple[Argument, ...]
    parameters: Tuple[Argument, ...]
    result: Argument

    def __str__(self) -> str:
        kind = "model" if self.is_model else "def"
        text = f"{kind} {self.name}({', '.join(map(str, self.inputs))}) -> {self.result}"
        if self.parameters:
            count = len(self.parameters)
            text += f"; {count} parameter{'s' if count != 1 else ''}"
        return text


# NumPy's dtype for each of raspc's (bf16 needs ml_dtypes; without it a bf16
# result comes back as its uint16 bits).
_NUMPY_DTYPES = {
    "f32": np.float32,
    "f16": np.float16,
    "i32": np.int32,
    "i64": np.int64,
    "bool": np.bool_,
}


def _bfloat16():
    try:
        import ml_dtypes  # noqa: PLC0415 - optional
    except ImportError:
        return None
    return ml_dtypes.bfloat16


def _torch():
    return sys.modules.get("torch")


def _is_torch(value) -> bool:
    torch = _torch()
    return torch is not None and isinstance(value, torch.Tensor)


class Program:
    """A compiled entry point, callable on arrays.

    `program(*inputs, **named)` runs it: inputs by position or by name,
    parameters by name (`**{"encoder.layer.0.attention.self.query.weight":
    w}` for dotted names) unless bound with `bind()`. NumPy arrays give a
    NumPy result, PyTorch CPU tensors a PyTorch one."""

    def __init__(self, native, source: str, file_name: str, options: dict):
        self._native = native
        self._source = source
        self._file_name = file_name
        self._options = options
        arguments = [_argument(a) for a in native.arguments]
        self.signature = Signature(
            native.name,
            native.is_model,
            tuple(a for a in arguments if not a.parameter),
            tuple(a for a in arguments if a.parameter),
            _argument(native.result),
        )
        self._arguments = arguments
        self._index = {a.name: i for i, a in enumerate(arguments)}
        self._bound: dict[str, Any] = {}
        self._all_bound = not self.signature.parameters
        self._result_bf16 = self.signature.result.dtype == "bf16"
        self._input_count = len(self.signature.inputs)

    @property
    def name(self) -> str:
        return self.signature.name

    @property
    def is_model(self) -> bool:
        return self.signature.is_model

    def __repr__(self) -> str:
        return f"<raspc.Program {self.signature}>"

    # -- parameters ---------------------------------------------------------

    def bind(self, params: Union[str, os.PathLike, Mapping[str, Any], None] = None, /,
             **named) -> "Program":
        """Binds parameters once, so that calls pass only inputs: a
        .safetensors file (every parameter, loaded by name and checked
        against its declaration), a mapping of name to array, or arrays by
        keyword. Arrays are kept (made contiguous once), not copied per call,
        and matmuls read bound weights from panels packed once, at the first
        call: do not change a bound array in place; bind it again instead.
        Returns the program."""
        values: dict[str, Any] = {}
        if isinstance(params, (str, os.PathLike)):
            values.update(self._native.load_safetensors(os.fspath(params)))
        elif params is not None:
            values.update(params)
        values.update(named)
        for name, value in values.items():
            i = self._index.get(name)
            if i is None or not self._arguments[i].parameter:
                raise TypeError(f"'{self.name}' has no parameter '{name}'"
                                + _closest(name, [a.name for a in self.signature.parameters]))
            prepared = _prepare(value, self._arguments[i])
            self._native.bind(i, prepared)  # described once, kept
            self._bound[name] = prepared
        # With every parameter bound, a call with its inputs by position
        # takes the fast path: only the inputs cross.
        self._all_bound = all(p.name in self._bound for p in self.signature.parameters)
        return self

    @property
    def bound(self) -> Tuple[str, ...]:
        """The names of the parameters bound so far."""
        return tuple(self._bound)

    # -- running ------------------------------------------------------------

    def __call__(self, *inputs, **named):
        if not named and self._all_bound and len(inputs) == self._input_count:
            # The fast path: arrays the native side reads in place, with the
            # parameters bound there; anything else (lists, strided arrays,
            # bf16 in NumPy) takes the general path.
            try:
                result, torch = self._native.run(list(inputs), True)
            except _raspc.NeedsPreparation:
                pass
            else:
                return self._finish(result, torch)
        return self._call_by_name(inputs, named)

    def _finish(self, result, torch):
        """The native result (a NumPy array owning the program's buffer) as
        the caller's kind: a PyTorch tensor over the same memory when an
        input was one, bf16 as ml_dtypes.bfloat16 where that is installed."""
        if torch:
            torch = sys.modules["torch"]
            if self._result_bf16:
                return torch.from_numpy(result.view(np.int16)).view(torch.bfloat16)
            return torch.from_numpy(result)
        if self._result_bf16:
            bfloat16 = _bfloat16()
            if bfloat16 is not None:
                result = result.view(bfloat16)
        return result

    def _call_by_name(self, inputs, named):
        arguments = self._arguments
        if len(inputs) > len(arguments):
            raise TypeError(f"'{self.name}' takes {len(arguments)} arguments, got {len(inputs)}")
        values: list = [None] * len(arguments)
        for i, value in enumerate(inputs):
            values[i] = value
        for name, value in named.items():
            i = self._index.get(name)
            if i is None:
                raise TypeError(f"'{self.name}' has no argument '{name}'"
                                + _closest(name, list(self._index)))
            if values[i] is not None:
                raise TypeError(f"argument '{name}' given twice")
            values[i] = value
        for i, argument in enumerate(arguments):
            value = values[i]
            if value is None:
                value = self._bound.get(argument.name)
                if value is None:
                    kind = "parameter" if argument.parameter else "input"
                    raise TypeError(f"{kind} '{argument.name}' of '{self.name}' is missing")
                values[i] = value
                continue
            values[i] = _prepare(value, argument)
        return self._finish(*self._native.run(values))

    def run_tokens(self, tokens: Iterable[Any], *, selectors: bool = False):
        """Runs a sequence program on a list of tokens (words, numbers or
        booleans, by the input's type). Returns a list with one value per
        position: str for token sequences, int, float or bool otherwise, None
        where the program gives no value. With `selectors=True` (the program
        compiled with expose_selectors=True) also returns the selectors as a
        dict of name to boolean [queries, keys] arrays."""
        words = [_token_text(t) for t in tokens]
        outputs, matrices = self._native.run_tokens(words)
        result = self.signature.result
        convert = _token_value(result)
        values = [None if o == "_" else convert(o) for o in outputs]
        if selectors:
            return values, dict(matrices)
        return values

    # -- for people who write passes ------------------------------------------

    def ir(self, stage: str = "attn") -> str:
        """The program at a stage of the pipeline, as `raspc --emit=STAGE`
        prints it: ast, attn, tiled, loops, llvm-dialect (MLIR), llvm (LLVM
        IR), asm, header, ptx."""
        if stage in ("obj", "lib"):
            raise ValueError(f"stage '{stage}' is binary; use emit('{stage}')")
        return self.emit(stage)

    def emit(self, stage: str):
        """What `raspc --emit=STAGE` writes: text, or bytes for obj and lib."""
        text, diagnostics = _raspc.emit(self._source, self._file_name, self._options, stage)
        if text is None:
            raise CompileError(diagnostics)
        return text


def _closest(name: str, names: Sequence[str]) -> str:
    import difflib  # noqa: PLC0415

    close = difflib.get_close_matches(name, names, n=4, cutoff=0.5)
    return f" (closest: {', '.join(close)})" if close else ""


def _prepare(value, argument: Argument):
    """An argument as the native run takes it: a C-contiguous CPU array
    (NumPy, PyTorch or anything with __dlpack__), read in place when it
    already is one."""
    if isinstance(value, np.ndarray):
        if value.dtype.name == "bfloat16":  # ml_dtypes: NumPy cannot export it
            value = value.view(np.uint16)
        if not value.flags.c_contiguous:
            value = np.ascontiguousarray(value)
        return value
    if _is_torch(value):
        if value.requires_grad:
            value = value.detach()
        if not value.is_contiguous():
            value = value.contiguous()
        return value
    if hasattr(value, "__dlpack__"):
        return value
    # Python numbers and lists of them: converted (a copy) to the declared
    # dtype.
    dtype = _NUMPY_DTYPES.get(argument.dtype)
    if dtype is None or not isinstance(value, (int, float, bool, list, tuple)):
        kind = "parameter" if argument.parameter else "input"
        raise TypeError(f"{kind} '{argument.name}' must be an array (NumPy, a PyTorch tensor, "
                        f"DLPack) or a list, not {type(value).__name__}")
    try:
        return np.ascontiguousarray(np.asarray(value, dtype=dtype))
    except (TypeError, ValueError) as error:
        raise TypeError(f"argument '{argument.name}': {error}") from None


def _token_text(token) -> str:
    if isinstance(token, (bool, np.bool_)):
        return "true" if token else "false"
    return str(token)


def _token_value(result: Argument):
    # As the JIT prints them: i32 results are tokens, i64 integers, f32
    # numbers, bools 0/1.
    if result.dtype == "i32":
        return str
    if result.dtype == "i64":
        return int
    if result.dtype == "bool":
        return lambda text: text == "1"
    return float


def _compile(source: str, file_name: str, entry, target, options) -> Program:
    # The native side checks the names (an unknown one is a TypeError).
    given = dict(options, entry=entry, target=target)
    native, diagnostics = _raspc.compile(source, file_name, given)
    if native is None:
        raise CompileError(diagnostics)
    if diagnostics.strip():
        import warnings  # noqa: PLC0415

        warnings.warn(diagnostics.rstrip("\n"), stacklevel=3)
    return Program(native, source, file_name, given)


def compile(source_or_path: Union[str, os.PathLike], entry: Optional[str] = None,
            target: str = "cpu", **options) -> Program:
    """Compiles a program for this machine.

    `source_or_path` is the program's text, or the path of a .rasp file (a
    path object, or a one-line string naming a file that exists). `entry`
    picks the def or model (default: `main`, else the last). Options:
    opt_level (0-3), packed_batch, expose_selectors, cpu (an LLVM CPU name),
    plugins, insert_before_tiling / insert_after_tiling / insert_before_llvm
    (pass pipelines); for target="cuda": gpu_arch, gpu_binary, cuda_toolkit,
    gpu_wgmma. Raises CompileError with the located diagnostics."""
    if isinstance(source_or_path, os.PathLike) or (
            isinstance(source_or_path, str) and "\n" not in source_or_path
            and os.path.isfile(source_or_path)):
        return compile_file(source_or_path, entry, target, **options)
    return _compile(source_or_path, "<string>", entry, target, options)


def compile_file(path: Union[str, os.PathLike], entry: Optional[str] = None,
                 target: str = "cpu", **options) -> Program:
    """Compiles the .rasp file at `path` (see compile())."""
    path = os.fspath(path)
    with open(path, encoding="utf-8") as file:
        source = file.read()
    return _compile(source, path, entry, target, options)


def load(path: Union[str, os.PathLike], params: Union[str, os.PathLike, Mapping[str, Any], None] = None,
         entry: Optional[str] = None, **options) -> Program:
    """Compiles the model at `path` and binds its parameters (a .safetensors
    file or a mapping of name to array): the one call a checkpoint needs."""
    program = compile_file(path, entry, **options)
    if params is not None:
        program.bind(params)
    return program


class SelectorPattern:
    """A selector after a run: which keys (columns) each query (row) selects.
    Shows itself as a grid in Jupyter (_repr_svg_) and as text in a shell."""

    def __init__(self, name: str, tokens: Sequence[str], selected: np.ndarray):
        self.name = name
        self.tokens = list(tokens)
        self.selected = selected  # bool [queries, keys]

    def __repr__(self) -> str:
        rows = [" ".join("1" if s else "." for s in row) for row in self.selected]
        return f"{self.name}\n" + "\n".join(rows)

    def _repr_svg_(self) -> str:
        # The picture `raspc run --selectors-svg` draws.
        return _raspc.selector_svg(self.name, self.tokens,
                                   np.ascontiguousarray(self.selected, dtype=np.bool_))


def show_selectors(program: Program, tokens: Iterable[Any]) -> list[SelectorPattern]:
    """Runs a sequence program on `tokens` and returns every selector it
    builds as a SelectorPattern (a picture in Jupyter). A program compiled
    without expose_selectors is compiled again with it."""
    if not program._options.get("expose_selectors"):
        options = dict(program._options, expose_selectors=True)
        native, diagnostics = _raspc.compile(program._source, program._file_name, options)
        if native is None:
            raise CompileError(diagnostics)
        program = Program(native, program._source, program._file_name, options)
    words = [_token_text(t) for t in tokens]
    _, selectors = program.run_tokens(words, selectors=True)
    return [SelectorPattern(name, words, matrix) for name, matrix in selectors.items()]
