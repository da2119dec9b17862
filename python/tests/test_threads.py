"""Several Python threads at once: calls give each thread its own right
answer, and the GIL is released while compiled code runs."""

import threading
import time

import numpy as np

import raspc
from conftest import CAUSAL_ATTENTION, causal_attention_reference


def test_threads_calling_one_program(rng):
    program = raspc.compile(CAUSAL_ATTENTION)
    wq, wk, wv = (rng.standard_normal((8, 8)).astype(np.float32) * 0.5 for _ in range(3))
    program.bind(wq=wq, wk=wk, wv=wv)
    inputs = [rng.standard_normal((3 + i, 8)).astype(np.float32) for i in range(8)]
    results = [None] * len(inputs)

    def work(i):
        for _ in range(20):
            results[i] = program(inputs[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(inputs))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for x, y in zip(inputs, results):
        np.testing.assert_allclose(y, causal_attention_reference(x, wq, wk, wv), atol=2e-5)


def test_threads_compiling_at_once():
    sources = [f"model m{i}(x: f32[T, 4]) -> f32[T, 4] {{\n  return x * {i};\n}}\n"
               for i in range(4)]
    programs = [None] * len(sources)

    def work(i):
        programs[i] = raspc.compile(sources[i])

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(sources))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    x = np.ones((2, 4), np.float32)
    for i, program in enumerate(programs):
        np.testing.assert_array_equal(program(x), x * i)


def test_gil_is_released_while_running():
    # A call long enough to see (a [1536, 768] @ [768, 768] product, ten
    # times over): while it runs, the main thread keeps running Python. With
    # the GIL held the main thread's work would finish after the call.
    program = raspc.compile("model m(x: f32[T, 768]) -> f32[T, 768] {\n"
                            "  param w: f32[768, 768];\n"
                            "  let y = x @ w;\n  let z = y @ w;\n  let u = z @ w;\n"
                            "  let v = u @ w;\n  let s = v @ w;\n  let t = s @ w;\n"
                            "  let a = t @ w;\n  let b = a @ w;\n  let c = b @ w;\n"
                            "  return c @ w;\n}\n")
    x = np.ones((1536, 768), np.float32) / 768
    w = np.eye(768, dtype=np.float32)
    program(x, w=w)  # warm: the first call also faults the buffers in
    started = threading.Event()
    finished = []

    def call():
        started.set()
        program(x, w=w)
        finished.append(time.perf_counter())

    thread = threading.Thread(target=call)
    thread.start()
    started.wait()
    time.sleep(0.001)
    count = 0
    for count in range(1000):  # a little pure-Python work
        pass
    main_done = time.perf_counter()
    running = thread.is_alive()
    thread.join()
    assert running, "the call ended before the main thread's work; make it longer"
    assert main_done < finished[0]
