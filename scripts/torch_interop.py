#!/usr/bin/env python3
"""Check bptt checkpoints and gradients against PyTorch (an independent autodiff).

Usage:
  torch_interop.py check MODEL.safetensors GRADS.safetensors TOKENS.json
      Loads MODEL into nn.RNN, nn.LSTM or nn.GRU (its config's cell) + nn.Linear with
      load_state_dict(strict=True), computes the summed cross-entropy E and its gradients in
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


class CharRNN(torch.nn.Module):
    def __init__(self, cell, V, H, L, nonlinearity, bias):
        super().__init__()
        self.V = V
        if cell == "rnn":
            self.rnn = torch.nn.RNN(V, H, num_layers=L, nonlinearity=nonlinearity, bias=bias)
        else:
            self.rnn = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell](V, H, num_layers=L, bias=bias)
        self.fc = torch.nn.Linear(H, V, bias=bias)

    def logits(self, seqs):
        x = torch.tensor([s[:-1] for s in seqs]).T  # (T, B), time-major like nn.RNN's default
        onehot = torch.nn.functional.one_hot(x, self.V).to(self.fc.weight.dtype)
        h, _ = self.rnn(onehot)  # h_0 = 0 (and c_0 = 0)
        return self.fc(h)  # (T, B, V)

    def loss(self, seqs):
        y = torch.tensor([s[1:] for s in seqs]).T
        logits = self.logits(seqs)
        return torch.nn.functional.cross_entropy(logits.reshape(-1, self.V), y.reshape(-1), reduction="sum")


def model_from(config):
    return CharRNN(config.get("cell", "rnn"), config["vocabSize"], config["hiddenSize"], config["layers"],
                   config.get("nonlinearity", "tanh"), config["bias"])


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
