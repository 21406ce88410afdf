#!/usr/bin/env python3
"""Writes N small distinct RGB PNGs (32x32 by default) for bench/soak.sh,
with only the standard library (zlib + struct), and a list file naming them.
usage: bench/soak_images.py DIR N [SIDE]"""
import os
import struct
import sys
import zlib


def chunk(kind, body):
    return (struct.pack('>I', len(body)) + kind + body +
            struct.pack('>I', zlib.crc32(kind + body) & 0xffffffff))


def main():
    out, n = sys.argv[1], int(sys.argv[2])
    side = int(sys.argv[3]) if len(sys.argv) > 3 else 32
    os.makedirs(out, exist_ok=True)
    paths = []
    for i in range(n):
        rows = bytearray()
        for y in range(side):
            rows.append(0)
            for x in range(side):
                rows += bytes(((x * 7 + i) & 255, (y * 5 + i * 3) & 255, (x * y + i * 11) & 255))
        data = (b'\x89PNG\r\n\x1a\n' +
                chunk(b'IHDR', struct.pack('>IIBBBBB', side, side, 8, 2, 0, 0, 0)) +
                chunk(b'IDAT', zlib.compress(bytes(rows), 6)) + chunk(b'IEND', b''))
        path = os.path.join(out, f'img{i:06d}.png')
        with open(path, 'wb') as f:
            f.write(data)
        paths.append(path)
    with open(os.path.join(out, 'list.txt'), 'w') as f:
        f.write('\n'.join(paths) + '\n')


if __name__ == '__main__':
    main()
