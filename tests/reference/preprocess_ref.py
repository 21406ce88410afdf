#!/usr/bin/python3
"""preprocess_ref.py - reference images and tensors for tests/test_image.c.

Usage: /usr/bin/python3 preprocess_ref.py OUTDIR

Writes into OUTDIR:
  * synthetic PNGs of every kind libpng can meet (gray 1/2/4/8/16 bit, gray with
    tRNS, gray+alpha, palette 1/2/4/8 bit with and without tRNS, RGB, RGB with
    tRNS, RGBA, 16-bit channels, Adam7 interlacing), written by the small PNG
    encoder below so that every bit depth and every row filter is exercised;
  * copies of real photographs (skimage's astronaut, chelsea and coffee when
    python3-skimage is installed, and the repository's data/samples/*.png);
  * for every image the RGB8 pixels PIL decodes (`Image.open(p).convert("RGB")`)
    as raw bytes (.rgb), and for each variant the preprocessed tensor of the
    reference pipeline as raw little-endian float32 (.f32):
      torchvision-224: Resize(256), CenterCrop(224), ToTensor(), Normalize(...)
      caffe-227:       PIL resize((256, 256), BILINEAR), CenterCrop(227), BGR, minus mean
    plus "+noresize" variants (no resize: CenterCrop straight on the image, so that
    images smaller than the crop are zero-padded as torchvision does);
  * bad files the decoder must refuse, as PIL does (empty, not a PNG, truncated,
    CRC errors before the image data, zlib error, zero width, bad bit depth,
    20000x20000, 2000000x1);
  * files decoders disagree on (pil_cases(): palette indices past the PLTE, CRC
    errors after the first IDAT, no IEND, stray data, cuts at every offset of two
    small files), each recorded as PIL treats it: its pixels or "bad";
  * manifest.txt, one line per check: NAME VARIANT C H W REFERENCE, where
    VARIANT is "decode" (REFERENCE is H*W*3 uint8), a variant name (REFERENCE is
    C*H*W float32), or "bad" (C H W are 0 and REFERENCE is "-").

PIL 9.4 behaviour this records (checked on every synthetic image below, the
script stops when PIL disagrees with the expectation):
  * convert("RGB") drops alpha without compositing: RGBA, LA, palette+tRNS,
    gray+tRNS and RGB+tRNS all give the colour samples unchanged;
  * 16-bit RGB/RGBA/LA keep the high byte (v >> 8);
  * 1/2/4-bit gray are scaled to 0..255 (x255, x85, x17);
  * 16-bit gray opens as mode "I" and convert("RGB") CLIPS at 255 instead of
    scaling (Pillow issue #2574), which turns photographs white. The runtime takes
    the high byte as for every other 16-bit kind, so the reference for 16-bit gray
    images is built from v >> 8, not from PIL's convert.

Exit status 77 when a Python module is missing (the C test then skips).
"""
import os
import re
import shutil
import struct
import sys
import warnings
import zlib

try:
    import numpy as np
    import torch
    from PIL import Image
    from torchvision import transforms
except ImportError as e:  # pragma: no cover
    print(f"preprocess_ref.py: {e}", file=sys.stderr)
    sys.exit(77)

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE_ROOT = os.path.dirname(os.path.dirname(HERE))
SKIMAGE_DATA = "/usr/lib/python3/dist-packages/skimage/data"

TORCHVISION = transforms.Compose([
    transforms.Resize(256),
    transforms.CenterCrop(224),
    transforms.ToTensor(),
    transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])
TORCHVISION_NORESIZE = transforms.Compose([
    transforms.CenterCrop(224),
    transforms.ToTensor(),
    transforms.Normalize(mean=[0.485, 0.456, 0.406], std=[0.229, 0.224, 0.225]),
])
CAFFE_MEAN_BGR = np.array([104.0, 117.0, 123.0], dtype=np.float32)


def caffe(img, resize=True):
    if resize:
        img = img.resize((256, 256), Image.BILINEAR)
    img = transforms.CenterCrop(227)(img)
    a = np.asarray(img, dtype=np.uint8).astype(np.float32)[:, :, ::-1] - CAFFE_MEAN_BGR
    return np.ascontiguousarray(a.transpose(2, 0, 1))


def opencv_style(img, size, exact, crop, mean, scale, std, bgr):
    """The --resize/--crop/--mean/--scale/--std/--bgr options' pipeline written
    with PIL and numpy: out = (pixel - mean) * scale / std in float32."""
    img = img.resize((size, size), Image.BILINEAR) if exact else transforms.Resize(size)(img)
    a = np.asarray(transforms.CenterCrop(crop)(img), dtype=np.uint8).astype(np.float32)
    if bgr:
        a = a[:, :, ::-1]
    a = (a - np.float32(mean)) * np.float32(scale) / np.float32(std)
    return np.ascontiguousarray(a.transpose(2, 0, 1))


# The preprocessing options (an_preprocess_parse's spec after "opt:") against
# torchvision transforms or PIL + numpy with the same parameters.
OPTIONS = {
    "opt:resize=288;crop=256;mean=127.5,127.5,127.5;scale=1/255;std=0.5,0.5,0.5;order=rgb":
        lambda img: transforms.Compose([
            transforms.Resize(288), transforms.CenterCrop(256), transforms.ToTensor(),
            transforms.Normalize(mean=[0.5, 0.5, 0.5], std=[0.5, 0.5, 0.5])])(img).numpy(),
    "opt:resize=240x240;crop=227;mean=100,110,120;scale=0.017;std=1,1,1;order=bgr":
        lambda img: opencv_style(img, 240, True, 227, [100, 110, 120], 0.017, [1, 1, 1], True),
    "opt:resize=160;crop=160;mean=123.675,116.28,103.53;scale=1;std=58.395,57.12,57.375":
        lambda img: opencv_style(img, 160, False, 160, [123.675, 116.28, 103.53], 1,
                                 [58.395, 57.12, 57.375], False),
}

VARIANTS = {
    "torchvision-224": lambda img: TORCHVISION(img).numpy(),
    "caffe-227": caffe,
    "torchvision-224+noresize": lambda img: TORCHVISION_NORESIZE(img).numpy(),
    "caffe-227+noresize": lambda img: caffe(img, resize=False),
    **OPTIONS,
}

# ---------------------------------------------------------------------------
# A minimal PNG encoder: any colour type, bit depth, filter, Adam7.

GRAY, RGB, PALETTE, GRAY_ALPHA, RGBA = 0, 2, 3, 4, 6
CHANNELS = {GRAY: 1, RGB: 3, PALETTE: 1, GRAY_ALPHA: 2, RGBA: 4}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


def chunk(kind, data):
    body = kind + data
    return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body) & 0xffffffff)


def pack_row(samples, depth):
    """samples: 1-D array of the row's samples (all channels interleaved)."""
    if depth == 16:
        return samples.astype(">u2").tobytes()
    if depth == 8:
        return samples.astype(np.uint8).tobytes()
    per_byte = 8 // depth
    n = len(samples)
    padded = np.zeros(((n + per_byte - 1) // per_byte) * per_byte, dtype=np.uint16)
    padded[:n] = samples
    padded = padded.reshape(-1, per_byte)
    out = np.zeros(len(padded), dtype=np.uint16)
    for i in range(per_byte):
        out |= padded[:, i] << (8 - depth * (i + 1))
    return out.astype(np.uint8).tobytes()


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_row(kind, row, prev, bpp):
    out = bytearray(len(row))
    for i, x in enumerate(row):
        a = row[i - bpp] if i >= bpp else 0
        b = prev[i]
        c = prev[i - bpp] if i >= bpp else 0
        pred = (0, a, b, (a + b) // 2, paeth(a, b, c))[kind]
        out[i] = (x - pred) & 0xff
    return bytes([kind]) + bytes(out)


def encode_pixels(pix, depth, color, row_index):
    """Filtered scanlines of one (sub)image; filters cycle through 0..4."""
    h, w = pix.shape[:2]
    if w == 0 or h == 0:
        return b""
    bpp = max(1, CHANNELS[color] * depth // 8)
    out, prev = [], bytes(len(pack_row(pix[0].reshape(-1), depth)))
    for y in range(h):
        row = pack_row(pix[y].reshape(-1), depth)
        out.append(filter_row((row_index + y) % 5, row, prev, bpp))
        prev = row
    return b"".join(out)


def write_png(path, pix, color, depth, palette=None, trns=None, interlace=False, extra=b""):
    """pix: (H, W, C) integer array of samples (palette indices for PALETTE)."""
    pix = np.asarray(pix).reshape(pix.shape[0], pix.shape[1], -1)
    h, w = pix.shape[:2]
    raw = b""
    if interlace:
        for i, (x0, y0, dx, dy) in enumerate(ADAM7):
            raw += encode_pixels(pix[y0::dy, x0::dx], depth, color, i)
    else:
        raw = encode_pixels(pix, depth, color, 0)
    data = b"\x89PNG\r\n\x1a\n"
    data += chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, int(interlace)))
    if palette is not None:
        data += chunk(b"PLTE", bytes(np.asarray(palette, dtype=np.uint8).reshape(-1)))
    if trns is not None:
        data += chunk(b"tRNS", trns)
    data += extra
    z = zlib.compress(raw, 9)
    for i in range(0, len(z), 4096):  # several IDAT chunks for the larger images
        data += chunk(b"IDAT", z[i:i + 4096])
    data += chunk(b"IEND", b"")
    with open(path, "wb") as f:
        f.write(data)
    return data


# ---------------------------------------------------------------------------
# Files on which decoders disagree.

def pil_cases():
    """PNGs that decoders disagree on, each as PIL 9.4 reads them (name, bytes).

    PIL checks the CRC of every chunk before the first IDAT and nothing after it,
    pads a short palette with a grey ramp (entry i is (i, i, i)), stops at the
    image's last row (a missing Adler-32 or IEND, stray data after it pass) and
    refuses a chunk after the image data whose data run past the end of the file."""
    sig = b"\x89PNG\r\n\x1a\n"

    def ihdr(w, h, depth, color, interlace=0):
        return chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, color, 0, 0, interlace))

    def bad_crc(c):
        return c[:-4] + bytes(x ^ 0xff for x in c[-4:])

    iend = chunk(b"IEND", b"")
    rng = np.random.default_rng(15)
    cases = []
    # Palettes: indices past the PLTE's entries, short, missing, replaced, too long.
    idx = np.arange(256, dtype=np.uint8).reshape(16, 16)
    raw8 = b"".join(b"\0" + bytes(r) for r in idx)
    pal = bytes(rng.integers(0, 256, size=12, dtype=np.uint8))
    z8 = zlib.compress(raw8)
    pal8 = sig + ihdr(16, 16, 8, PALETTE)
    cases.append(("pal8_past_plte", pal8 + chunk(b"PLTE", pal) + chunk(b"IDAT", z8) + iend))
    cases.append(("pal8_past_plte_trns", pal8 + chunk(b"PLTE", pal) + chunk(b"tRNS", b"\0\x80")
                  + chunk(b"IDAT", z8) + iend))
    cases.append(("pal8_trns_longer", pal8 + chunk(b"PLTE", pal) + chunk(b"tRNS", b"\x10" * 9)
                  + chunk(b"IDAT", z8) + iend))
    cases.append(("pal8_plte_empty", pal8 + chunk(b"PLTE", b"") + chunk(b"IDAT", z8) + iend))
    cases.append(("pal8_plte_len7", pal8 + chunk(b"PLTE", pal[:7]) + chunk(b"IDAT", z8) + iend))
    cases.append(("pal8_no_plte", pal8 + chunk(b"IDAT", z8) + iend))
    cases.append(("pal8_two_plte", pal8 + chunk(b"PLTE", pal) + chunk(b"PLTE", pal[::-1][:6])
                  + chunk(b"IDAT", z8) + iend))
    cases.append(("pal8_plte_after_idat", pal8 + chunk(b"PLTE", pal) + chunk(b"IDAT", z8)
                  + chunk(b"PLTE", pal[::-1]) + iend))
    cases.append(("pal8_plte_257", pal8 + chunk(b"PLTE", bytes(771)) + chunk(b"IDAT", z8) + iend))
    raw4 = b"".join(b"\0" + bytes((((2 * i + y) % 16) << 4) | ((2 * i + 1 + y) % 16)
                                  for i in range(8)) for y in range(16))
    cases.append(("pal4_past_plte", sig + ihdr(16, 16, 4, PALETTE) + chunk(b"PLTE", pal[:9])
                  + chunk(b"IDAT", zlib.compress(raw4)) + iend))
    raw2 = b"".join(b"\0" + bytes([0b00011011, 0b11100100] * 2) for y in range(4))
    cases.append(("pal2_plte_8", sig + ihdr(16, 4, 2, PALETTE) + chunk(b"PLTE", pal * 2)
                  + chunk(b"IDAT", zlib.compress(raw2)) + iend))
    pix = rng.integers(0, 256, size=(16, 16, 1), dtype=np.uint16)
    raw_i = b""
    for i, (x0, y0, dx, dy) in enumerate(ADAM7):
        raw_i += encode_pixels(pix[y0::dy, x0::dx], 8, PALETTE, i)
    cases.append(("adam7_pal8_past_plte", sig + ihdr(16, 16, 8, PALETTE, 1)
                  + chunk(b"PLTE", pal) + chunk(b"IDAT", zlib.compress(raw_i)) + iend))
    cases.append(("gray8_with_plte", sig + ihdr(16, 16, 8, GRAY) + chunk(b"PLTE", pal)
                  + chunk(b"IDAT", z8) + iend))

    # CRCs, the end of the file, stray data: an RGB image of several IDAT chunks.
    rgb = rng.integers(0, 256, size=(9, 7, 3), dtype=np.uint8)
    raw = b"".join(b"\0" + r.tobytes() for r in rgb)
    z = zlib.compress(raw)
    head = sig + ihdr(7, 9, 8, RGB)
    idats = chunk(b"IDAT", z[:40]) + chunk(b"IDAT", z[40:])
    good = head + idats + iend
    text = chunk(b"tEXt", b"Comment\0x")
    cases.append(("rgb8_good", good))
    cases.append(("rgb8_no_iend", head + idats))
    cases.append(("rgb8_iend_cut", good[:-6]))
    cases.append(("rgb8_bad_crc_idat1", head + bad_crc(chunk(b"IDAT", z[:40]))
                  + chunk(b"IDAT", z[40:]) + iend))
    cases.append(("rgb8_bad_crc_idat2", head + chunk(b"IDAT", z[:40])
                  + bad_crc(chunk(b"IDAT", z[40:])) + iend))
    cases.append(("rgb8_bad_crc_text_after", head + idats + bad_crc(text) + iend))
    cases.append(("rgb8_bad_crc_iend", head + idats + bad_crc(iend)))
    cases.append(("rgb8_bad_crc_text_before", head + bad_crc(text) + idats + iend))
    cases.append(("rgb8_bad_crc_private_before", head + bad_crc(chunk(b"prIv", b"abc"))
                  + idats + iend))
    cases.append(("rgb8_bad_crc_ihdr", bad_crc(head) + idats + iend))
    cases.append(("rgb8_garbage_after_iend", good + b"garbage after the end" * 3))
    cases.append(("rgb8_extra_idat", head + idats + chunk(b"IDAT", b"stray data") + iend))
    cases.append(("rgb8_extra_zlib_data", head + chunk(b"IDAT", z + b"stray") + iend))
    cases.append(("rgb8_longer_stream", head + chunk(b"IDAT", zlib.compress(raw + bytes(50)))
                  + iend))
    bad_adler = z[:-1] + bytes([z[-1] ^ 1])
    cases.append(("rgb8_bad_adler", head + chunk(b"IDAT", bad_adler) + iend))
    cases.append(("rgb8_no_adler", head + chunk(b"IDAT", z[:-4]) + iend))
    cases.append(("rgb8_no_adler_no_iend", head + chunk(b"IDAT", z[:-4])))
    cases.append(("rgb8_idat_cut_in_adler", head + chunk(b"IDAT", z)[:-6]))
    cases.append(("rgb8_idat_cut_in_rows", head + chunk(b"IDAT", z)[:-30]))
    cases.append(("rgb8_short_stream", head + chunk(b"IDAT", zlib.compress(raw[:-5])) + iend))
    cases.append(("rgb8_text_after_cut", head + idats + text[:-7]))
    cases.append(("rgb8_text_after_header_cut", head + idats + text[:6]))
    cases.append(("rgb8_text_after_crc_cut", head + idats + text[:-2]))
    cases.append(("rgb8_idat_after_cut", head + chunk(b"IDAT", z) + chunk(b"IDAT", b"x" * 20)[:-8]))
    cases.append(("rgb8_text_before_cut", head + text[:-7]))
    cases.append(("rgb8_not_a_chunk_after", head + idats + b"\0\0\0\x03a!Cdxyz" + iend))
    cases.append(("rgb8_huge_chunk_after", head + idats + struct.pack(">I", 0x7fffffff) + b"abCd"
                  + bytes(20)))
    cases.append(("rgb8_idat_split_by_text", head + chunk(b"IDAT", z[:40]) + text
                  + chunk(b"IDAT", z[40:]) + iend))
    cases.append(("rgb8_empty_idat_first", head + chunk(b"IDAT", b"") + chunk(b"IDAT", z) + iend))
    cases.append(("rgb8_bad_filter", head + chunk(b"IDAT", zlib.compress(b"\x07" + raw[1:]))
                  + iend))
    # The same on an interlaced image, whose last row is in a later pass.
    raw_i = b""
    for i, (x0, y0, dx, dy) in enumerate(ADAM7):
        raw_i += encode_pixels(rgb[y0::dy, x0::dx], 8, RGB, i)
    zi = zlib.compress(raw_i)
    head_i = sig + ihdr(7, 9, 8, RGB, 1)
    cases.append(("adam7_rgb8_no_adler_no_iend", head_i + chunk(b"IDAT", zi[:-4])))
    cases.append(("adam7_rgb8_bad_adler", head_i + chunk(b"IDAT", zi[:-1] + bytes([zi[-1] ^ 1]))
                  + iend))
    cases.append(("adam7_rgb8_cut_in_rows", head_i + chunk(b"IDAT", zi)[:-12]))
    # A large image: the Adler-32 alone in a later 64 KiB block of PIL's reader.
    big = rng.integers(0, 256, size=(200, 150, 3), dtype=np.uint8)
    zb = zlib.compress(b"".join(b"\0" + r.tobytes() for r in big), 0)
    head_b = sig + ihdr(150, 200, 8, RGB)
    zb_bad = zb[:-1] + bytes([zb[-1] ^ 1])
    cases.append(("rgb8_150x200_bad_adler_own_block", head_b + chunk(b"IDAT", zb_bad[:-4])
                  + chunk(b"IDAT", zb_bad[-4:]) + iend))
    cases.append(("rgb8_150x200_bad_adler_one_chunk", head_b + chunk(b"IDAT", zb_bad) + iend))
    return cases


# ---------------------------------------------------------------------------
# Seeded content: smooth fields with edges and noise, roughly photo-like.

def field(rng, h, w, channels):
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    out = np.empty((h, w, channels))
    for c in range(channels):
        fx, fy, ph = rng.uniform(0.02, 0.4), rng.uniform(0.02, 0.4), rng.uniform(0, 6.3)
        v = 0.5 + 0.3 * np.sin(fx * x + ph) * np.cos(fy * y)
        v += 0.25 * ((x * rng.uniform(-1, 1) + y * rng.uniform(-1, 1)) > 0) - 0.125
        v += rng.normal(0, 0.08, size=(h, w))
        out[:, :, c] = v
    return np.clip(out, 0, 1)


def quantise(f, depth):
    return np.round(f * ((1 << depth) - 1)).astype(np.uint16)


def make_kind(kind, w, h, seed):
    """Returns (png samples, color type, depth, palette, trns, expected RGB8)."""
    rng = np.random.default_rng(seed)
    palette = trns = None
    if kind.startswith("gray") and not kind.startswith("graya"):
        depth = int(kind[4:].split("_")[0])
        color = GRAY
        pix = quantise(field(rng, h, w, 1), depth)
        gray8 = (pix >> 8) if depth == 16 else pix * (255 // ((1 << depth) - 1))
        expect = np.repeat(gray8, 3, axis=2)
        if kind.endswith("_trns"):
            trns = struct.pack(">H", int(pix[h // 2, w // 2, 0]))
    elif kind.startswith("graya"):
        depth = int(kind[5:])
        color = GRAY_ALPHA
        g = quantise(field(rng, h, w, 1), depth)
        a = quantise(field(rng, h, w, 1), depth)
        a[rng.random((h, w)) < 0.3] = 0  # fully transparent pixels keep their colour
        pix = np.concatenate([g, a], axis=2)
        expect = np.repeat(g >> 8 if depth == 16 else g, 3, axis=2)
    elif kind.startswith("pal"):
        depth = int(kind[3:].split("_")[0])
        color = PALETTE
        n = min(1 << depth, 200)
        palette = rng.integers(0, 256, size=(n, 3), dtype=np.uint16)
        idx = np.minimum((field(rng, h, w, 1) * n).astype(np.uint16), n - 1)
        pix = idx
        expect = palette[idx[:, :, 0]]
        if kind.endswith("_trns"):
            alpha = rng.integers(0, 256, size=max(1, n - 1), dtype=np.uint16)
            alpha[::3] = 0
            trns = bytes(alpha.astype(np.uint8))
    elif kind.startswith("rgba"):
        depth = int(kind[4:])
        color = RGBA
        c = quantise(field(rng, h, w, 3), depth)
        a = quantise(field(rng, h, w, 1), depth)
        a[rng.random((h, w)) < 0.3] = 0
        pix = np.concatenate([c, a], axis=2)
        expect = c >> 8 if depth == 16 else c
    elif kind.startswith("rgb"):
        depth = int(kind[3:].split("_")[0])
        color = RGB
        pix = quantise(field(rng, h, w, 3), depth)
        expect = pix >> 8 if depth == 16 else pix
        if kind.endswith("_trns"):
            trns = struct.pack(">HHH", *[int(v) for v in pix[h // 2, w // 2]])
    else:
        raise ValueError(kind)
    return pix, color, depth, palette, trns, expect.astype(np.uint8)


# kind, sizes, interlaced
SYNTHETIC = [
    ("gray1", [(37, 53)], False),
    ("gray2", [(37, 53)], False),
    ("gray4", [(37, 53)], False),
    ("gray8", [(37, 53), (300, 200)], False),
    ("gray16", [(37, 53)], False),
    ("gray8_trns", [(37, 53)], False),
    ("gray16_trns", [(37, 53)], False),
    ("graya8", [(37, 53)], False),
    ("graya16", [(37, 53)], False),
    ("pal1", [(37, 53)], False),
    ("pal2", [(37, 53)], False),
    ("pal4", [(37, 53)], False),
    ("pal8", [(37, 53)], False),
    ("pal4_trns", [(37, 53)], False),
    ("pal8_trns", [(37, 53), (320, 241)], False),
    ("rgb8", [(37, 53), (1, 1), (5, 3), (100, 150), (223, 225), (255, 259), (256, 256),
              (256, 300), (300, 256), (257, 300), (640, 480), (1000, 40), (30, 700),
              (2000, 1500)], False),
    ("rgb8_trns", [(37, 53)], False),
    ("rgb16", [(37, 53), (301, 203)], False),
    ("rgba8", [(37, 53), (263, 317)], False),
    ("rgba16", [(37, 53)], False),
    ("adam7_gray2", [(37, 53)], True),
    ("adam7_gray16", [(37, 53)], True),
    ("adam7_pal8_trns", [(37, 53)], True),
    ("adam7_rgb8", [(1, 1), (3, 5), (37, 53), (401, 299)], True),
    ("adam7_rgba16", [(37, 53)], True),
]
# images also checked without the resize (crop straight away, padding when small)
NORESIZE = {"rgb8_5x3", "rgb8_100x150", "rgb8_255x259", "rgb8_257x300", "rgb8_1000x40",
            "rgb8_30x700", "gray8_300x200", "adam7_rgb8_3x5"}


def pil_rgb(path):
    with Image.open(path) as im:
        return np.asarray(im.convert("RGB"), dtype=np.uint8)


class Writer:
    def __init__(self, outdir):
        self.outdir = outdir
        self.lines = []

    def write(self, name, rgb, variants):
        h, w = rgb.shape[:2]
        base = os.path.splitext(name)[0]
        rgb.tofile(os.path.join(self.outdir, base + ".rgb"))
        self.lines.append(f"{name} decode 3 {h} {w} {base}.rgb")
        img = Image.fromarray(rgb, "RGB")
        for v in variants:
            t = np.ascontiguousarray(VARIANTS[v](img), dtype="<f4")
            ref = f"{base}.{re.sub(r'[^A-Za-z0-9.+-]', '_', v)}.f32"
            t.tofile(os.path.join(self.outdir, ref))
            self.lines.append(f"{name} {v} {t.shape[0]} {t.shape[1]} {t.shape[2]} {ref}")

    def bad(self, name, data):
        """A file the decoder must refuse; PIL must refuse it as well."""
        path = os.path.join(self.outdir, name)
        with open(path, "wb") as f:
            f.write(data)
        try:
            pil_rgb(path)
        except Exception:  # PIL raises OSError, SyntaxError, ValueError, ...
            self.lines.append(f"{name} bad 0 0 0 -")
            return
        sys.exit(f"{name}: PIL decodes this file, the decoder must as well")

    def as_pil(self, name, data):
        """A file the decoder must treat as PIL does: the same pixels, or a refusal."""
        path = os.path.join(self.outdir, name)
        with open(path, "wb") as f:
            f.write(data)
        try:
            rgb = pil_rgb(path)
        except Exception:
            self.lines.append(f"{name} bad 0 0 0 -")
            return False
        self.write(name, rgb, [])
        return True


def main():
    if len(sys.argv) != 2:
        print(__doc__.split("\n\n")[1], file=sys.stderr)
        return 2
    outdir = sys.argv[1]
    os.makedirs(outdir, exist_ok=True)
    out = Writer(outdir)
    main_variants = ["torchvision-224", "caffe-227"]

    seed = 1
    for kind, sizes, interlace in SYNTHETIC:
        for (w, h) in sizes:
            seed += 1
            name = f"{kind}_{w}x{h}.png"
            base_kind = kind[len("adam7_"):] if interlace else kind
            pix, color, depth, pal, trns, expect = make_kind(base_kind, w, h, seed)
            write_png(os.path.join(outdir, name), pix, color, depth, pal, trns, interlace)
            got = pil_rgb(os.path.join(outdir, name))
            if base_kind.startswith("gray16"):
                # PIL clips mode "I" at 255 (see the top of this file); confirm that
                # and use the high byte, which is what the runtime produces.
                clipped = np.repeat(np.minimum(pix, 255), 3, axis=2).astype(np.uint8)
                if not np.array_equal(got, clipped):
                    sys.exit(f"{name}: PIL no longer clips 16-bit gray; revisit image.c")
            elif not np.array_equal(got, expect):
                sys.exit(f"{name}: PIL's convert('RGB') differs from the expectation")
            variants = list(main_variants)
            if name[:-4] in NORESIZE:
                variants += [v + "+noresize" for v in main_variants] + list(OPTIONS)
            out.write(name, expect, variants)

    # Real photographs.
    photos = []
    for p in ("astronaut.png", "chelsea.png", "coffee.png"):
        if os.path.exists(os.path.join(SKIMAGE_DATA, p)):
            photos.append((os.path.join(SKIMAGE_DATA, p), "photo_" + p))
    samples = os.path.join(SOURCE_ROOT, "data", "samples")
    if os.path.isdir(samples):
        for p in sorted(os.listdir(samples)):
            if p.endswith(".png"):
                photos.append((os.path.join(samples, p), "sample_" + p))
    for src, name in photos:
        shutil.copyfile(src, os.path.join(outdir, name))
        out.write(name, pil_rgb(os.path.join(outdir, name)), main_variants + list(OPTIONS))

    # Bad files.
    good = write_png(os.path.join(outdir, "good_rgb8.tmp"), make_kind("rgb8", 37, 53, 99)[0],
                     RGB, 8)
    os.remove(os.path.join(outdir, "good_rgb8.tmp"))
    idat = good.index(b"IDAT")
    out.bad("bad_empty.png", b"")
    out.bad("bad_notpng.png", b"GIF89a this is not a PNG file at all\n")
    out.bad("bad_signature_only.png", good[:8])
    out.bad("bad_truncated.png", good[:len(good) // 2])
    n = struct.unpack(">I", good[idat - 4:idat])[0]
    crc = bytearray(good)
    crc[29] ^= 0x01  # the IHDR's CRC
    out.bad("bad_crc_ihdr.png", bytes(crc))
    text = chunk(b"tEXt", b"Comment\0bad CRC")
    text = text[:-4] + bytes(b ^ 0xff for b in text[-4:])
    out.bad("bad_crc_text.png", good[:33] + text + good[33:])  # PIL refuses it as well
    z = bytearray(good[idat + 4:idat + 4 + n])
    z[2:] = bytes((b ^ 0xa5) for b in z[2:])  # garbage deflate data with a valid CRC
    out.bad("bad_zlib.png", good[:idat - 4] + chunk(b"IDAT", bytes(z)) + good[idat + 8 + n:])
    sig = b"\x89PNG\r\n\x1a\n"
    tiny_idat = chunk(b"IDAT", zlib.compress(b"\0" * 64))
    iend = chunk(b"IEND", b"")
    out.bad("bad_huge.png", sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 20000, 20000, 8, 2,
                                                             0, 0, 0)) + tiny_idat + iend)
    out.bad("bad_too_wide.png", sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 2000000, 1, 8, 0,
                                                                 0, 0, 0)) + tiny_idat + iend)
    out.bad("bad_zero_width.png", sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 10, 8, 2,
                                                                   0, 0, 0)) + tiny_idat + iend)
    out.bad("bad_depth.png", sig + chunk(b"IHDR", struct.pack(">IIBBBBB", 4, 4, 3, 2,
                                                              0, 0, 0)) + tiny_idat + iend)

    # As PIL reads them: the cases above, and every cut of two small files from
    # their first IDAT on (PIL decodes those whose rows are all there).
    accepted = 0
    for name, data in pil_cases():
        accepted += out.as_pil(f"pil_{name}.png", data)
    for kind, interlace in (("rgb8", False), ("gray2", True)):
        pix, color, depth, pal, trns, _ = make_kind(kind, 5, 4, 7)
        data = write_png(os.path.join(outdir, "cut.tmp"), pix, color, depth, pal, trns, interlace)
        os.remove(os.path.join(outdir, "cut.tmp"))
        for cut in range(data.index(b"IDAT") - 4, len(data)):
            accepted += out.as_pil(f"cut_{kind}{'_adam7' if interlace else ''}_{cut}.png",
                                   data[:cut])
    if accepted < 40:
        sys.exit(f"only {accepted} of the PIL cases decode in PIL; the cases need revisiting")

    with open(os.path.join(outdir, "manifest.txt"), "w") as f:
        f.write("\n".join(out.lines) + "\n")
    print(f"preprocess_ref.py: {len(out.lines)} checks in {outdir}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    torch.set_num_threads(1)
    warnings.filterwarnings("ignore", message="Palette images with Transparency")
    sys.exit(main())
