#!/usr/bin/env python3
"""Training throughput on the CPU: dptrain vs PyTorch (eager) on the same models, data shape,
batch size, optimizer and thread count. Prints both samples/s and the ratio dptrain / PyTorch.

    python3 benchmarks/compare_pytorch_cpu.py --threads 1 2 --batch-size 128

Needs `pip install torch`. Both sides train on synthetic data of the model's input shape with
categorical cross-entropy (imdb-cnn, imdb-lstm, imdb-bilstm: word indices, binary cross-entropy; imdb-transformer: word
indices, 2 classes, its attention through PyTorch's scaled_dot_product_attention); steps are timed after
warm-up, median step time reported.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def torch_model(name, torch):
    nn = torch.nn
    if name == "cifar10-cnn":  # the Keras multi-GPU example, as dptrain's preset
        return nn.Sequential(
            nn.Conv2d(3, 32, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(32, 64, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Conv2d(64, 128, 3), nn.ReLU(), nn.MaxPool2d(2),
            nn.Flatten(), nn.Linear(512, 128), nn.ReLU(), nn.Linear(128, 10)), (3, 32, 32), \
            lambda p: torch.optim.RMSprop(p, lr=1e-4, alpha=0.9, eps=1e-7, momentum=0.9)
    if name == "mnist-mlp":  # Keras's mnist_mlp
        return nn.Sequential(
            nn.Flatten(), nn.Linear(784, 512), nn.ReLU(), nn.Dropout(0.2),
            nn.Linear(512, 512), nn.ReLU(), nn.Dropout(0.2), nn.Linear(512, 10)), (1, 28, 28), \
            lambda p: torch.optim.RMSprop(p, lr=1e-3, alpha=0.9, eps=1e-7)
    if name == "imdb-cnn":  # Keras's imdb_cnn: indices (400 a review) -> positive or not
        class ImdbCnn(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb, self.drop = nn.Embedding(5000, 50), nn.Dropout(0.2)
                self.conv, self.fc1, self.fc2 = nn.Conv1d(50, 250, 3), nn.Linear(250, 250), nn.Linear(250, 1)

            def forward(self, x):
                h = torch.relu(self.conv(self.drop(self.emb(x)).transpose(1, 2))).amax(dim=2)
                return self.fc2(torch.relu(self.drop(self.fc1(h))))  # logits; the loss applies the sigmoid

        return ImdbCnn(), (400,), lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7)
    if name == "imdb-lstm":  # Keras's imdb_lstm: indices (80 a review) -> positive
        # LSTM(128, dropout=0.2, recurrent_dropout=0.2): nn.LSTM has no recurrent dropout, so the cell
        # runs by hand as Keras runs it (implementation 1): a mask per gate on the input and on h,
        # drawn once a batch, each gate's part of the kernels a (4, in, units) batch of matrices.
        class ImdbLstm(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb, self.fc = nn.Embedding(20000, 128), nn.Linear(128, 1)
                self.w_x = nn.Parameter(torch.randn(4, 128, 128) * 0.1)
                self.w_h = nn.Parameter(torch.randn(4, 128, 128) * 0.1)
                self.b = nn.Parameter(torch.zeros(4, 1, 1, 128))

            def forward(self, x):
                e = self.emb(x).unsqueeze(0)  # (1, batch, steps, 128)
                n, steps = e.shape[1], e.shape[2]
                ones_x, ones_h = e.new_ones(4, n, 1, 128), e.new_ones(4, n, 128)
                m_x = nn.functional.dropout(ones_x, 0.2, self.training)
                m_h = nn.functional.dropout(ones_h, 0.2, self.training)
                xs = torch.matmul(e * m_x, self.w_x.unsqueeze(1)) + self.b  # (4, batch, steps, 128)
                h, c = e.new_zeros(n, 128), e.new_zeros(n, 128)
                for t in range(steps):
                    z = xs[:, :, t] + torch.bmm(h.unsqueeze(0) * m_h, self.w_h)
                    i, f, o = torch.sigmoid(z[0]), torch.sigmoid(z[1]), torch.sigmoid(z[3])
                    c = f * c + i * torch.tanh(z[2])
                    h = o * torch.tanh(c)
                return self.fc(h)  # logits

        return ImdbLstm(), (80,), lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7)
    if name == "imdb-bilstm":  # Keras's imdb_bidirectional_lstm: indices (100 a review) -> positive
        class ImdbBiLstm(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb, self.drop, self.fc = nn.Embedding(20000, 128), nn.Dropout(0.5), nn.Linear(128, 1)
                self.lstm = nn.LSTM(128, 64, batch_first=True, bidirectional=True)

            def forward(self, x):
                h = self.lstm(self.emb(x))[1][0]  # (2, batch, 64): each direction's last state, as Keras's concat
                return self.fc(self.drop(torch.cat([h[0], h[1]], dim=1)))  # logits

        return ImdbBiLstm(), (100,), lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7)
    if name == "imdb-transformer":  # Keras's text-classification transformer (no position embedding), as the preset
        class ImdbTransformer(nn.Module):
            def __init__(self):
                super().__init__()
                self.emb, self.drop = nn.Embedding(20000, 32), nn.Dropout(0.1)
                # Keras's MultiHeadAttention(2, key_dim=32): projections to 2 x 32, then back to 32
                self.q, self.k, self.v, self.o = nn.Linear(32, 64), nn.Linear(32, 64), nn.Linear(32, 64), nn.Linear(64, 32)
                self.ln1, self.ln2 = nn.LayerNorm(32, eps=1e-6), nn.LayerNorm(32, eps=1e-6)
                self.ff1, self.ff2 = nn.Linear(32, 32), nn.Linear(32, 32)
                self.fc1, self.fc2 = nn.Linear(32, 20), nn.Linear(20, 2)

            def forward(self, x):
                e = self.emb(x)  # (batch, 200, 32)
                n, t = e.shape[0], e.shape[1]
                heads = [f(e).view(n, t, 2, 32).transpose(1, 2) for f in (self.q, self.k, self.v)]
                a = nn.functional.scaled_dot_product_attention(*heads)  # (batch, 2, 200, 32)
                a = self.o(a.transpose(1, 2).reshape(n, t, 64))
                h = self.ln1(e + self.drop(a))
                h = self.ln2(h + self.drop(self.ff2(torch.relu(self.ff1(h)))))
                h = self.drop(h.mean(dim=1))
                return self.fc2(self.drop(torch.relu(self.fc1(h))))  # logits; the loss applies the softmax

        return ImdbTransformer(), (200,), lambda p: torch.optim.Adam(p, lr=1e-3, eps=1e-7)
    raise SystemExit(f"no PyTorch twin for {name}")


def torch_batch(name, torch, batch, shape, device=None):
    """A synthetic batch and the loss for it: images/features with 10 classes (cross-entropy over
    softmax), or for the imdb models word indices with 0/1 targets (binary cross-entropy over
    sigmoid)."""
    if name == "imdb-transformer":  # word indices, 2 classes (sparse categorical cross-entropy)
        x = torch.randint(0, 20000, (batch, *shape), device=device)
        return x, torch.randint(0, 2, (batch,), device=device), torch.nn.CrossEntropyLoss()
    if name in ("imdb-cnn", "imdb-lstm", "imdb-bilstm"):
        x = torch.randint(0, 5000 if name == "imdb-cnn" else 20000, (batch, *shape), device=device)
        return x, torch.randint(0, 2, (batch, 1), device=device).float(), torch.nn.BCEWithLogitsLoss()
    x = torch.rand(batch, *shape, device=device)
    return x, torch.randint(0, 10, (batch,), device=device), torch.nn.CrossEntropyLoss()


def bench_torch(name, threads, batch, steps, warmup, channels_last):
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    model, shape, make_opt = torch_model(name, torch)
    opt = make_opt(model.parameters())
    x, y, loss_fn = torch_batch(name, torch, batch, shape)  # the loss fused with the last activation
    if channels_last and len(shape) == 3:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()

    med = median_step(step, steps, warmup)
    return batch / med, med * 1000


def median_step(step, steps, warmup):
    """Median wall time of one call of step() (seconds), after warm-up calls."""
    for _ in range(warmup):
        step()
    times = []
    for _ in range(steps):
        t = time.perf_counter()
        step()
        times.append(time.perf_counter() - t)
    times.sort()
    return times[len(times) // 2]


def bench_dptrain(binary, name, threads, batch, steps, warmup):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "b.json")
        subprocess.run([binary, "bench", "--model", name, "--batch-size", str(batch), "--threads", str(threads),
                        "--steps", str(steps), "--warmup", str(warmup), "--json", out],
                       check=True, stdout=subprocess.DEVNULL)
        r = json.load(open(out))["results"][0]
        # samples/s from the median step, like the PyTorch side
        return batch / (r["step_ms"] / 1000), r["step_ms"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["cifar10-cnn", "mnist-mlp", "imdb-cnn"])
    ap.add_argument("--threads", nargs="+", type=int, default=[1, 2])
    ap.add_argument("--batch-size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--dptrain", default=os.path.join(ROOT, "build", "dptrain"))
    ap.add_argument("--torch-channels-last", action="store_true", help="also try PyTorch with channels_last")
    ap.add_argument("--json", help="write the rows as JSON")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: pip install torch")
    if not os.path.exists(a.dptrain):
        sys.exit(f"{a.dptrain} not found: build first (bash scripts/build.sh)")
    rows = []
    print(f"torch {torch.__version__}, batch {a.batch_size}, {a.steps} timed steps after {a.warmup} warm-up "
          f"(median step), CPU: {os.cpu_count()} cores")
    print(f"{'model':12} {'threads':>7} {'dptrain s/s':>12} {'pytorch s/s':>12} {'ratio':>7}")
    for m in a.models:
        for t in a.threads:
            d_sps, d_ms = bench_dptrain(a.dptrain, m, t, a.batch_size, a.steps, a.warmup)
            p_sps, p_ms = bench_torch(m, t, a.batch_size, a.steps, a.warmup, False)
            row = {"model": m, "threads": t, "batch": a.batch_size, "dptrain_samples_per_sec": d_sps,
                   "pytorch_samples_per_sec": p_sps, "ratio": d_sps / p_sps}
            if a.torch_channels_last and m == "cifar10-cnn":
                row["pytorch_channels_last_samples_per_sec"] = bench_torch(m, t, a.batch_size, a.steps, a.warmup, True)[0]
            rows.append(row)
            extra = f"  (torch channels_last {row['pytorch_channels_last_samples_per_sec']:.0f})" \
                if "pytorch_channels_last_samples_per_sec" in row else ""
            print(f"{m:12} {t:7d} {d_sps:12.0f} {p_sps:12.0f} {d_sps / p_sps:7.2f}x{extra}", flush=True)
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=2)


if __name__ == "__main__":
    main()
