#!/usr/bin/env python3
"""PyTorch-on-CPU peer for `./lowbit bench train`: the same LLaMA block stack, batch and AdamW step.

Run with Debian's PyTorch (apt-get install python3-torch):
  /usr/bin/python3 bench/peers/torch_train.py --dim 256 --layers 4 --heads 8 --kv-heads 4 --ffn 688 \
      --vocab 2048 --seq 256 --batch 8 --steps 10 --threads 1,2
Prints `torch train threads=<t> tokens_per_s=<x>` per thread count (after warm-up steps).
"""
import argparse
import math
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


class RMSNorm(nn.Module):
    def __init__(self, d, eps=1e-6):
        super().__init__()
        self.w = nn.Parameter(torch.ones(d))
        self.eps = eps

    def forward(self, x):
        return x * torch.rsqrt(x.pow(2).mean(-1, keepdim=True) + self.eps) * self.w


def rope_tables(seq, hd, theta=10000.0):
    inv = 1.0 / (theta ** (torch.arange(0, hd, 2).float() / hd))
    ang = torch.outer(torch.arange(seq).float(), inv)
    return torch.cos(ang), torch.sin(ang)


def rope(x, cos, sin):  # rotate-half layout, x: [b, h, t, hd]
    x1, x2 = x[..., : x.shape[-1] // 2], x[..., x.shape[-1] // 2 :]
    c, s = cos[None, None], sin[None, None]
    return torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1)


class Block(nn.Module):
    def __init__(self, d, h, kv, ffn):
        super().__init__()
        self.h, self.kv, self.hd = h, kv, d // h
        self.n1, self.n2 = RMSNorm(d), RMSNorm(d)
        self.q = nn.Linear(d, h * self.hd, bias=False)
        self.k = nn.Linear(d, kv * self.hd, bias=False)
        self.v = nn.Linear(d, kv * self.hd, bias=False)
        self.o = nn.Linear(h * self.hd, d, bias=False)
        self.gate = nn.Linear(d, ffn, bias=False)
        self.up = nn.Linear(d, ffn, bias=False)
        self.down = nn.Linear(ffn, d, bias=False)

    def forward(self, x, cos, sin):
        b, t, d = x.shape
        y = self.n1(x)
        q = self.q(y).view(b, t, self.h, self.hd).transpose(1, 2)
        k = self.k(y).view(b, t, self.kv, self.hd).transpose(1, 2)
        v = self.v(y).view(b, t, self.kv, self.hd).transpose(1, 2)
        q, k = rope(q, cos, sin), rope(k, cos, sin)
        rep = self.h // self.kv
        k = k.repeat_interleave(rep, dim=1)
        v = v.repeat_interleave(rep, dim=1)
        att = (q @ k.transpose(-2, -1)) / math.sqrt(self.hd)
        mask = torch.triu(torch.ones(t, t, dtype=torch.bool), 1)
        att = att.masked_fill(mask, float("-inf")).softmax(-1)
        a = (att @ v).transpose(1, 2).reshape(b, t, d)
        x = x + self.o(a)
        y = self.n2(x)
        return x + self.down(F.silu(self.gate(y)) * self.up(y))


class Llama(nn.Module):
    def __init__(self, a):
        super().__init__()
        self.emb = nn.Embedding(a.vocab, a.dim)
        self.blocks = nn.ModuleList(Block(a.dim, a.heads, a.kv_heads, a.ffn) for _ in range(a.layers))
        self.norm = RMSNorm(a.dim)
        self.head = nn.Linear(a.dim, a.vocab, bias=False)
        self.cos, self.sin = rope_tables(a.seq, a.dim // a.heads)

    def forward(self, idx, tgt):
        x = self.emb(idx)
        for blk in self.blocks:
            x = blk(x, self.cos, self.sin)
        logits = self.head(self.norm(x))
        return F.cross_entropy(logits.view(-1, logits.shape[-1]), tgt.view(-1))


def main():
    p = argparse.ArgumentParser()
    for k, v in dict(dim=256, layers=4, heads=8, kv_heads=4, ffn=688, vocab=2048, seq=256, batch=8, steps=10, warmup=3).items():
        p.add_argument("--" + k.replace("_", "-"), type=int, default=v)
    p.add_argument("--threads", default="1,2")
    a = p.parse_args()
    torch.manual_seed(0)
    for t in [int(x) for x in a.threads.split(",")]:
        torch.set_num_threads(t)
        model = Llama(a)
        opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
        g = torch.Generator().manual_seed(0)
        for i in range(a.warmup + a.steps):
            if i == a.warmup:
                t0 = time.perf_counter()
            idx = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
            tgt = torch.randint(0, a.vocab, (a.batch, a.seq), generator=g)
            loss = model(idx, tgt)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
        dt = time.perf_counter() - t0
        print(f"torch train threads={t} tokens_per_s={a.batch * a.seq * a.steps / dt:.1f}", flush=True)


if __name__ == "__main__":
    main()
