// stylize-gpu: every OpenCL kernel of the project. OpenCL C 1.2.
// Tile sizes and variants are -D options chosen per device by the host (OpenCL/ProgramOptions).

// Fills a buffer with one value.
__kernel void fill_f32(__global float *x, const float value, const int n) {
    const int i = get_global_id(0);
    if (i < n) x[i] = value;
}
