#!/usr/bin/env python3
"""PyTorch's side of `npm run compare` (bench/compare/compare.ts): the same training step as the
other libraries, timed the same way, reported in the same JSON lines as compare.ts's Node children.

The step, in PyTorch as one would write it: V one-hot inputs (T, B, V) into one recurrent layer —
nn.RNN (tanh), nn.LSTM or nn.GRU with PyTorch's default biases (b_ih and b_hh) and initialisation —,
nn.Linear(H, V) on every step's h, F.cross_entropy's mean over the T·B positions, loss.backward()
(autograd through the whole chunk: full BPTT), torch.optim.Adam(lr 2e-3).step(). The state (h, and c
for the LSTM) is carried from step to step, detached, as in truncated BPTT. float32 on the CPU.

One-hot, not nn.Embedding: nn.RNN / nn.LSTM / nn.GRU take vectors, not indices, and one-hot x_t
times W_ih is the model itself (nn.RNN(V, H) has W_ih of (G·H, V), the layout bptt's checkpoints
share); TF.js in compare.ts does the same, and an nn.Embedding in front would be a second matrix, a
different model. bptt does that product as a column lookup; PyTorch pays one (T·B, V)·(V, G·H)
product forward and one for dW_ih, 4·V·G·H FLOPs per token on top of the 6·G·H² + 6·V·H both do:
21 % of PyTorch's step FLOPs for the RNN at S, 12–14 % at M, 4 % at L. It is the cost of the
public API, so it stays in the step (as does F.one_hot, a PyTorch user's per-batch input).

Usage (compare.ts passes every number, so the shapes and the timing rule live in one place):
  /usr/bin/python3 torch_step.py --probe
      one JSON line: torch's version, its default thread count and the BLAS its sgemm_ resolves to
  /usr/bin/python3 torch_step.py --cell rnn|lstm|gru --hidden H --seq-length T --batch-size B
      --vocab V --threads K [--wait passive] --warm MS,STEPS --measure MS,STEPS
      {"tokensPerStep", "note", "threads", "blas"} once set up, then {"phase": "warm"|"measure", "ms"}
      per step, then {"done": true}. Warm-up runs until at least STEPS steps and MS milliseconds,
      then the measured steps by the same rule (compare.ts takes their median).

--threads K sets torch.set_num_threads(K) (its OpenMP threads, the element-wise ops) and the BLAS's
own threads (OPENBLAS_NUM_THREADS etc. before torch loads, and openblas_set_num_threads), since
Debian's torch calls the system BLAS (BLAS_INFO=generic: libblas.so.3, which update-alternatives
points at OpenBLAS or at the reference BLAS) and torch.set_num_threads does not reach it.
--wait passive sets OMP_WAIT_POLICY=PASSIVE: by default torch's idle OpenMP worker spins while
OpenBLAS's own pthreads run a product, so on 2 threads three threads compete for two cores. On the
2-core machine of 2026-12-02, with another process keeping both cores busy, the RNN at M on
2 threads ran at 1.0–2.0k tokens/s by default and 37–82k passive (4 alternating pairs; 1 thread:
45–98k). compare.ts measures 2 threads both ways.
Needs only torch (Debian's python3-torch).
"""
from __future__ import annotations

import argparse
import ctypes
import json
import os
import re
import sys
import time
from typing import Any, Optional, Union


def report(o: dict[str, Any]) -> None:
    """One JSON line on stdout, flushed: the parent starts the case's budget at the first line."""
    print(json.dumps(o), flush=True)


# ------------------------------------------------------------------------------------------------
# The BLAS torch's matrix products call. Being mapped proves nothing: Debian's torch maps OpenBLAS
# (through LAPACK) even when libblas.so.3 is the reference BLAS, so the check asks the dynamic
# linker where torch's own sgemm_ resolves to (dlsym from libtorch_cpu's handle, then dladdr).


class DlInfo(ctypes.Structure):
    """glibc's Dl_info, filled by dladdr."""
    _fields_ = [("dli_fname", ctypes.c_char_p), ("dli_fbase", ctypes.c_void_p),
                ("dli_sname", ctypes.c_char_p), ("dli_saddr", ctypes.c_void_p)]


def loaded_libraries() -> list[str]:
    """Paths of the shared libraries mapped into this process, in order of first appearance."""
    paths: list[str] = []
    try:
        with open("/proc/self/maps", encoding="utf-8") as f:
            for line in f:
                fields = line.split()
                if len(fields) >= 6 and fields[5].startswith("/") and ".so" in fields[5] and fields[5] not in paths:
                    paths.append(fields[5])
    except OSError:
        pass  # not Linux: no maps, the BLAS is reported from torch.__config__
    return paths


def sgemm_provider(paths: list[str]) -> Optional[str]:
    """The real path of the library whose sgemm_ torch calls, or None where that cannot be found."""
    torch_lib = next((p for p in paths if os.path.basename(p).startswith("libtorch_cpu.so")), None)
    if torch_lib is None:
        return None
    try:
        address = ctypes.cast(ctypes.CDLL(torch_lib).sgemm_, ctypes.c_void_p).value
        info = DlInfo()
        if ctypes.CDLL(None).dladdr(ctypes.c_void_p(address), ctypes.byref(info)) == 0 or info.dli_fname is None:
            return None
        return os.path.realpath(info.dli_fname.decode())
    except (AttributeError, OSError):  # no sgemm_ (torch without a BLAS) or no dladdr (not glibc)
        return None


def openblas(provider: str, paths: list[str]) -> Optional[ctypes.CDLL]:
    """OpenBLAS's library (for its config and thread API) when the provider is OpenBLAS, else None.
    Debian's openblas-*/libblas.so.3 is a thin interface over libopenblas*.so in the same folder."""
    candidates = [provider] + [p for p in paths if os.path.basename(p).startswith("libopenblas")
                               and os.path.dirname(os.path.realpath(p)) == os.path.dirname(provider)]
    for p in candidates:
        lib = ctypes.CDLL(p)
        if hasattr(lib, "openblas_get_config"):
            lib.openblas_get_config.restype = ctypes.c_char_p
            lib.openblas_get_corename.restype = ctypes.c_char_p
            return lib
    return None


def blas_info(torch_config: str) -> tuple[dict[str, Any], Optional[ctypes.CDLL]]:
    """Which BLAS torch's matrix products run on — {name, path, threads (OpenBLAS), reference: True for
    the netlib reference BLAS, ~30× slower than OpenBLAS} — and OpenBLAS's library when it is that."""
    paths = loaded_libraries()
    provider = sgemm_provider(paths)
    if provider is None:
        if "Math Kernel Library" in torch_config:  # pip wheels link MKL statically
            return {"name": "Intel MKL (linked into torch)", "path": "", "reference": False}, None
        return {"name": "unknown (no sgemm_ found from libtorch_cpu)", "path": "", "reference": False}, None
    lib = openblas(provider, paths)
    if lib is not None:
        config = lib.openblas_get_config().decode()  # "OpenBLAS 0.3.21 NO_LAPACKE DYNAMIC_ARCH ... SkylakeX MAX_THREADS=64"
        version = config.split()[1] if config.startswith("OpenBLAS ") else "?"
        parallel = {0: "sequential", 1: "pthread", 2: "OpenMP"}.get(lib.openblas_get_parallel(), "?")
        kernel = lib.openblas_get_corename().decode()
        return {"name": f"OpenBLAS {version} {parallel}, kernel {kernel}", "path": provider,
                "threads": lib.openblas_get_num_threads(), "reference": False}, lib
    if os.path.basename(provider).startswith("libtorch_cpu"):
        mkl = "Math Kernel Library" in torch_config
        return {"name": "Intel MKL (linked into torch)" if mkl else "linked into torch", "path": provider, "reference": False}, None
    for pattern, name in ((r"mkl", "Intel MKL"), (r"blis", "BLIS"), (r"atlas", "ATLAS")):
        if re.search(pattern, provider):
            return {"name": name, "path": provider, "reference": False}, None
    if os.path.basename(provider).startswith("libblas.so"):  # Debian's: /usr/lib/<triplet>/blas/libblas.so.3
        return {"name": "reference BLAS (netlib)", "path": provider, "reference": True}, None
    return {"name": f"unknown ({os.path.basename(provider)})", "path": provider, "reference": False}, None


# ------------------------------------------------------------------------------------------------
# The case


def random_ids(n: int, seed: int, V: int) -> tuple[list[int], list[int]]:
    """compare.ts's randomIds: the same LCG, so every library trains on the same ids."""
    state = seed & 0xFFFFFFFF
    inputs, targets = [0] * n, [0] * n
    for i in range(n):
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        inputs[i] = state % V
        state = (state * 1664525 + 1013904223) & 0xFFFFFFFF
        targets[i] = state % V
    return inputs, targets


def pair(text: str) -> tuple[float, int]:
    """'MS,STEPS' → (MS, STEPS)."""
    ms, steps = text.split(",")
    return float(ms), int(steps)


def run_case(args: argparse.Namespace) -> None:
    import torch
    import torch.nn.functional as F

    V, H, T, B, k = args.vocab, args.hidden, args.seq_length, args.batch_size, args.threads
    torch.set_num_threads(k)
    blas, lib = blas_info(torch.__config__.show())
    if lib is not None:
        lib.openblas_set_num_threads(k)
        blas["threads"] = lib.openblas_get_num_threads()

    torch.manual_seed(42)
    rnn: torch.nn.Module = {"rnn": lambda: torch.nn.RNN(V, H, nonlinearity="tanh"),
                            "lstm": lambda: torch.nn.LSTM(V, H), "gru": lambda: torch.nn.GRU(V, H)}[args.cell]()
    fc = torch.nn.Linear(H, V)
    opt = torch.optim.Adam(list(rnn.parameters()) + list(fc.parameters()), lr=2e-3)
    inputs, targets = random_ids(T * B, 1, V)
    x_ids = torch.tensor(inputs, dtype=torch.long).view(T, B)  # time-major (T, B), nn.RNN's default layout
    y = torch.tensor(targets, dtype=torch.long)  # (T·B,)
    zeros = torch.zeros(1, B, H)
    state: Union[torch.Tensor, tuple[torch.Tensor, torch.Tensor]] = (zeros, zeros.clone()) if args.cell == "lstm" else zeros

    def step() -> None:
        nonlocal state
        opt.zero_grad(set_to_none=True)
        out, new_state = rnn(F.one_hot(x_ids, V).float(), state)  # (T, B, H)
        loss = F.cross_entropy(fc(out).view(T * B, V), y)  # mean over T·B
        loss.backward()  # full BPTT over the chunk
        opt.step()
        state = tuple(s.detach() for s in new_state) if isinstance(new_state, tuple) else new_state.detach()

    used = torch.get_num_threads()
    note = f"torch {used} thread{'s' if used > 1 else ''}"
    if "threads" in blas:
        note += f", OpenBLAS {blas['threads']}"
    if args.wait == "passive":
        note += ", OMP_WAIT_POLICY=PASSIVE"
    report({"tokensPerStep": T * B, "note": note, "threads": used, "wait": args.wait, "blas": blas})

    def timed() -> float:
        t0 = time.perf_counter()
        step()
        return (time.perf_counter() - t0) * 1000

    for phase, (min_ms, min_steps) in (("warm", pair(args.warm)), ("measure", pair(args.measure))):
        spent, i = 0.0, 0
        while i < min_steps or spent < min_ms:
            ms = timed()
            spent += ms
            i += 1
            report({"phase": phase, "ms": ms})
    report({"done": True})


def probe() -> None:
    import torch

    a = torch.randn(64, 64)
    (a @ a).sum().item()  # one product, so a lazily loaded BLAS is mapped too
    config = torch.__config__.show()
    m = re.search(r"BLAS_INFO=(\w+)", config)
    report({"torch": torch.__version__, "python": sys.executable, "defaultThreads": torch.get_num_threads(),
            "blasInfo": m.group(1) if m else "?", "blas": blas_info(config)[0]})


def main() -> None:
    ap = argparse.ArgumentParser(description="PyTorch's training step for bench/compare (run by compare.ts)")
    ap.add_argument("--probe", action="store_true", help="print torch's version and BLAS as one JSON line")
    ap.add_argument("--cell", choices=["rnn", "lstm", "gru"], default="rnn")
    ap.add_argument("--hidden", type=int, default=100)
    ap.add_argument("--seq-length", type=int, default=25)
    ap.add_argument("--batch-size", type=int, default=1)
    ap.add_argument("--vocab", type=int, default=65)
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--wait", choices=["default", "passive"], default="default",
                    help="passive: OMP_WAIT_POLICY=PASSIVE (idle OpenMP threads sleep instead of spinning)")
    ap.add_argument("--warm", default="1000,2", help="warm-up: at least MS milliseconds and STEPS steps")
    ap.add_argument("--measure", default="5000,3", help="measured: at least MS milliseconds and STEPS steps")
    args = ap.parse_args()
    if args.threads < 1:
        ap.error(f"--threads: expected ≥ 1; received {args.threads}")
    if not args.probe:
        # the BLAS's thread pool is sized when torch loads it; OpenBLAS is also set through its API below
        for name in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "BLIS_NUM_THREADS"):
            os.environ[name] = str(args.threads)
        # read by libgomp when torch loads it; "default" is libgomp's own, whatever the caller's environment says
        if args.wait == "passive":
            os.environ["OMP_WAIT_POLICY"] = "PASSIVE"
        else:
            os.environ.pop("OMP_WAIT_POLICY", None)
    try:
        import torch  # noqa: F401
    except ImportError:  # a clear message instead of a traceback
        sys.stderr.write(f"torch_step.py: error: PyTorch is not installed for {sys.executable} "
                         "(Debian: apt-get install python3-torch; use /usr/bin/python3)\n")
        sys.exit(1)
    if args.probe:
        probe()
    else:
        run_case(args)


if __name__ == "__main__":
    main()
