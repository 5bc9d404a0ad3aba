#ifndef STYLIZE_CTIFF_H
#define STYLIZE_CTIFF_H

/* libtiff behind plain C calls. libtiff reports errors and warnings through handlers that print
 * by default; ours copy the first error into the caller's buffer (warnings are counted, the first
 * kept for a note), and every call returns a status. Nothing here prints, aborts or exits. */

#include <stddef.h>
#include <stdint.h>

enum {
    CTIFF_OK = 0,
    CTIFF_ERR_OPEN = 1,        /* the file could not be opened (message has strerror) */
    CTIFF_ERR_NOT_TIFF = 2,    /* libtiff could not read a TIFF header and first directory */
    CTIFF_ERR_TRUNCATED = 3,   /* the file ends before the image data does */
    CTIFF_ERR_CORRUPT = 4,     /* libtiff refused the data */
    CTIFF_ERR_TOO_LARGE = 5,   /* width*height above the caller's limit; nothing was allocated */
    CTIFF_ERR_NOMEM = 6,
    CTIFF_ERR_WRITE = 7,       /* creating or writing the output failed */
    CTIFF_ERR_UNSUPPORTED = 8, /* a layout we do not read (CMYK, float, palette, ...); see message */
    CTIFF_ERR_ARGUMENT = 9
};

/* An open file whose first image was checked: what ctiff_read_rows will deliver. */
typedef struct {
    uint32_t width;
    uint32_t height;
    int channels;          /* samples per delivered pixel: 1 gray, 2 gray+alpha, 3 RGB, 4 RGBA */
    int bit_depth;         /* 8 (uint8_t) or 16 (uint16_t in host byte order) */
    int tiled;             /* 1 when the file is tiled, 0 for strips */
    int orientation;       /* TIFF Orientation 1...8 (same meaning as EXIF's) */
    const uint8_t *icc;    /* the ICC profile (tag 34675) or NULL; valid until ctiff_close */
    uint32_t icc_length;
    char warning[200];     /* first libtiff warning ("" if none) */
} ctiff_info;

typedef struct ctiff_reader ctiff_reader;

/* Opens `path`, reads its first directory and refuses, before any pixel memory is allocated,
 * width*height > max_pixels and every layout other than 8/16-bit unsigned gray or RGB (with an
 * optional alpha sample) stored contiguously in strips or tiles. Single allocations inside
 * libtiff are capped to what an image within max_pixels can need. On success *reader must be
 * closed with ctiff_close; on failure it is NULL (info->width/height are set for TOO_LARGE). */
int ctiff_open(const char *path, uint64_t max_pixels, ctiff_reader **reader, ctiff_info *info,
               char *err, size_t errlen);

/* Delivers every row, top first, as `channels` interleaved samples per pixel: row(context, y,
 * samples). Strips are decoded a row at a time and tiles a band of tile rows at a time, so no
 * copy of the whole image is made. MinIsWhite gray is inverted to MinIsBlack. */
typedef void (*ctiff_row_fn)(void *context, uint32_t y, const void *samples);
int ctiff_read_rows(ctiff_reader *reader, ctiff_row_fn row, void *context, char *err,
                    size_t errlen);

void ctiff_close(ctiff_reader *reader);

/* Fills `samples` with row y of the image: 3 interleaved samples per pixel of bit_depth bits. */
typedef void (*ctiff_fill_fn)(void *context, uint32_t y, void *samples);

/* Writes an RGB TIFF (8 or 16 bits per sample, Deflate with horizontal prediction, strips) one
 * row at a time from `fill`, with the ICC profile `icc` (tag 34675) when not NULL. */
int ctiff_write_rgb(const char *path, uint32_t width, uint32_t height, int bit_depth,
                    ctiff_fill_fn fill, void *context, const uint8_t *icc, uint32_t icc_length,
                    char *err, size_t errlen);

/* For tests and seeds: writes `samples` (interleaved, host byte order, rows of width*spp samples
 * of bits_per_sample bits) with any photometric interpretation (TIFF numbering: 0 MinIsWhite,
 * 1 MinIsBlack, 2 RGB, 5 Separated/CMYK), sample format (1 uint, 3 IEEE float), extra samples
 * (spp beyond the colour channels become unassociated alpha), uncompressed or Deflate, in
 * strips of rows_per_strip rows or, when tile_width > 0, in tile_width x tile_height tiles. */
int ctiff_write_raw(const char *path, uint32_t width, uint32_t height, int spp,
                    int bits_per_sample, int photometric, int sample_format, int deflate,
                    uint32_t rows_per_strip, uint32_t tile_width, uint32_t tile_height,
                    const void *samples, const uint8_t *icc, uint32_t icc_length, char *err,
                    size_t errlen);

#endif
