/* Writes the seed corpus for the image and colour-profile fuzz targets with the project's own
 * writers (the C wrappers in Sources/CPNG, CJPEG, CTIFF and CLCMS): one small file per PNG colour
 * type and bit depth, per JPEG kind, per TIFF layout, and a few ICC profiles. The output is
 * committed; to rebuild it, from the repository root:
 *
 *   cc -I Sources/CPNG/include -I Sources/CJPEG/include -I Sources/CTIFF/include \
 *      -I Sources/CLCMS/include Fuzz/make_seeds.c Sources/CPNG/cpng.c Sources/CJPEG/cjpeg.c \
 *      Sources/CTIFF/ctiff.c Sources/CLCMS/clcms.c -lpng -ljpeg -ltiff -llcms2 -o /tmp/make_seeds \
 *      && /tmp/make_seeds Fuzz/corpus/png Fuzz/corpus/jpeg Fuzz/corpus/tiff Fuzz/corpus/icc */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cjpeg.h"
#include "clcms.h"
#include "cpng.h"
#include "ctiff.h"

enum { W = 13, H = 9 }; /* odd sizes: partial bytes, partial MCUs */

static char err[512];
static uint8_t samples[W * H * 8];

static void check(int status, const char *path) {
    if (status != 0) {
        fprintf(stderr, "%s: %s\n", path, err);
        exit(1);
    }
}

static void fill(size_t count) {
    for (size_t i = 0; i < count; i++) {
        samples[i] = (uint8_t)(i * 37 + (i / W) * 11);
    }
}

static void png(const char *folder, const char *name, int color_type, int depth, int with_trns) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.png", folder, name);
    fill(sizeof samples);
    uint8_t palette[16 * 3], trns[16];
    for (int i = 0; i < 16; i++) {
        palette[3 * i] = (uint8_t)(i * 16);
        palette[3 * i + 1] = (uint8_t)(255 - i * 16);
        palette[3 * i + 2] = (uint8_t)(i * 7);
        trns[i] = (uint8_t)(i * 17);
    }
    if (color_type == CPNG_COLOR_PALETTE) { /* indices below 16 */
        for (size_t i = 0; i < sizeof samples; i++) samples[i] &= depth == 8 ? 0x0f : 0xff;
    }
    check(cpng_write_raw(path, W, H, color_type, depth, samples,
                         color_type == CPNG_COLOR_PALETTE ? palette : NULL, 16,
                         with_trns ? trns : NULL, with_trns ? 16 : 0, NULL, 0, err, sizeof err),
          path);
}

/* Inserts an EXIF APP1 segment with the given orientation right after SOI. */
static void add_exif(const char *path, int orientation, int little) {
    FILE *file = fopen(path, "rb");
    if (file == NULL) exit(1);
    static uint8_t data[1 << 20];
    size_t size = fread(data, 1, sizeof data, file);
    fclose(file);
    uint8_t app1[] = {0xFF, 0xE1, 0, 34, 'E', 'x', 'i', 'f', 0, 0,
                      'M', 'M', 0, 42, 0, 0, 0, 8, /* TIFF header, IFD at 8 */
                      0, 1, /* one entry */
                      0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (uint8_t)orientation, 0, 0,
                      0, 0, 0, 0}; /* no next IFD */
    if (little) { /* the same in Intel order */
        uint8_t le[] = {'I', 'I', 42, 0, 8, 0, 0, 0, 1, 0, 0x12, 0x01, 3, 0, 1, 0, 0, 0,
                        (uint8_t)orientation, 0, 0, 0, 0, 0, 0, 0};
        memcpy(app1 + 10, le, sizeof le);
    }
    file = fopen(path, "wb");
    fwrite(data, 1, 2, file);
    fwrite(app1, 1, sizeof app1, file);
    fwrite(data + 2, 1, size - 2, file);
    fclose(file);
}

static void jpeg(const char *folder, const char *name, int source, int progressive, int adobe,
                 int quality, int orientation) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.jpg", folder, name);
    fill(sizeof samples);
    check(cjpeg_write_samples(path, W, H, samples, source, progressive, adobe, quality, NULL, 0, err,
                              sizeof err),
          path);
    if (orientation > 0) add_exif(path, orientation, orientation % 2);
}

static uint8_t *wide_icc, *gray_icc;
static uint32_t wide_length, gray_length;

static void write_file(const char *folder, const char *name, const uint8_t *data, size_t size) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s", folder, name);
    FILE *file = fopen(path, "wb");
    if (file == NULL || fwrite(data, 1, size, file) != size) exit(1);
    fclose(file);
}

/* spp samples a pixel of `bits`, in strips of 4 rows or 8x8 tiles, optionally with a profile. */
static void tiff(const char *folder, const char *name, int spp, int bits, int photometric,
                 int format, int deflate, int tiled, int icc) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s.tif", folder, name);
    fill(sizeof samples);
    const uint8_t *profile = icc == 1 ? wide_icc : icc == 2 ? gray_icc : NULL;
    uint32_t length = icc == 1 ? wide_length : icc == 2 ? gray_length : 0;
    check(ctiff_write_raw(path, W, H / 2, spp, bits, photometric, format, deflate, 4,
                          tiled ? 16 : 0, tiled ? 16 : 0, samples, profile, length, err, sizeof err),
          path);
}

int main(int argc, char **argv) {
    if (argc != 5) {
        fprintf(stderr, "usage: make_seeds PNG_FOLDER JPEG_FOLDER TIFF_FOLDER ICC_FOLDER\n");
        return 2;
    }
    const char *p = argv[1], *j = argv[2], *t = argv[3], *c = argv[4];
    const double adobe[6] = {0.64, 0.33, 0.21, 0.71, 0.15, 0.06};
    if (clcms_make_profile(0, adobe, 1.0, &wide_icc, &wide_length) != 0 ||
        clcms_make_profile(1, adobe, 2.2, &gray_icc, &gray_length) != 0) {
        return 1;
    }
    write_file(c, "wide_gamma1.icc", wide_icc, wide_length);
    write_file(c, "gray_gamma22.icc", gray_icc, gray_length);
    uint8_t *srgb = NULL;
    uint32_t srgb_length = 0;
    if (clcms_srgb_profile(&srgb, &srgb_length) != 0) return 1;
    write_file(c, "srgb.icc", srgb, srgb_length);
    const double narrow[6] = {0.60, 0.34, 0.30, 0.60, 0.155, 0.07};
    for (int i = 0; i < 2; i++) {
        uint8_t *extra = NULL;
        uint32_t length = 0;
        if (clcms_make_profile(i, narrow, i ? 1.0 : 1.8, &extra, &length) != 0) return 1;
        write_file(c, i ? "gray_gamma1.icc" : "narrow_gamma18.icc", extra, length);
        free(extra);
    }
    tiff(t, "gray8_strips", 1, 8, 1, 1, 0, 0, 0);
    tiff(t, "gray16_tiles_deflate", 1, 16, 1, 1, 1, 1, 0);
    tiff(t, "miniswhite8", 1, 8, 0, 1, 0, 0, 0);
    tiff(t, "gray_alpha8_icc", 2, 8, 1, 1, 0, 0, 2);
    tiff(t, "rgb8_strips_icc", 3, 8, 2, 1, 0, 0, 1);
    tiff(t, "rgb16_tiles", 3, 16, 2, 1, 0, 1, 0);
    tiff(t, "rgba8_deflate", 4, 8, 2, 1, 1, 0, 0);
    tiff(t, "rgba16_tiles_deflate", 4, 16, 2, 1, 1, 1, 0);
    png(p, "gray1", CPNG_COLOR_GRAY, 1, 0);
    png(p, "gray2", CPNG_COLOR_GRAY, 2, 0);
    png(p, "gray4", CPNG_COLOR_GRAY, 4, 0);
    png(p, "gray8", CPNG_COLOR_GRAY, 8, 0);
    png(p, "gray16", CPNG_COLOR_GRAY, 16, 0);
    png(p, "gray_alpha8", CPNG_COLOR_GRAY_ALPHA, 8, 0);
    png(p, "gray_alpha16", CPNG_COLOR_GRAY_ALPHA, 16, 0);
    png(p, "palette4", CPNG_COLOR_PALETTE, 4, 0);
    png(p, "palette8_trns", CPNG_COLOR_PALETTE, 8, 1);
    png(p, "rgb8", CPNG_COLOR_RGB, 8, 0);
    png(p, "rgb16", CPNG_COLOR_RGB, 16, 0);
    png(p, "rgba8", CPNG_COLOR_RGBA, 8, 0);
    png(p, "rgba16", CPNG_COLOR_RGBA, 16, 0);
    jpeg(j, "rgb_baseline", CJPEG_SOURCE_RGB, 0, 0, 90, 0);
    jpeg(j, "rgb_progressive", CJPEG_SOURCE_RGB, 1, 0, 75, 0);
    jpeg(j, "gray", CJPEG_SOURCE_GRAY, 0, 0, 90, 0);
    jpeg(j, "gray_progressive", CJPEG_SOURCE_GRAY, 1, 0, 50, 0);
    jpeg(j, "cmyk_adobe", CJPEG_SOURCE_CMYK, 0, 1, 90, 0);
    jpeg(j, "cmyk_plain", CJPEG_SOURCE_CMYK, 1, 0, 90, 0);
    for (int orientation = 2; orientation <= 8; orientation += 3) {
        char name[32];
        snprintf(name, sizeof name, "exif_orientation%d", orientation);
        jpeg(j, name, CJPEG_SOURCE_RGB, 0, 0, 60, orientation);
    }
    return 0;
}
