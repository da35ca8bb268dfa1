/* The warp engine's per-frame backward map in one pass (core.engines.warp_raster).

Why C: a frame of the dense mesh is ~550 triangles. Drawn with OpenCV, that is one
cv2.fillConvexPoly call per triangle into an index image, then a gather of six affine
coefficients per pixel and four multiply-add passes: ~2.2 ms of a 6.4 ms frame at 512 px,
most of it per-call overhead and full-frame memory traffic. Here each triangle is
rasterised once and its affine map written straight into map_x / map_y (and the index
image, which the coverage measures read), in painter's order: ~0.4 ms.

Plain C, loaded with ctypes (core.engines.warp_raster): no Python or numpy headers, so
gcc alone builds it (setuptools builds it as an extension module, hence the PyInit stub
at the end). The Python side passes arrays whose dtypes, shapes and contiguity it has
checked, with their sizes; this file checks every triangle and point index before it
writes, so a wrong call returns an error code instead of corrupting memory.

Rasterisation rule: a pixel belongs to a triangle when its centre (integer coordinates:
the mesh is in output pixels with pixel centres on integers) lies inside or on the
triangle, after the triangle has been grown by its `grow` px about its centroid (the seam
between two triangles then overlaps and the later one wins; see MeshWarp._fill). The rule
depends only on absolute coordinates, so a window of the frame gets exactly the pixels
the whole frame would. */

#include <math.h>
#include <stdint.h>

#ifdef _WIN32
#define EXPORT __declspec(dllexport)
#else
#define EXPORT __attribute__((visibility("default")))
#endif

/* A triangle edge that is not horizontal: its y-range and x along it (x = x + (y - y0) * dx);
   a horizontal one keeps dx NaN and its two x in x and x1. */
typedef struct {
    double y0, y1, x, dx, x1;
} edge_t;

static int edges_of(const double p[3][2], edge_t e[3])
{
    for (int k = 0; k < 3; k++) {
        const double *a = p[k], *b = p[(k + 1) % 3];
        if (a[1] > b[1]) {
            const double *t = a;
            a = b;
            b = t;
        }
        e[k].y0 = a[1];
        e[k].y1 = b[1];
        e[k].x = a[0];
        e[k].x1 = b[0];
        e[k].dx = a[1] == b[1] ? NAN : (b[0] - a[0]) / (b[1] - a[1]);
    }
    return 3;
}

/* x-extent [lo, hi] of the triangle with edges e at height y (y within its y-range).
   Plain comparisons, no fmin / fmax: without -ffast-math those are library calls, and
   this runs once per triangle row (~16,000 rows a 512 px frame). */
static void span_at(const edge_t e[3], double y, double *lo, double *hi)
{
    double l = INFINITY, h = -INFINITY;
    for (int k = 0; k < 3; k++) {
        if (y < e[k].y0 || y > e[k].y1)
            continue;
        double xa, xb;
        if (e[k].dx != e[k].dx) { /* NaN: horizontal, at exactly this height */
            xa = e[k].x;
            xb = e[k].x1;
        } else {
            xa = xb = e[k].x + (y - e[k].y0) * e[k].dx;
        }
        if (xa < l) l = xa;
        if (xb < l) l = xb;
        if (xa > h) h = xa;
        if (xb > h) h = xb;
    }
    *lo = l;
    *hi = h;
}

/* ceil / floor of a finite x within +-1e9 (no library call; see span_at) */
static inline int32_t ceil_i(double x)
{
    int32_t c = (int32_t)x;
    return c < x ? c + 1 : c;
}

static inline int32_t floor_i(double x)
{
    int32_t f = (int32_t)x;
    return f > x ? f - 1 : f;
}

#define LIMIT 1e9

/* Rasterise triangles `order` (painter's order, each grown by grow[k] px about its
   centroid) of points `pts` [n_pts,2] over the frame rectangle x0..x1, y0..y1 (exclusive
   ends); write each covered pixel's triangle into idx and table[t] (a, b, c, d, e, f)
   applied to its frame coordinates into mx / my ([y1-y0, x1-x0], row-major). Pixels no
   triangle covers get index n_tris and the table's last row.
   Returns 0; 1: an empty window or no / too many triangles; 2: an order entry is no
   triangle; 3: a triangle names a point that does not exist. Nothing is written unless
   everything checks. */
EXPORT int pw_draw(const double *pts, int64_t n_pts, const int32_t *tris, int64_t n_tris,
                   const int32_t *order, int64_t n_order, const double *grow,
                   const float *table, int32_t x0, int32_t y0, int32_t x1, int32_t y1,
                   uint16_t *idx, float *mx, float *my)
{
    int64_t w = (int64_t)x1 - x0, h = (int64_t)y1 - y0;
    if (w <= 0 || h <= 0 || n_tris <= 0 || n_tris > 65534 || n_order < 0)
        return 1;
    for (int64_t k = 0; k < n_order; k++) {
        int32_t t = order[k];
        if (t < 0 || t >= n_tris)
            return 2;
        for (int v = 0; v < 3; v++)
            if (tris[3 * t + v] < 0 || tris[3 * t + v] >= n_pts)
                return 3;
    }
    int32_t ww = (int32_t)w;
    for (int64_t i = 0; i < w * h; i++)
        idx[i] = (uint16_t)n_tris;
    for (int64_t k = 0; k < n_order; k++) {
        int32_t t = order[k];
        double p[3][2], cx = 0, cy = 0;
        for (int v = 0; v < 3; v++) {
            const double *q = pts + 2 * (int64_t)tris[3 * t + v];
            p[v][0] = q[0];
            p[v][1] = q[1];
            cx += q[0] / 3.0;
            cy += q[1] / 3.0;
        }
        double g = grow[k];
        if (g != 0.0)
            for (int v = 0; v < 3; v++) {
                double dx = p[v][0] - cx, dy = p[v][1] - cy;
                double n = fmax(sqrt(dx * dx + dy * dy), 1e-6);
                p[v][0] += dx / n * g;
                p[v][1] += dy / n * g;
            }
        double ymin = p[0][1], ymax = p[0][1];
        int finite = 1;
        for (int v = 0; v < 3; v++) {
            finite &= p[v][0] > -LIMIT && p[v][0] < LIMIT && p[v][1] > -LIMIT && p[v][1] < LIMIT;
            if (p[v][1] < ymin) ymin = p[v][1];
            if (p[v][1] > ymax) ymax = p[v][1];
        }
        if (!finite) /* (also NaN) a degenerate frame: nothing sensible to draw */
            continue;
        edge_t e[3];
        edges_of(p, e);
        int32_t ylo = ceil_i(ymin), yhi = floor_i(ymax);
        if (ylo < y0) ylo = y0;
        if (yhi > y1 - 1) yhi = y1 - 1;
        const float *c6 = table + 6 * (int64_t)t;
        const float ca = c6[0], cd = c6[3];
        for (int32_t y = ylo; y <= yhi; y++) {
            double lo, hi;
            span_at(e, (double)y, &lo, &hi);
            if (!(lo <= hi))
                continue;
            int32_t xlo = ceil_i(lo), xhi = floor_i(hi);
            if (xlo < x0) xlo = x0;
            if (xhi > x1 - 1) xhi = x1 - 1;
            if (xlo > xhi)
                continue;
            int64_t r = (int64_t)y - y0;
            int32_t a = xlo - x0, b = xhi - x0;
            float fy = (float)y;
            float bx = c6[1] * fy + c6[2], ey = c6[4] * fy + c6[5];
            float *restrict rx = mx + r * w, *restrict ry = my + r * w;
            uint16_t *restrict ri = idx + r * w;
            for (int32_t c = a; c <= b; c++) {
                float fx = (float)(x0 + c);
                rx[c] = ca * fx + bx;
                ry[c] = cd * fx + ey;
                ri[c] = (uint16_t)t;
            }
        }
    }
    /* pixels no triangle covers: the rest map (the table's last row) */
    const float *R = table + 6 * n_tris;
    for (int64_t r = 0; r < h; r++) {
        float fy = (float)(y0 + r);
        float bx = R[1] * fy + R[2], ey = R[4] * fy + R[5];
        float *rx = mx + r * w, *ry = my + r * w;
        const uint16_t *ri = idx + r * w;
        for (int32_t c = 0; c < ww; c++)
            if (ri[c] == (uint16_t)n_tris) {
                float fx = (float)(x0 + c);
                rx[c] = R[0] * fx + bx;
                ry[c] = R[3] * fx + ey;
            }
    }
    return 0;
}

/* setuptools builds every extension as a Python module (and on Windows exports this);
   Python never imports this file, ctypes loads it */
EXPORT void *PyInit__pwmaps(void) { return 0; }
