#!/usr/bin/python3
"""Writes weight files in the published formats for tests/test_convert.c:

  tv_zip.pth, tv_legacy.pth   torchvision's AlexNet, seeded He-normal weights,
                              torch.save(state_dict) in the zip and the legacy
                              serialization; tv_f16.pth: the same in float16
  bvlc.caffemodel             caffe-bvlc-227 as a Caffe NetParameter with
                              `layer` (LayerParameter, BlobShape, packed data)
  bvlc_v1.caffemodel          the same with legacy V1 `layers` (enum types,
                              num/channels/height/width, biases unpacked)
  caffenet*.caffemodel        the same blobs in CaffeNet's layer list (pool
                              before LRN), current and V1; bvlc_blobs.pth: the
                              blobs without a layer list; bad_norm2.caffemodel:
                              BVLC's list with an LRN of size 3
  onnx_*.onnx                 the same exported to ONNX, and tampered (make_onnx.py)
  *_expected.safetensors      the same tensors under this runtime's names
  bad_*                       small refusals: a forbidden global, a forbidden
                              opcode, a wrong shape, a non-contiguous tensor,
                              float64, unknown names, not a zip, bad varints
  tiny_*                      small valid containers, cut and flipped by the test
  x_photos_*.npy, ref_photos_*.npy, probs_photos_*.npy
                              data/samples/*.png preprocessed as each variant
                              wants, torch's float64 logits and its float32
                              probabilities for them

usage: make_published.py SOURCE_ROOT OUTDIR [STAMP]
Protobuf is encoded by hand from caffe.proto's field numbers: no Caffe here.
"""
import io
import os
import pickle
import struct
import sys
import zipfile

import numpy as np
import torch
import torchvision

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_reference import BVLC, BVLC_NAMES, save_safetensors, seed_weights  # noqa: E402
from make_onnx import write_onnx  # noqa: E402


# ---------------------------------------------------------------- protobuf
def varint(n):
    n &= (1 << 64) - 1
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def key(field, wire):
    return varint(field << 3 | wire)


def ld(field, payload):
    return key(field, 2) + varint(len(payload)) + payload


def vi(field, value):
    return key(field, 0) + varint(value)


def packed_floats(field, arr):
    return ld(field, np.ascontiguousarray(arr, dtype="<f4").tobytes())


def unpacked_floats(field, arr):
    rec = np.zeros(arr.size, dtype=[("k", "u1"), ("v", "<f4")])
    rec["k"] = field << 3 | 5
    rec["v"] = arr.reshape(-1)
    return rec.tobytes()


def blob_new(arr):
    shape = ld(7, ld(1, b"".join(varint(d) for d in arr.shape)))  # BlobShape.dim, packed
    return shape + packed_floats(5, arr)


def blob_v1(arr, unpacked):
    dims = [1] * (4 - arr.ndim) + list(arr.shape)  # fc (1,1,out,in), bias (1,1,1,out)
    head = b"".join(vi(i + 1, d) for i, d in enumerate(dims))
    return head + (unpacked_floats(5, arr) if unpacked else packed_floats(5, arr))


# BVLC's deploy.prototxt, as (name, type, V1 enum, bottom, top)
BVLC_LAYERS = [("conv1", "Convolution", 4, "data", "conv1"), ("relu1", "ReLU", 18, "conv1", "conv1"),
               ("norm1", "LRN", 15, "conv1", "norm1"), ("pool1", "Pooling", 17, "norm1", "pool1"),
               ("conv2", "Convolution", 4, "pool1", "conv2"), ("relu2", "ReLU", 18, "conv2", "conv2"),
               ("norm2", "LRN", 15, "conv2", "norm2"), ("pool2", "Pooling", 17, "norm2", "pool2"),
               ("conv3", "Convolution", 4, "pool2", "conv3"), ("relu3", "ReLU", 18, "conv3", "conv3"),
               ("conv4", "Convolution", 4, "conv3", "conv4"), ("relu4", "ReLU", 18, "conv4", "conv4"),
               ("conv5", "Convolution", 4, "conv4", "conv5"), ("relu5", "ReLU", 18, "conv5", "conv5"),
               ("pool5", "Pooling", 17, "conv5", "pool5"), ("fc6", "InnerProduct", 14, "pool5", "fc6"),
               ("relu6", "ReLU", 18, "fc6", "fc6"), ("drop6", "Dropout", 6, "fc6", "fc6"),
               ("fc7", "InnerProduct", 14, "fc6", "fc7"), ("relu7", "ReLU", 18, "fc7", "fc7"),
               ("drop7", "Dropout", 6, "fc7", "fc7"), ("fc8", "InnerProduct", 14, "fc7", "fc8"),
               ("prob", "Softmax", 20, "fc8", "prob")]
# bvlc_reference_caffenet's train_val.prototxt (TRAIN phase): a data layer, each
# pool before its LRN, SoftmaxWithLoss at the end
CAFFENET_LAYERS = ([("data", "Data", 5, None, "data")] + BVLC_LAYERS[:2] +
                   [("pool1", "Pooling", 17, "conv1", "pool1"), ("norm1", "LRN", 15, "pool1", "norm1"),
                    ("conv2", "Convolution", 4, "norm1", "conv2"), ("relu2", "ReLU", 18, "conv2", "conv2"),
                    ("pool2", "Pooling", 17, "conv2", "pool2"), ("norm2", "LRN", 15, "pool2", "norm2"),
                    ("conv3", "Convolution", 4, "norm2", "conv3")] + BVLC_LAYERS[9:-1] +
                   [("loss", "SoftmaxWithLoss", 21, "fc8", "loss")])
# convolution_param: num_output, kernel_size, stride, pad, group
CONV = {"conv1": (96, 11, 4, 0, 1), "conv2": (256, 5, 1, 2, 2), "conv3": (384, 3, 1, 1, 1),
        "conv4": (384, 3, 1, 1, 2), "conv5": (256, 3, 1, 1, 2)}
IP = {"fc6": 4096, "fc7": 4096, "fc8": 1000}


def f32(field, v):
    return key(field, 5) + struct.pack("<f", v)


def layer_params(name, typ, v1, lrn_size=5):
    """The layer's *_param message, as a field of LayerParameter (v1: V1LayerParameter)."""
    if typ == "Convolution":
        o, k, st, p, g = CONV[name]
        # stride 1 and group 1 are Caffe's defaults: left out, as Caffe writes them
        body = vi(1, o) + vi(4, k) + (vi(6, st) if st != 1 else b"") + (vi(3, p) if p else b"")
        body += vi(5, g) if g != 1 else b""
        return ld(10 if v1 else 106, body)
    if typ == "Pooling":  # pool MAX (0, the default) written out, kernel 3, stride 2
        return ld(19 if v1 else 121, vi(1, 0) + vi(2, 3) + vi(3, 2))
    if typ == "LRN":  # local_size, alpha, beta (k: its default 1)
        return ld(18 if v1 else 118, vi(1, lrn_size) + f32(2, 1e-4) + f32(3, 0.75))
    if typ == "InnerProduct":
        return ld(17 if v1 else 117, vi(1, IP[name]))
    if typ == "Dropout":
        return ld(12 if v1 else 108, f32(1, 0.5))
    return b""


def transform_param(v1, crop, mean, scale=None, packed=False):
    """A data layer's TransformationParameter (scale 1, crop_size 3, mean_value 5),
    as a field of LayerParameter (100) or V1LayerParameter (36)."""
    body = vi(3, crop)
    body += packed_floats(5, np.array(mean, np.float32)) if packed else b"".join(
        f32(5, m) for m in mean)
    body += f32(1, scale) if scale is not None else b""
    return ld(36 if v1 else 100, body)


def caffemodel(tensors, v1, layers=None, lrn2_size=5, transform=None):
    """tensors: {"conv1.weight": array, ...}; layers: BVLC_LAYERS (the default)
    or CAFFENET_LAYERS; transform: the data layer's transform_param field.
    Returns NetParameter bytes."""
    net = ld(1, b"AlexNet") + ld(3, b"data") + b"".join(vi(4, d) for d in (10, 3, 227, 227))
    for name, typ, enum, bottom, top in layers or BVLC_LAYERS:
        blobs = []
        if name + ".weight" in tensors:
            blobs = [tensors[name + ".weight"], tensors[name + ".bias"]]
        params = layer_params(name, typ, v1, lrn2_size if name == "norm2" else 5)
        if typ == "Data" and transform:
            params += transform
        ends = (ld(2 if v1 else 3, bottom.encode()) if bottom else b"") + ld(3 if v1 else 4, top.encode())
        if v1:
            msg = ends + ld(4, name.encode()) + vi(5, enum) + params
            msg += b"".join(ld(6, blob_v1(b, unpacked=(i == 1))) for i, b in enumerate(blobs))
            if blobs:  # blobs_lr (7), weight_decay (8): floats to skip
                msg += key(7, 5) + struct.pack("<f", 1.0) + key(7, 5) + struct.pack("<f", 2.0)
                msg += ld(8, struct.pack("<2f", 1.0, 0.0))
            net += ld(2, msg)
        else:
            msg = ld(1, name.encode()) + ld(2, typ.encode()) + ends + params
            msg += b"".join(ld(7, blob_new(b)) for b in blobs)
            net += ld(100, msg)
    return net


# ---------------------------------------------------------------- pth files
def zip_pth(path, pkl, extra=None):
    """A .pth zip holding data.pkl as given (for tampered pickles)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_STORED) as z:
        z.writestr("archive/data.pkl", pkl)
        for name, data in (extra or {}).items():
            z.writestr("archive/" + name, data)
        z.writestr("archive/version", "3\n")


class Evil:
    """Unpickling this runs os.system: the reader must refuse it, not run it."""

    def __init__(self, cmd):
        self.cmd = cmd

    def __reduce__(self):
        return (os.system, (self.cmd,))


def main():
    src, out = sys.argv[1], sys.argv[2]
    os.makedirs(out, exist_ok=True)
    j = lambda name: os.path.join(out, name)  # noqa: E731

    # torchvision-224 in both serializations, float32, and float16 (zip)
    tv = torchvision.models.alexnet()
    seed_weights(tv, 11)
    tv.eval()
    sd = tv.state_dict()
    torch.save(sd, j("tv_zip.pth"))
    torch.save(sd, j("tv_legacy.pth"), _use_new_zipfile_serialization=False)
    save_safetensors(j("tv_expected.safetensors"), [(k, v.numpy()) for k, v in sd.items()], "F32")
    # one storage for classifier.6's weight and bias (a view at an offset), and
    # nn.DataParallel's "module." prefix
    flat = torch.cat([sd["classifier.6.weight"].reshape(-1), sd["classifier.6.bias"]])
    shared = {("module." + k): v for k, v in sd.items()}
    shared["module.classifier.6.weight"] = flat[:1000 * 4096].view(1000, 4096)
    shared["module.classifier.6.bias"] = flat[1000 * 4096:]
    assert shared["module.classifier.6.bias"].storage_offset() == 1000 * 4096
    torch.save(shared, j("tv_shared.pth"))
    torch.save(shared, j("tv_shared_legacy.pth"), _use_new_zipfile_serialization=False)
    sd16 = {k: v.half() for k, v in sd.items()}
    torch.save(sd16, j("tv_f16.pth"))
    save_safetensors(j("tv_f16_expected.safetensors"),
                     [(k, v.float().numpy()) for k, v in sd16.items()], "F16")
    # the same network as ONNX (torch.onnx.export), at several opsets
    write_onnx(tv, sd16, j)

    # caffe-bvlc-227 as .caffemodel, current and V1
    bv = BVLC()
    seed_weights(bv, 12)
    with torch.no_grad():  # logits of tens on Caffe-scale photographs, as trained weights give
        bv.classifier[6].weight.mul_(0.1)
        bv.classifier[6].bias.mul_(0.1)
    bv.eval()
    caffe = {BVLC_NAMES[k.rsplit(".", 1)[0]] + "." + k.rsplit(".", 1)[1]: v.numpy()
             for k, v in bv.state_dict().items()}
    with open(j("bvlc.caffemodel"), "wb") as f:
        f.write(caffemodel(caffe, v1=False))
    with open(j("bvlc_v1.caffemodel"), "wb") as f:
        f.write(caffemodel(caffe, v1=True))
    save_safetensors(j("bvlc_expected.safetensors"), list(caffe.items()), "F32")
    # the same blobs in CaffeNet's layer list (issue 15): converted as caffenet-227;
    # a BVLC list whose norm2 has local_size 3: refused naming norm2; the blobs as
    # a .pth (no layer list): refused unless a variant is named
    with open(j("caffenet.caffemodel"), "wb") as f:
        # the data layer's transform_param: BVLC's own (crop 227, B,G,R means), packed
        f.write(caffemodel(caffe, v1=False, layers=CAFFENET_LAYERS,
                           transform=transform_param(False, 227, (104, 117, 123), packed=True)))
    with open(j("caffenet_v1.caffemodel"), "wb") as f:
        # a fine-tuned net's own: recorded as the converted file's "preprocess"
        f.write(caffemodel(caffe, v1=True, layers=CAFFENET_LAYERS,
                           transform=transform_param(True, 227, (100, 110, 120), scale=0.5)))
    with open(j("bad_norm2.caffemodel"), "wb") as f:
        f.write(caffemodel({"conv1.weight": np.ones((2, 3, 3, 3), np.float32),
                            "conv1.bias": np.zeros(2, np.float32)}, v1=True, lrn2_size=3))
    torch.save({k: torch.from_numpy(v) for k, v in caffe.items()}, j("bvlc_blobs.pth"))

    # photographs, preprocessed the way each variant wants, and torch's logits
    try:
        from PIL import Image
        import torchvision.transforms as T
        photos = sorted(p for p in os.listdir(os.path.join(src, "data", "samples")) if p.endswith(".png"))
        tv_tf = T.Compose([T.Resize(256), T.CenterCrop(224), T.ToTensor(),
                           T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
        xs, xb = [], []
        for p in photos:
            img = Image.open(os.path.join(src, "data", "samples", p)).convert("RGB")
            xs.append(tv_tf(img).numpy())
            # Caffe: both sides to 256, centre crop 227, BGR, 0..255 minus (104, 117, 123)
            c = np.asarray(img.resize((256, 256), Image.BILINEAR), dtype=np.float32)
            o = (256 - 227) // 2
            c = c[o:o + 227, o:o + 227, ::-1] - np.array([104, 117, 123], dtype=np.float32)
            xb.append(np.ascontiguousarray(c.transpose(2, 0, 1)))
        xs, xb = np.stack(xs).astype(np.float32), np.stack(xb).astype(np.float32)
        np.save(j("x_photos_tv.npy"), xs)
        np.save(j("x_photos_bvlc.npy"), xb)
        with torch.no_grad():  # torch's own float32 probabilities, before .double()
            np.save(j("probs_photos_tv.npy"), torch.softmax(tv(torch.from_numpy(xs)), 1).numpy())
            np.save(j("probs_photos_bvlc.npy"), torch.softmax(bv(torch.from_numpy(xb)), 1).numpy())
            np.save(j("ref_photos_tv.npy"), tv.double()(torch.from_numpy(xs).double()).numpy().astype(np.float32))
            np.save(j("ref_photos_bvlc.npy"), bv.double()(torch.from_numpy(xb).double()).numpy().astype(np.float32))
        with open(j("photos.txt"), "w") as f:
            f.write("\n".join(photos) + "\n")
    except ImportError as e:  # python3-pil missing: the test skips the photographs
        print("no photographs:", e)

    # checkpoints (issue 15): pytorch/examples' imagenet/main.py wraps only
    # model.features in DataParallel and saves epoch, arch, best_acc1 and the
    # optimizer beside the state_dict; DDP's "module." in front; numbers,
    # strings, lists, tuples, None, an int64 tensor (LongStorage) around them
    opt = {"state": {0: {"momentum_buffer": torch.zeros(3), "step": torch.tensor(7)}},
           "param_groups": [{"lr": 0.01, "momentum": 0.9, "dampening": 0, "weight_decay": 1e-4,
                             "nesterov": False, "maximize": False, "foreach": None,
                             "params": [0, 1]}]}
    ex = {k.replace("features.", "features.module.", 1): v for k, v in sd.items()}
    torch.save({"epoch": 3, "arch": "alexnet", "state_dict": ex, "best_acc1": torch.tensor(56.52),
                "optimizer": opt}, j("ckpt_examples.pth"))
    ddp = {"module." + k: v for k, v in sd.items()}
    torch.save({"model_state_dict": ddp, "optimizer_state_dict": opt, "loss": 0.25,
                "history": [1.5, 2.5], "nested": {"a": (1, 2.0, "x", None, True), "big": 2 ** 70}},
               j("ckpt_ddp_legacy.pth"), _use_new_zipfile_serialization=False)

    # small valid containers, for truncation and byte flips
    tiny = {"features.0.weight": torch.randn(2, 3, 3, 3, generator=torch.Generator().manual_seed(5)),
            "features.0.bias": torch.tensor([0.5, -0.25]).half()}
    torch.save(tiny, j("tiny_zip.pth"))
    torch.save(tiny, j("tiny_legacy.pth"), _use_new_zipfile_serialization=False)
    with open(j("tiny.caffemodel"), "wb") as f:
        f.write(caffemodel({"conv1.weight": np.ones((2, 3, 3, 3), np.float32),
                            "conv1.bias": np.zeros(2, np.float32)}, v1=False))
    with open(j("tiny_v1.caffemodel"), "wb") as f:
        net = caffemodel({"fc8.weight": np.ones((3, 2), np.float32), "fc8.bias": np.zeros(3, np.float32)},
                         v1=True)
        f.write(net)

    # refusals
    marker = j("pwned")
    zip_pth(j("bad_global.pth"), pickle.dumps(Evil("touch '%s'" % marker), protocol=2))
    with open(j("tiny_legacy.pth"), "rb") as f:
        legacy = f.read()
    assert legacy.count(b"ccollections\nOrderedDict\n") == 1
    with open(j("bad_global_legacy.pth"), "wb") as f:
        f.write(legacy.replace(b"ccollections\nOrderedDict\n", b"cos\nsystem\n"))
    # NEWOBJ (0x81) in a state_dict: outside the subset (it would build an object)
    zip_pth(j("bad_opcode.pth"), b"\x80\x02}q\x00(X\x01\x00\x00\x00a\x81u.")
    torch.save({"classifier.6.weight": torch.zeros(10, 4096), "classifier.6.bias": torch.zeros(10)},
               j("bad_shape.pth"))
    torch.save({"conv2.weight": torch.zeros(256, 64, 5, 5)}, j("bad_shape_caffe.pth"))
    torch.save({"features.0.weight": torch.zeros(3, 11, 11, 64).permute(3, 0, 1, 2)},
               j("bad_strided.pth"))
    torch.save({"features.0.bias": torch.zeros(64, dtype=torch.float64)}, j("bad_double.pth"))
    torch.save({"model.fc.weight": torch.zeros(3, 3)}, j("bad_name.pth"))
    torch.save({"state_dict": {"features.0.bias": torch.zeros(64)}}, j("bad_checkpoint.pth"))
    torch.save({"net": tiny, "epoch": 1}, j("ckpt_tiny_net.pth"))
    torch.save({"model": {"state_dict": tiny}, "acc": 0.5}, j("ckpt_tiny_model.pth"),
               _use_new_zipfile_serialization=False)
    torch.save({"epoch": 1, "optimizer": opt}, j("bad_ckpt_no_weights.pth"))
    with open(j("bad_notzip.pth"), "wb") as f:
        f.write(b"PK\x03\x04" + bytes(range(256)) * 4)
    with open(j("bad_varint.caffemodel"), "wb") as f:
        f.write(b"\x0a\x07AlexNet" + b"\xa2\x06" + b"\xff" * 11)
    with open(j("bad_length.caffemodel"), "wb") as f:
        f.write(b"\x0a\x07AlexNet" + b"\xa2\x06" + varint(1 << 40) + b"\x0a\x05conv1")
    with open(j("bad_layer.caffemodel"), "wb") as f:
        f.write(ld(100, ld(1, b"conv9") + ld(7, blob_new(np.zeros(3, np.float32)))
                + ld(7, blob_new(np.zeros(3, np.float32)))))
    with open(j("bad_blob.caffemodel"), "wb") as f:  # shape says 6 values, data has 5
        f.write(ld(100, ld(1, b"fc8") + ld(7, ld(7, ld(1, varint(2) + varint(3))) + packed_floats(5, np.zeros(5)))
                + ld(7, blob_new(np.zeros(2, np.float32)))))
    with open(sys.argv[3] if len(sys.argv) > 3 else j("stamp"), "w") as f:
        f.write("ok\n")


if __name__ == "__main__":
    main()
