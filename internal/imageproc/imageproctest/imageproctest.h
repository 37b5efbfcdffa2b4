// Thin C wrappers over libvips for the tests of imageproc and the files they make: cgo cannot
// call variadic C functions, hence one fixed-signature wrapper per call. The names are ipt_, so
// they never meet imageproc's gp_ ones in a test binary that links both.
#include <stdlib.h>
#include <vips/vips.h>

int ipt_start(int concurrency);
int ipt_decode_reference(const void *buf, size_t len, const char *profile, int embedded, VipsImage **out);
int ipt_decode_raw(const void *buf, size_t len, VipsImage **out);
int ipt_band_means(const void *buf, size_t len, const char *profile, int transform, double *means, int n);
int ipt_synth_jpeg(int width, int height, int progressive, void **buf, size_t *len);
int ipt_thumbnail(const void *buf, size_t len, int size, int crop, int quality, void **out, size_t *outlen);
int ipt_encode(const void *pix, int w, int h, int bands, int cmyk, const char *profile, const char *suffix, void **buf, size_t *len);
