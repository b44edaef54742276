#!/usr/bin/env python3
"""Training throughput on one GPU: dptrain vs PyTorch eager on the same models, data shape, batch
size and optimizer. Prints both samples/s and the ratio dptrain / PyTorch (target for cifar10-cnn
at batch 512: >= 1.5x).

    python3 benchmarks/compare_pytorch_gpu.py --batch-size 512 [--tf32]

Needs a CUDA GPU and PyTorch with CUDA. Both sides train on synthetic data of the model's input
shape with categorical cross-entropy (imdb-cnn, imdb-lstm and imdb-bilstm, `--models imdb-cnn imdb-lstm imdb-bilstm`: word
indices, binary cross-entropy; PyTorch's nn.LSTM runs cuDNN's fused LSTM; imdb-transformer: 2 classes, PyTorch's
attention its fused scaled_dot_product_attention), FP32 (TF32 off on both unless --tf32); the median step time
after warm-up is reported, each PyTorch step timed to completion (torch.cuda.synchronize), as
dptrain's steps are (it reads the loss back every step). PyTorch's batch stays on the GPU; dptrain's
is fed as its fit feeds it, the next batch's upload queued on an upload stream during the step.
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare_pytorch_cpu import ROOT, median_step, torch_batch, torch_model  # noqa: E402  (the same twins and timing)


def bench_torch(name, batch, steps, warmup, tf32, channels_last):
    import torch
    torch.backends.cuda.matmul.allow_tf32 = tf32
    torch.backends.cudnn.allow_tf32 = tf32
    torch.backends.cudnn.benchmark = True
    torch.manual_seed(0)
    dev = torch.device("cuda:0")
    model, shape, make_opt = torch_model(name, torch)
    model = model.to(dev)
    x, y, loss_fn = torch_batch(name, torch, batch, shape, dev)
    if channels_last and len(shape) == 3:
        model = model.to(memory_format=torch.channels_last)
        x = x.contiguous(memory_format=torch.channels_last)
    opt = make_opt(model.parameters())
    model.train()

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_fn(model(x), y)
        loss.backward()
        opt.step()
        torch.cuda.synchronize()

    for _ in range(warmup):
        step()
    torch.cuda.profiler.start()  # a profiler attached with --profile-from-start off records the timed steps only
    t = median_step(step, steps, 0)
    torch.cuda.profiler.stop()
    return batch / t


def bench_dptrain(binary, name, gpus, batch, steps, warmup, tf32):
    with tempfile.TemporaryDirectory() as d:
        out = os.path.join(d, "b.json")
        cmd = [binary, "bench", "--model", name, "--gpus", str(gpus), "--batch-size-per-replica", str(batch),
               "--steps", str(steps), "--warmup", str(warmup), "--json", out]
        if tf32:
            cmd.append("--tf32")
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        r = json.load(open(out))["results"][0]
        return r["global_batch"] / (r["step_ms"] / 1000)


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--models", nargs="+", default=["cifar10-cnn", "mnist-mlp"])
    ap.add_argument("--batch-size", type=int, default=512)
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--warmup", type=int, default=5)
    ap.add_argument("--tf32", action="store_true", help="allow TF32 on both sides")
    ap.add_argument("--dptrain", default=os.path.join(ROOT, "build", "dptrain"))
    ap.add_argument("--json", help="write the rows as JSON")
    ap.add_argument("--torch-only", action="store_true", help="time PyTorch (NCHW) alone, e.g. under a profiler")
    a = ap.parse_args()
    try:
        import torch
    except ImportError:
        sys.exit("PyTorch is not installed: pip install torch")
    if not torch.cuda.is_available():
        sys.exit("no CUDA GPU visible to PyTorch: this benchmark needs one (nothing was measured)")
    if a.torch_only:
        for m in a.models:
            print(f"{m:12} pytorch {bench_torch(m, a.batch_size, a.steps, a.warmup, a.tf32, False):.0f} samples/s")
        return
    if not os.path.exists(a.dptrain):
        sys.exit(f"{a.dptrain} not found: build first")
    print(f"torch {torch.__version__} on {torch.cuda.get_device_name(0)}, batch {a.batch_size}, "
          f"{'TF32' if a.tf32 else 'FP32'}, median of {a.steps} steps after {a.warmup} warm-up")
    print(f"{'model':12} {'dptrain s/s':>12} {'pytorch s/s':>12} {'ratio':>7} {'torch NHWC s/s':>15}")
    rows = []
    for m in a.models:
        d = bench_dptrain(a.dptrain, m, 1, a.batch_size, a.steps, a.warmup, a.tf32)
        p = bench_torch(m, a.batch_size, a.steps, a.warmup, a.tf32, False)
        pc = bench_torch(m, a.batch_size, a.steps, a.warmup, a.tf32, True) if m == "cifar10-cnn" else float("nan")
        rows.append({"model": m, "batch": a.batch_size, "tf32": a.tf32, "dptrain_samples_per_sec": d,
                     "pytorch_samples_per_sec": p, "pytorch_channels_last_samples_per_sec": pc, "ratio": d / p})
        print(f"{m:12} {d:12.0f} {p:12.0f} {d / p:6.2f}x {pc:15.0f}", flush=True)
    if a.json:
        json.dump(rows, open(a.json, "w"), indent=2)


if __name__ == "__main__":
    main()
