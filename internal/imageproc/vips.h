// Thin C wrappers over libvips for the steps bimg v1.1.9 does not expose: loaders with
// sequential access, fail_on and shrink-on-load; ICC import; premultiplied resize; autorot on
// the small image; smartcrop; strip-and-encode. cgo cannot call variadic C functions, hence one
// fixed-signature wrapper per call.
#include <stdlib.h>
#include <vips/vips.h>

enum gp_format {
	GP_JPEG = 1,
	GP_PNG,
	GP_WEBP,
	GP_GIF,
	GP_TIFF,
	GP_HEIF,
};

typedef struct {
	int width;
	int height;
	int bands;
	int interpretation;
	int format;      // VipsBandFormat
	int orientation; // EXIF orientation 1..8, 1 when absent
	int interlaced;  // progressive JPEG or Adam7 PNG: no streaming decode
	int pages;
	int has_icc;
} gp_header;

void gp_configure(int concurrency);
const char *gp_error(void);
int gp_load(int fmt, const void *buf, size_t len, int shrink, double scale, int header_only, VipsImage **out);
void gp_header_of(VipsImage *in, gp_header *h);
int gp_icc_import(VipsImage *in, const char *fallback_profile, VipsImage **out);
int gp_to_srgb(VipsImage *in, VipsImage **out);
int gp_resize_premultiplied(VipsImage *in, double hscale, double vscale, VipsImage **out);
int gp_flatten_white(VipsImage *in, VipsImage **out);
int gp_copy_memory(VipsImage *in, VipsImage **out);
int gp_autorot(VipsImage *in, VipsImage **out);
int gp_crop(VipsImage *in, int width, int height, int interesting, VipsImage **out);
int gp_resize_plain(VipsImage *in, double scale, VipsImage **out);
int gp_jpegsave(VipsImage *in, int quality, void **buf, size_t *len);
