#!/usr/bin/env python3
"""Continue a bptt training run on PyTorch, on one process or many, exactly as `bptt train --resume` would.

Usage:
  python3 scripts/train_torch.py --resume M.safetensors --data FILE --steps N [--out M2.safetensors]
      [--json] [--checkpoint-every N] [--eval-every N] [--epochs N] [--device cpu|cuda]
  torchrun --nproc-per-node K scripts/train_torch.py … [--device cuda]
      (Debian's torch 1.13: python3 -m torch.distributed.run --nproc_per_node K --redirects 1 --tee 1 …)

It reads a bptt checkpoint (safetensors: weights, config, vocabulary, optimizer state and the
training state of metadata "train": step, data position, carried h (and c), schedule, seed) and
the text it was trained on, trains with bptt's arithmetic — the same stream batching and
chunking, state carry and reset at epoch boundaries, mean cross-entropy in nats/char, clipping,
update rules, learning-rate schedule and dropout masks — and writes a bptt checkpoint that
`bptt train --resume`, `bptt sample` and `bptt eval` read. `--steps` and `--epochs` count from the
start of the original run, as bptt's do.

Under torchrun the B streams are split over the K processes (rank r takes streams
r·B/K … (r+1)·B/K − 1), each process computes the gradient of its share of the mean loss over all
B·T positions, one all-reduce sums them, and every process makes the same update: the result is
the one-process result up to float rounding. Rank 0 alone prints and writes checkpoints.

Each formula below names the bptt code it mirrors (file:function, formula label such as O5).
Only the standard library and torch are needed (safetensors is read and written by hand, as in
scripts/torch_interop.py).
"""
from __future__ import annotations

import argparse
import json
import math
import os
import signal
import struct
import sys
import time
from dataclasses import dataclass, field
from typing import Any, Optional

try:
    import torch
    import torch.distributed as dist
    import torch.nn.functional as F
except ImportError:  # a clear message instead of a traceback
    sys.stderr.write("train_torch.py: error: PyTorch is not installed for this Python (Debian: apt-get install python3-torch; use /usr/bin/python3)\n")
    sys.exit(1)

PROG = "train_torch.py"
U32 = 0xFFFFFFFF
#: Steps of the smoothed loss (src/train/trainer.ts: SMOOTHING).
SMOOTHING = 0.99
#: State arrays of each update rule, in bptt's order (src/train/optimizers.ts: STATE_NAMES).
STATE_NAMES: dict[str, list[str]] = {
    "sgd": [],
    "momentum": ["optim.momentum_buffer"],
    "adagrad": ["optim.sum"],
    "rmsprop": ["optim.square_avg"],
    "adam": ["optim.exp_avg", "optim.exp_avg_sq"],
}
#: The cells this script trains, as their folders in src/cells/ state them (test/torch-train.test.ts checks
#: these tables against the registry, src/cells/index.ts): the carried state's checkpoint tensors (the
#: cell's stateKeys), (L, B, H) each, and the gate blocks G (its gateNames).
STATE_KEYS: dict[str, list[str]] = {"rnn": ["train.hidden"], "lstm": ["train.hidden", "train.cell"], "gru": ["train.hidden"]}
GATES: dict[str, int] = {"rnn": 1, "lstm": 4, "gru": 3}
DTYPES: dict[str, torch.dtype] = {"F32": torch.float32, "F64": torch.float64, "F16": torch.float16, "BF16": torch.bfloat16}
DTYPE_BYTES: dict[str, int] = {"F32": 4, "F64": 8, "F16": 2, "BF16": 2}


class BpttError(Exception):
    """A problem to report in one line, without a traceback: exit code 1 (data) or 2 (usage)."""

    def __init__(self, message: str, code: int = 1) -> None:
        super().__init__(message)
        self.code = code


# ---------------------------------------------------------------------------------------------
# Safetensors (src/io/safetensors.ts): an 8-byte little-endian header length, a JSON header
# {name: {dtype, shape, data_offsets}, "__metadata__": {str: str}}, then the raw data.

def read_safetensors(path: str) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    """Read a safetensors file defensively.

    Returns (tensors converted to float32, metadata). Raises BpttError naming the file and the problem.
    """
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        raise BpttError(f"{path}: cannot be read ({e.strerror}); expected a bptt checkpoint (.safetensors)")
    fail = lambda problem: BpttError(f"{path}: {problem}")  # noqa: E731
    if len(data) < 8:
        raise fail(f"file is {len(data)} bytes; a safetensors file has at least 8. It is empty or truncated")
    (n,) = struct.unpack("<Q", data[:8])
    if n > 100_000_000 or 8 + n > len(data):
        raise fail(f"header length is {n} bytes but {len(data) - 8} follow; this is not a safetensors file, or it is truncated")
    try:
        header = json.loads(data[8:8 + n].decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise fail(f"header is not UTF-8 JSON ({e}); the file is corrupt or not a safetensors file")
    if not isinstance(header, dict):
        raise fail("header is not a JSON object; the file is corrupt or not a safetensors file")
    meta = header.pop("__metadata__", {})
    if not isinstance(meta, dict) or not all(isinstance(v, str) for v in meta.values()):
        raise fail('"__metadata__" is not an object of strings')
    base = 8 + n
    tensors: dict[str, torch.Tensor] = {}
    for name, info in header.items():
        if not isinstance(info, dict) or info.get("dtype") not in DTYPES or not isinstance(info.get("shape"), list) \
                or not isinstance(info.get("data_offsets"), list) or len(info["data_offsets"]) != 2:
            raise fail(f"tensor {name!r} has a bad entry {json.dumps(info)[:200]}; expected dtype F32/F64/F16/BF16, shape, data_offsets")
        shape = info["shape"]
        begin, end = info["data_offsets"]
        if not all(isinstance(d, int) and d >= 0 for d in shape) or not (isinstance(begin, int) and isinstance(end, int) and 0 <= begin <= end <= len(data) - base):
            raise fail(f"tensor {name!r} has shape {shape} / data_offsets {info['data_offsets']} outside the file; it is truncated or corrupt")
        count = math.prod(shape)
        if end - begin != count * DTYPE_BYTES[info["dtype"]]:
            raise fail(f"tensor {name!r} ({info['dtype']}, shape {shape}) has {end - begin} bytes; expected {count * DTYPE_BYTES[info['dtype']]}")
        raw = data[base + begin:base + end]
        t = torch.frombuffer(bytearray(raw), dtype=DTYPES[info["dtype"]]) if count > 0 else torch.empty(0, dtype=DTYPES[info["dtype"]])
        tensors[name] = t.reshape(shape).to(torch.float32)
    return tensors, meta


def write_atomic(path: str, parts: list[bytes]) -> None:
    """Write a file atomically (src/io/atomic.ts: writeFileAtomic): a temporary file in the same
    directory, flushed to disk, renamed over the target — a crash never leaves half a file."""
    directory = os.path.dirname(os.path.abspath(path))
    tmp = os.path.join(directory, f".{os.path.basename(path)}.{os.getpid()}.{os.urandom(4).hex()}.tmp")
    try:
        with open(tmp, "wb") as f:
            for p in parts:
                f.write(p)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        try:
            fd = os.open(directory, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        except OSError:
            pass  # some file systems cannot fsync a directory; the rename is done
    except OSError as e:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise BpttError(f"cannot write {path} ({e.strerror}); the previous file, if any, is intact")


def safetensors_parts(tensors: list[tuple[str, torch.Tensor]], meta: dict[str, str]) -> list[bytes]:
    """The bytes of a safetensors file of float32 tensors, as parts to write in order."""
    header: dict[str, Any] = {"__metadata__": meta}
    blobs: list[bytes] = []
    offset = 0
    for name, t in tensors:
        raw = t.detach().to("cpu", torch.float32).contiguous().numpy().tobytes()
        header[name] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    h = json.dumps(header, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
    h += b" " * (-len(h) % 8)  # the data starts 8-byte aligned, as bptt writes it
    return [struct.pack("<Q", len(h)), h, *blobs]


# ---------------------------------------------------------------------------------------------
# The checkpoint (docs/architecture.md, Checkpoints; src/io/checkpoint.ts, src/train/run-state.ts)

@dataclass
class ParamSpec:
    """One tensor of the flat parameter layout (src/model/params.ts: paramSpecs)."""
    name: str
    shape: list[int]
    offset: int
    size: int


def model_parts(cfg: dict[str, Any], where: str) -> tuple[type[InputModule], type[HeadModule]]:
    """The config's input and head (absent: one-hot and softmax, src/model/config.ts: parseModelConfig), refused
    with a clear message when this script does not know them."""
    chosen = (cfg.get("input", "onehot"), cfg.get("head", "softmax"))
    for key, kind, known in (("input", chosen[0], INPUTS), ("head", chosen[1], HEADS)):
        if kind not in known:
            raise BpttError(f"{where}: the model's {key} is {json.dumps(kind)}, which {PROG} does not know "
                            f"(it trains the {key}s {', '.join(known)}); continue this run with `bptt train --resume`")
    return INPUTS[chosen[0]], HEADS[chosen[1]]


def param_specs(cfg: dict[str, Any]) -> list[ParamSpec]:
    """The model's tensors in PyTorch's state_dict order, with offsets into one flat array (src/model/params.ts: paramSpecs):
    the input's own (none for one-hot), the stack's (in_0 = the input's width), the head's (softmax: nn.Linear(H, V))."""
    H, L, G = cfg["hiddenSize"], cfg["layers"], GATES[cfg["cell"]]
    input_kind, head_kind = model_parts(cfg, "the model")
    in0 = input_kind.width(cfg)
    specs: list[ParamSpec] = []
    offset = 0

    def add(name: str, shape: list[int]) -> None:
        """Append one tensor at the current offset."""
        nonlocal offset
        specs.append(ParamSpec(name, shape, offset, math.prod(shape)))
        offset += math.prod(shape)

    for name, shape in input_kind.tensors(cfg):
        add(name, shape)
    for k in range(L):
        add(f"rnn.weight_ih_l{k}", [G * H, in0 if k == 0 else H])
        add(f"rnn.weight_hh_l{k}", [G * H, H])
        if cfg["bias"]:
            add(f"rnn.bias_ih_l{k}", [G * H])
            add(f"rnn.bias_hh_l{k}", [G * H])
    for name, shape in head_kind.tensors(cfg):
        add(name, shape)
    return specs


@dataclass
class Checkpoint:
    """A bptt checkpoint with its training state."""
    cfg: dict[str, Any]
    config_json: str  # written back unchanged
    vocab: list[str]
    vocab_json: str
    params: torch.Tensor  # flat float32, paramSpecs layout
    optim: dict[str, torch.Tensor]  # optimizer state, flat float32 each
    carried: torch.Tensor  # (S, L, B, H): h, and c for the LSTM (src/train/run-state.ts: PreparedRun.carried)
    train: dict[str, Any]  # metadata "train" (src/train/run-state.ts: TrainState)


def load_checkpoint(path: str) -> Checkpoint:
    """Read a bptt checkpoint and its training state, checking everything the run relies on
    (src/io/checkpoint.ts: checkpointFromBytes; src/train/run-state.ts: parseTrainState, prepareRun)."""
    tensors, meta = read_safetensors(path)
    fail = lambda problem: BpttError(f"{path}: {problem}")  # noqa: E731
    if meta.get("format") != "bptt":
        raise fail(f'metadata format is {json.dumps(meta.get("format"))}; expected "bptt". This is not a bptt checkpoint')
    try:
        cfg = json.loads(meta["config"])
        cfg.setdefault("nonlinearity", "tanh")
        cell, H, V, L, bias = cfg["cell"], cfg["hiddenSize"], cfg["vocabSize"], cfg["layers"], cfg["bias"]
    except (KeyError, TypeError, json.JSONDecodeError):
        raise fail('metadata "config" is missing or malformed; expected JSON with cell, layers, hiddenSize, vocabSize, bias')
    if cell not in GATES:
        raise fail(f"the model's cell is {json.dumps(cell)}, which {PROG} does not know "
                   f"(it trains the cells {', '.join(GATES)}); continue this run with `bptt train --resume`")
    if not all(isinstance(x, int) and x >= 1 for x in (H, V, L)) or not isinstance(bias, bool) \
            or cfg["nonlinearity"] not in ("tanh", "relu", "sigmoid") or (cell != "rnn" and cfg["nonlinearity"] != "tanh"):
        raise fail(f"config {meta['config']} is not a model bptt trains")
    model_parts(cfg, path)
    try:
        vocab = json.loads(meta["vocab"])
        assert isinstance(vocab, list) and len(vocab) == V and all(isinstance(s, str) and len(s) == 1 for s in vocab) and len(set(vocab)) == V
    except (KeyError, json.JSONDecodeError, AssertionError):
        raise fail(f"has no usable vocabulary (metadata vocab: a JSON array of {V} distinct characters); it cannot be trained on text")
    if "train" not in meta:
        raise fail('has no training state (metadata "train"): a model from `bptt init` or another program. '
                   "Give it one with `bptt train --resume M --data FILE --steps 0`, then continue here")
    try:
        train = json.loads(meta["train"])
        assert isinstance(train, dict) and train.get("version") == 1 and isinstance(train.get("settings"), dict)
        assert isinstance(train["step"], int) and train["step"] >= 0 and isinstance(train["settings"]["optimizer"], dict)
        assert isinstance(train["position"]["epoch"], int) and isinstance(train["position"]["chunk"], int)
        assert isinstance(train["textChars"], int) and isinstance(train["textHash"], str) and isinstance(train["smoothLoss"], (int, float))
    except (json.JSONDecodeError, AssertionError, KeyError, TypeError):
        raise fail('metadata "train" is malformed; it cannot be resumed')
    specs = param_specs(cfg)
    params = torch.empty(specs[-1].offset + specs[-1].size)
    for s in specs:
        t = tensors.get(s.name)
        if t is None or list(t.shape) != s.shape:
            got = "none" if t is None else f"shape {list(t.shape)}"
            raise fail(f"tensor {s.name}: expected shape {s.shape} for {cell}, layers {L}, hiddenSize {H}, vocabSize {V}, bias {bias}; received {got}")
        if not bool(torch.isfinite(t).all()):
            raise fail(f"{s.name} holds NaN or Infinity; expected finite weights. Use an earlier checkpoint")
        params[s.offset:s.offset + s.size] = t.reshape(-1)
    P = params.numel()
    name = train["settings"]["optimizer"].get("name")
    if name not in STATE_NAMES:
        raise fail(f"training state names optimizer {json.dumps(name)}; expected one of {', '.join(STATE_NAMES)}")
    optim: dict[str, torch.Tensor] = {}
    for key in [k for k in tensors if k.startswith("optim.")]:
        if key not in STATE_NAMES[name]:
            raise fail(f"has optimizer state {key}, which {name} does not keep (src/train/optimizers.ts: STATE_NAMES)")
    for key in STATE_NAMES[name]:
        t = tensors.get(key)
        if t is None or t.numel() != P:
            raise fail(f"optimizer state {key}: expected {P} values (one per parameter); received {'none' if t is None else t.numel()}")
        optim[key] = t.reshape(-1).clone()
    B = train["settings"].get("batchSize")
    if not (isinstance(B, int) and B >= 1):
        raise fail("training state has no batch size")
    parts = []
    for key in STATE_KEYS[cell]:
        t = tensors.get(key)
        if t is None or t.numel() != L * B * H:
            raise fail(f"the checkpoint's {key} tensor is missing or has the wrong size; expected {L * B * H} values")
        parts.append(t.reshape(L, B, H))
    return Checkpoint(cfg, meta["config"], vocab, meta["vocab"], params, optim, torch.stack(parts), train)


# ---------------------------------------------------------------------------------------------
# The text (src/data/node-files.ts, text.ts, vocab.ts, batcher.ts; src/train/run-state.ts)

def read_ids(path: str, vocab: list[str]) -> list[int]:
    """Read a UTF-8 text (a leading byte-order mark dropped, as src/data/text.ts: decodeText) and map
    each code point to its id in the checkpoint's vocabulary (src/data/vocab.ts: encode)."""
    try:
        with open(path, "rb") as f:
            raw = f.read()
    except OSError as e:
        raise BpttError(f"{path} cannot be read ({e.strerror}); expected the text the checkpoint was trained on")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        raise BpttError(f"{path} is not UTF-8 text (first bad byte near offset {e.start}); expected the text the checkpoint was trained on")
    if text.startswith("\ufeff"):
        text = text[1:]
    index = {c: i for i, c in enumerate(vocab)}
    try:
        return [index[c] for c in text]
    except KeyError:
        unknown: dict[str, int] = {}
        for c in text:
            if c not in index:
                unknown[c] = unknown.get(c, 0) + 1
        listed = ", ".join(f"{json.dumps(c, ensure_ascii=False)} ×{n}" for c, n in sorted(unknown.items(), key=lambda kv: -kv[1])[:20])
        raise BpttError(f"{path} has {sum(unknown.values())} characters that are not in the checkpoint's vocabulary: {listed}. "
                        "Resume with the text the checkpoint was trained on (--data)")


def hash_ids(ids: list[int]) -> str:
    """FNV-1a over the ids (src/train/run-state.ts: hashIds): the fingerprint a resume checks."""
    h = 0x811C9DC5
    for i in ids:
        h = ((h ^ i) * 0x01000193) & U32
    return f"{h:08x}"


def split_text(ids: list[int], val_fraction: float) -> tuple[list[int], list[int]]:
    """The first 1 − f trains, the last f validates (src/data/text.ts: splitText; m = Math.round(n·f))."""
    n = len(ids)
    m = math.floor(n * val_fraction + 0.5)
    return ids[:n - m], ids[n - m:]


def chunks_per_epoch(n: int, B: int, T: int) -> int:
    """floor((L − 1)/T) with L = floor(n/B) ids per stream (src/data/batcher.ts: chunksPerEpoch)."""
    L = n // B
    return 0 if L < 1 else (L - 1) // T


def next_position(epoch: int, chunk: int, chunks: int) -> tuple[int, int]:
    """The chunk after this one, or chunk 0 of the next epoch (src/data/batcher.ts: nextPosition)."""
    return (epoch, chunk + 1) if chunk + 1 < chunks else (epoch + 1, 0)


# ---------------------------------------------------------------------------------------------
# Learning-rate schedule (src/train/optimizers.ts: learningRateAt)

def learning_rate_at(base_lr: float, step: int, schedule: dict[str, Any]) -> float:
    """The learning rate of the update after `step` updates: warm-up, then step decay or cosine to a floor."""
    warmup = schedule.get("warmup", 0)
    if schedule.get("kind", "step") == "cosine":
        end, floor = schedule["cosineSteps"], schedule.get("minLrFraction", 0.1)
        if step < warmup:
            return (base_lr * (step + 1)) / warmup  # lr·(step+1)/warmup
        progress = min(1, (step - warmup) / (end - warmup))
        return base_lr * (floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress)))  # lr·(f + (1−f)·½(1 + cos(π·progress)))
    decay, every = schedule.get("decay", 1), schedule.get("decayEvery", 1)
    lr = base_lr if decay == 1 else base_lr * math.pow(decay, step // every)  # lr·decay^⌊step/decayEvery⌋
    if step < warmup:
        lr *= (step + 1) / warmup  # · (step+1)/warmup
    return lr


# ---------------------------------------------------------------------------------------------
# Dropout masks (src/nn/dropout.ts): a 32-bit hash of the global position, keyed by the step's
# seed and the layer. The hash works on Python ints and on int64 tensors alike: every value stays
# in [0, 2³²) and products are split so that none exceeds 2⁴⁹ (no int64 overflow).

def imul(a: Any, c: int) -> Any:
    """Math.imul(a, c) >>> 0 for a in [0, 2³²) and a constant c: (a·c) mod 2³², without overflowing int64."""
    lo, hi = c & 0xFFFF, (c >> 16) & 0xFFFF
    return (a * lo + (((a * hi) & 0xFFFF) << 16)) & U32


def fmix32(h: Any) -> Any:
    """MurmurHash3's 32-bit finaliser (src/nn/dropout.ts: fmix32)."""
    h = h ^ (h >> 16)
    h = imul(h, 0x85EBCA6B)
    h = h ^ (h >> 13)
    h = imul(h, 0xC2B2AE35)
    return h ^ (h >> 16)


def dropout_seed(run_seed: int, step: int) -> int:
    """The seed of one step's masks (src/nn/dropout.ts: dropoutSeed); `step` = updates already made."""
    return fmix32((fmix32(run_seed & U32) + imul((step + 1) & U32, 0x9E3779B9)) & U32)


def dropout_multipliers(seed: int, layer: int, p: float, T: int, B: int, H: int, b0: int, Bs: int, device: torch.device) -> torch.Tensor:
    """D1's m_t for streams b0 … b0+Bs−1 of the full batch of B, as a (T, Bs, H) float64 tensor of 0 and
    1/(1−p) (src/nn/dropout.ts: applyDropout): element (t, b, j) is kept when
    maskHash(layerKey(seed, layer), (t·B + b0 + b)·H + j) ≥ ⌊p·2³²⌋."""
    key = fmix32((seed ^ imul(layer + 1, 0x85EBCA6B)) & U32)  # layerKey
    t = torch.arange(T, dtype=torch.int64, device=device).view(T, 1, 1)
    b = torch.arange(b0, b0 + Bs, dtype=torch.int64, device=device).view(1, Bs, 1)
    j = torch.arange(H, dtype=torch.int64, device=device).view(1, 1, H)
    index = ((t * B + b) * H + j) & U32  # the global index, as JS's `^` sees it (mod 2³²)
    h = fmix32((fmix32(index ^ key) + key) & U32)  # maskHash
    keep = h >= math.floor(p * 4294967296)
    return keep.to(torch.float64) * (1 / (1 - p))


# ---------------------------------------------------------------------------------------------
# The model: input → L recurrent layers (PyTorch's own nn.RNN / nn.LSTM / nn.GRU, one module per
# layer so that bptt's masks go between them) → dropout → head, the input and head of the config
# (model_parts: INPUTS, HEADS below, as src/inputs/ and src/heads/ register bptt's).

class InputModule(torch.nn.Module):
    """A model input (src/inputs/types.ts): x_t for the stack's first layer from a batch's (T, B) inputs."""

    @staticmethod
    def width(cfg: dict[str, Any]) -> int:
        """in_0, the width of x_t as layer 0's weight_ih reads it."""
        raise NotImplementedError

    @staticmethod
    def tensors(cfg: dict[str, Any]) -> list[tuple[str, list[int]]]:
        """Its own tensors, PyTorch's names and shapes (they come first in the state_dict)."""
        raise NotImplementedError


class OneHotInput(InputModule):
    """The one-hot input (src/inputs/onehot/): x_t is the one-hot vector of token k_t, so W_ih x_t is column x_t of
    W_ih (F1); in_0 = V, no tensor of its own."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.V = cfg["vocabSize"]

    @staticmethod
    def width(cfg: dict[str, Any]) -> int:
        return cfg["vocabSize"]

    @staticmethod
    def tensors(cfg: dict[str, Any]) -> list[tuple[str, list[int]]]:
        return []

    def forward(self, inputs: torch.Tensor, dtype: torch.dtype) -> torch.Tensor:
        """(T, B) ids → x (T, B, V)."""
        return F.one_hot(inputs, self.V).to(dtype)


class HeadModule(torch.nn.Module):
    """A model head (src/heads/types.ts): the per-position losses from the top layer's outputs and the targets."""

    @staticmethod
    def tensors(cfg: dict[str, Any]) -> list[tuple[str, list[int]]]:
        """Its tensors, PyTorch's names and shapes (they come last in the state_dict)."""
        raise NotImplementedError


class SoftmaxHead(HeadModule):
    """The softmax cross-entropy head (src/heads/softmax/): fc = nn.Linear(H, V), F3 ȳ_t = W_o h_t + b_o, then
    F4–F5 y_t = softmax(ȳ_t), e_t = −log y_t[k_t] (src/kernels/portable.ts: softmaxCrossEntropy)."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.fc = torch.nn.Linear(cfg["hiddenSize"], cfg["vocabSize"], bias=cfg["bias"])

    @staticmethod
    def tensors(cfg: dict[str, Any]) -> list[tuple[str, list[int]]]:
        V, H = cfg["vocabSize"], cfg["hiddenSize"]
        return [("fc.weight", [V, H])] + ([("fc.bias", [V])] if cfg["bias"] else [])

    def forward(self, x: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
        """x (T, B, H), targets (T, B) ids → the losses e_t (T, B)."""
        logits = self.fc(x)  # F3  ȳ_t = W_o h_t + b_o
        # F4–F5  e_t = −log softmax(ȳ_t)[k_t]
        return F.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1), reduction="none").view(targets.shape)


#: The inputs and heads this script knows, by their config names (src/inputs/index.ts, src/heads/index.ts).
INPUTS: dict[str, type[InputModule]] = {"onehot": OneHotInput}
HEADS: dict[str, type[HeadModule]] = {"softmax": SoftmaxHead}


class SigmoidRNN(torch.nn.Module):
    """The simple RNN with f1 = sigmoid, which PyTorch lacks: h_t = σ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh)
    (src/cells/rnn/reference.ts, F1–F2), autograd through a plain time loop."""

    def __init__(self, n_in: int, H: int, bias: bool) -> None:
        super().__init__()
        self.weight_ih_l0 = torch.nn.Parameter(torch.zeros(H, n_in))
        self.weight_hh_l0 = torch.nn.Parameter(torch.zeros(H, H))
        self.bias_ih_l0 = torch.nn.Parameter(torch.zeros(H)) if bias else None
        self.bias_hh_l0 = torch.nn.Parameter(torch.zeros(H)) if bias else None

    def forward(self, x: torch.Tensor, h0: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """As nn.RNN's forward: x (T, B, in), h0 (1, B, H) → outputs (T, B, H), h_T (1, B, H)."""
        pre = F.linear(x, self.weight_ih_l0, self.bias_ih_l0)  # W_ih x_t + b_ih for all t
        h, out = h0[0], []
        for t in range(x.shape[0]):
            h = torch.sigmoid(pre[t] + F.linear(h, self.weight_hh_l0, self.bias_hh_l0))
            out.append(h)
        return torch.stack(out), h.unsqueeze(0)


class CharRNN(torch.nn.Module):
    """bptt's language model (src/model/lm.ts: lmForward) built from PyTorch's modules."""

    def __init__(self, cfg: dict[str, Any]) -> None:
        super().__init__()
        self.cell, self.H, self.L = cfg["cell"], cfg["hiddenSize"], cfg["layers"]
        input_kind, head_kind = model_parts(cfg, "the model")
        self.input, self.head = input_kind(cfg), head_kind(cfg)
        in0 = input_kind.width(cfg)
        layers: list[torch.nn.Module] = []
        for k in range(self.L):
            n_in, bias = in0 if k == 0 else self.H, cfg["bias"]
            if self.cell == "lstm":
                layers.append(torch.nn.LSTM(n_in, self.H, 1, bias=bias))
            elif self.cell == "gru":
                layers.append(torch.nn.GRU(n_in, self.H, 1, bias=bias))
            elif cfg["nonlinearity"] == "sigmoid":
                layers.append(SigmoidRNN(n_in, self.H, bias))
            else:
                layers.append(torch.nn.RNN(n_in, self.H, 1, nonlinearity=cfg["nonlinearity"], bias=bias))
        self.layers = torch.nn.ModuleList(layers)
        # the parameters in paramSpecs order, so that the flat arrays line up with bptt's
        by_name = {f"rnn.{n[:-1]}{k}": p for k, m in enumerate(self.layers) for n, p in m.named_parameters()}
        by_name |= dict(self.input.named_parameters()) | dict(self.head.named_parameters())
        self.ordered = [by_name[s.name] for s in param_specs(cfg)]

    @torch.no_grad()
    def set_flat(self, flat: torch.Tensor) -> None:
        """Copy the flat parameter array (paramSpecs layout) into the modules."""
        offset = 0
        for p in self.ordered:
            p.copy_(flat[offset:offset + p.numel()].view_as(p))
            offset += p.numel()

    def flat_grad(self) -> torch.Tensor:
        """The gradient as one flat float32 array in paramSpecs layout (zeros where a parameter got none)."""
        return torch.cat([(p.grad if p.grad is not None else torch.zeros_like(p)).reshape(-1) for p in self.ordered])

    def forward(self, inputs: torch.Tensor, targets: torch.Tensor, state: torch.Tensor,
                masks: Optional[list[Optional[torch.Tensor]]] = None) -> tuple[torch.Tensor, torch.Tensor]:
        """Per-position losses −log y_t[target] (T, B) and the final state (S, L, B, H).

        inputs, targets: (T, B) ids, time-major as bptt's (src/data/batcher.ts: fillChunk);
        state: (S, L, B, H), h then c; masks: per layer the D1 multipliers (T, B, H), or None.
        """
        x = self.input(inputs, state.dtype)  # x_t of the input (one-hot: W_ih x_t is column x_t of W_ih, F1)
        finals_h, finals_c = [], []
        for l, layer in enumerate(self.layers):
            h0 = state[0, l:l + 1]
            if self.cell == "lstm":
                out, (hT, cT) = layer(x, (h0, state[1, l:l + 1]))  # L1–L4
                finals_c.append(cT[0])
            else:
                out, hT = layer(x, h0)  # F1–F2 / G1–G4
            finals_h.append(hT[0])
            if masks is not None and masks[l] is not None:
                # D1  x̃_t = m_t ⊙ h_t, in float64 then rounded, as src/nn/dropout.ts: applyDropout does;
                # autograd's backward of these casts and the product is D2 (dh_t = m_t ⊙ dx̃_t)
                out = (out.double() * masks[l]).to(out.dtype)
            x = out
        losses = self.head(x, targets)  # the head's per-position losses (softmax: F3–F5, −log y_t[k_t])
        final = torch.stack([torch.stack(finals_h)] + ([torch.stack(finals_c)] if finals_c else []))
        return losses, final.detach()


# ---------------------------------------------------------------------------------------------
# Clipping and the update rules (src/train/clip.ts, src/train/optimizers.ts). bptt computes each
# update in float64 (JS numbers) from float32 arrays and stores float32; so do these.

def clip_elementwise(g: torch.Tensor, limit: float) -> torch.Tensor:
    """C1  g_i = min(max(g_i, −limit), limit) (src/train/clip.ts: clipElementwise)."""
    return g.clamp(-limit, limit)


def global_norm(g: torch.Tensor) -> float:
    """C2  ‖g‖ = √(Σ g_i²) in float64 (src/train/clip.ts: globalNorm)."""
    return math.sqrt(float((g.double() ** 2).sum()))


def clip_global_norm(g: torch.Tensor, max_norm: float) -> torch.Tensor:
    """C3  g ·= min(1, maxNorm / (‖g‖ + 1e-6)) (src/train/clip.ts: clipGlobalNorm), ‖g‖ of the gradient as
    it is now, i.e. after C1 when both clippings are on."""
    scale = max_norm / (global_norm(g) + 1e-6)
    return (g.double() * scale).float() if scale < 1 else g


class Optimizer:
    """sgd, momentum, adagrad, rmsprop, adam over one flat array (src/train/optimizers.ts: Optimizer.step)."""

    def __init__(self, opts: dict[str, Any], state: dict[str, torch.Tensor], step_count: int, decayed: torch.Tensor) -> None:
        self.o = opts
        self.name: str = opts["name"]
        self.state = state  # float32, STATE_NAMES order
        self.t = step_count  # updates taken so far (t of O5 after the last one)
        self.decayed = decayed  # bool mask: the weight matrices, not the biases (src/train/run-state.ts: prepareRun)

    def step(self, p: torch.Tensor, g: torch.Tensor, lr: float) -> torch.Tensor:
        """One update; returns the new float32 parameters (the state is updated in place)."""
        o, d = self.o, self.decayed
        self.t += 1
        p64, g64 = p.double(), g.double()
        if o["weightDecay"] > 0:
            if self.name == "adam":
                # O6  p −= lr·λ·p, as p ·= (1 − lr·λ) (optimizers.ts: decoupledDecay)
                p64 = torch.where(d, (p64 * (1 - lr * o["weightDecay"])).float().double(), p64)
            else:
                # O7  g += λ·p, rounded to float32 like bptt's gradient array (optimizers.ts: l2Decay)
                g64 = torch.where(d, (g64 + o["weightDecay"] * p64).float().double(), g64)
        s = self.state
        if self.name == "sgd":
            p64 = p64 - lr * g64  # O1  p −= lr·g (optimizers.ts: sgdUpdate)
        elif self.name == "momentum":
            b = o["momentum"] * s["optim.momentum_buffer"].double() + g64  # O2  b = μ·b + g (momentumUpdate)
            s["optim.momentum_buffer"].copy_(b)
            p64 = p64 - lr * b  # O2  p −= lr·b
        elif self.name == "adagrad":
            acc = s["optim.sum"].double() + g64 * g64  # O3  s += g² (adagradUpdate)
            s["optim.sum"].copy_(acc)
            p64 = p64 - (lr * g64) / (torch.sqrt(acc) + o["eps"])  # O3  p −= lr·g / (√s + ε)
        elif self.name == "rmsprop":
            v = o["alpha"] * s["optim.square_avg"].double() + (1 - o["alpha"]) * g64 * g64  # O4  v = α·v + (1−α)·g² (rmspropUpdate)
            s["optim.square_avg"].copy_(v)
            p64 = p64 - (lr * g64) / (torch.sqrt(v) + o["eps"])  # O4  p −= lr·g / (√v + ε)
        else:
            b1, b2 = o["beta1"], o["beta2"]
            bc1, bc2 = 1 - math.pow(b1, self.t), 1 - math.pow(b2, self.t)  # 1−β1^t, 1−β2^t (Optimizer.step)
            m = b1 * s["optim.exp_avg"].double() + (1 - b1) * g64  # O5  m = β1·m + (1−β1)·g (src/kernels/portable.ts: adamUpdate)
            v = b2 * s["optim.exp_avg_sq"].double() + (1 - b2) * g64 * g64  # O5  v = β2·v + (1−β2)·g²
            s["optim.exp_avg"].copy_(m)
            s["optim.exp_avg_sq"].copy_(v)
            # O5  p −= (lr/(1−β1^t)) · m / (√v/√(1−β2^t) + ε), with the unrounded m and v, as adamUpdate
            p64 = p64 - ((lr / bc1) * m) / (torch.sqrt(v) / math.sqrt(bc2) + o["eps"])
        return p64.float()


# ---------------------------------------------------------------------------------------------
# Validation (src/model/evaluate.ts: evaluateIds; src/data/batcher.ts: evalChunks, fillEvalChunk)

@torch.no_grad()
def evaluate(model: CharRNN, ids: torch.Tensor, T: int, B: int, S: int) -> float:
    """Mean loss (nats/char) over ids[1…n): B streams of ⌊(n−1)/B⌋ targets in chunks of T from a zero
    state, state carried, then the r left over in one stream (bptt's validation pass)."""
    n = ids.numel()
    P = n - 1
    per = P // B
    plan: list[tuple[int, int, bool, int, int]] = []  # (streams, steps, reset, offset, stride)
    plan += [(B, min(T, per - s), s == 0, s, per) for s in range(0, per, T)]
    plan += [(1, min(T, P - s), s == B * per, s, 0) for s in range(B * per, P, T)]
    total, state = 0.0, None
    dev = ids.device
    for Bc, Tc, reset, offset, stride in plan:
        if reset:
            state = torch.zeros(S, model.L, Bc, model.H, device=dev)
        at = offset + torch.arange(Bc, device=dev).view(1, Bc) * stride + torch.arange(Tc, device=dev).view(Tc, 1)
        losses, state = model(ids[at], ids[at + 1], state)
        total += float(losses.double().sum())  # summed in float64
    return total / P


# ---------------------------------------------------------------------------------------------
# The run

def parse_args(argv: list[str]) -> argparse.Namespace:
    """The command line (bptt train's flags where they apply)."""
    ap = argparse.ArgumentParser(prog=PROG, description="Continue a bptt run on PyTorch (one process, or many under torchrun).")
    ap.add_argument("--resume", required=True, metavar="M.safetensors", help="the bptt checkpoint to continue (with its training state)")
    ap.add_argument("--data", required=True, metavar="FILE", help="the UTF-8 text the checkpoint was trained on")
    ap.add_argument("--steps", type=int, metavar="N", help="stop after N updates in total, counted from the start of the original run")
    ap.add_argument("--epochs", type=float, metavar="N", help="stop after N passes over the training text in total")
    ap.add_argument("--out", metavar="FILE", help="checkpoint to write (default: the --resume file)")
    ap.add_argument("--checkpoint-every", type=int, metavar="N", help="steps between checkpoints (0: only at the end; default the run's, else 1000)")
    ap.add_argument("--eval-every", type=int, metavar="N", help="steps between validation passes (0: only at the end; default the run's, else 500)")
    ap.add_argument("--json", action="store_true", help="one JSON object per event (step, eval, checkpoint, done) on stdout")
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"], help="cpu (gloo between processes) or cuda (nccl; one GPU per process)")
    args = ap.parse_args(argv)
    if args.steps is None and args.epochs is None:
        ap.error("give a budget: --steps N and/or --epochs N (counted from the start of the original run)")
    if (args.steps is not None and args.steps < 0) or (args.epochs is not None and not args.epochs > 0):
        ap.error("--steps must be ≥ 0 and --epochs > 0")
    if (args.checkpoint_every is not None and args.checkpoint_every < 0) or (args.eval_every is not None and args.eval_every < 0):
        ap.error("--checkpoint-every and --eval-every must be ≥ 0")
    return args


@dataclass
class Dist:
    """Where this process sits: rank of K, its streams b0 … b0+Bs−1 of B."""
    rank: int = 0
    world: int = 1
    b0: int = 0
    Bs: int = 1
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))

    def all_sum(self, t: torch.Tensor) -> torch.Tensor:
        """Σ over the processes, in place (a no-op on one process)."""
        if self.world > 1:
            dist.all_reduce(t, op=dist.ReduceOp.SUM)
        return t

    def gather_streams(self, local: torch.Tensor) -> torch.Tensor:
        """The (S, L, B, H) carried state of all processes from each one's (S, L, Bs, H)."""
        if self.world == 1:
            return local
        parts = [torch.empty_like(local) for _ in range(self.world)]
        dist.all_gather(parts, local.contiguous())
        return torch.cat(parts, dim=2)


def train_state_json(ck: Checkpoint, live: dict[str, Any]) -> str:
    """metadata "train" in bptt's key order (src/train/run-state.ts: runCheckpoint)."""
    t = ck.train
    state = {
        "version": 1, "settings": t["settings"], "step": live["step"],
        "position": {"epoch": live["epoch"], "chunk": live["chunk"]}, "smoothLoss": live["smoothLoss"],
        "valLoss": live["valLoss"], "textChars": t["textChars"], "textHash": t["textHash"],
        "best": live["best"], "evalsSinceBest": live["evalsSinceBest"],
    }
    return json.dumps(state, ensure_ascii=False, separators=(",", ":"))


def main(argv: list[str]) -> int:
    """Run; returns the exit code."""
    args = parse_args(argv)
    world, rank = int(os.environ.get("WORLD_SIZE", "1")), int(os.environ.get("RANK", "0"))
    say = (lambda text: sys.stderr.write(text + "\n")) if rank == 0 else (lambda text: None)
    emit = (lambda obj: print(json.dumps(obj), flush=True)) if rank == 0 and args.json else (lambda obj: None)

    # --- everything from the checkpoint and the text (src/train/run-state.ts: prepareRun), on every process
    ck = load_checkpoint(args.resume)
    cfg, st = ck.cfg, ck.train["settings"]
    # the run's own budget and cadences, kept in its checkpoint and replaced by the flags given, as
    # bptt train --resume does (src/train/run-state.ts: resolveSettings; the budget is always given here)
    st["budget"] = {k: v for k, v in (("steps", args.steps), ("epochs", args.epochs)) if v is not None}
    cadence = dict(st.get("cadence") or {"evalEvery": 500, "checkpointEvery": 1000, "keepBest": False, "patience": 0, "sampleEvery": 0, "sampleLength": 200})
    if args.eval_every is not None:
        cadence["evalEvery"] = args.eval_every
    if args.checkpoint_every is not None:
        cadence["checkpointEvery"] = args.checkpoint_every
    st["cadence"] = cadence
    args.eval_every, args.checkpoint_every = cadence["evalEvery"], cadence["checkpointEvery"]
    T, B, seed = st["seqLength"], st["batchSize"], st["seed"]
    ids = read_ids(args.data, ck.vocab)
    text_hash = hash_ids(ids)
    if len(ids) != ck.train["textChars"] or text_hash != ck.train["textHash"]:
        raise BpttError(f"the checkpoint was trained on a different text ({ck.train['textChars']} characters, hash {ck.train['textHash']}); "
                        f"{args.data} has {len(ids)} characters, hash {text_hash}. Resume with the same --data")
    train_ids, val_ids = split_text(ids, st["valFraction"])
    if st.get("valChars") is not None:
        val_ids = val_ids[:st["valChars"]]
    chunks = chunks_per_epoch(len(train_ids), B, T)
    epoch, chunk = ck.train["position"]["epoch"], ck.train["position"]["chunk"]
    if not 0 <= chunk < chunks:
        raise BpttError(f"the checkpoint stopped at chunk {chunk} of an epoch, but this text gives {chunks} chunks per epoch; resume with the same text")
    if B % world != 0:
        divisors = [k for k in range(1, B + 1) if B % k == 0]
        raise BpttError(f"the batch of B = {B} streams does not split over {world} processes; use a number of processes that divides it "
                        f"({', '.join(map(str, divisors))})", 2)
    schedule = dict(st["schedule"])
    if schedule.get("kind") == "cosine" and schedule.get("cosineSteps") is None:
        if args.steps is None:  # as run-state.ts: resolveSettings, cosineSteps defaults to --steps
            raise BpttError("the cosine schedule needs the step where it ends; give --steps", 2)
        schedule["cosineSteps"] = args.steps
        st["schedule"] = schedule
    out = args.out or args.resume

    # --- processes and device
    d = Dist(rank=rank, world=world)
    if args.device == "cuda":
        if not torch.cuda.is_available():
            raise BpttError("--device cuda: no CUDA device is available to this PyTorch", 2)
        d.device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(d.device)
    if world > 1:
        # A manual all-reduce of the flat gradient rather than DistributedDataParallel's hooks: in BPTT
        # every weight's gradient is complete only when the backward pass reaches t = 1, so DDP's
        # overlap of communication with the backward pass buys nothing here, while one flat all-reduce
        # of a sum keeps the arithmetic plain (the loss is a mean over all B·T positions, so each process
        # backpropagates its Σ over local positions / (B·T), and the sum of those is the full gradient;
        # DDP would average, i.e. divide by K) and gives every process bit-identical gradients, hence
        # identical updates. The result is DDP's: data-parallel over the streams, one update.
        dist.init_process_group("nccl" if args.device == "cuda" else "gloo")  # env://: MASTER_ADDR, MASTER_PORT, RANK, WORLD_SIZE
    d.Bs = B // world
    d.b0 = rank * d.Bs
    dev = d.device

    # --- model, optimizer, state
    model = CharRNN(cfg).to(dev)
    theta = ck.params.to(dev)  # the float32 master copy, paramSpecs layout
    model.set_flat(theta)
    specs = param_specs(cfg)
    decayed = torch.zeros(theta.numel(), dtype=torch.bool, device=dev)
    for s in specs:
        if "weight" in s.name:  # weight decay applies to the weight matrices, not the biases
            decayed[s.offset:s.offset + s.size] = True
    opts = st["optimizer"]
    optimizer = Optimizer(opts, {k: v.to(dev) for k, v in ck.optim.items()}, ck.train["step"], decayed)
    S = len(STATE_KEYS[cfg["cell"]])
    carried = ck.carried[:, :, d.b0:d.b0 + d.Bs].contiguous().to(dev)  # this process's streams
    streams = torch.tensor(train_ids[:B * (len(train_ids) // B)], dtype=torch.int64, device=dev).view(B, -1)[d.b0:d.b0 + d.Bs]
    val = torch.tensor(val_ids, dtype=torch.int64, device=dev)
    p_between, p_out = st.get("dropout") or 0, st.get("outputDropout") or 0
    rates = [p_between if l < cfg["layers"] - 1 else p_out for l in range(cfg["layers"])]  # src/nn/dropout.ts: dropRate
    can_validate = len(val_ids) >= 2
    scale = 1 / (T * B)  # the mean over all B·T positions of all processes

    step = start_step = ck.train["step"]
    smooth = float(ck.train["smoothLoss"])
    val_loss, best = ck.train.get("valLoss"), ck.train.get("best")
    evals_since_best = ck.train.get("evalsSinceBest", 0)
    last_eval_step = -1
    stop_requested = False

    def on_signal(signum: int, _frame: Any) -> None:
        """As bptt train on Ctrl-C: finish this step, write the checkpoint, exit 0; a second signal aborts at once.
        Under torchrun the processes agree on the step to stop after: the flag is summed with the step's loss."""
        nonlocal stop_requested
        if stop_requested:
            say(f"\n{signal.Signals(signum).name} again: aborting without a new checkpoint ({out} holds the last one written)")
            os._exit(130)
        stop_requested = True
        say(f"{signal.Signals(signum).name}: finishing the current step and writing {out} (signal again to abort)")

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    def corrected() -> Optional[float]:
        """The smoothed loss, bias-corrected; None (JSON null, bptt's NaN) before the first step."""
        return None if step == 0 else smooth / (1 - SMOOTHING ** step)  # src/train/trainer.ts: correctedSmoothLoss

    def save(reason: str) -> None:
        """Write the checkpoint of everything the next step depends on (src/train/run-state.ts: runCheckpoint)."""
        full = d.gather_streams(carried)  # every process takes part; rank 0 writes
        if rank != 0:
            return
        live = {"step": step, "epoch": epoch, "chunk": chunk, "smoothLoss": smooth, "valLoss": val_loss, "best": best, "evalsSinceBest": evals_since_best}
        tensors = [(s.name, theta[s.offset:s.offset + s.size].view(s.shape)) for s in specs]
        tensors += [(k, optimizer.state[k]) for k in STATE_NAMES[optimizer.name]]
        tensors += [(k, full[i]) for i, k in enumerate(STATE_KEYS[cfg["cell"]])]
        meta = {"format": "bptt", "config": ck.config_json, "vocab": ck.vocab_json, "train": train_state_json(ck, live)}
        write_atomic(out, safetensors_parts(tensors, meta))
        emit({"type": "checkpoint", "step": step, "reason": reason, "path": out})

    def validate() -> None:
        """A validation pass and the lowest-loss bookkeeping (src/train/trainer.ts: validate)."""
        nonlocal val_loss, best, evals_since_best, last_eval_step
        last_eval_step = step
        if rank != 0:
            return  # only rank 0 keeps (and writes) the validation results
        t0 = time.perf_counter()
        loss = evaluate(model, val, T, min(B, (len(val_ids) - 1) // T or 1), S)
        val_loss = loss
        improved = best is None or loss < best["valLoss"]
        if improved:
            best, evals_since_best = {"valLoss": loss, "step": step}, 0
        else:
            evals_since_best += 1
        emit({"type": "eval", "step": step, "valLoss": loss, "valBpc": loss / math.log(2), "trainLoss": corrected(),
              "seconds": time.perf_counter() - t0, "best": improved})
        say(f"step {step}: validation loss {loss:.4f} nats/char ({loss / math.log(2):.3f} bpc)")

    say(f"training on {args.data}, resuming {args.resume} at step {step} on {world} process{'es' if world > 1 else ''} "
        f"({dev.type}); checkpoints go to {out}")
    t_start = last_print = time.perf_counter()
    stopped_by = None
    while True:
        if args.steps is not None and step >= args.steps:
            stopped_by = "steps"
        elif args.epochs is not None and epoch >= args.epochs:
            stopped_by = "epochs"
        if stopped_by is not None:
            break
        # the state starts at zero at every epoch boundary, and is carried within an epoch (src/train/trainer.ts)
        if chunk == 0:
            carried.zero_()
        x = streams[:, chunk * T:chunk * T + T].t()  # inputs[t, b] = stream_b[jT + t] (src/data/batcher.ts: fillChunk)
        y = streams[:, chunk * T + 1:chunk * T + T + 1].t()  # targets[t, b] = stream_b[jT + t + 1]
        masks = None
        if any(r > 0 for r in rates):  # D1–D2: this step's masks, from the run's seed and the step
            key = dropout_seed(seed, step)
            masks = [dropout_multipliers(key, l, r, T, B, model.H, d.b0, d.Bs, dev) if r > 0 else None for l, r in enumerate(rates)]
        for p in model.ordered:
            p.grad = None
        losses, final = model(x, y, carried, masks)
        (losses.sum() * scale).backward()  # scale·∂E/∂θ: the gradient of the mean loss E/(B·T) (src/model/lm.ts: lmBackward)
        g = d.all_sum(model.flat_grad())  # Σ over the processes' streams: the whole batch's gradient
        scalars = d.all_sum(torch.tensor([float(losses.double().sum()), float(stop_requested)], dtype=torch.float64, device=dev))
        loss = float(scalars[0]) * scale  # E·scale, E summed in float64 (src/train/trainer.ts)
        grad_norm = global_norm(g)
        if not (math.isfinite(loss) and math.isfinite(grad_norm)):
            raise BpttError(f"training diverged at step {step + 1}: the {'gradient' if math.isfinite(loss) else 'loss'} is not finite "
                            f"(loss {loss}, gradient norm {grad_norm}). The last checkpoint written is intact; "
                            f"try a lower learning rate (now {opts['lr']}) or --clip-norm 1 in bptt")
        if st["clip"] > 0:
            g = clip_elementwise(g, st["clip"])
        if st["clipNorm"] > 0:
            g = clip_global_norm(g, st["clipNorm"])
        lr = learning_rate_at(opts["lr"], optimizer.t, schedule)
        theta = optimizer.step(theta, g, lr)
        model.set_flat(theta)
        carried = final
        step += 1
        epoch, chunk = next_position(epoch, chunk, chunks)
        smooth = SMOOTHING * smooth + (1 - SMOOTHING) * loss

        now = time.perf_counter()
        elapsed = now - t_start
        fractions = ([step / max(args.steps, 1)] if args.steps is not None else []) + \
                    ([(epoch + chunk / chunks) / args.epochs] if args.epochs is not None else [])
        progress = min(1.0, max(fractions))
        event = {"type": "step", "step": step, "epoch": epoch + chunk / chunks, "loss": loss, "smoothLoss": corrected(), "lr": lr,
                 "gradNorm": grad_norm, "tokensPerSec": (step - start_step) * T * B / max(elapsed, 1e-9), "threads": torch.get_num_threads(),
                 "processes": world, "elapsed": elapsed, "progress": progress}
        if progress > 0:
            event["eta"] = elapsed * (1 - progress) / progress
        emit(event)
        if now - last_print > 10:
            last_print = now
            say(f"step {step} epoch {epoch + chunk / chunks:.2f} | loss {corrected():.3f} | {event['tokensPerSec']:.0f} char/s")
        if can_validate and args.eval_every > 0 and step % args.eval_every == 0:
            validate()
        if args.checkpoint_every > 0 and step % args.checkpoint_every == 0:
            save("every")
        if scalars[1] > 0:
            stopped_by = "interrupt"
            break

    training_seconds = time.perf_counter() - t_start
    if can_validate and last_eval_step != step and (step > start_step or val_loss is None):
        validate()  # as bptt: a validation pass at the end, unless one just ran
    save("interrupt" if stopped_by == "interrupt" else "end")
    tokens_per_sec = (step - start_step) * T * B / max(training_seconds, 1e-9)
    emit({"type": "done", "step": step, "valLoss": val_loss, "best": best, "trainLoss": corrected(), "stoppedBy": stopped_by,
          "tokensPerSec": tokens_per_sec, "threads": torch.get_num_threads(), "processes": world,
          "elapsed": time.perf_counter() - t_start, "out": out})
    say(f"{'interrupted' if stopped_by == 'interrupt' else 'done'} after {step} steps ({tokens_per_sec:.0f} char/s): "
        + (f"validation loss {val_loss:.4f} nats/char, " if val_loss is not None else "") + f"train loss {corrected() or float('nan'):.4f}\n"
        f"checkpoint: {out}\ncontinue with: bptt train --resume {out} --data {args.data}   or   bptt sample --model {out}")
    if world > 1:
        dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main(sys.argv[1:]))
    except BpttError as err:
        if int(os.environ.get("RANK", "0")) == 0:
            sys.stderr.write(f"{PROG}: error: {err}\n")
        else:
            time.sleep(1)  # the same error on every process: rank 0 reports it before torchrun stops the others
        sys.exit(err.code)
    except KeyboardInterrupt:  # Ctrl-C before training started (afterwards the handler in main finishes the step)
        sys.stderr.write(f"{PROG}: interrupted before training started; nothing was written\n")
        sys.exit(130)
