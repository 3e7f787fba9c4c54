#!/usr/bin/env python3
"""PyTorch's anchor for bptt's learning-quality targets: how low a validation loss a plain PyTorch
char-RNN reaches on the bundled tiny Shakespeare in a fixed training time on this machine.

The same task as `bptt train`: characters (code points) as one-hot inputs, the first 90 % of the text
trains and the last 10 % validates; B contiguous streams through the training text, chunks of T
steps with the hidden state carried from chunk to chunk (truncated BPTT) and reset at epoch
boundaries; Adam, global-norm clipping at 5, the mean cross-entropy in nats per character. Only the
training steps count toward the time budget (validation passes are not counted, as the issue's
anchors were measured).

Usage: python3 bench/torch_anchor.py [--cell rnn|lstm|gru] [--hidden 512] [--seq-length 64]
         [--batch-size 32] [--lr 2e-3] [--seconds 600] [--eval-every-seconds 60] [--threads N]
Prints one JSON line per validation ({"seconds", "step", "valLoss"}) and a summary line.
Needs only torch (Debian's python3-torch).
"""
import argparse
import json
import math
import os
import time

import torch

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--cell", default="lstm", choices=["rnn", "lstm", "gru"])
    ap.add_argument("--hidden", type=int, default=512)
    ap.add_argument("--seq-length", type=int, default=64)
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--lr", type=float, default=2e-3)
    ap.add_argument("--seconds", type=float, default=600)
    ap.add_argument("--eval-every-seconds", type=float, default=60)
    ap.add_argument("--threads", type=int, default=0, help="torch.set_num_threads (0: torch's default)")
    ap.add_argument("--data", default=os.path.join(ROOT, "data", "tinyshakespeare.txt"))
    args = ap.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    torch.manual_seed(1)

    text = open(args.data, encoding="utf-8").read()
    symbols = sorted(set(text))
    index = {c: i for i, c in enumerate(symbols)}
    ids = torch.tensor([index[c] for c in text], dtype=torch.long)
    n_val = round(len(ids) * 0.1)
    train_ids, val_ids = ids[: len(ids) - n_val], ids[len(ids) - n_val :]
    V, H, T, B = len(symbols), args.hidden, args.seq_length, args.batch_size

    rnn = {"rnn": lambda: torch.nn.RNN(V, H), "lstm": lambda: torch.nn.LSTM(V, H), "gru": lambda: torch.nn.GRU(V, H)}[args.cell]()
    fc = torch.nn.Linear(H, V)
    params = list(rnn.parameters()) + list(fc.parameters())
    opt = torch.optim.Adam(params, lr=args.lr)

    # B contiguous streams through the training text, as bptt's batcher: stream b starts at b·(len/B)
    stream_len = (len(train_ids) - 1) // B
    streams = train_ids[: B * stream_len + 1]
    chunks = (stream_len - 1) // T

    def chunk(c):
        starts = torch.arange(B) * stream_len + c * T
        x = torch.stack([streams[s : s + T] for s in starts], dim=1)  # (T, B)
        y = torch.stack([streams[s + 1 : s + T + 1] for s in starts], dim=1)
        return x, y

    def forward(x, state):
        out, state = rnn(torch.nn.functional.one_hot(x, V).float(), state)
        return fc(out), state

    def detach(state):
        if state is None:
            return None
        return tuple(s.detach() for s in state) if isinstance(state, tuple) else state.detach()

    @torch.no_grad()
    def validate():
        # the held-out text as one sequence, the state carried across chunks of 1000 steps
        total, state = 0.0, None
        for s in range(0, len(val_ids) - 1, 1000):
            x = val_ids[s : min(s + 1000, len(val_ids) - 1)].unsqueeze(1)
            y = val_ids[s + 1 : s + 1 + len(x)].unsqueeze(1)
            logits, state = forward(x, state)
            total += torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1), reduction="sum").item()
        return total / (len(val_ids) - 1)

    trained, step, state, c = 0.0, 0, None, 0
    next_eval, best = args.eval_every_seconds, math.inf
    while trained < args.seconds:
        t0 = time.perf_counter()
        if c == 0:
            state = None  # the state starts at zero at every epoch boundary
        x, y = chunk(c)
        logits, state = forward(x, state)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, V), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 5.0)
        opt.step()
        state = detach(state)
        c = (c + 1) % chunks
        step += 1
        trained += time.perf_counter() - t0
        if trained >= next_eval or trained >= args.seconds:
            val = validate()
            best = min(best, val)
            print(json.dumps({"seconds": round(trained, 1), "step": step, "valLoss": round(val, 4)}), flush=True)
            next_eval += args.eval_every_seconds
    print(json.dumps({"done": True, "cell": args.cell, "hidden": H, "T": T, "B": B, "lr": args.lr, "threads": torch.get_num_threads(),
                      "steps": step, "tokensPerSec": round(step * T * B / trained), "bestValLoss": round(best, 4), "lastValLoss": round(val, 4)}))


if __name__ == "__main__":
    main()
