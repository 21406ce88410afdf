/* npy.h - reading and writing float32 NumPy .npy files (little-endian '<f4',
 * C order), for the CLI's `forward` command and the tests. Errors return an
 * AN_ERR_* status with the detail in npy_last_error(). */
#ifndef AN_NPY_H
#define AN_NPY_H

/* Reads a version 1.0, 2.0 or 3.0 .npy file of dtype '<f4' in C order. On
 * success *data is a new array (the caller frees it with free()), dims[0..ndim)
 * holds the shape and *ndim its rank (0 for a scalar). A shape of more than
 * max_dims dimensions, another dtype, Fortran order, a malformed header or a
 * data length other than prod(shape) * 4 gives AN_ERR_BAD_FILE; open and read
 * failures give AN_ERR_IO. On failure *data is NULL and *ndim is 0. */
int npy_read_f32(const char *path, float **data, int *dims, int *ndim, int max_dims);

/* Writes data of shape dims[0..ndim) as a version 1.0 .npy file whose data
 * starts at a multiple of 64 bytes. A failed write removes the partial file. */
int npy_write_f32(const char *path, const float *data, const int *dims, int ndim);

/* The detail of the last failing npy_* call on this thread; "" when none. */
const char *npy_last_error(void);

#endif /* AN_NPY_H */
