"""ONNX files for tests/test_convert.c, written by make_published.py:

  onnx_op9.onnx, onnx_op13.onnx, onnx_op17.onnx
                      torchvision's AlexNet (the seeded tv model) exported by
                      torch.onnx.export at opsets 9, 13 and 17; opset 9's
                      initializers rewritten into float_data (the typed field)
  onnx_f16.onnx       opset 13 with float16 initializers (tv_f16's values)
  onnx_matmul.onnx    opset 13 with classifier.4 as MatMul + Add and
                      classifier.6 as Gemm with transB = 0 (weights transposed)
  onnx_bad_*.onnx     small tampered graphs (only conv1's initializers kept):
                      a Conv stride, a MaxPool ceil_mode, an extra node,
                      external data
  onnx_small.onnx     the same untampered, for truncation and the fuzzer

Torch exports without the onnx package; the rewrites decode and re-encode the
protobuf wire format here (onnx.proto's field numbers), no PyPI needed.
"""
import os

import numpy as np
import torch


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


def read_varint(b, i):
    v = s = 0
    while True:
        c = b[i]
        i += 1
        v |= (c & 0x7F) << s
        s += 7
        if c < 0x80:
            return v, i


def fields(b):
    """A message as [field, wire, value] lists (value: int, or bytes)."""
    i, out = 0, []
    while i < len(b):
        k, i = read_varint(b, i)
        f, w = k >> 3, k & 7
        if w == 0:
            v, i = read_varint(b, i)
        elif w == 2:
            n, i = read_varint(b, i)
            v, i = bytes(b[i:i + n]), i + n
        elif w == 5:
            v, i = bytes(b[i:i + 4]), i + 4
        elif w == 1:
            v, i = bytes(b[i:i + 8]), i + 8
        else:
            raise ValueError("wire type %d" % w)
        out.append([f, w, v])
    return out


def encode(fs):
    out = []
    for f, w, v in fs:
        out.append(varint(f << 3 | w))
        if w == 0:
            out.append(varint(v))
        elif w == 2:
            out.append(varint(len(v)))
            out.append(v)
        else:
            out.append(v)
    return b"".join(out)


def sub(fs, number):
    return [x for x in fs if x[0] == number]


def first(fs, number):
    return sub(fs, number)[0][2]


def rewrite_graph(model, fn):
    top = fields(model)
    for x in top:
        if x[0] == 7:
            x[2] = encode(fn(fields(x[2])))
    return encode(top)


def node_name(nf):
    return first(nf, 3).decode()


def set_attr_ints(graph, node, attr, values):
    for x in graph:
        if x[0] == 1 and node_name(fields(x[2])) == node:
            nf = fields(x[2])
            for a in sub(nf, 5):
                af = fields(a[2])
                if first(af, 1) == attr.encode():
                    af = [y for y in af if y[0] != 8 and y[0] != 3]
                    if len(values) == 1 and attr == "ceil_mode":
                        af.append([3, 0, values[0]])
                    else:
                        af += [[8, 0, v] for v in values]
                    a[2] = encode(af)
            x[2] = encode(nf)
            return graph
    raise KeyError(node)


def export(model, path, opset):
    torch.onnx.export(model, torch.zeros(1, 3, 224, 224), path, opset_version=opset)
    with open(path, "rb") as f:
        return f.read()


def write_onnx(tv, sd16, j):
    """tv: the seeded torchvision AlexNet (eval); sd16: its float16 state_dict;
    j: a file name -> its path in the output directory."""
    op13 = export(tv, j("onnx_op13.onnx"), 13)
    export(tv, j("onnx_op17.onnx"), 17)
    op9 = export(tv, j("onnx_op9.onnx"), 9)

    def to_float_data(g):  # raw_data (9) -> packed float_data (4)
        for x in g:
            if x[0] == 5:
                tf = fields(x[2])
                raw = first(tf, 9)
                tf = [y for y in tf if y[0] != 9] + [[4, 2, raw]]
                x[2] = encode(tf)
        return g
    with open(j("onnx_op9.onnx"), "wb") as f:
        f.write(rewrite_graph(op9, to_float_data))

    def matmul(g):  # classifier.4 as MatMul + Add, classifier.6 as Gemm transB = 0
        out = []
        for x in g:
            if x[0] == 1 and node_name(fields(x[2])) == "/classifier/classifier.4/Gemm":
                nf = fields(x[2])
                i = [y[2] for y in sub(nf, 1)]
                o = first(nf, 2)
                out.append([1, 2, encode([[1, 2, i[0]], [1, 2, i[1]], [2, 2, b"mm4"],
                                          [3, 2, b"/classifier/classifier.4/MatMul"],
                                          [4, 2, b"MatMul"]])])
                out.append([1, 2, encode([[1, 2, b"mm4"], [1, 2, i[2]], [2, 2, o],
                                          [3, 2, b"/classifier/classifier.4/Add"],
                                          [4, 2, b"Add"]])])
                continue
            if x[0] == 1 and node_name(fields(x[2])) == "/classifier/classifier.6/Gemm":
                nf = fields(x[2])
                for a in sub(nf, 5):
                    af = fields(a[2])
                    if first(af, 1) == b"transB":
                        a[2] = encode([y if y[0] != 3 else [3, 0, 0] for y in af])
                x[2] = encode(nf)
            if x[0] == 5 and first(fields(x[2]), 8) in (b"classifier.4.weight",
                                                         b"classifier.6.weight"):
                tf = fields(x[2])
                dims = [y[2] for y in sub(tf, 1)]
                w = np.frombuffer(first(tf, 9), "<f4").reshape(dims)
                tf = [y for y in tf if y[0] not in (1, 9)]
                x[2] = encode([[1, 0, dims[1]], [1, 0, dims[0]]] + tf
                              + [[9, 2, np.ascontiguousarray(w.T).tobytes()]])
            out.append(x)
        return out
    with open(j("onnx_matmul.onnx"), "wb") as f:
        f.write(rewrite_graph(op13, matmul))

    by_name = {k: v for k, v in sd16.items()}

    def to_f16(g):  # data_type 10, raw_data from the float16 state_dict
        for x in g:
            if x[0] == 5:
                tf = fields(x[2])
                name = first(tf, 8).decode()
                tf = [y for y in tf if y[0] not in (2, 9)]
                tf += [[2, 0, 10], [9, 2, by_name[name].numpy().astype("<f2").tobytes()]]
                x[2] = encode(tf)
        return g
    with open(j("onnx_f16.onnx"), "wb") as f:
        f.write(rewrite_graph(op13, to_f16))

    # small graphs: every node, only conv1's initializers (the walk refuses
    # the tampered node before it needs a later layer's weights)
    conv1 = set(("features.0.weight", "features.0.bias"))

    def small(g):
        return [x for x in g if x[0] != 5 or first(fields(x[2]), 8).decode() in conv1]
    tiny = rewrite_graph(op13, small)
    with open(j("onnx_small.onnx"), "wb") as f:
        f.write(tiny)
    with open(j("onnx_bad_stride.onnx"), "wb") as f:
        f.write(rewrite_graph(tiny, lambda g: set_attr_ints(g, "/features/features.3/Conv",
                                                            "strides", [2, 2])))
    with open(j("onnx_bad_ceil.onnx"), "wb") as f:
        f.write(rewrite_graph(tiny, lambda g: set_attr_ints(g, "/features/features.2/MaxPool",
                                                            "ceil_mode", [1])))

    def extra(g):  # a Sigmoid between features.1's Relu and features.2's MaxPool
        out = []
        for x in g:
            if x[0] == 1 and node_name(fields(x[2])) == "/features/features.2/MaxPool":
                nf = fields(x[2])
                src = sub(nf, 1)[0][2]
                out.append([1, 2, encode([[1, 2, src], [2, 2, b"extra_out"],
                                          [3, 2, b"/extra/Sigmoid"], [4, 2, b"Sigmoid"]])])
                sub(nf, 1)[0][2] = b"extra_out"
                x[2] = encode(nf)
            out.append(x)
        return out
    with open(j("onnx_bad_extra.onnx"), "wb") as f:
        f.write(rewrite_graph(tiny, extra))

    def external(g):  # conv1's weight in a file beside the model
        for x in g:
            if x[0] == 5 and first(fields(x[2]), 8) == b"features.0.weight":
                tf = [y for y in fields(x[2]) if y[0] != 9]
                tf += [[13, 2, encode([[1, 2, b"location"], [2, 2, b"weights.bin"]])],
                       [14, 0, 1]]
                x[2] = encode(tf)
        return g
    with open(j("onnx_bad_external.onnx"), "wb") as f:
        f.write(rewrite_graph(tiny, external))


if __name__ == "__main__":  # a quick look: python3 make_onnx.py OUTDIR
    import sys
    import torchvision
    from make_reference import seed_weights
    tv = torchvision.models.alexnet()
    seed_weights(tv, 11)
    tv.eval()
    os.makedirs(sys.argv[1], exist_ok=True)
    write_onnx(tv, {k: v.half() for k, v in tv.state_dict().items()},
               lambda n: os.path.join(sys.argv[1], n))
    np.zeros(1)
