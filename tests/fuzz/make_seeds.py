#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora into tests/fuzz/corpus/ (committed;
rerun only to change them). Small valid inputs and near-misses each.
usage: tests/fuzz/make_seeds.py"""
import io
import json
import os
import struct
import zlib

here = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'corpus')


def put(target, name, data):
    d = os.path.join(here, target)
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, name), 'wb') as f:
        f.write(data if isinstance(data, bytes) else data.encode())


# --- safetensors ---------------------------------------------------------
def st(header, data=b'', raw_header=None):
    h = raw_header if raw_header is not None else json.dumps(header, separators=(',', ':')).encode()
    return struct.pack('<Q', len(h)) + h + data


def tiny(dtype='F32', meta=True):
    """A file that passes every check of fuzz_safetensors.c's tiny variant."""
    es = 4 if dtype == 'F32' else 2
    shapes = [('c.weight', [2, 1, 1, 1]), ('c.bias', [2]), ('f.weight', [3, 2]), ('f.bias', [3])]
    hdr, off = {}, 0
    if meta:
        hdr['__metadata__'] = {'format': 'pt'}
    for name, shape in shapes:
        n = 1
        for d in shape:
            n *= d
        hdr[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [off, off + n * es]}
        off += n * es
    if dtype == 'F32':
        data = struct.pack('<%df' % (off // 4), *[0.5 * i - 1 for i in range(off // 4)])
    else:  # halves: normal, subnormal, inf, NaN, zero, negative zero
        vals = [0x3c00, 0x0001, 0x7c00, 0x7e01, 0x0000, 0x8000, 0xbc00, 0x03ff, 0xfc00, 0x5640,
                0x1234]
        data = struct.pack('<%dH' % (off // 2), *(vals * 2)[:off // 2])
    return hdr, data


h, d = tiny('F32')
put('safetensors', 'tiny_f32.safetensors', st(h, d))
h, d = tiny('F16', meta=False)
put('safetensors', 'tiny_f16.safetensors', st(h, d))
h, d = tiny('F32')
h['c.bias']['data_offsets'] = [0, 8]  # overlaps c.weight
put('safetensors', 'overlap.safetensors', st(h, d))
h, d = tiny('F32')
put('safetensors', 'truncated.safetensors', st(h, d[:-4]))
h, d = tiny('F32')
h['f.weight']['shape'] = [2, 3]
put('safetensors', 'wrong_shape.safetensors', st(h, d))
h, d = tiny('F32')
h['f.bias']['dtype'] = 'BF16'
put('safetensors', 'bad_dtype.safetensors', st(h, d))
h, d = tiny('F32')
h['c.weight']['data_offsets'] = [8, 0]
put('safetensors', 'offsets_reversed.safetensors', st(h, d))
# the real variant's names and shapes with no data: rejected at the first offset
real = {'features.0.weight': {'dtype': 'F32', 'shape': [64, 3, 11, 11],
                              'data_offsets': [0, 64 * 3 * 11 * 11 * 4]},
        'features.0.bias': {'dtype': 'F16', 'shape': [64], 'data_offsets': [0, 128]}}
put('safetensors', 'torchvision_head.safetensors', st(real, b'\0' * 64))
put('safetensors', 'not_json.safetensors', st(None, b'', raw_header=b'{"a":[1,2,}'))
put('safetensors', 'header_nul.safetensors', st(None, b'', raw_header=b'{"x":1}\0  '))
put('safetensors', 'bare_number.safetensors', st(None, b'', raw_header=b'12'))
put('safetensors', 'huge_header_size.safetensors', struct.pack('<Q', 1 << 62) + b'{}')
put('safetensors', 'short.safetensors', b'\x02\0\0')

# --- PNG -----------------------------------------------------------------
def chunk(kind, body):
    return (struct.pack('>I', len(body)) + kind + body +
            struct.pack('>I', zlib.crc32(kind + body) & 0xffffffff))


def png(w, h, depth, color, rows, interlace=0, extra=b'', plte=None, trns=None):
    out = b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', struct.pack('>IIBBBBB', w, h, depth, color, 0, 0,
                                                            interlace))
    if plte:
        out += chunk(b'PLTE', plte)
    if trns:
        out += chunk(b'tRNS', trns)
    out += extra + chunk(b'IDAT', zlib.compress(rows)) + chunk(b'IEND', b'')
    return out


def raw(w, h, bpp_bits, seed=1):
    rb = (w * bpp_bits + 7) // 8
    x, rows = seed, b''
    for _ in range(h):
        line = bytearray()
        for _ in range(rb):
            x = (x * 1103515245 + 12345) & 0x7fffffff
            line.append(x >> 16 & 0xff)
        rows += b'\0' + bytes(line)
    return rows


put('png', 'rgb8_5x3.png', png(5, 3, 8, 2, raw(5, 3, 24)))
put('png', 'gray1_9x7.png', png(9, 7, 1, 0, raw(9, 7, 1)))
put('png', 'gray16_4x4.png', png(4, 4, 16, 0, raw(4, 4, 16)))
put('png', 'graya8_3x5.png', png(3, 5, 8, 4, raw(3, 5, 16)))
put('png', 'rgba16_2x2.png', png(2, 2, 16, 6, raw(2, 2, 64)))
put('png', 'palette4_trns_6x6.png', png(6, 6, 4, 3, raw(6, 6, 4), plte=bytes(range(48)),
                                        trns=b'\x00\x80'))
put('png', 'rgb_trns_3x3.png', png(3, 3, 8, 2, raw(3, 3, 24), trns=b'\0\1\0\2\0\3'))
# Adam7 interlaced: 7 passes of an 8x8 image
def adam7(w, h, bpp_bits):
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
              (0, 1, 1, 2)]
    rows = b''
    for x0, y0, dx, dy in passes:
        pw, ph = (w - x0 + dx - 1) // dx, (h - y0 + dy - 1) // dy
        if pw > 0 and ph > 0:
            rows += raw(pw, ph, bpp_bits, seed=x0 + y0 + 7)
    return rows
put('png', 'interlaced_rgb_8x8.png', png(8, 8, 8, 2, adam7(8, 8, 24), interlace=1))
put('png', 'wide_300x2.png', png(300, 2, 8, 0, raw(300, 2, 8)))
put('png', 'tall_1x260.png', png(1, 260, 8, 2, raw(1, 260, 24)))
put('png', 'one_pixel.png', png(1, 1, 8, 2, b'\0\x10\x20\x30'))
good = png(5, 3, 8, 2, raw(5, 3, 24))
put('png', 'truncated.png', good[:good.index(b'IDAT') + 4 + 10])  # inside the image data
bad = bytearray(good)
bad[30] ^= 0xff  # inside IHDR's CRC-covered bytes
put('png', 'bad_crc.png', bytes(bad))
put('png', 'no_iend.png', good[:-12])
# PIL's reading (image.c's rebuild()): indices past a short PLTE, CRC errors and
# stray chunks after the image data, a cut Adler-32.
put('png', 'palette8_short_plte.png', png(4, 4, 8, 3, raw(4, 4, 8), plte=bytes(range(9))))
idat_end = good.index(b'IEND') - 4
put('png', 'after_idat.png', good[:idat_end] + chunk(b'tEXt', b'a\0b')[:-1] + b'\0' +
    chunk(b'zzZz', b'xyz') + b'trailing')
put('png', 'no_adler.png', good[:idat_end - 8] + good[idat_end - 4:idat_end])
put('png', 'huge_header.png', png(200000, 200000, 8, 2, b'\0' * 10))
put('png', 'gamma_text.png', png(2, 2, 8, 2, raw(2, 2, 24), extra=chunk(b'gAMA', b'\0\0\xb1\x8f') +
                                 chunk(b'tEXt', b'Comment\0fuzz')))

# --- .caffemodel ------------------------------------------------------------
# Layer lists (issue 15): BVLC AlexNet (current `layer`), CaffeNet (V1 `layers`,
# a data layer first, SoftmaxWithLoss last), one with norm2 of size 3 and one
# with a branch; tiny blobs on conv1 and fc8 (the reader does not check shapes).
def pb_varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        out.append(b | (0x80 if n else 0))
        if not n:
            return bytes(out)


def pb_ld(field, payload):
    return pb_varint(field << 3 | 2) + pb_varint(len(payload)) + payload


def pb_vi(field, value):
    return pb_varint(field << 3) + pb_varint(value)


def pb_f32(field, v):
    return pb_varint(field << 3 | 5) + struct.pack('<f', v)


def caffe_net(order, v1, lrn2=5, branch=False):
    conv = {'conv1': (96, 11, 4, 0, 1), 'conv2': (256, 5, 1, 2, 2), 'conv3': (384, 3, 1, 1, 1),
            'conv4': (384, 3, 1, 1, 2), 'conv5': (256, 3, 1, 1, 2)}
    enum = {'Convolution': 4, 'ReLU': 18, 'Pooling': 17, 'LRN': 15, 'InnerProduct': 14,
            'Dropout': 6, 'Data': 5, 'Softmax': 20, 'SoftmaxWithLoss': 21}
    net, prev = b'', 'data'
    for name in order:
        typ = ('Convolution' if name.startswith('conv') else 'ReLU' if name.startswith('relu')
               else 'Pooling' if name.startswith('pool') else 'LRN' if name.startswith('norm')
               else 'InnerProduct' if name.startswith('fc') else 'Dropout'
               if name.startswith('drop') else 'Data' if name == 'data' else 'SoftmaxWithLoss')
        inplace = typ in ('ReLU', 'Dropout')
        top = prev if inplace else name
        bottom = 'conv1' if branch and name == 'conv3' else prev
        params = b''
        if typ == 'Convolution':
            o, k, st, p, g = conv[name]
            params = pb_ld(10 if v1 else 106, pb_vi(1, o) + pb_vi(4, k) + pb_vi(6, st) + pb_vi(3, p)
                           + pb_vi(5, g))
        elif typ == 'Pooling':
            params = pb_ld(19 if v1 else 121, pb_vi(1, 0) + pb_vi(2, 3) + pb_vi(3, 2))
        elif typ == 'LRN':
            params = pb_ld(18 if v1 else 118, pb_vi(1, lrn2 if name == 'norm2' else 5)
                           + pb_f32(2, 1e-4) + pb_f32(3, 0.75))
        blobs = b''
        if name in ('conv1', 'fc8'):
            for dims in ([2, 1, 1, 1], [2]):
                blob = pb_ld(7, pb_ld(1, b''.join(pb_varint(d) for d in dims)))
                blob += pb_ld(5, struct.pack('<2f', 0.5, -0.5))
                blobs += pb_ld(6 if v1 else 7, blob)
        ends = (pb_ld(2 if v1 else 3, bottom.encode()) if typ != 'Data' else b'')
        ends += pb_ld(3 if v1 else 4, top.encode())
        if v1:
            net += pb_ld(2, ends + pb_ld(4, name.encode()) + pb_vi(5, enum[typ]) + params + blobs)
        else:
            net += pb_ld(100, pb_ld(1, name.encode()) + pb_ld(2, typ.encode()) + ends + params
                         + blobs)
        prev = top
    return net


BVLC_ORDER = ['conv1', 'relu1', 'norm1', 'pool1', 'conv2', 'relu2', 'norm2', 'pool2', 'conv3',
              'relu3', 'conv4', 'relu4', 'conv5', 'relu5', 'pool5', 'fc6', 'relu6', 'drop6', 'fc7',
              'relu7', 'drop7', 'fc8']
CAFFENET_ORDER = (['data', 'conv1', 'relu1', 'pool1', 'norm1', 'conv2', 'relu2', 'pool2', 'norm2']
                  + BVLC_ORDER[8:] + ['loss'])
put('caffe', 'bvlc_layer.caffemodel', caffe_net(BVLC_ORDER, v1=False))
put('caffe', 'caffenet_v1.caffemodel', caffe_net(CAFFENET_ORDER, v1=True))
put('caffe', 'caffenet_layer.caffemodel', caffe_net(CAFFENET_ORDER, v1=False))
put('caffe', 'norm2_size3_v1.caffemodel', caffe_net(BVLC_ORDER, v1=True, lrn2=3))
put('caffe', 'branch.caffemodel', caffe_net(BVLC_ORDER, v1=False, branch=True))
put('caffe', 'no_relu5.caffemodel', caffe_net([n for n in BVLC_ORDER if n != 'relu5'], v1=False))

# --- @list -----------------------------------------------------------------
put('list', 'plain.txt', 'a.png\nb/c.png\n/abs/d.PNG\n')
put('list', 'comments_blank.txt', '# header\n\nimg1.png\n   \n#x.png\nimg2.png')
put('list', 'crlf.txt', 'one.png\r\ntwo.png\r\n\r\n')
put('list', 'no_newline.txt', 'last.png')
put('list', 'empty.txt', '')
put('list', 'long_line.txt', 'x' * 5000 + '.png\n')
put('list', 'cr_only.txt', 'a.png\rb.png\r')

# --- .pth -----------------------------------------------------------------
# The seeds in corpus/pth/ are small files that torch.save writes: copies of
# tests/reference/make_published.py's tiny_*.pth, ckpt_tiny_*.pth and bad_*.pth
# (that script needs torch; this one does not).

# --- ONNX ------------------------------------------------------------------
# The seeds in corpus/onnx/ are torch.onnx.export's graph of torchvision's
# AlexNet (tests/reference/make_onnx.py's onnx_small.onnx and onnx_bad_*.onnx)
# with the initializers cut to two elements each (float_data, raw_data,
# float16): graph_all_tiny.onnx walks the whole graph and is accepted by the
# reader (the shapes are an__convert_match's to refuse).

# --- --labels --------------------------------------------------------------
names = ['class %d' % i for i in range(1000)]
put('labels', 'plain.txt', '\n'.join(names) + '\n')
put('labels', 'crlf_bom.txt', b'\xef\xbb\xbf' + '\r\n'.join(names).encode())
put('labels', 'background_1001.txt', '\n'.join(['background'] + names) + '\n')
put('labels', 'blank_middle.txt', '\n'.join(names[:500] + [''] + names[501:]) + '\n')
put('labels', 'two_final_newlines.txt', '\n'.join(names) + '\n\n')
put('labels', 'latin1.txt', ('\n'.join(names) + '\n').encode().replace(b'class 7\n', b'caf\xe9\n'))
put('labels', 'utf8.txt', ('\n'.join(names) + '\n').replace('class 7\n', 'caf\u00e9 \u2615 \U0001d11e\n').encode())
put('labels', 'cr_only.txt', '\r'.join(names))
put('labels', 'empty.txt', '')

# --- --device selectors (see fuzz_selector.c for the layout) -----------------
def sel(count, types, text):
    return bytes([count]) + bytes((types + [0] * 7)[:7]) + text.encode()

put('selector', 'pd.bin', sel(4, [0, 1, 2, 3], '1:0'))
put('selector', 'gpu.bin', sel(3, [0, 1, 1], 'gpu'))
put('selector', 'cpu_upper.bin', sel(2, [1, 0], 'CPU'))
put('selector', 'accelerator.bin', sel(2, [0, 0], 'accelerator'))
put('selector', 'name.bin', sel(3, [0, 1, 0], 'pthread\nOclgrind Simulator\ncpu-haswell-pthread\nNVIDIA H100'))
put('selector', 'empty.bin', sel(5, [0, 0, 1, 0, 1], ''))
put('selector', 'pd_junk.bin', sel(2, [0, 0], '0:1x'))
put('selector', 'pd_space.bin', sel(2, [0, 0], ' 0: 1'))
put('selector', 'none.bin', sel(0, [], 'gpu'))

# --- kernel tuning (ALEXNET_TUNING, tuning file lines) ------------------------
put('tuning', 'one.txt', 'fc_blocked=0')
put('tuning', 'several.txt', 'conv_tx=4,conv_ocb=2, conv_local=16\tgemv_lws=64')
put('tuning', 'all.txt', 'conv_tx=4,conv_ocb=2,conv_local=1,conv1_tx=4,conv1_ocb=1,fc_blocked=1,'
    'fc_tm=4,fc_tnb=2,fc_local=64,gemv_lws=64,gemv_interleaved=0,pointwise_local=64')
put('tuning', 'out_of_range.txt', 'conv_tx=9')
put('tuning', 'not_pow2.txt', 'gemv_lws=48')
put('tuning', 'unknown.txt', 'warp=32')
put('tuning', 'no_value.txt', 'conv_tx=')
put('tuning', 'huge.txt', 'fc_local=99999999999999999999999')
put('tuning', 'trailing.txt', 'fc_tm=3x,')
put('tuning', 'newline.txt', 'conv_tx=2\nconv_ocb=3')
put('tuning', 'vec.txt', 'conv_vec=16,pool_px=32')
put('tuning', 'vec_odd.txt', 'conv_vec=12')

# --- jpeg (written by PIL when it is importable: /usr/bin/python3) ----------
try:
    from PIL import Image
except ImportError:
    Image = None
if Image is not None:
    def jpeg(img, **kw):
        b = io.BytesIO()
        img.save(b, 'JPEG', **kw)
        return b.getvalue()

    def pixels(w, h, mode='RGB'):
        n = {'L': 1, 'RGB': 3, 'CMYK': 4}[mode]
        return Image.frombytes(mode, (w, h), bytes((i * 37 + i // 7) & 0xff for i in range(w * h * n)))

    base = jpeg(pixels(8, 8), quality=75)
    put('jpeg', 'base420_8x8.jpg', base)
    put('jpeg', 'base444_17x9.jpg', jpeg(pixels(17, 9), quality=90, subsampling=0))
    put('jpeg', 'base422_9x17.jpg', jpeg(pixels(9, 17), quality=90, subsampling=1))
    put('jpeg', 'prog_16x16.jpg', jpeg(pixels(16, 16), quality=80, progressive=True))
    put('jpeg', 'gray_9x9.jpg', jpeg(pixels(9, 9, 'L'), quality=80))
    put('jpeg', 'cmyk_8x8.jpg', jpeg(pixels(8, 8, 'CMYK'), quality=80))
    put('jpeg', 'truncated.jpg', base[:len(base) * 2 // 3])
    put('jpeg', 'no_eoi.jpg', base[:-2])
    sof = base.index(b'\xff\xc0')
    put('jpeg', 'huge_header.jpg', base[:sof + 5] + b'\xea\x60\xea\x60' + base[sof + 9:])
    bad = bytearray(base)
    for i in range(len(bad) - 30, len(bad) - 10, 2):
        bad[i] ^= 0x21
    put('jpeg', 'corrupt_bits.jpg', bytes(bad))
