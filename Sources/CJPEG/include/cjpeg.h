#ifndef STYLIZE_CJPEG_H
#define STYLIZE_CJPEG_H

/* libjpeg behind plain C calls. libjpeg's default error handler calls exit(); ours copies the
 * message into the caller's buffer and longjmps back inside the call, which frees what it
 * allocated and returns a status. Nothing here prints, aborts or exits. */

#include <stddef.h>
#include <stdint.h>

enum {
    CJPEG_OK = 0,
    CJPEG_ERR_OPEN = 1,        /* the file could not be opened (message has strerror) */
    CJPEG_ERR_NOT_JPEG = 2,    /* empty, or does not start with a JPEG SOI marker */
    CJPEG_ERR_TRUNCATED = 3,   /* the file ends before the image data does */
    CJPEG_ERR_CORRUPT = 4,     /* libjpeg refused the data */
    CJPEG_ERR_TOO_LARGE = 5,   /* width*height above the caller's limit; nothing was allocated */
    CJPEG_ERR_NOMEM = 6,
    CJPEG_ERR_WRITE = 7,
    CJPEG_ERR_UNSUPPORTED = 8, /* a colour space we cannot turn into RGB */
    CJPEG_ERR_ARGUMENT = 9
};

/* How the file stored its colours, for notes. */
enum {
    CJPEG_SOURCE_RGB = 0,      /* YCbCr or RGB */
    CJPEG_SOURCE_GRAY = 1,
    CJPEG_SOURCE_CMYK = 2,     /* CMYK or YCCK, converted to RGB without a colour profile */
};

typedef struct {
    uint32_t width;
    uint32_t height;
    int source;            /* CJPEG_SOURCE_* */
    int adobe_inverted;    /* CMYK stored inverted (Adobe APP14 marker present) */
    int progressive;
    int orientation;       /* EXIF orientation 1...8, or 0 when absent or unreadable */
    char warning[200];     /* first non-fatal decoder warning ("" if none) */
    uint8_t *icc;          /* the ICC profile of the APP2 ICC_PROFILE chunks, or NULL; malloc'd */
    unsigned int icc_length;
    uint8_t *pixels;       /* malloc'd interleaved RGB, 8 bits, top row first; cjpeg_free (both) */
} cjpeg_image;

/* Fills `row` with row y of the image, laid out as the writer's arguments say. */
typedef void (*cjpeg_fill_fn)(void *context, uint32_t y, void *row);

/* Reads the header, refuses width*height > max_pixels before allocating the image, decodes
 * baseline, progressive, grayscale, RGB and CMYK/YCCK files into 8-bit RGB, and reports the EXIF
 * orientation (without applying it). A file that ends early is an error, not a grey-padded image.
 * On failure `out->pixels` is NULL (width/height are set for CJPEG_ERR_TOO_LARGE). */
int cjpeg_read(const char *path, uint64_t max_pixels, cjpeg_image *out, char *err, size_t errlen);

void cjpeg_free(cjpeg_image *image);

/* Writes interleaved 8-bit RGB at quality 1...100 (4:4:4 chroma from quality 90, else 4:2:0),
 * one row at a time from `fill`, with the ICC profile `icc` in APP2 chunks when not NULL. */
int cjpeg_write(const char *path, uint32_t width, uint32_t height, cjpeg_fill_fn fill,
                void *context, int quality, const uint8_t *icc, uint32_t icc_length, char *err,
                size_t errlen);

/* For tests: writes samples as stored (with the ICC profile `icc` when not NULL) (source CJPEG_SOURCE_RGB: 3 per pixel, GRAY: 1, CMYK: 4,
 * written as given, i.e. inverted when imitating Adobe files), optionally progressive and with
 * or without an Adobe APP14 marker, libjpeg's default chroma sampling. */
int cjpeg_write_samples(const char *path, uint32_t width, uint32_t height, const uint8_t *samples,
                        int source, int progressive, int adobe_marker, int quality,
                        const uint8_t *icc, uint32_t icc_length, char *err, size_t errlen);

/* EXIF orientation (1...8) from the body of an APP1 segment (after the length bytes), or 0.
 * Exposed for tests; every offset is bounds-checked against `length`. */
int cjpeg_exif_orientation(const uint8_t *data, size_t length);

#endif
