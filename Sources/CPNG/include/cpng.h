#ifndef STYLIZE_CPNG_H
#define STYLIZE_CPNG_H

/* libpng behind plain C calls. libpng reports errors by longjmp; every call here catches that
 * inside C, frees what it allocated, and returns a status with the library's message copied into
 * the caller's buffer. Nothing here prints, aborts or exits. */

#include <stddef.h>
#include <stdint.h>

enum {
    CPNG_OK = 0,
    CPNG_ERR_OPEN = 1,        /* the file could not be opened (message has strerror) */
    CPNG_ERR_NOT_PNG = 2,     /* the first bytes are not the PNG signature */
    CPNG_ERR_TRUNCATED = 3,   /* the file ends before the image data does */
    CPNG_ERR_CORRUPT = 4,     /* libpng refused the data (bad chunk, CRC, zlib stream, ...) */
    CPNG_ERR_TOO_LARGE = 5,   /* width*height above the caller's limit; nothing was allocated */
    CPNG_ERR_NOMEM = 6,
    CPNG_ERR_WRITE = 7,       /* creating or writing the output failed */
    CPNG_ERR_ARGUMENT = 8     /* the caller passed something this API does not accept */
};

/* PNG colour types as numbered in the PNG specification (IHDR), for cpng_write_raw. */
enum {
    CPNG_COLOR_GRAY = 0,
    CPNG_COLOR_RGB = 2,
    CPNG_COLOR_PALETTE = 3,
    CPNG_COLOR_GRAY_ALPHA = 4,
    CPNG_COLOR_RGBA = 6
};

/* A decoded image: interleaved RGB or RGBA rows, top row first, no padding. */
typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;          /* 3 (RGB) or 4 (RGBA: the file had alpha or a tRNS chunk) */
    int bit_depth;         /* 8 (uint8_t samples) or 16 (uint16_t samples in host byte order) */
    int source_color_type; /* CPNG_COLOR_* of the file, for notes */
    int source_bit_depth;  /* bit depth stored in the file (1, 2, 4, 8 or 16) */
    int srgb;              /* the file has an sRGB chunk */
    uint8_t *icc;          /* the iCCP chunk's profile, decompressed, or NULL; malloc'd */
    uint32_t icc_length;
    void *pixels;          /* malloc'd; release (with icc) by cpng_free */
} cpng_image;

/* The largest ICC profile (and any other ancillary chunk) libpng may allocate while reading. */
#define CPNG_MAX_ICC (16u << 20)

/* Fills `row` with row y of the image, laid out as the writer's arguments say. */
typedef void (*cpng_fill_fn)(void *context, uint32_t y, void *row);

/* Reads the header, refuses width*height > max_pixels before allocating the image, then decodes
 * any PNG (gray, gray+alpha, palette with or without tRNS, RGB, RGBA, 1-16 bits, interlaced)
 * into 8-bit (files of up to 8 bits) or 16-bit RGB(A). On failure `out->pixels` is NULL. */
int cpng_read(const char *path, uint64_t max_pixels, cpng_image *out, char *err, size_t errlen);

void cpng_free(cpng_image *image);

/* Writes interleaved RGB pixels (channels 3) or RGBA (channels 4), bit_depth 8 (uint8_t) or 16
 * (uint16_t in host byte order), one row at a time from `fill`; `srgb` adds the sRGB chunk (with
 * its gAMA and cHRM) that tags the colours as sRGB. */
int cpng_write(const char *path, uint32_t width, uint32_t height, int channels, int bit_depth,
               int srgb, cpng_fill_fn fill, void *context, char *err, size_t errlen);

/* For tests: writes rows exactly as PNG stores them (packed samples, 16-bit big-endian, rows of
 * ceil(width*channels*bit_depth/8) bytes) with any colour type and bit depth, an optional palette
 * (palette_count RGB triples), an optional tRNS chunk (trns_count alpha bytes for palettes) and
 * an optional iCCP chunk holding `icc`. */
int cpng_write_raw(const char *path, uint32_t width, uint32_t height, int color_type, int bit_depth,
                   const uint8_t *rows, const uint8_t *palette_rgb, int palette_count,
                   const uint8_t *trns, int trns_count, const uint8_t *icc, uint32_t icc_length,
                   char *err, size_t errlen);

#endif
