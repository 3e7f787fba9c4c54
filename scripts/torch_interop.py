#!/usr/bin/env python3
"""Check bptt checkpoints and gradients against PyTorch (an independent autodiff).

Usage:
  torch_interop.py check MODEL.safetensors GRADS.safetensors TOKENS.json
      Loads MODEL into its config's input (one-hot), nn.RNN, nn.LSTM or nn.GRU (its cell) and
      head (softmax: nn.Linear and the cross-entropy) with load_state_dict(strict=True), computes the summed cross-entropy E and its gradients in
      float64 with autograd, and compares them with the gradients written by `bptt grad` (GRADS).
      Prints one JSON line; exits 1 on disagreement.
  torch_interop.py logprobs MODEL.safetensors TOKENS.json OUT.json
      Loads MODEL the same way and writes to OUT the log-softmax of its logits for the inputs
      s[:-1] of each sequence s of TOKENS (h_0 = 0), in float64, as {"shape": [T, B, V],
      "logProbs": [...]} with row t*B + b: what a forward pass of bptt's engine gives as log y.
  torch_interop.py export OUT.safetensors V H L CELL NONLINEARITY BIAS(0|1) SEED
      Saves a randomly initialised PyTorch model's state_dict in bptt's layout (with the
      metadata bptt needs), for `bptt grad` to load. NONLINEARITY "-" leaves the key out of the
      config (what a gated cell's config may do).

Only the standard library and torch are needed: safetensors is read and written by hand here
(the format is an 8-byte header length, a JSON header, then raw little-endian data).
"""
import json
import struct
import sys

import torch

DTYPES = {"F32": torch.float32, "F64": torch.float64}
NAMES = {torch.float32: "F32", torch.float64: "F64"}


def read_safetensors(path):
    with open(path, "rb") as f:
        data = f.read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    meta = header.pop("__metadata__", {})
    base = 8 + n
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        t = torch.frombuffer(bytearray(data[base + begin : base + end]), dtype=DTYPES[info["dtype"]])
        tensors[name] = t.reshape(info["shape"]).clone()
    return tensors, meta


def write_safetensors(path, tensors, meta):
    header = {"__metadata__": meta} if meta else {}
    offset = 0
    blobs = []
    for name, t in tensors.items():
        t = t.detach().contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        blobs.append(raw)
    h = json.dumps(header).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(h)) + h + b"".join(blobs))


# The model is input → cell stack → head, as bptt's (src/inputs/, src/cells/, src/heads/). The
# parts this script knows, by their config names (a config without "input" or "head" is one-hot
# and softmax, src/model/config.ts):
#: inputs: the width in_0 of x_t, and x_t (T, B, in_0) from the (T, B) inputs.
INPUTS = {
    "onehot": (lambda cfg: cfg["vocabSize"],
               lambda ids, cfg, dtype: torch.nn.functional.one_hot(ids, cfg["vocabSize"]).to(dtype)),
}
#: heads: the out features of their nn.Linear `fc`, and E, the loss summed over the (T, B) targets, from fc's outputs.
HEADS = {
    "softmax": (lambda cfg: cfg["vocabSize"],
                lambda logits, y: torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum")),
}


#: cells: PyTorch's module of each cell (src/cells/<name>/; test/torch-train.test.ts checks the names and
#: gate counts against the registry, src/cells/index.ts).
CELLS = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def parts(config):
    """The config's input and head, refused with a clear message when this script does not know them."""
    names = (config.get("input", "onehot"), config.get("head", "softmax"))
    for key, name, known in (("input", names[0], INPUTS), ("head", names[1], HEADS)):
        if name not in known:
            raise SystemExit(f"torch_interop.py: config {key} {json.dumps(name)} is not one this script knows "
                             f"({', '.join(known)}); teach scripts/torch_interop.py that {key} first")
    return names


class CharRNN(torch.nn.Module):
    def __init__(self, config):
        super().__init__()
        self.config = config
        self.input, self.head = parts(config)
        cell, H, L, bias = config.get("cell", "rnn"), config["hiddenSize"], config["layers"], config["bias"]
        if cell not in CELLS:
            raise SystemExit(f"torch_interop.py: config cell {json.dumps(cell)} is not one this script knows "
                             f"({', '.join(CELLS)}); teach scripts/torch_interop.py that cell first")
        n_in = INPUTS[self.input][0](config)
        # nn.RNN takes f1; nn.LSTM and nn.GRU have none (tanh)
        f1 = {"nonlinearity": config.get("nonlinearity", "tanh")} if cell == "rnn" else {}
        self.rnn = CELLS[cell](n_in, H, num_layers=L, bias=bias, **f1)
        self.fc = torch.nn.Linear(H, HEADS[self.head][0](config), bias=bias)

    def logits(self, seqs):
        ids = torch.tensor([s[:-1] for s in seqs]).T  # (T, B), time-major like nn.RNN's default
        x = INPUTS[self.input][1](ids, self.config, self.fc.weight.dtype)
        h, _ = self.rnn(x)  # h_0 = 0 (and c_0 = 0)
        return self.fc(h)  # (T, B, out)

    def loss(self, seqs):
        y = torch.tensor([s[1:] for s in seqs]).T
        return HEADS[self.head][1](self.logits(seqs), y)


def model_from(config):
    return CharRNN(config)


def load(model_path, dtype):
    """The checkpoint's model in nn modules, with load_state_dict(strict=True): every tensor fits, none is missing."""
    params, meta = read_safetensors(model_path)
    model = model_from(json.loads(meta["config"])).to(dtype)
    model.load_state_dict({k: v.to(dtype) for k, v in params.items() if k.startswith(("rnn.", "fc."))}, strict=True)
    return model


def check(model_path, grads_path, tokens_path):
    model = load(model_path, torch.float64)
    seqs = json.load(open(tokens_path))
    loss = model.loss(seqs)
    loss.backward()
    grads, gmeta = read_safetensors(grads_path)
    worst = 0.0
    errors = {}
    for name, p in model.named_parameters():
        g = grads[name].double()
        err = float((g - p.grad).norm() / max(g.norm(), p.grad.norm(), 1e-300))
        errors[name] = err
        worst = max(worst, err)
    if set(grads) != {n for n, _ in model.named_parameters()}:
        raise SystemExit(f"gradient names differ: {sorted(grads)} vs {sorted(n for n, _ in model.named_parameters())}")
    bptt_loss = float(gmeta["loss"])
    loss_err = abs(bptt_loss - float(loss)) / abs(float(loss))
    print(json.dumps({"loss": float(loss), "bpttLoss": bptt_loss, "lossRelError": loss_err, "maxGradRelError": worst, "errors": errors}))
    return 0 if worst < 1e-10 and loss_err < 1e-12 else 1


def logprobs(model_path, tokens_path, out):
    model = load(model_path, torch.float64)
    with torch.no_grad():
        y = torch.nn.functional.log_softmax(model.logits(json.load(open(tokens_path))), dim=-1)
    with open(out, "w") as f:
        json.dump({"shape": list(y.shape), "logProbs": y.reshape(-1).tolist()}, f)
    return 0


def export(out, V, H, L, cell, nonlinearity, bias, seed):
    torch.manual_seed(int(seed))
    config = {"cell": cell, "layers": int(L), "hiddenSize": int(H), "vocabSize": int(V), "bias": bias == "1"}
    if nonlinearity != "-":
        config["nonlinearity"] = nonlinearity
    model = model_from(config)
    meta = {"format": "bptt", "config": json.dumps(config)}
    write_safetensors(out, dict(model.state_dict()), meta)
    return 0


if __name__ == "__main__":
    cmd, *args = sys.argv[1:]
    sys.exit({"check": check, "logprobs": logprobs, "export": export}[cmd](*args))
