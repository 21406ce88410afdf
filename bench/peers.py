#!/usr/bin/python3
"""The peers of `bench/peers`, one at a time, on the same weights and inputs.

  peers.py prepare VARIANT DIR
      Seeds the variant's PyTorch module (torchvision.models.alexnet for
      torchvision-224, the same module with 96/256 channels and no conv1
      padding for caffe-227), writes DIR/VARIANT.safetensors (what `alexnet
      bench --weights` loads), DIR/VARIANT.onnx (its ONNX export, batch size
      dynamic), DIR/VARIANT-x.npy (one input image) and DIR/VARIANT-ref.npy
      (PyTorch's logits for it). Needs Debian's python3-torch/-torchvision.

  peers.py run PEER VARIANT DIR BATCHES RUNS THREADS
      Times PEER at each batch size: one warm-up pass, then RUNS timed
      passes; prints "batch images_per_second" per line (the median pass).
      Before timing, PEER's logits for DIR/VARIANT-x.npy are compared with
      PyTorch's: a peer that computes something else is refused (exit 3).
      PEER: torch (Debian's PyTorch, whatever BLAS the caller's
      LD_LIBRARY_PATH gives it), opencv-cpu (OpenCV DNN on the ONNX export,
      its own CPU backend), opencv-ocl (the same on its OpenCL target),
      onnxruntime (ONNX Runtime's CPU provider; run with a Python that has
      onnxruntime and numpy, e.g. the virtual environment `bench/peers`
      makes), torch-cuda (PyTorch with cuDNN on the first CUDA GPU, FP32:
      TF32 off for convolutions and matrix products, cudnn.benchmark on;
      each timed pass copies the batch to the GPU and the logits back, as
      `alexnet bench` does; bench/gpu-check.sh runs it).

Measures, never asserts: the ratios are computed by `bench/peers`.
"""
import os
import statistics
import sys
import time

import numpy as np

SIZES = {"torchvision-224": 224, "caffe-227": 227}


def module(variant):
    import torch.nn as nn
    import torchvision
    m = torchvision.models.alexnet()
    if variant == "caffe-227":
        m.features[0] = nn.Conv2d(3, 96, kernel_size=11, stride=4, padding=0)
        m.features[3] = nn.Conv2d(96, 256, kernel_size=5, padding=2)
        m.features[6] = nn.Conv2d(256, 384, kernel_size=3, padding=1)
    return m.eval()


def prepare(variant, out):
    import torch
    sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests",
                                    "reference"))
    from make_reference import CAFFE_NAMES, save_safetensors, seed_weights
    m = module(variant)
    seed_weights(m, 11)
    names = CAFFE_NAMES if variant == "caffe-227" else {}
    tensors = []
    for key, value in m.state_dict().items():
        prefix, kind = key.rsplit(".", 1)
        tensors.append((names.get(prefix, prefix) + "." + kind, value.numpy().astype(np.float32)))
    save_safetensors(os.path.join(out, f"{variant}.safetensors"), tensors, "F32")
    s = SIZES[variant]
    x = np.random.default_rng(5).standard_normal((1, 3, s, s), dtype=np.float32)
    with torch.no_grad():
        ref = m(torch.from_numpy(x)).numpy()
        torch.onnx.export(m, torch.from_numpy(x), os.path.join(out, f"{variant}.onnx"),
                          input_names=["x"], output_names=["y"],
                          dynamic_axes={"x": {0: "n"}, "y": {0: "n"}}, opset_version=11)
    np.save(os.path.join(out, f"{variant}-x.npy"), x)
    np.save(os.path.join(out, f"{variant}-ref.npy"), ref)


def runner(peer, variant, d, threads):
    """A function of a float32 NCHW batch returning its logits."""
    onnx = os.path.join(d, f"{variant}.onnx")
    if peer == "torch":
        import torch
        torch.set_num_threads(threads)
        m = module(variant)
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "tests", "reference"))
        from make_reference import seed_weights
        seed_weights(m, 11)

        def run(x):
            with torch.no_grad():
                return m(torch.from_numpy(x)).numpy()
        return run
    if peer == "torch-cuda":
        import torch
        if not torch.cuda.is_available():
            raise SystemExit("peers.py: torch-cuda: PyTorch sees no CUDA GPU")
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.benchmark = True
        m = module(variant)
        sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..",
                                        "tests", "reference"))
        from make_reference import seed_weights
        seed_weights(m, 11)
        m = m.cuda()
        print(f"# torch-cuda: {torch.cuda.get_device_name(0)}, cuDNN "
              f"{torch.backends.cudnn.version()}, TF32 off", file=sys.stderr)

        def run(x):
            with torch.no_grad():
                y = m(torch.from_numpy(x).cuda()).cpu().numpy()
            torch.cuda.synchronize()
            return y
        return run
    if peer in ("opencv-cpu", "opencv-ocl"):
        import cv2
        cv2.setNumThreads(threads)
        net = cv2.dnn.readNetFromONNX(onnx)
        net.setPreferableBackend(cv2.dnn.DNN_BACKEND_OPENCV)
        if peer == "opencv-ocl":
            cv2.ocl.setUseOpenCL(True)
            if not cv2.ocl.haveOpenCL():
                raise RuntimeError("OpenCV sees no OpenCL device")
            dev = cv2.ocl.Device.getDefault()
            if not dev.name():
                raise RuntimeError("OpenCV found no OpenCL device to use (OPENCV_OPENCL_DEVICE="
                                   f"{os.environ.get('OPENCV_OPENCL_DEVICE', '')!r})")
            print(f"# opencv-ocl: OpenCL device {dev.name()} ({dev.vendorName()})",
                  file=sys.stderr)
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_OPENCL)
        else:
            net.setPreferableTarget(cv2.dnn.DNN_TARGET_CPU)

        def run(x):
            net.setInput(x)
            return net.forward()
        return run
    if peer == "onnxruntime":
        import onnxruntime as ort
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        sess = ort.InferenceSession(onnx, so, providers=["CPUExecutionProvider"])

        def run(x):
            return sess.run(None, {"x": x})[0]
        return run
    raise SystemExit(f"peers.py: unknown peer {peer}")


def run_peer(peer, variant, d, batches, runs, threads):
    run = runner(peer, variant, d, threads)
    x1 = np.load(os.path.join(d, f"{variant}-x.npy"))
    ref = np.load(os.path.join(d, f"{variant}-ref.npy"))
    got = np.asarray(run(x1), dtype=np.float64).reshape(ref.shape)
    rel = float(np.linalg.norm(got - ref) / np.linalg.norm(ref))
    print(f"# {peer} {variant}: logits against PyTorch's, relative L2 {rel:.2e}", file=sys.stderr)
    if not rel < 1e-3:
        print(f"peers.py: {peer} computes different logits (relative L2 {rel:.3g}): not timed",
              file=sys.stderr)
        sys.exit(3)
    s = SIZES[variant]
    for b in batches:
        x = np.random.default_rng(b).standard_normal((b, 3, s, s), dtype=np.float32)
        run(x)  # warm-up: first-call allocations and kernel builds are not timed
        t = []
        for _ in range(runs):
            t0 = time.perf_counter()
            run(x)
            t.append(time.perf_counter() - t0)
        print(b, b / statistics.median(t), flush=True)


def main():
    if len(sys.argv) == 4 and sys.argv[1] == "prepare":
        prepare(sys.argv[2], sys.argv[3])
    elif len(sys.argv) == 8 and sys.argv[1] == "run":
        peer, variant, d = sys.argv[2:5]
        batches = [int(b) for b in sys.argv[5].split(",")]
        run_peer(peer, variant, d, batches, int(sys.argv[6]), int(sys.argv[7]))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main()
