#!/usr/bin/python3
"""Writes the conformance data: seeded weights as safetensors, random inputs,
and the logits PyTorch computes for them (in float64), for every variant.

usage: make_reference.py OUTDIR

torchvision-224 is torchvision.models.alexnet() itself; caffe-227 is the same
module with conv1 96 k11 s4 p0 and conv2 256 (no LRN, no groups). Weights are
He-normal (torchvision's default init gives near-zero logits, which would prove
little). torchvision-224 is stored as F32, caffe-227 as F16 (the reference then
uses the F16-rounded values), so both dtypes of the loader are exercised.
caffe-bvlc-227 is BVLC (below): LRN and grouped convolutions, F32, on inputs
of Caffe's scale; caffenet-227 is CaffeNet (pool before LRN), F32, at 99x99.
Runs with Debian's python3-torch / python3-torchvision / python3-numpy.
"""
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn as nn
import torchvision

CAFFE_NAMES = {"features.0": "conv1", "features.3": "conv2", "features.6": "conv3",
               "features.8": "conv4", "features.10": "conv5", "classifier.1": "fc6",
               "classifier.4": "fc7", "classifier.6": "fc8"}


def caffe227():
    m = torchvision.models.alexnet()
    m.features[0] = nn.Conv2d(3, 96, kernel_size=11, stride=4, padding=0)
    m.features[3] = nn.Conv2d(96, 256, kernel_size=5, padding=2)
    m.features[6] = nn.Conv2d(256, 384, kernel_size=3, padding=1)
    return m


class BVLC(nn.Module):
    """caffe-bvlc-227: BVLC's reference AlexNet (LRN after conv1 and conv2, two
    groups in conv2, conv4 and conv5). Caffe's across-channel LRN is
    nn.LocalResponseNorm for odd sizes: both use alpha/size and a window of
    (size-1)/2 channels on each side, clipped at the edges."""

    def __init__(self):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 96, kernel_size=11, stride=4), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(96, 256, kernel_size=5, padding=2, groups=2), nn.ReLU(inplace=True),
            nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0), nn.MaxPool2d(3, 2),
            nn.Conv2d(256, 384, kernel_size=3, padding=1), nn.ReLU(inplace=True),
            nn.Conv2d(384, 384, kernel_size=3, padding=1, groups=2), nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1, groups=2), nn.ReLU(inplace=True),
            nn.MaxPool2d(3, 2))
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(), nn.Linear(256 * 6 * 6, 4096), nn.ReLU(inplace=True), nn.Dropout(),
            nn.Linear(4096, 4096), nn.ReLU(inplace=True), nn.Linear(4096, 1000))

    def forward(self, x):
        return self.classifier(torch.flatten(self.avgpool(self.features(x)), 1))


class CaffeNet(BVLC):
    """caffenet-227: BVLC's CaffeNet (bvlc_reference_caffenet), BVLC's blobs with
    each pool before its LRN; the modules keep BVLC's indices (BVLC_NAMES)."""

    def __init__(self):
        super().__init__()
        f = self.features
        f[2], f[3] = nn.MaxPool2d(3, 2), nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)
        f[6], f[7] = nn.MaxPool2d(3, 2), nn.LocalResponseNorm(5, alpha=1e-4, beta=0.75, k=1.0)


BVLC_NAMES = {"features.0": "conv1", "features.4": "conv2", "features.8": "conv3",
              "features.10": "conv4", "features.12": "conv5", "classifier.1": "fc6",
              "classifier.4": "fc7", "classifier.6": "fc8"}


def seed_weights(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for mod in model.modules():
            if isinstance(mod, (nn.Conv2d, nn.Linear)):
                fan_in = mod.weight[0].numel()
                mod.weight.copy_(torch.randn(mod.weight.shape, generator=g) * (2.0 / fan_in) ** 0.5)
                mod.bias.copy_(torch.rand(mod.bias.shape, generator=g) * 0.2 - 0.1)


def save_safetensors(path, tensors, dtype):
    """tensors: list of (name, float32 numpy array); dtype 'F32' or 'F16'."""
    np_dtype = np.float32 if dtype == "F32" else np.float16
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, arr in tensors:
        data = np.ascontiguousarray(arr.astype(np_dtype)).tobytes()
        header[name] = {"dtype": dtype, "shape": list(arr.shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for b in blobs:
            f.write(b)


def make(variant, model, names, dtype, inputs, out):
    tensors = []
    with torch.no_grad():
        for key, value in model.state_dict().items():
            prefix, kind = key.rsplit(".", 1)
            arr = value.numpy().astype(np.float32)
            if dtype == "F16":  # the reference sees exactly what the file holds
                arr = arr.astype(np.float16).astype(np.float32)
                value.copy_(torch.from_numpy(arr))
            tensors.append((names.get(prefix, prefix) + "." + kind, arr))
    save_safetensors(os.path.join(out, f"{variant}.safetensors"), tensors, dtype)
    model = model.double().eval()
    for tag, x in inputs.items():
        with torch.no_grad():
            ref = model(torch.from_numpy(x).double()).numpy()
        np.save(os.path.join(out, f"x_{tag}.npy"), x)
        np.save(os.path.join(out, f"ref_{tag}.npy"), ref.astype(np.float32))
        spread = ref.std()
        print(f"{tag}: input {x.shape}, logits std {spread:.3f}, range [{ref.min():.2f}, {ref.max():.2f}]")


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    torch.manual_seed(0)
    rng = np.random.default_rng(1234)
    tv = torchvision.models.alexnet()
    seed_weights(tv, 1)
    make("torchvision-224", tv, {}, "F32",
         {"torchvision-224": rng.standard_normal((8, 3, 224, 224), dtype=np.float32),
          "torchvision-224-256x256": rng.standard_normal((2, 3, 256, 256), dtype=np.float32)},
         out)
    cf = caffe227()
    seed_weights(cf, 2)
    make("caffe-227", cf, CAFFE_NAMES, "F16",
         {"caffe-227": rng.standard_normal((8, 3, 227, 227), dtype=np.float32)}, out)
    # caffe-bvlc-227, F32: inputs on Caffe's scale (0..255 minus the mean), where LRN
    # changes conv1's outputs by tens of percent instead of being the identity
    bv = BVLC()
    seed_weights(bv, 3)
    make("caffe-bvlc-227", bv, BVLC_NAMES, "F32",
         {"caffe-bvlc-227": (rng.standard_normal((3, 3, 227, 227)) * 60).astype(np.float32)}, out)
    # caffenet-227 at a small input (99x99: pools of 11, 5 and 2 before the
    # adaptive pool), the order its test is about
    cn = CaffeNet()
    seed_weights(cn, 4)
    make("caffenet-227", cn, BVLC_NAMES, "F32",
         {"caffenet-227-99": (rng.standard_normal((2, 3, 99, 99)) * 60).astype(np.float32)}, out)
    with open(os.path.join(out, "stamp"), "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    main()
