"""Writes the hand-made reproducers of fuzzing findings into Fuzz/corpus/ (standard library only).
Run from the repository root: python3 Fuzz/make_reproducers.py [--big]
(finding-ztxt-chunk-length.png came from libFuzzer itself, its CRCs fixed as the harness does;
so did icc/finding-mluc-16m-entries.icc, a description tag declaring 0x00ff0001 entries.)
--big also writes /tmp/many-dimensions-big.pth, the 240 KB file that took seconds before the
dimension limit (not committed)."""
import struct
import sys

CORPUS = 'Fuzz/corpus'
LEGACY_MAGIC = bytes([0x6c, 0xfc, 0x9c, 0x46, 0xf9, 0x20, 0x6a, 0xa8, 0x50, 0x19])


def short_text(text):
    b = text.encode()
    return b'\x8c' + bytes([len(b)]) + b        # SHORT_BINUNICODE


def text(text):
    b = text.encode()
    return b'X' + struct.pack('<I', len(b)) + b  # BINUNICODE


def legacy_header():
    """The magic number, protocol version 1001 and an empty sys_info, one pickle each."""
    return (b'\x80\x02\x8a\x0a' + LEGACY_MAGIC + b'.') + b'\x80\x02\x4d\xe9\x03.' + b'\x80\x02}.'


def shared_dicts(levels=30):
    """{k0: d0, …, kN: dN} with d_i = {a: d_(i-1), b: d_(i-1)} through the memo: 2^N paths."""
    body = b'\x80\x02(' + short_text('k0') + b'}q\x00'
    for i in range(1, levels + 1):
        body += short_text(f'k{i}') + b'}(' + short_text('a') + b'h' + bytes([i - 1])
        body += short_text('b') + b'h' + bytes([i - 1]) + b'uq' + bytes([i])
    return legacy_header() + body + b'd.' + b'\x80\x02]q\x00.'


def many_dimensions(ones, count):
    """One strided uint8 tensor 'w' of shape (1,)*ones + (count,), stride 2 in the last dimension."""
    def ints(values):
        return b'(' + b''.join(b'J' + struct.pack('<i', v) for v in values) + b't'
    obj = b'\x80\x02}' + text('w') + b'ctorch._utils\n_rebuild_tensor_v2\n'
    obj += b'((' + text('storage') + b'ctorch\nByteStorage\n' + text('0') + text('cpu')
    obj += b'J' + struct.pack('<i', 2 * count) + b'tQ'
    obj += b'K\x00' + ints([1] * ones + [count]) + ints([1] * ones + [2]) + b'\x89)tRs.'
    storage = struct.pack('<q', 2 * count) + bytes(i % 256 for i in range(2 * count))
    return legacy_header() + obj + b'\x80\x02]' + text('0') + b'a.' + storage


def jpeg_declaring(seed, sof_marker, size):
    """A seed JPEG whose frame header claims size×size pixels: its data ends at the EOI marker."""
    b = bytearray(open(f'{CORPUS}/jpeg/{seed}', 'rb').read())
    at = b.find(sof_marker)
    b[at + 5:at + 9] = struct.pack('>HH', size, size)
    return bytes(b)


def main():
    files = {
        'torch/finding-shared-dicts-2pow30.pth': shared_dicts(),
        'torch/finding-100-dimensions.pth': many_dimensions(100, 10),
        'jpeg/finding-marker-cuts-image-data.jpg': jpeg_declaring('gray.jpg', b'\xff\xc0', 2000),
        'jpeg/finding-marker-cuts-progressive-data.jpg': jpeg_declaring('gray_progressive.jpg', b'\xff\xc2', 2000),
        # A JSON "\n" in a key put a newline into the error that quotes it.
        'manifest/finding-newline-in-key.jsonl': b'{"content\\n": "c.png", "styles": ["s.png"]}\n',
        # 10^-18 frames per second made the GIF's delay, 100 / rate centiseconds, overflow Int (a trap).
        'framelist/finding-rate-1e-18.txt': b'1/1000000000000000000\nf1.png\nf2.png\n',
        'ffprobe/finding-rate-1e-18.json':
            b'{"streams": [{"codec_type": "video", "codec_name": "h264", "avg_frame_rate": "1/1000000000000000000"}]}\n',
    }
    for name, data in files.items():
        with open(f'{CORPUS}/{name}', 'wb') as f:
            f.write(data)
    if '--big' in sys.argv:
        with open('/tmp/many-dimensions-big.pth', 'wb') as f:
            f.write(many_dimensions(20000, 20000))


if __name__ == '__main__':
    main()
