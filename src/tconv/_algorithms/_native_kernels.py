"""The numba kernels of :mod:`tconv._algorithms._native` (imported only when used)."""

import numba
import numba.extending
import numpy as np

from ._native import SEG_VECTORS, TILE_MR, TILE_NR  # noqa: F401 - the blocks' shapes

jit = numba.njit(nogil=True, fastmath={"reassoc", "contract"}, cache=True)


@numba.njit(inline="always", cache=True)
def _window(a, base, src, off, k, c0, n):  # pragma: no cover - compiled
    """Window ``k``: ``n`` numbers of row ``base + src[k]`` of ``a`` from ``c0 + off[k]``."""
    return a[base + src[k], c0 + off[k]:c0 + off[k] + n]


@numba.njit(inline="always", cache=True)
def _windows4(a, base, src, off, k, c0, n):  # pragma: no cover - compiled
    """Windows ``k`` to ``k + 3``."""
    return (_window(a, base, src, off, k, c0, n), _window(a, base, src, off, k + 1, c0, n),
            _window(a, base, src, off, k + 2, c0, n), _window(a, base, src, off, k + 3, c0, n))


@numba.njit(inline="always", cache=True)
def _store(out, a, ph, row, c0, n, rowbase, pitch, valid, colstride,
           chanstride):  # pragma: no cover - compiled
    """Write accumulated columns ``c0 .. c0 + n`` of grid row-major positions to ``out``
    (grid row ``q`` of phase ``ph`` from ``rowbase[ph, q] + row*chanstride``, its first
    ``valid[ph]`` positions ``colstride`` apart; rows with ``rowbase < 0`` dropped)."""
    q1 = (c0 + n - 1) // pitch
    for q in range(c0 // pitch, q1 + 1):
        b = rowbase[ph, q]
        if b < 0:
            continue
        lo = max(c0, q * pitch)
        hi = min(c0 + n, q * pitch + valid[ph])
        if hi <= lo:
            continue
        d = b + row * chanstride + (lo - q * pitch) * colstride
        src = a[lo - c0:hi - c0]
        # views indexed from 0: numba then drops its negative-index wraparound and
        # vectorizes the copy (a flat out[d + f] is not vectorized)
        if colstride == 1:
            dst = out[d:d + hi - lo]
            for j in range(hi - lo):
                dst[j] = src[j]
        else:
            dst = out[d:d + (hi - lo - 1) * colstride + 1:colstride]
            for j in range(hi - lo):
                dst[j] = src[j]


@jit
def igemm(W, inp, src, off, kstart, lengths, gstride, out, rowbase, pitch, valid, colstride,
          chanstride, f0, f1, chunk):  # pragma: no cover - compiled
    # W (g, O, K). Part ph (a conv_transpose phase) sums the terms kstart[ph] <= k <
    # kstart[ph + 1] over its first lengths[ph] columns; rows of group gi read planes
    # src[k] + gi*gstride. All parts of one chunk of columns run back to back, so the
    # chunk's input stays in cache. Two rows share four windows per pass; a row left alone
    # sums eight per pass.
    # Column f of part ph is grid row q = f // pitch, position f % pitch; positions below
    # valid[ph] of rows with rowbase[ph, q] >= 0 go to the flat out[rowbase[ph, q] +
    # row*chanstride + (f % pitch)*colstride]: the final array, no buffer to copy out of.
    g, O = W.shape[:2]
    acc = np.empty((2, chunk), dtype=out.dtype)
    for c0 in range(f0, f1, chunk):
        for ph in range(lengths.shape[0]):
            n = min(chunk, f1 - c0, lengths[ph] - c0)
            if n <= 0:
                continue
            k0, K = kstart[ph], kstart[ph + 1]
            for gi in range(g):
                base = gi * gstride
                o = 0
                while o < O:
                    pair = o + 1 < O
                    a0 = acc[0, :n]
                    a1 = acc[1, :n]
                    for j in range(n):
                        a0[j] = 0
                        a1[j] = 0
                    u = W[gi, o]
                    v = W[gi, o + 1] if pair else W[gi, o]
                    k = k0
                    if pair:
                        while k + 4 <= K:
                            p0, p1, p2, p3 = _windows4(inp, base, src, off, k, c0, n)
                            u0, u1, u2, u3 = u[k], u[k + 1], u[k + 2], u[k + 3]
                            v0, v1, v2, v3 = v[k], v[k + 1], v[k + 2], v[k + 3]
                            for j in range(n):
                                e0, e1, e2, e3 = p0[j], p1[j], p2[j], p3[j]
                                a0[j] += u0 * e0 + u1 * e1 + u2 * e2 + u3 * e3
                                a1[j] += v0 * e0 + v1 * e1 + v2 * e2 + v3 * e3
                            k += 4
                    else:
                        while k + 8 <= K:
                            p0, p1, p2, p3 = _windows4(inp, base, src, off, k, c0, n)
                            p4, p5, p6, p7 = _windows4(inp, base, src, off, k + 4, c0, n)
                            u0, u1, u2, u3 = u[k], u[k + 1], u[k + 2], u[k + 3]
                            u4, u5, u6, u7 = u[k + 4], u[k + 5], u[k + 6], u[k + 7]
                            for j in range(n):
                                a0[j] += (u0 * p0[j] + u1 * p1[j] + u2 * p2[j] + u3 * p3[j]
                                          + u4 * p4[j] + u5 * p5[j] + u6 * p6[j] + u7 * p7[j])
                            k += 8
                        while k + 4 <= K:
                            p0, p1, p2, p3 = _windows4(inp, base, src, off, k, c0, n)
                            u0, u1, u2, u3 = u[k], u[k + 1], u[k + 2], u[k + 3]
                            for j in range(n):
                                a0[j] += u0 * p0[j] + u1 * p1[j] + u2 * p2[j] + u3 * p3[j]
                            k += 4
                    while k < K:
                        p0 = _window(inp, base, src, off, k, c0, n)
                        u0, v0 = u[k], v[k]
                        for j in range(n):
                            a0[j] += u0 * p0[j]
                            a1[j] += v0 * p0[j]
                        k += 1
                    _store(out, a0, ph, gi * O + o, c0, n, rowbase, pitch, valid, colstride,
                           chanstride)
                    if pair:
                        _store(out, a1, ph, gi * O + o + 1, c0, n, rowbase, pitch, valid,
                               colstride, chanstride)
                    o += 2


@jit
def wdots(X, G, src, off, gstride, rows_per_group, out, a0, a1, f0, f1, chunk,
          zero):  # pragma: no cover - compiled
    # out[a, t] += sum_{f0 <= f < f1} X[a, f] * G[src[t] + group(a)*gstride, off[t] + f]
    T = src.shape[0]
    for c0 in range(f0, f1, chunk):
        n = min(chunk, f1 - c0)
        a = a0
        while a < a1:
            gi = a // rows_per_group
            pair = a + 1 < a1 and (a + 1) // rows_per_group == gi
            base = gi * gstride
            x = X[a, c0:c0 + n]
            y = X[a + 1 if pair else a, c0:c0 + n]
            t = 0
            while t + 4 <= T:
                g0, g1, g2, g3 = _windows4(G, base, src, off, t, c0, n)
                s0, s1, s2, s3 = zero, zero, zero, zero
                r0, r1, r2, r3 = zero, zero, zero, zero
                for f in range(n):
                    xv, yv = x[f], y[f]
                    h0, h1, h2, h3 = g0[f], g1[f], g2[f], g3[f]
                    s0 += xv * h0
                    s1 += xv * h1
                    s2 += xv * h2
                    s3 += xv * h3
                    r0 += yv * h0
                    r1 += yv * h1
                    r2 += yv * h2
                    r3 += yv * h3
                out[a, t] += s0
                out[a, t + 1] += s1
                out[a, t + 2] += s2
                out[a, t + 3] += s3
                if pair:
                    out[a + 1, t] += r0
                    out[a + 1, t + 1] += r1
                    out[a + 1, t + 2] += r2
                    out[a + 1, t + 3] += r3
                t += 4
            while t < T:
                g0 = _window(G, base, src, off, t, c0, n)
                s0, r0 = zero, zero
                for f in range(n):
                    s0 += x[f] * g0[f]
                    r0 += y[f] * g0[f]
                out[a, t] += s0
                if pair:
                    out[a + 1, t] += r0
                t += 1
            a += 2 if pair else 1



@numba.njit(inline="always", cache=True)
def _zero_rows(tmp):  # pragma: no cover - compiled
    """Zero every row of ``tmp``."""
    for r in range(tmp.shape[0]):
        t = tmp[r]
        for q in range(tmp.shape[1]):
            t[q] = 0


@numba.njit(inline="always", cache=True)
def _add_runs(tmp, plane, iz, iy, xstart, xk, xsh):  # pragma: no cover - compiled
    """Add row ``(iz, iy)`` of one row tap's planes ``plane (KW, D, H, W)`` into the column
    phases: ``tmp[rx, q] += plane[kx, iz, iy, q + xsh]`` over the taps ``(kx, xsh)`` of
    phase ``rx``, reads outside ``[0, W)`` being zero."""
    Q, W = tmp.shape[1], plane.shape[3]
    for rx in range(tmp.shape[0]):
        tr = tmp[rx]
        for b in range(xstart[rx], xstart[rx + 1]):
            sh = xsh[b]
            q0 = max(0, -sh)
            q1 = min(Q, W - sh)
            if q1 <= q0:
                continue
            dst = tr[q0:q1]
            src = plane[xk[b], iz, iy, q0 + sh:q1 + sh]
            for q in range(q1 - q0):
                dst[q] += src[q]


@numba.njit(inline="always", cache=True)
def _weave(out, buf, s, m, full):  # pragma: no cover - compiled
    """``out[q*s + r] = buf[r*m + q]`` for every ``q*s + r < len(out)``: a row's ``s``
    phases, each ``m`` long in ``buf``, interleaved; ``full = len(out) // s`` (computed
    once by the caller: a division a row costs as much as a short row's copies). At strides
    2, 3, 4 and 8 whole groups of ``s`` outputs are explicit stores, which the compiler
    turns into vector shuffles (a store a phase, or a gather through an index, runs one
    number at a time: most of a depthwise row pass's time); other strides go phase by
    phase."""
    n = out.shape[0]
    if s == 1:
        for q in range(n):
            out[q] = buf[q]
        return
    if s == 2:
        b0, b1 = buf[0:m], buf[m:2 * m]
        for q in range(full):
            out[2 * q] = b0[q]
            out[2 * q + 1] = b1[q]
    elif s == 3:
        b0, b1, b2 = buf[0:m], buf[m:2 * m], buf[2 * m:3 * m]
        for q in range(full):
            out[3 * q] = b0[q]
            out[3 * q + 1] = b1[q]
            out[3 * q + 2] = b2[q]
    elif s == 4:
        b0, b1, b2, b3 = buf[0:m], buf[m:2 * m], buf[2 * m:3 * m], buf[3 * m:4 * m]
        for q in range(full):
            out[4 * q] = b0[q]
            out[4 * q + 1] = b1[q]
            out[4 * q + 2] = b2[q]
            out[4 * q + 3] = b3[q]
    elif s == 8:
        b0, b1, b2, b3 = buf[0:m], buf[m:2 * m], buf[2 * m:3 * m], buf[3 * m:4 * m]
        b4, b5, b6, b7 = buf[4 * m:5 * m], buf[5 * m:6 * m], buf[6 * m:7 * m], buf[7 * m:8 * m]
        for q in range(full):
            out[8 * q] = b0[q]
            out[8 * q + 1] = b1[q]
            out[8 * q + 2] = b2[q]
            out[8 * q + 3] = b3[q]
            out[8 * q + 4] = b4[q]
            out[8 * q + 5] = b5[q]
            out[8 * q + 6] = b6[q]
            out[8 * q + 7] = b7[q]
    else:
        rem = n - full * s
        for r in range(s):
            for q in range(full + (1 if r < rem else 0)):
                out[q * s + r] = buf[r * m + q]
        return
    for o in range(full * s, n):                  # the last, partial group
        out[o] = buf[(o - full * s) * m + full]


@numba.njit(inline="always", cache=True)
def _unweave(out, src, s, m, full):  # pragma: no cover - compiled
    """``out[r*m + q] = src[q*s + r]`` for every ``q*s + r < len(src)``: :func:`_weave`
    undone (a row split phase-major), with the same explicit groups."""
    n = src.shape[0]
    if s == 1:
        for q in range(n):
            out[q] = src[q]
        return
    if s == 2:
        for q in range(full):
            out[q] = src[2 * q]
            out[m + q] = src[2 * q + 1]
    elif s == 3:
        for q in range(full):
            out[q] = src[3 * q]
            out[m + q] = src[3 * q + 1]
            out[2 * m + q] = src[3 * q + 2]
    elif s == 4:
        for q in range(full):
            out[q] = src[4 * q]
            out[m + q] = src[4 * q + 1]
            out[2 * m + q] = src[4 * q + 2]
            out[3 * m + q] = src[4 * q + 3]
    elif s == 8:
        for q in range(full):
            out[q] = src[8 * q]
            out[m + q] = src[8 * q + 1]
            out[2 * m + q] = src[8 * q + 2]
            out[3 * m + q] = src[8 * q + 3]
            out[4 * m + q] = src[8 * q + 4]
            out[5 * m + q] = src[8 * q + 5]
            out[6 * m + q] = src[8 * q + 6]
            out[7 * m + q] = src[8 * q + 7]
    else:
        rem = n - full * s
        for r in range(s):
            for q in range(full + (1 if r < rem else 0)):
                out[r * m + q] = src[q * s + r]
        return
    for o in range(full * s, n):                  # the last, partial group
        out[(o - full * s) * m + full] = src[o]


@numba.njit(inline="always", cache=True)
def _interleave(o, tmp):  # pragma: no cover - compiled
    """``o[q*s + rx] = tmp[rx, q]`` for the ``s = tmp.shape[0]`` column phases (a store a
    phase: col2im's rows are short, and :func:`_weave`'s groups measured no faster here)."""
    s = tmp.shape[0]
    for rx in range(s):
        col = o[rx::s]
        tr = tmp[rx]
        for q in range(col.shape[0]):
            col[q] = tr[q]


@jit
def col2im2d(cols, ystart, yk, yoff, xstart, xk, xsh, sy, sx, y,
             tmp):  # pragma: no cover - compiled
    # y[n, c, m*sy + ry, q*sx + rx] = sum cols[n, c, ky, kx, 0, m + yoff, q + xsh]
    # over the taps (ky, yoff) of row phase ry and (kx, xsh) of column phase rx (tables as
    # built by gemm._phase_taps), reads outside cols' (H, W) being zero: col2im written
    # output row by output row, each output once (no zero fill, no read-modify-write of y).
    # Each column phase is summed contiguously in tmp[rx] (sx rows), then interleaved into
    # the row. (cols has a unit depth dim, as col2im3d's: the two share their row loops.)
    nb, cb = cols.shape[0], cols.shape[1]
    H = cols.shape[5]
    OH = y.shape[2]
    for n in range(nb):
        for c in range(cb):
            for oy in range(OH):
                m = oy // sy
                ry = oy - m * sy
                _zero_rows(tmp)
                for a in range(ystart[ry], ystart[ry + 1]):
                    iy = m + yoff[a]
                    if 0 <= iy < H:
                        _add_runs(tmp, cols[n, c, yk[a]], 0, iy, xstart, xk, xsh)
                _interleave(y[n, c, oy], tmp)


@numba.njit(inline="always", cache=True)
def _tile_add(tile, t0, flat, s0, cc, first):  # pragma: no cover - compiled
    """``tile[t0 : t0 + cc]`` = (``first``) or += ``flat[s0 : s0 + cc]``."""
    if first:
        for c in range(cc):
            tile[t0 + c] = flat[s0 + c]
    else:
        for c in range(cc):
            tile[t0 + c] += flat[s0 + c]


@numba.njit(inline="always", cache=True)
def _tile_taps(tile, t0, flat, cc, first, base, tapbase, my, ry, ystart, yk, yoff, q, rx,
               xstart, xk, xsh, H, W, KW, pix):  # pragma: no cover - compiled
    """Sum into ``tile[t0 : t0 + C]`` the taps of output pixel ``(my*sy + ry, q*sx + rx)``
    read from input plane row ``base`` (``(n*D + iz)*H``) with kernel taps from
    ``tapbase`` (``kz*KH``); ``first``: nothing summed there yet. Returns ``first``."""
    for a in range(ystart[ry], ystart[ry + 1]):
        iy = my + yoff[a]
        if iy < 0 or iy >= H:
            continue
        for b in range(xstart[rx], xstart[rx + 1]):
            ix = q + xsh[b]
            if ix < 0 or ix >= W:
                continue
            s0 = np.uint64(((base + iy) * W + ix) * pix + ((tapbase + yk[a]) * KW + xk[b]) * cc)
            _tile_add(tile, t0, flat, s0, cc, first)
            first = False
    return first


@numba.njit(inline="always", cache=True)
def _tile_out(y, tile, base, plane, ow, cc):  # pragma: no cover - compiled
    """An output row's tile ``(OW x C)`` out channel by channel: ``y[base + c*plane + ox]
    = tile[ox*C + c]``, each channel's row one contiguous store run."""
    for c in range(cc):
        d = np.uint64(base + c * plane)
        for ox in range(np.uint64(ow)):
            y[d + ox] = tile[ox * cc + c]


@jit
def col2im_last2d(cols, ystart, yk, yoff, xstart, xk, xsh, sy, sx, y, y0, ystep_n, oh, ow,
                  tile):  # pragma: no cover - compiled
    # y[n, c, m*sy + ry, q*sx + rx] = sum cols[n, m + yoff, q + xsh, ky, kx, c] over the
    # taps (ky, yoff) of row phase ry and (kx, xsh) of column phase rx (gemm._phase_taps),
    # reads outside cols' (H, W) being zero. cols holds the product channels innermost
    # (gemm's channels-last layout), so each tap adds C contiguous numbers. An output row's
    # sums collect in tile (OW x C, in L1), then go out channel by channel: each channel's
    # row is one contiguous store run of y (flat: y[y0 + n*ystep_n + (c*oh + oy)*ow + ox]),
    # not C stores a plane apart per pixel. Indices unsigned: the loops vectorize.
    nb, H, W, KH, KW, C = cols.shape
    flat = cols.reshape(-1)
    cc = np.uint64(C)
    pix = KH * KW * C
    for n in range(nb):
        for oy in range(oh):
            m = oy // sy
            ry = oy - m * sy
            for ox in range(ow):
                q = ox // sx
                rx = ox - q * sx
                t0 = np.uint64(ox * C)
                first = _tile_taps(tile, t0, flat, cc, True, n * H, 0, m, ry, ystart, yk, yoff,
                                   q, rx, xstart, xk, xsh, H, W, KW, pix)
                if first:
                    for c in range(cc):
                        tile[t0 + c] = 0
            _tile_out(y, tile, y0 + n * ystep_n + oy * ow, oh * ow, ow, cc)


@jit
def col2im3d(cols, zstart, zk, zoff, ystart, yk, yoff, xstart, xk, xsh, sz, sy, sx, y,
             tmp):  # pragma: no cover - compiled
    # col2im2d in three spatial dims: y[n, c, mz*sz + rz, my*sy + ry, q*sx + rx] =
    #     sum cols[n, c, kz, ky, kx, mz + zoff, my + yoff, q + xsh]
    # over the taps (kz, zoff) of depth phase rz as well (gemm._phase_taps). Kept apart
    # from col2im2d (they share the row loops) so that 2-D layers skip the depth loop.
    nb, cb = cols.shape[0], cols.shape[1]
    D, H = cols.shape[5], cols.shape[6]
    OD, OH = y.shape[2], y.shape[3]
    for n in range(nb):
        for c in range(cb):
            cn = cols[n, c]
            for oz in range(OD):
                mz = oz // sz
                rz = oz - mz * sz
                for oy in range(OH):
                    my = oy // sy
                    ry = oy - my * sy
                    _zero_rows(tmp)
                    for e in range(zstart[rz], zstart[rz + 1]):
                        iz = mz + zoff[e]
                        if iz < 0 or iz >= D:
                            continue
                        ck = cn[zk[e]]
                        for a in range(ystart[ry], ystart[ry + 1]):
                            iy = my + yoff[a]
                            if 0 <= iy < H:
                                _add_runs(tmp, ck[yk[a]], iz, iy, xstart, xk, xsh)
                    _interleave(y[n, c, oz, oy], tmp)


@jit
def col2im_last3d(cols, zstart, zk, zoff, ystart, yk, yoff, xstart, xk, xsh, sz, sy, sx, y, y0,
                  ystep_n, od, oh, ow, tile):  # pragma: no cover - compiled
    # col2im_last2d in three spatial dims: y[n, c, mz*sz + rz, my*sy + ry, q*sx + rx] =
    #     sum cols[n, mz + zoff, my + yoff, q + xsh, kz, ky, kx, c]
    # (flat: y[y0 + n*ystep_n + ((c*od + oz)*oh + oy)*ow + ox]). Kept apart from
    # col2im_last2d (they share the pixel loops) so that 2-D layers skip the depth loop.
    nb, D, H, W, KD, KH, KW, C = cols.shape
    flat = cols.reshape(-1)
    cc = np.uint64(C)
    pix = KD * KH * KW * C
    for n in range(nb):
        for oz in range(od):
            mz = oz // sz
            rz = oz - mz * sz
            for oy in range(oh):
                my = oy // sy
                ry = oy - my * sy
                for ox in range(ow):
                    q = ox // sx
                    rx = ox - q * sx
                    t0 = np.uint64(ox * C)
                    first = True
                    for e in range(zstart[rz], zstart[rz + 1]):
                        iz = mz + zoff[e]
                        if 0 <= iz < D:
                            first = _tile_taps(tile, t0, flat, cc, first, (n * D + iz) * H,
                                               zk[e] * KH, my, ry, ystart, yk, yoff, q, rx,
                                               xstart, xk, xsh, H, W, KW, pix)
                    if first:
                        for c in range(cc):
                            tile[t0 + c] = 0
                _tile_out(y, tile, y0 + n * ystep_n + (oz * oh + oy) * ow, od * oh * ow, ow,
                          cc)


@numba.njit(inline="always", cache=True)
def _along_last(src, p, rows, iw, ww, dst, d0, i0, i1):  # pragma: no cover - compiled
    # dst[i - d0, j] = sum_b ww[j, b] * src[p, rows[i], iw[j, b]] for i0 <= i < i1: each
    # product rounded and summed tap by tap (no fused multiply-adds), four rows sharing
    # each table entry
    KW, OW = iw.shape[1], iw.shape[0]
    i = i0
    while i < i1:
        if i + 4 <= i1:
            x0, x1 = src[p, rows[i]], src[p, rows[i + 1]]
            x2, x3 = src[p, rows[i + 2]], src[p, rows[i + 3]]
            t0, t1, t2, t3 = dst[i - d0], dst[i - d0 + 1], dst[i - d0 + 2], dst[i - d0 + 3]
            for j in range(OW):
                c, w = iw[j, 0], ww[j, 0]
                s0, s1, s2, s3 = w * x0[c], w * x1[c], w * x2[c], w * x3[c]
                for b in range(1, KW):
                    c, w = iw[j, b], ww[j, b]
                    s0 += w * x0[c]
                    s1 += w * x1[c]
                    s2 += w * x2[c]
                    s3 += w * x3[c]
                t0[j], t1[j], t2[j], t3[j] = s0, s1, s2, s3
            i += 4
        else:
            x0, t0 = src[p, rows[i]], dst[i - d0]
            for j in range(OW):
                s0 = ww[j, 0] * x0[iw[j, 0]]
                for b in range(1, KW):
                    s0 += ww[j, b] * x0[iw[j, b]]
                t0[j] = s0
            i += 1


@numba.njit(inline="always", cache=True)
def _along_last2(src, p, rows, iw, ww, dst, d0, i0, i1):  # pragma: no cover - compiled
    # _along_last for two-tap tables (linear): both taps written out and the column
    # indices read unsigned (the tables hold 0 <= iw < W), so no loop over the taps and no
    # negative-index check per read -- the same products and sums in the same order, the
    # same bits. A loop of its own: a two-tap branch inside _along_last slowed its other
    # tables (area windows, 10 taps) by a third.
    OW = iw.shape[0]
    i = i0
    while i < i1:
        if i + 4 <= i1:
            x0, x1 = src[p, rows[i]], src[p, rows[i + 1]]
            x2, x3 = src[p, rows[i + 2]], src[p, rows[i + 3]]
            t0, t1, t2, t3 = dst[i - d0], dst[i - d0 + 1], dst[i - d0 + 2], dst[i - d0 + 3]
            for j in range(OW):
                c, e = np.uint64(iw[j, 0]), np.uint64(iw[j, 1])
                w, v = ww[j, 0], ww[j, 1]
                s0, s1, s2, s3 = w * x0[c], w * x1[c], w * x2[c], w * x3[c]
                s0 += v * x0[e]
                s1 += v * x1[e]
                s2 += v * x2[e]
                s3 += v * x3[e]
                t0[j], t1[j], t2[j], t3[j] = s0, s1, s2, s3
            i += 4
        else:
            x0, t0 = src[p, rows[i]], dst[i - d0]
            for j in range(OW):
                c, e = np.uint64(iw[j, 0]), np.uint64(iw[j, 1])
                s0 = ww[j, 0] * x0[c]
                s0 += ww[j, 1] * x0[e]
                t0[j] = s0
            i += 1


@numba.njit(nogil=True, cache=True)
def resample2d(x, rows, ih, wh, iw, ww, out, tmp, p, o0, o1,
               band):  # pragma: no cover - compiled
    # out[p, o, j] = sum_a wh[o, a] * (sum_b ww[j, b] * x[p, rows[ih[o, a]], iw[j, b]]) for
    # output rows o0 <= o < o1: ATen's order (along the last axis first, then the rows),
    # each product rounded and summed tap by tap (no fused multiply-adds), so the values
    # are those of the separable NumPy passes. `rows` (ascending) are the input rows some
    # output reads and `ih` indexes them: a strong down-sampling skips the rows between.
    # Bands of `band` output rows: their input rows go along the last axis into tmp
    # (L2-sized), then the rows are combined.
    KH, OW = ih.shape[1], iw.shape[0]
    for b0 in range(o0, o1, band):
        b1 = min(o1, b0 + band)
        r0 = ih[b0, 0]
        r1 = ih[b0, 0]
        for o in range(b0, b1):
            for a in range(KH):
                r0 = min(r0, ih[o, a])
                r1 = max(r1, ih[o, a])
        if iw.shape[1] == 2:
            _along_last2(x, p, rows, iw, ww, tmp, r0, r0, r1 + 1)
        else:
            _along_last(x, p, rows, iw, ww, tmp, r0, r0, r1 + 1)
        for o in range(b0, b1):
            d = out[p, o]
            t, w = tmp[ih[o, 0] - r0], wh[o, 0]
            for j in range(OW):
                d[j] = w * t[j]
            for a in range(1, KH):
                t, w = tmp[ih[o, a] - r0], wh[o, a]
                for j in range(OW):
                    d[j] += w * t[j]


@numba.njit(nogil=True, cache=True)
def resample1d(x, rows, iw, ww, out, r0, r1):  # pragma: no cover - compiled
    # out[i, j] = sum_b ww[j, b] * x[0, rows[i], iw[j, b]] for r0 <= i < r1: resample2d's
    # pass along the last axis, written in place (x: one plane of rows)
    if iw.shape[1] == 2:
        _along_last2(x, 0, rows, iw, ww, out, 0, r0, r1)
    else:
        _along_last(x, 0, rows, iw, ww, out, 0, r0, r1)


@numba.njit(nogil=True, cache=True)
def resample2d_planes(x, rows, ih, wh, iw, ww, out, tmp, p0, p1, o0, o1,
                      band):  # pragma: no cover - compiled
    # resample2d for the planes p0 <= p < p1: one call (one dispatch, the GIL released once)
    # for a run of small planes
    for p in range(p0, p1):
        resample2d(x, rows, ih, wh, iw, ww, out, tmp, p, o0, o1, band)


@numba.njit(inline="always", cache=True)
def _bilerp(v00, v01, v10, v11, b0, b1, a0, a1):  # pragma: no cover - compiled
    """``a0 * (b0*v00 + b1*v01) + a1 * (b0*v10 + b1*v11)`` in resample2d's order, unfused
    (numbers only: an inlined helper taking the rows ran several times slower)."""
    h0 = b0 * v00
    h0 += b1 * v01
    h1 = b0 * v10
    h1 += b1 * v11
    v = a0 * h0
    v += a1 * h1
    return v


@numba.njit(nogil=True, cache=True)
def resample2d_taps2(x, ih, wh, iw, ww, out, p0, p1, o0, o1):  # pragma: no cover - compiled
    # out[p, o, j] = wh[o, 0] * h(ih[o, 0], j) + wh[o, 1] * h(ih[o, 1], j) with
    # h(r, j) = ww[j, 0] * x[p, r, iw[j, 0]] + ww[j, 1] * x[p, r, iw[j, 1]], for planes
    # p0 <= p < p1 and output rows o0 <= o < o1: two-tap tables (linear) in resample2d's
    # order and rounding (no fused multiply-adds), each output from its four inputs
    # directly -- no band buffer, which pays only where many output rows share input rows.
    # Two output rows that read four different input rows (a shrink by more than two) run
    # in one pass: one read of the column table serves both, and four rows far apart
    # stream at once (such a shrink is bound by memory latency). Rows that share an input
    # row run one at a time (the pair's pass is slower there).
    # Column indices read unsigned (the tables hold 0 <= iw < W): no negative-index check.
    OW = iw.shape[0]
    for p in range(p0, p1):
        o = o0
        while o < o1:
            pair = o + 1 < o1 and ih[o + 1, 0] > ih[o, 1]
            q = o + 1 if pair else o                # the second row (itself when alone)
            r0, r1 = x[p, ih[o, 0]], x[p, ih[o, 1]]
            s0, s1 = x[p, ih[q, 0]], x[p, ih[q, 1]]
            a0, a1 = wh[o, 0], wh[o, 1]
            e0, e1 = wh[q, 0], wh[q, 1]
            d, f = out[p, o], out[p, q]
            if pair:
                for j in range(OW):
                    c0, c1 = np.uint64(iw[j, 0]), np.uint64(iw[j, 1])
                    b0, b1 = ww[j, 0], ww[j, 1]
                    d[j] = _bilerp(r0[c0], r0[c1], r1[c0], r1[c1], b0, b1, a0, a1)
                    f[j] = _bilerp(s0[c0], s0[c1], s1[c0], s1[c1], b0, b1, e0, e1)
            else:
                for j in range(OW):
                    c0, c1 = np.uint64(iw[j, 0]), np.uint64(iw[j, 1])
                    d[j] = _bilerp(r0[c0], r0[c1], r1[c0], r1[c1], ww[j, 0], ww[j, 1], a0,
                                   a1)
            o = q + 1


@numba.njit(inline="always", cache=True)
def _weighted(dst, src, w, first):  # pragma: no cover - compiled
    """``dst = w * src`` (``first``) or ``dst += w * src``, unfused."""
    if first:
        for c in range(dst.shape[0]):
            dst[c] = w * src[c]
    else:
        for c in range(dst.shape[0]):
            dst[c] += w * src[c]


@numba.njit(inline="always", cache=True)
def _taps(t, w, o):  # pragma: no cover - compiled
    """Taps of output ``o`` of table ``(t, w)`` (index -1 only after them); -1 for the one
    tap of weight 1 (a copy)."""
    n = 0
    while n < t.shape[1] and t[o, n] >= 0:
        n += 1
    return -1 if n == 1 and w[o, 0] == 1 else n


@numba.njit(nogil=True, cache=True)
def resample_direct(x, td, wd, th, wh, tw, ww, out, b0, b1, p0,
                    p1):  # pragma: no cover - compiled
    # out[p, a, b, c] = sum_i wd[a, i] * (sum_j wh[b, j] * (sum_k ww[c, k] * x[p, I, J, K]))
    # with I = td[a, i], J = th[b, j], K = tw[c, k]: tconv.interpolate's separable tables
    # (index -1: no tap, only after a row's taps) for each output row from the input rows
    # it reads, the last axis innermost as in ATen, no fused multiply-adds. Each sum
    # starts from its first tap's product (a nearest copy keeps -0.0); an output without
    # taps is 0; a row from one input row with weights 1 is written directly (1 * v == v).
    # Four planes at a time (rows written directly, and the others: two blocks, as one
    # with a branch in the loop ran 1-D calls up to 1.2x slower), then one by one. Output
    # rows b0 <= b < b1 of every depth, planes p0 <= p < p1. For calls too small for a
    # pass per axis to pay (nearest tables: resample_gather). The column sums are written
    # out in the loop: an inlined helper taking the arrays ran several times slower.
    P, OD, OH, OW = out.shape
    TW = tw.shape[1]
    vw = np.empty(OW, out.dtype)
    vh = np.empty(OW, out.dtype)
    h4 = np.empty((4, OW), out.dtype)
    h0, h1, h2, h3 = h4[0], h4[1], h4[2], h4[3]
    zero = ww[0, 0] - ww[0, 0]
    for a in range(OD):                             # planes innermost: the taps once a row
        ni = _taps(td, wd, a)
        for b in range(b0, b1):
            nj = _taps(th, wh, b)
            copy = ni < 0 and nj < 0
            q = p0                                  # the first plane left for the loop below
            if copy:                                # four planes sharing each table entry
                ti, tj = td[a, 0], th[b, 0]
                while q + 4 <= p1:
                    x0, x1 = x[q, ti, tj], x[q + 1, ti, tj]
                    x2, x3 = x[q + 2, ti, tj], x[q + 3, ti, tj]
                    d0, d1 = out[q, a, b], out[q + 1, a, b]
                    d2, d3 = out[q + 2, a, b], out[q + 3, a, b]
                    for c in range(OW):
                        k0, w = np.uint64(tw[c, 0]), ww[c, 0]
                        s0, s1, s2, s3 = w * x0[k0], w * x1[k0], w * x2[k0], w * x3[k0]
                        for k in range(1, TW):
                            tk = tw[c, k]
                            if tk < 0:
                                break
                            kk, w = np.uint64(tk), ww[c, k]
                            s0 += w * x0[kk]
                            s1 += w * x1[kk]
                            s2 += w * x2[kk]
                            s3 += w * x3[kk]
                        d0[c], d1[c], d2[c], d3[c] = s0, s1, s2, s3
                    q += 4
            elif ni != 0 and nj != 0:
                # four planes sharing each table entry: their row sums (h) and the rows,
                # in the order and with the operations of the one-plane loop below
                while q + 4 <= p1:
                    for i in range(abs(ni)):
                        ti, wi = td[a, i], wd[a, i]
                        for j in range(abs(nj)):
                            tj, wj = th[b, j], wh[b, j]
                            x0, x1 = x[q, ti, tj], x[q + 1, ti, tj]
                            x2, x3 = x[q + 2, ti, tj], x[q + 3, ti, tj]
                            for c in range(OW):
                                k0, w = np.uint64(tw[c, 0]), ww[c, 0]
                                s0, s1, s2, s3 = w * x0[k0], w * x1[k0], w * x2[k0], w * x3[k0]
                                for k in range(1, TW):
                                    tk = tw[c, k]
                                    if tk < 0:
                                        break
                                    kk, w = np.uint64(tk), ww[c, k]
                                    s0 += w * x0[kk]
                                    s1 += w * x1[kk]
                                    s2 += w * x2[kk]
                                    s3 += w * x3[kk]
                                if j == 0:
                                    h0[c], h1[c], h2[c], h3[c] = wj * s0, wj * s1, wj * s2, wj * s3
                                else:
                                    h0[c] += wj * s0
                                    h1[c] += wj * s1
                                    h2[c] += wj * s2
                                    h3[c] += wj * s3
                        d0, d1 = out[q, a, b], out[q + 1, a, b]
                        d2, d3 = out[q + 2, a, b], out[q + 3, a, b]
                        if i == 0:
                            for c in range(OW):
                                d0[c], d1[c] = wi * h0[c], wi * h1[c]
                                d2[c], d3[c] = wi * h2[c], wi * h3[c]
                        else:
                            for c in range(OW):
                                d0[c] += wi * h0[c]
                                d1[c] += wi * h1[c]
                                d2[c] += wi * h2[c]
                                d3[c] += wi * h3[c]
                    q += 4
            for p in range(q, p1):
                row = out[p, a, b]
                if ni == 0 or nj == 0:
                    row[:] = zero
                    continue
                dst = row if copy else vw
                for i in range(abs(ni)):
                    for j in range(abs(nj)):
                        xr = x[p, td[a, i], th[b, j]]
                        for c in range(OW):
                            v = ww[c, 0] * xr[np.uint64(tw[c, 0])]
                            for k in range(1, TW):
                                tk = tw[c, k]
                                if tk < 0:
                                    break
                                v += ww[c, k] * xr[np.uint64(tk)]
                            dst[c] = v
                        if not copy:
                            _weighted(vh, vw, wh[b, j], j == 0)
                    if not copy:
                        _weighted(row, vh, wd[a, i], i == 0)


@numba.njit(nogil=True, cache=True)
def resample_gather(x, td, th, tw, out, b0, b1, p0, p1):  # pragma: no cover - compiled
    # out[p, a, b, c] = x[p, td[a, 0], th[b, 0], tw[c, 0]]: resample_direct's sums where
    # every table is one tap of weight 1 (nearest modes; 1 * v == v, so -0.0, inf and
    # nan are copied as they are). Output rows b0 <= b < b1 of every depth, planes
    # p0 <= p < p1, four planes at a time (each table entry read once for the four). A
    # depth or row reading the input row of the one before is a copy of those output
    # rows (an up-sampled axis repeats each input row).
    OD, OW = out.shape[1], out.shape[3]
    for a in range(OD):
        if a > 0 and td[a, 0] == td[a - 1, 0]:
            for p in range(p0, p1):
                for b in range(b0, b1):
                    src, dst = out[p, a - 1, b], out[p, a, b]
                    for c in range(OW):
                        dst[c] = src[c]
            continue
        ti = td[a, 0]
        for b in range(b0, b1):
            if b > b0 and th[b, 0] == th[b - 1, 0]:
                for p in range(p0, p1):
                    src, dst = out[p, a, b - 1], out[p, a, b]
                    for c in range(OW):
                        dst[c] = src[c]
                continue
            tj = th[b, 0]
            q = p0
            while q + 4 <= p1:
                x0, x1 = x[q, ti, tj], x[q + 1, ti, tj]
                x2, x3 = x[q + 2, ti, tj], x[q + 3, ti, tj]
                d0, d1 = out[q, a, b], out[q + 1, a, b]
                d2, d3 = out[q + 2, a, b], out[q + 3, a, b]
                for c in range(OW):
                    k = np.uint64(tw[c, 0])
                    d0[c], d1[c], d2[c], d3[c] = x0[k], x1[k], x2[k], x3[k]
                q += 4
            for p in range(q, p1):
                xr, dst = x[p, ti, tj], out[p, a, b]
                for c in range(OW):
                    dst[c] = xr[np.uint64(tw[c, 0])]


@jit
def depthwise2d(xp, w, y, rows, cols, cog, planes, p0, p1):  # pragma: no cover - compiled
    # Depthwise 2-D conv_transpose (one input channel a group), column stride 2, at most
    # two kernel rows and two kernel columns reaching each output:
    #   y[P, oy, q + 2*m] = sum_{t, u < 2} w[ci, j, rows[oy, 2 + t], cols[q, 2 + u]]
    #                                      * xp[n*C_in + ci, rows[oy, t], m + cols[q, u]]
    # for output planes p0 <= P < p1 (n = P // C_out, co = P % C_out = ci*cog + j).
    # xp (N*C_in, H + 1, Wp): x with zero columns around it and a zero row H; w (C_in, cog,
    # KH + 1, KW + 1): the weights with a zero row and column. A missing tap (kernel row KH
    # or column KW) adds 0 * 0, never 0 * inf: a missing row reads the zero row, a missing
    # column a window of the zero columns after x. Both column phases are summed in one
    # pass that interleaves its stores. Column indices are unsigned: numba then adds no
    # negative-index check and vectorizes the pass without a view per window (eight views
    # a row cost more than the sums of a short row).
    c_out = y.shape[0] // planes
    c_in = c_out // cog
    OH, OW = y.shape[1], y.shape[2]
    one, two = np.uint64(1), np.uint64(2)
    n_o = np.uint64(OW // 2)
    c0, c1 = np.uint64(cols[0, 0]), np.uint64(cols[0, 1])
    d0, d1 = np.uint64(cols[1, 0]), np.uint64(cols[1, 1])
    kw0, kw1, kv0, kv1 = cols[0, 2], cols[0, 3], cols[1, 2], cols[1, 3]
    for P in range(p0, p1):
        n, co = P // c_out, P % c_out
        ci, j = co // cog, co % cog
        src = xp[n * c_in + ci]
        wk = w[ci, j]
        for oy in range(OH):
            k0, k1 = rows[oy, 2], rows[oy, 3]
            a0, a1, a2, a3 = wk[k0, kw0], wk[k1, kw0], wk[k0, kw1], wk[k1, kw1]
            b0, b1, b2, b3 = wk[k0, kv0], wk[k1, kv0], wk[k0, kv1], wk[k1, kv1]
            x0, x1 = src[rows[oy, 0]], src[rows[oy, 1]]
            yr = y[P, oy]
            for m in range(n_o):
                yr[two * m] = a0 * x0[m + c0] + a1 * x1[m + c0] + a2 * x0[m + c1] \
                    + a3 * x1[m + c1]
                yr[two * m + one] = b0 * x0[m + d0] + b1 * x1[m + d0] + b2 * x0[m + d1] \
                    + b3 * x1[m + d1]
        if OW % 2:
            # the last even column of every row, in a loop of its own: code after the pass
            # above that read its rows stops numba vectorizing that pass
            for oy in range(OH):
                k0, k1 = rows[oy, 2], rows[oy, 3]
                x0, x1 = src[rows[oy, 0]], src[rows[oy, 1]]
                y[P, oy, OW - 1] = wk[k0, kw0] * x0[n_o + c0] + wk[k1, kw0] * x1[n_o + c0] \
                    + wk[k0, kw1] * x0[n_o + c1] + wk[k1, kw1] * x1[n_o + c1]



@jit
def grid_copy(x, out, base, image, row_off):  # pragma: no cover - compiled
    # x (N, C, R, W): images with their leading spatial dims flattened into R rows; out
    # (C, L): out[c, base + n*image + row_off[r] + j] = x[n, c, r, j], zeros elsewhere --
    # the phase algorithm's zero-gapped grid of one block, in one pass that writes every
    # number once (NumPy's strided assignment walked 16-number rows at 1-2 GB/s). The
    # caller guarantees the images fit: 0 <= base and base + N*image <= L; row_off rises.
    nb, C, R, W = x.shape
    L = np.uint64(out.shape[1])
    w = np.uint64(W)
    for c in range(C):
        o = out[c]
        pos = np.uint64(0)
        for n in range(nb):
            for r in range(R):
                # indexed, not a view a row: a view costs as much as copying a short row
                d = np.uint64(base + n * image + row_off[r])
                for f in range(pos, d):
                    o[f] = 0
                for j in range(w):
                    o[d + j] = x[n, c, r, j]
                pos = d + w
        for f in range(pos, L):
            o[f] = 0


@jit
def phase_split(gy, dims, G, cols, s, lo, j0, j1, P, c0, c1):  # pragma: no cover - compiled
    # gy: grad_out (N, C, D0, D1, D2) flat, C-contiguous (unit dims in front for 1-D and
    # 2-D; dims = (N, C, D0, D1, D2)); G: (C*S, cols) flat, S = s0*s1*s2, cols at least
    # N*P0*P1*P2. The polyphase planes of the canvas that the conv transposing
    # conv_transpose reads, canvas[n, c, a] = gy[n, c, a - lo] for j0 <= a < j1 (per dim),
    # zero elsewhere, for channels c0 <= c < c1:
    #     G[c*S + (r0*s1 + r1)*s2 + r2, ((n*P0 + q0)*P1 + q1)*P2 + q2]
    #         = canvas[n, c, q0*s0 + r0, q1*s1 + r1, q2*s2 + r2]
    # and the columns past the grid zero. One pass that reads gy once and writes every
    # number of G once (the padded canvas and NumPy's strided split made four passes).
    # Flat indices, unsigned: no views a row, and the loops vectorize.
    N, C, D0, D1, D2 = dims[0], dims[1], dims[2], dims[3], dims[4]
    s0, s1, s2 = s[0], s[1], s[2]
    P0, P1, P2 = P[0], P[1], P[2]
    S = s0 * s1 * s2
    grid = N * P0 * P1 * P2
    u = np.uint64
    step, width = u(s2), u(P2)
    # per last-dim phase r2: outputs qa[r2] <= q < qb[r2] have their canvas sample inside;
    # at last-dim stride 2, those of both phases (both0 <= q < both1) are copied by one
    # loop reading gy contiguously (a loop a phase, each reading every other number, ran
    # at half the speed), the rest of each phase's, [qa, ea) and [eb, qb), by its own
    qa = np.empty(s2, dtype=np.int64)
    qb = np.empty(s2, dtype=np.int64)
    for r2 in range(s2):
        qa[r2] = min(P2, max(0, -((r2 - j0[2]) // s2)))
        qb[r2] = max(qa[r2], min(P2, -((r2 - j1[2]) // s2)))
    both0, both1 = 0, 0
    if s2 == 2:
        both0, both1 = max(qa[0], qa[1]), min(qb[0], qb[1])
    ea, eb = qb.copy(), qb.copy()
    if both1 > both0:
        for r2 in range(s2):
            ea[r2], eb[r2] = both0, both1
    for c in range(c0, c1):
        for n in range(N):
            for q0 in range(P0):
                for r0 in range(s0):
                    a0 = q0 * s0 + r0
                    in0 = j0[0] <= a0 < j1[0]
                    for q1 in range(P1):
                        for r1 in range(s1):
                            a1 = q1 * s1 + r1
                            live = in0 and j0[1] <= a1 < j1[1]
                            d = u((c * S + (r0 * s1 + r1) * s2) * cols
                                  + ((n * P0 + q0) * P1 + q1) * P2)
                            if not live:
                                for r2 in range(s2):
                                    e = d + u(r2 * cols)
                                    for q in range(width):
                                        G[e + q] = 0
                                continue
                            # gy's number at canvas sample 0 of this row
                            f = (((n * C + c) * D0 + a0 - lo[0]) * D1 + a1 - lo[1]) * D2 - lo[2]
                            if both1 > both0:
                                e0, e1 = d + u(both0), d + u(cols + both0)
                                g0, g1 = u(f + 2 * both0), u(f + 2 * both0 + 1)
                                for q in range(u(both1 - both0)):
                                    G[e0 + q] = gy[g0 + step * q]
                                    G[e1 + q] = gy[g1 + step * q]
                            for r2 in range(s2):
                                e = d + u(r2 * cols)
                                for q in range(u(qa[r2])):
                                    G[e + q] = 0
                                for q in range(u(qa[r2]), u(ea[r2])):
                                    G[e + q] = gy[u(f + r2) + step * q]
                                for q in range(u(eb[r2]), u(qb[r2])):
                                    G[e + q] = gy[u(f + r2) + step * q]
                                for q in range(u(qb[r2]), width):
                                    G[e + q] = 0
        for k in range(S):
            for f in range(u((c * S + k) * cols + grid), u((c * S + k + 1) * cols)):
                G[f] = 0


@numba.njit(inline="always", cache=True)
def _phase_window(prod, c, ntap, base, a0, b0, nbx, i, lead_t, lead_off, xk, xoff,
                  kw):  # pragma: no cover - compiled
    """Tap ``i`` of a phase whose leading taps start at ``a0`` and column taps at ``b0``
    (``nbx`` of them): its row of ``prod`` for channel ``c``, and where its window starts
    (unsigned: the loops reading it then vectorize)."""
    a, b = a0 + i // nbx, b0 + i % nbx
    return (prod[c * ntap + lead_t[a] * kw + xk[b]],
            np.uint64(base + lead_off[a] + xoff[b]))


@numba.njit(inline="always", cache=True)
def _phase_source(prod, tmp, c, ntap, base, R, rx, lead_start, lead_t, lead_off, xstart, xk,
                  xoff, kw):  # pragma: no cover - compiled
    """Where phase ``(R, rx)``'s sums lie: its one tap's row of ``prod`` (and offset), or
    ``tmp[rx]`` (offset 0) where it has several."""
    if (lead_start[R + 1] - lead_start[R]) * (xstart[rx + 1] - xstart[rx]) == 1:
        a, b = lead_start[R], xstart[rx]
        return prod[c * ntap + lead_t[a] * kw + xk[b]], base + lead_off[a] + xoff[b]
    return tmp[rx], 0


@jit
def phase_sums(prod, ntap, base, image, nb, lead_start, lead_t, lead_off, row_start,
               row_out, row_src, xstart, xk, xoff, nqx, kw, y, y0, ystep_n, ystep_c, ow,
               tmp):  # pragma: no cover - compiled
    # The phase algorithm's tap sums and pixel shuffle in one pass (any number of dims):
    #   y[n, c, row_out[j], q*sx + rx] = sum_{a, b} prod[c*ntap + lead_t[a]*kw + xk[b],
    #       base + n*image + row_src[j] + lead_off[a] + xoff[b] + q]
    # over the leading taps a of lead phase R (row_start[R] <= j < row_start[R + 1]: its
    # output rows, flat over the leading dims) and the last dim's taps b of column phase rx.
    # prod's rows are the block's (channel, tap) products on the zero-gapped grid, so a
    # phase's taps are whole shifted windows of nb*image numbers: a phase of several taps
    # is summed contiguously into tmp[rx] (two windows a pass); one of a single tap is read
    # from prod. Then every output row is written once, its column phases interleaved (two
    # at a time when sx == 2). y is flat: y[y0 + n*ystep_n + c*ystep_c + row*ow + col].
    # Phases without taps are skipped (their outputs were zero-filled).
    cb = prod.shape[0] // ntap
    sx = xstart.shape[0] - 1
    length = nb * image
    one, two = np.uint64(1), np.uint64(2)
    for c in range(cb):
        for R in range(lead_start.shape[0] - 1):
            na = lead_start[R + 1] - lead_start[R]
            if na == 0:
                continue
            for rx in range(sx):
                nt = na * (xstart[rx + 1] - xstart[rx])
                if nt < 2:
                    continue
                t = tmp[rx]
                nb_x = xstart[rx + 1] - xstart[rx]
                for i in range(0, nt, 4):
                    # up to four windows a pass: tmp is written once a pass
                    u0, i0 = _phase_window(prod, c, ntap, base, lead_start[R], xstart[rx], nb_x,
                                           i, lead_t, lead_off, xk, xoff, kw)
                    k = min(4, nt - i)
                    if k == 1:
                        for f in range(np.uint64(length)):
                            t[f] += u0[i0 + f]
                        continue
                    u1, i1 = _phase_window(prod, c, ntap, base, lead_start[R], xstart[rx], nb_x,
                                           i + 1, lead_t, lead_off, xk, xoff, kw)
                    if k == 2:
                        if i == 0:
                            for f in range(np.uint64(length)):
                                t[f] = u0[i0 + f] + u1[i1 + f]
                        else:
                            for f in range(np.uint64(length)):
                                t[f] += u0[i0 + f] + u1[i1 + f]
                        continue
                    u2, i2 = _phase_window(prod, c, ntap, base, lead_start[R], xstart[rx], nb_x,
                                           i + 2, lead_t, lead_off, xk, xoff, kw)
                    if k == 3:
                        if i == 0:
                            for f in range(np.uint64(length)):
                                t[f] = u0[i0 + f] + u1[i1 + f] + u2[i2 + f]
                        else:
                            for f in range(np.uint64(length)):
                                t[f] += u0[i0 + f] + u1[i1 + f] + u2[i2 + f]
                        continue
                    u3, i3 = _phase_window(prod, c, ntap, base, lead_start[R], xstart[rx], nb_x,
                                           i + 3, lead_t, lead_off, xk, xoff, kw)
                    if i == 0:
                        for f in range(np.uint64(length)):
                            t[f] = u0[i0 + f] + u1[i1 + f] + u2[i2 + f] + u3[i3 + f]
                    else:
                        for f in range(np.uint64(length)):
                            t[f] += u0[i0 + f] + u1[i1 + f] + u2[i2 + f] + u3[i3 + f]
            if sx == 2 and xstart[1] > 0 and xstart[2] > xstart[1]:
                m = min(nqx[0], nqx[1])
                p0, o0 = _phase_source(prod, tmp, c, ntap, base, R, 0, lead_start, lead_t,
                                       lead_off, xstart, xk, xoff, kw)
                p1, o1 = _phase_source(prod, tmp, c, ntap, base, R, 1, lead_start, lead_t,
                                       lead_off, xstart, xk, xoff, kw)
                for n in range(nb):
                    for j in range(row_start[R], row_start[R + 1]):
                        # unsigned indices, no views: numba adds no wraparound check and
                        # the interleaving loop vectorizes
                        o = np.uint64(y0 + n * ystep_n + c * ystep_c + row_out[j] * ow)
                        s = n * image + row_src[j]
                        i0, i1 = np.uint64(o0 + s), np.uint64(o1 + s)
                        for q in range(np.uint64(m)):
                            y[o + two * q] = p0[i0 + q]
                            y[o + two * q + one] = p1[i1 + q]
                        if nqx[0] > m:
                            y[o + two * np.uint64(m)] = p0[i0 + np.uint64(m)]
                continue
            for rx in range(sx):
                if xstart[rx] == xstart[rx + 1]:
                    continue
                pr, orx = _phase_source(prod, tmp, c, ntap, base, R, rx, lead_start, lead_t,
                                        lead_off, xstart, xk, xoff, kw)
                step = np.uint64(sx)
                for n in range(nb):
                    for j in range(row_start[R], row_start[R + 1]):
                        o = np.uint64(y0 + n * ystep_n + c * ystep_c + row_out[j] * ow + rx)
                        i0 = np.uint64(orx + n * image + row_src[j])
                        for q in range(np.uint64(nqx[rx])):
                            y[o + step * q] = pr[i0 + q]

# ---------------------------------------------------------------------------------------
# Register blocks: a micro-kernel keeps an MR x 16 block of outputs in vector registers over
# a phase's terms. Written in LLVM IR (vectors of 16 floats and ``llvm.fma``): numba's own
# loops left the accumulators in memory. On AVX-512 machines each vector is one zmm
# register; elsewhere LLVM splits the vectors for the machine (correct, slower: the cost
# model keeps these kernels to AVX-512 hosts).

_LANES = 16


def _ukernel_setup(builder, vec, count):  # pragma: no cover - compile time
    """``count`` zeroed vector accumulators (allocas: LLVM keeps them in registers) and the
    ``llvm.fma`` of ``vec``."""
    from llvmlite import ir
    from numba.core import cgutils

    zero = ir.Constant(vec, [0.0] * _LANES)
    accs = [cgutils.alloca_once_value(builder, zero) for _ in range(count)]
    fma = cgutils.get_or_insert_function(builder.module, ir.FunctionType(vec, [vec] * 3),
                                         f"llvm.fma.v{_LANES}f32")
    return accs, fma


def _rank1_update(builder, vec, fma, accs, a, aoff, mr, bvs):  # pragma: no cover - compile
    """One term of a register block: ``accs[i, h] += a[aoff + i] * bvs[h]`` for ``i < mr``
    (each ``a`` number broadcast to a vector)."""
    from llvmlite import ir

    i64 = aoff.type
    undef = ir.Constant(vec, ir.Undefined)
    splat = ir.Constant(ir.VectorType(ir.IntType(32), _LANES), [0] * _LANES)
    first = ir.Constant(ir.IntType(32), 0)
    for i in range(mr):
        s = builder.load(builder.gep(a, [builder.add(aoff, ir.Constant(i64, i))]))
        sv = builder.shuffle_vector(builder.insert_element(undef, s, first), undef, splat)
        for h, bv in enumerate(bvs):
            acc = accs[len(bvs) * i + h]
            builder.store(builder.call(fma, [sv, bv, builder.load(acc)]), acc)




def _block_codegen(builder, a_i, b_i, t_i, c_i, kc_v, ldc_v, segs):  # pragma: no cover
    """A register block of TILE_MR rows x ``len(segs)`` vectors over ``kc`` terms: term
    ``p``'s vector ``h`` is the 16 numbers at ``b + table[p] + segs[h]``; rows of C
    ``ldc`` floats apart, vector ``h`` of a row at ``16*h``."""
    from llvmlite import ir
    from numba.core import cgutils

    f32 = ir.FloatType()
    vec = ir.VectorType(f32, _LANES)
    i64 = kc_v.type
    fp, vp = f32.as_pointer(), vec.as_pointer()
    a = builder.inttoptr(a_i, fp)
    b = builder.inttoptr(b_i, fp)
    tab = builder.inttoptr(t_i, i64.as_pointer())
    c = builder.inttoptr(c_i, fp)
    nv = len(segs)
    accs, fma = _ukernel_setup(builder, vec, TILE_MR * nv)
    with cgutils.for_range(builder, kc_v) as loop:
        p = loop.index
        row = builder.gep(b, [builder.load(builder.gep(tab, [p]))])
        bvs = [builder.load(builder.bitcast(builder.gep(row, [seg]), vp), align=4)
               for seg in segs]
        _rank1_update(builder, vec, fma, accs, a, builder.mul(p, ir.Constant(i64, TILE_MR)),
                      TILE_MR, bvs)
    for i in range(TILE_MR):
        row = builder.gep(c, [builder.mul(ldc_v, ir.Constant(i64, i))])
        for h in range(nv):
            ptr = builder.bitcast(builder.gep(row, [ir.Constant(i64, h * _LANES)]), vp)
            builder.store(builder.load(accs[nv * i + h]), ptr, align=4)


def _tile_ukernel_codegen(context, builder, signature, args):  # pragma: no cover - compile
    from llvmlite import ir

    i64 = args[4].type
    _block_codegen(builder, *args,
                   [ir.Constant(i64, h * _LANES) for h in range(TILE_NR // _LANES)])
    return context.get_dummy_value()




def _seg_ukernel_codegen(context, builder, signature, args):  # pragma: no cover - compile
    from llvmlite import ir

    a_i, b_i, t_i, s_i, c_i, kc_v, ldc_v = args
    i64 = kc_v.type
    sp = builder.inttoptr(s_i, i64.as_pointer())
    segs = [builder.load(builder.gep(sp, [ir.Constant(i64, h)])) for h in range(SEG_VECTORS)]
    _block_codegen(builder, a_i, b_i, t_i, c_i, kc_v, ldc_v, segs)
    return context.get_dummy_value()


@numba.extending.intrinsic
def _seg_ukernel(typingctx, a_addr, b_addr, table_addr, seg_addr, c_addr, kc, ldc):
    """``C[:MR, :16*SEG_VECTORS] = Ap @ B`` over ``kc`` terms, B's vector ``h`` of row ``p``
    the 16 numbers from ``b + table[p] + seg[h]`` (seg: SEG_VECTORS int64); else as
    :func:`_tile_ukernel`."""
    t = numba.types.intp
    return numba.types.void(t, t, t, t, t, t, t), _seg_ukernel_codegen


@numba.njit(inline="always", cache=True)
def _block_bases(Wp, inp, boff):  # pragma: no cover - compiled
    """The register-block kernels' addresses: row blocks of the packed weights ``Wp
    (groups, phases, blocks, K*MR)`` (float32), the first weight, the bytes between blocks,
    between phases and between groups; the first input number and the first term
    offset."""
    nrb = Wp.shape[2]
    rb_step = Wp.shape[3] * 4
    ph_step = nrb * rb_step
    return (nrb, Wp.ctypes.data, rb_step, ph_step, Wp.shape[1] * ph_step, inp.ctypes.data,
            boff.ctypes.data)


def _zip_store_codegen(context, builder, signature, args):  # pragma: no cover - compile
    from llvmlite import ir

    s0_i, s1_i, d_i = args
    vec = ir.VectorType(ir.FloatType(), _LANES)
    vp = vec.as_pointer()
    v0 = builder.load(builder.inttoptr(s0_i, vp), align=4)
    v1 = builder.load(builder.inttoptr(s1_i, vp), align=4)
    d = builder.inttoptr(d_i, vp)
    i32 = ir.IntType(32)
    for half in range(2):
        mask = ir.Constant(ir.VectorType(i32, _LANES),
                           [j // 2 + half * _LANES // 2 + (j % 2) * _LANES
                            for j in range(_LANES)])
        builder.store(builder.shuffle_vector(v0, v1, mask),
                      builder.gep(d, [ir.Constant(i32, half)]), align=4)
    return context.get_dummy_value()


@numba.extending.intrinsic
def _zip_store(typingctx, s0_addr, s1_addr, d_addr):
    """``d[2j] = s0[j], d[2j + 1] = s1[j]`` for ``j < 16`` (float32; addresses as integers):
    two shuffles and two stores."""
    t = numba.types.intp
    return numba.types.void(t, t, t), _zip_store_codegen


def _copy16_codegen(context, builder, signature, args):  # pragma: no cover - compile
    from llvmlite import ir

    vp = ir.VectorType(ir.FloatType(), _LANES).as_pointer()
    builder.store(builder.load(builder.inttoptr(args[0], vp), align=4),
                  builder.inttoptr(args[1], vp), align=4)
    return context.get_dummy_value()


@numba.extending.intrinsic
def _copy16(typingctx, s_addr, d_addr):
    """``d[:16] = s[:16]`` (float32; addresses as integers): one vector load and store."""
    t = numba.types.intp
    return numba.types.void(t, t), _copy16_codegen


@jit
def igemm_segs(Wp, inp, gin, boff, kstart, gph, gF, gstart, gcount, gdst, rofs, O, out,
               colstride, chanstride, g0, g1, buf):  # pragma: no cover - compiled
    # igemm's product (float32) over row segments: no gap columns computed. Conv group cg
    # reads the packed weights Wp[cg] and the input planes from inp[cg*gin], and stores
    # output rows cg*O ...
    # Group gi is SEG_VECTORS segments of 16 grid columns (from gstart[gi, h]) of the
    # family of phases gph[gi] .. gph[gi] + gF[gi] - 1 (the phases that differ only in
    # their last-dim offset: their outputs interleave along a row). Per block of TILE_MR
    # rows, every phase of the family is computed into buf[f] (8 x 48), then segment h's
    # gcount[gi, f, h] numbers of phase f go to out[gdst[gi, h] + rofs[ph] + j*colstride
    # + row*chanstride]. A stride-2 pair of full segments is stored interleaved: 32
    # contiguous numbers a row (scalar strided stores would dominate the call).
    nrb, a0, rb_step, ph_step, cg_step, b0, t0 = _block_bases(Wp, inp, boff)
    ldc = buf.shape[2]
    cs = np.uint64(colstride)
    L = 16
    c0 = buf[0].ctypes.data
    c1 = buf[min(1, buf.shape[0] - 1)].ctypes.data
    o0 = np.uint64(out.ctypes.data)
    for cg in range(Wp.shape[0]):              # a group's weights stay in cache
        for gi in range(g0, g1):
            ph0 = gph[gi]
            F = gF[gi]
            sp = gstart[gi].ctypes.data
            for rb in range(nrb):
                for f in range(F):
                    ph = ph0 + f
                    k0, k1 = kstart[ph], kstart[ph + 1]
                    _seg_ukernel(a0 + cg * cg_step + ph * ph_step + rb * rb_step,
                                 b0 + cg * gin * 4, t0 + k0 * 8, sp, buf[f].ctypes.data, k1 - k0,
                                 ldc)
                for r in range(min(TILE_MR, O - rb * TILE_MR)):
                    for h in range(SEG_VECTORS):
                        d = np.uint64(gdst[gi, h] + (cg * O + rb * TILE_MR + r) * chanstride)
                        if (F == 2 and colstride == 2 and gcount[gi, 0, h] == L
                                and gcount[gi, 1, h] == L):
                            _zip_store(c0 + (r * ldc + h * L) * 4, c1 + (r * ldc + h * L) * 4,
                                       o0 + d * np.uint64(4))
                        elif F == 1 and colstride == 1 and gcount[gi, 0, h] == L:
                            _copy16(c0 + (r * ldc + h * L) * 4, o0 + d * np.uint64(4))
                        else:
                            for f in range(F):
                                e = d + np.uint64(rofs[ph0 + f])
                                for j in range(gcount[gi, f, h]):
                                    out[e + np.uint64(j) * cs] = buf[f, r, h * L + j]


@numba.extending.intrinsic
def _tile_ukernel(typingctx, a_addr, b_addr, table_addr, c_addr, kc, ldc):
    """``C[:MR, :NR] = Ap @ B`` over ``kc`` terms, ``B``'s rows read in place: row ``p`` is
    the ``NR`` numbers from ``b + table[p]`` (an implicit im2col). ``Ap`` packed
    ``[p][MR]``; rows of ``C`` ``ldc`` floats apart; addresses as integers."""
    t = numba.types.intp
    return numba.types.void(t, t, t, t, t, t), _tile_ukernel_codegen


@jit
def igemm_tiles(Wp, inp, gin, boff, kstart, lengths, O, out, rowbase, pitch, valid,
                colstride, chanstride, f0, f1, buf):  # pragma: no cover - compiled
    # igemm's product (float32) in register blocks: for each conv group cg, chunk of grid
    # columns (buf's width, a multiple of TILE_NR) and phase ph, C (O x chunk) =
    # Wp[cg, ph] @ B with B[k, j] = inp[cg*gin + boff[k] + c0 + j] (kstart[ph] <= k <
    # kstart[ph + 1]), TILE_MR rows by TILE_NR columns at a time into buf, then each row
    # stored once as igemm stores, as output row cg*O + row (_store: a call a row and chunk
    # -- per 32-column tile the stores cost more than the multiply-adds). Wp (groups,
    # phases, row blocks, K*MR): the weights packed [k][MR], zero rows past O. inp must
    # hold TILE_NR - 1 numbers after the last column any phase reads (a partial last tile
    # reads them and drops them).
    nrb, a0, rb_step, ph_step, cg_step, b0, t0 = _block_bases(Wp, inp, boff)
    chunk = buf.shape[1]
    c = buf.ctypes.data
    for cg in range(Wp.shape[0]):              # a group's weights stay in cache
        for c0 in range(f0, f1, chunk):
            for ph in range(lengths.shape[0]):
                n = min(chunk, f1 - c0, lengths[ph] - c0)
                if n <= 0:
                    continue
                k0, k1 = kstart[ph], kstart[ph + 1]
                for rb in range(nrb):
                    for j in range(0, n, TILE_NR):
                        _tile_ukernel(a0 + cg * cg_step + ph * ph_step + rb * rb_step,
                                      b0 + (cg * gin + c0 + j) * 4, t0 + k0 * 8, c + j * 4,
                                      k1 - k0, chunk)
                    for r in range(min(TILE_MR, O - rb * TILE_MR)):
                        _store(out, buf[r], ph, cg * O + rb * TILE_MR + r, c0, n, rowbase,
                               pitch, valid, colstride, chanstride)


@jit
def dw_forward(x, w, y, tap0, off0, tap1, off1, r2, off2, cnt2, C, p0, p1,
               buf):  # pragma: no cover - compiled
    # Depthwise conv_transpose of planes p0 <= P < p1 (channel P % C), three spatial dims
    # (unit dims in front for 1-D and 2-D): x (P, I0, I1, I2), w (C, K0, K1, K2), y (P, O0,
    # O1, O2). Output row (o0, o1) = (q0*s0 + ph0, q1*s1 + ph1) sums the taps of its phases
    # (tap0[ph0, j] >= 0, reading input row q0 + off0[ph0, j]; likewise dim 1); along the
    # last dim tap t2 adds w * x[q + off2[t2]] to output q*s2 + r2[t2] for q < cnt2[r2[t2]],
    # accumulated phase-major in buf (s2 rows of M2) -- contiguous, vectorized -- and then
    # interleaved into y (_weave): y[.., q*s2 + r] = buf[r*M2 + q]. At last-dim stride 1
    # the row of y is the buffer.
    I0, I1, I2 = x.shape[1], x.shape[2], x.shape[3]
    O0, O1, O2 = y.shape[1], y.shape[2], y.shape[3]
    s0, J0 = tap0.shape
    s1, J1 = tap1.shape
    K2 = r2.shape[0]
    S2 = cnt2.shape[0]
    M2 = buf.shape[0] // S2
    full = O2 // S2
    # each last-dim tap's run: outputs lo <= q < hi of its phase, at base + q in buf
    los = np.empty(K2, dtype=np.int64)
    his = np.empty(K2, dtype=np.int64)
    bases = np.empty(K2, dtype=np.int64)
    for t2 in range(K2):
        los[t2] = max(0, -off2[t2])
        his[t2] = min(cnt2[r2[t2]], I2 - off2[t2])
        bases[t2] = r2[t2] * M2
    # one phase along the last dim (stride 1): buf's order is y's, so the row of y itself
    # accumulates (no interleaving pass)
    direct_rows = cnt2.shape[0] == 1 and M2 == O2
    for P in range(p0, p1):
        c = P % C
        for o0 in range(O0):
            q0, ph0 = o0 // s0, o0 % s0
            for o1 in range(O1):
                q1, ph1 = o1 // s1, o1 % s1
                acc = y[P, o0, o1] if direct_rows else buf
                acc[:] = 0
                for j0 in range(J0):
                    t0 = tap0[ph0, j0]
                    i0 = q0 + off0[ph0, j0]
                    if t0 < 0 or i0 < 0 or i0 >= I0:
                        continue
                    for j1 in range(J1):
                        t1 = tap1[ph1, j1]
                        i1 = q1 + off1[ph1, j1]
                        if t1 < 0 or i1 < 0 or i1 >= I1:
                            continue
                        xr = x[P, i0, i1]
                        wr = w[c, t0, t1]
                        for t2 in range(K2):
                            lo, hi = los[t2], his[t2]
                            if hi - lo >= 8:
                                # a long run: views from 0, vectorized
                                a = acc[bases[t2] + lo:bases[t2] + hi]
                                b = xr[lo + off2[t2]:hi + off2[t2]]
                                wv = wr[t2]
                                for m in range(hi - lo):
                                    a[m] += wv * b[m]
                            else:
                                # a short one (large stride, small image): no views
                                for m in range(lo, hi):
                                    acc[bases[t2] + m] += wr[t2] * xr[m + off2[t2]]
                if not direct_rows:
                    _weave(y[P, o0, o1], buf, S2, M2, full)


@jit
def dw_backward(x, gy, w, gx, gw, tap0, off0, tap1, off1, r2, off2, cnt2, C, n0, n1,
                c0, c1, gph, zero):  # pragma: no cover - compiled
    # Both gradients of dw_forward for images n0 <= n < n1 and channels c0 <= c < c1 (x,
    # gy, gx as its x and y, planes n*C + c): gx (zeroed) gets
    #   gx[P, i0, i1, i2] += w[c, t] * gy[P, (i0 - off0)*s0 + ph0, .., (i2 - off2)*s2 + r2]
    # and gw (C, K0*K1*K2) the sums over i of x[P, i] times the same samples of gy. Each
    # plane of gy is first copied phase-major along its last dim into gph (O0, O1, s2*M2),
    # so both sums read contiguous runs; one pass computes both.
    I0, I1, I2 = x.shape[1], x.shape[2], x.shape[3]
    O0, O1, O2 = gy.shape[1], gy.shape[2], gy.shape[3]
    s0, J0 = tap0.shape
    s1, J1 = tap1.shape
    K1, K2 = w.shape[2], w.shape[3]
    S2 = cnt2.shape[0]
    M2 = gph.shape[2] // S2
    full = O2 // S2
    for n in range(n0, n1):
        for c in range(c0, c1):
            P = n * C + c
            for o0 in range(O0):
                for o1 in range(O1):
                    _unweave(gph[o0, o1], gy[P, o0, o1], S2, M2, full)
            for i0 in range(I0):
                for i1 in range(I1):
                    xr = x[P, i0, i1]
                    gxr = gx[P, i0, i1]
                    for ph0 in range(s0):
                        for j0 in range(J0):
                            t0 = tap0[ph0, j0]
                            q0 = i0 - off0[ph0, j0]
                            if t0 < 0 or q0 < 0 or q0 * s0 + ph0 >= O0:
                                continue
                            for ph1 in range(s1):
                                for j1 in range(J1):
                                    t1 = tap1[ph1, j1]
                                    q1 = i1 - off1[ph1, j1]
                                    if t1 < 0 or q1 < 0 or q1 * s1 + ph1 >= O1:
                                        continue
                                    gr = gph[q0 * s0 + ph0, q1 * s1 + ph1]
                                    wr = w[c, t0, t1]
                                    row = (t0 * K1 + t1) * K2
                                    for t2 in range(K2):
                                        o = off2[t2]
                                        lo = max(0, o)
                                        hi = min(I2, cnt2[r2[t2]] + o)
                                        if hi <= lo:
                                            continue
                                        wv = wr[t2]
                                        base = r2[t2] * M2 - o
                                        a = gxr[lo:hi]
                                        b = xr[lo:hi]
                                        g = gr[base + lo:base + hi]
                                        acc = zero
                                        for m in range(hi - lo):
                                            a[m] += wv * g[m]
                                            acc += b[m] * g[m]
                                        gw[c, row + t2] += acc



@numba.njit(nogil=True, cache=True)
def scatter_add(idx, values, acc, out):  # pragma: no cover - compiled
    """``out[j]``: the sum of the ``values[i]`` with ``idx[i] == j``, in float64 in the order
    of ``i`` and rounded once -- ``np.bincount(idx, values)``'s numbers, without its
    float64 copy of ``values`` and its pass for the largest index. ``acc``: float64 scratch
    of ``out.size + 1`` numbers (index ``out.size`` collects what is dropped). No fastmath:
    the sums keep bincount's order."""
    acc[:] = 0.0
    for i in range(idx.shape[0]):
        acc[idx[i]] += values[i]
    for j in range(out.shape[0]):
        out[j] = acc[j]


@jit
def dw_scatter(x, w, y, stride, dil, lo, C, p0, p1):  # pragma: no cover - compiled
    # dw_forward one-to-many, for kernels longer along the last dim than a phase's runs:
    # every input adds its weighted kernel to the outputs it reaches,
    #   y[P, i*s - lo + t*d] += x[P, i] * w[c, t]      (per dim; outside [0, O): dropped)
    # the last dim's kernel a contiguous stretch (a vector of K2 outputs at dilation 1).
    # Each plane of y is zeroed and summed while it stays in cache.
    I0, I1, I2 = x.shape[1], x.shape[2], x.shape[3]
    O0, O1, O2 = y.shape[1], y.shape[2], y.shape[3]
    K0, K1, K2 = w.shape[1], w.shape[2], w.shape[3]
    s0, s1, s2 = stride[0], stride[1], stride[2]
    d0, d1, d2 = dil[0], dil[1], dil[2]
    # per input column: where its kernel starts in the row and its taps inside [0, O2)
    starts = np.empty(I2, dtype=np.int64)
    tlos = np.empty(I2, dtype=np.int64)
    this = np.empty(I2, dtype=np.int64)
    for i2 in range(I2):
        base = i2 * s2 - lo[2]
        starts[i2] = base
        tlos[i2] = max(0, (-base + d2 - 1) // d2)
        this[i2] = min(K2, (O2 - 1 - base) // d2 + 1) if base < O2 else 0
    for P in range(p0, p1):
        c = P % C
        yp = y[P]
        yp[:] = 0
        for i0 in range(I0):
            for t0 in range(K0):
                o0 = i0 * s0 - lo[0] + t0 * d0
                if o0 < 0 or o0 >= O0:
                    continue
                for i1 in range(I1):
                    for t1 in range(K1):
                        o1 = i1 * s1 - lo[1] + t1 * d1
                        if o1 < 0 or o1 >= O1:
                            continue
                        yr = yp[o0, o1]
                        wr = w[c, t0, t1]
                        xr = x[P, i0, i1]
                        for i2 in range(I2):
                            tlo, thi = tlos[i2], this[i2]
                            xv = xr[i2]
                            base = starts[i2]
                            if d2 == 1:
                                # views from 0: numba drops the wraparound, vectorizes
                                dst = yr[base + tlo:base + thi]
                                src = wr[tlo:thi]
                                for t in range(thi - tlo):
                                    dst[t] += xv * src[t]
                            else:
                                for t in range(tlo, thi):
                                    yr[base + t * d2] += xv * wr[t]


@jit
def dw_last(xl, wl, zstart, zk, zoff, ystart, yk, yoff, xstart, xk, xsh, sz, sy, sx, y, r0,
            r1, tile, pairs):  # pragma: no cover - compiled
    # Depthwise conv_transpose with the channels innermost, for planes too small for
    # dw_forward's row runs: xl (N, D, H, W, C) the input channels-last, wl (KD, KH, KW, C),
    # y (N, C, OD, OH, OW); tables as gemm._phase_taps (output m*s + r of a dim sums the
    # taps of phase r, tap k reading input m + off). Output rows r0 <= row < r1 (row =
    # (n*OD + oz)*OH + oy): the row's (depth, row) taps inside the input are listed once
    # in pairs (KD*KH x 2: input row and kernel row offsets); each pixel's C sums collect
    # in tile (OW x C) -- one vector multiply-add of C numbers a tap --, then go out
    # channel by channel, each channel's row one contiguous run of y. Flat unsigned
    # indices: the loops vectorize.
    D, H, W, C = xl.shape[1], xl.shape[2], xl.shape[3], xl.shape[4]
    KH, KW = wl.shape[1], wl.shape[2]
    OD, OH, OW = y.shape[2], y.shape[3], y.shape[4]
    xf, wf, tf, yf = xl.reshape(-1), wl.reshape(-1), tile.reshape(-1), y.reshape(-1)
    cc = np.uint64(C)
    plane = np.uint64(OD * OH * OW)
    for row in range(r0, r1):
        n = row // (OD * OH)
        oz = (row // OH) % OD
        oy = row % OH
        mz = oz // sz
        rz = oz - mz * sz
        my = oy // sy
        ry = oy - my * sy
        npair = 0
        for a in range(zstart[rz], zstart[rz + 1]):
            iz = mz + zoff[a]
            if iz < 0 or iz >= D:
                continue
            for b in range(ystart[ry], ystart[ry + 1]):
                iy = my + yoff[b]
                if iy < 0 or iy >= H:
                    continue
                pairs[npair, 0] = ((n * D + iz) * H + iy) * W * C
                pairs[npair, 1] = (zk[a] * KH + yk[b]) * KW * C
                npair += 1
        for ox in range(OW):
            q = ox // sx
            rx = ox - q * sx
            t0 = np.uint64(ox * C)
            first = True
            for j in range(npair):
                for e in range(xstart[rx], xstart[rx + 1]):
                    ix = q + xsh[e]
                    if ix < 0 or ix >= W:
                        continue
                    x0 = np.uint64(pairs[j, 0] + ix * C)
                    w0 = np.uint64(pairs[j, 1] + xk[e] * C)
                    if first:
                        for c in range(cc):
                            tf[t0 + c] = xf[x0 + c] * wf[w0 + c]
                        first = False
                    else:
                        for c in range(cc):
                            tf[t0 + c] += xf[x0 + c] * wf[w0 + c]
            if first:
                for c in range(cc):
                    tf[t0 + c] = 0
        _tile_out(yf, tf, np.uint64(n * C) * plane + np.uint64((oz * OH + oy) * OW), plane,
                  OW, cc)
