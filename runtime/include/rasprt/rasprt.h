/*===- rasprt.h - the raspc runtime, C ABI ------------------------*- C -*-===*\
|*                                                                            *|
|* What a compiled model links against, and nothing else: tensor              *|
|* descriptors, error reporting, tensor files, threads and the CUDA runtime   *|
|* (driver opened at run time). No LLVM, MLIR or CUDA needed to build it.     *|
|*                                                                            *|
|* Conventions: functions return a rasprt_status; on failure the calling      *|
|* thread's rasprt_last_error() holds a message naming what was wrong, and    *|
|* output arguments are left untouched (an output file is not created).      *|
|*                                                                            *|
\*===----------------------------------------------------------------------===*/

#ifndef RASPRT_RASPRT_H
#define RASPRT_RASPRT_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(__GNUC__)
#define RASPRT_API __attribute__((visibility("default")))
#else
#define RASPRT_API
#endif

/// The largest rank a tensor descriptor holds.
#define RASPRT_MAX_RANK 8

/// Byte alignment of every buffer the runtime allocates (one cache line, so
/// 512-bit loads never split lines).
#define RASPRT_ALIGNMENT 64

typedef enum rasprt_status {
  RASPRT_OK = 0,
  RASPRT_ERROR_INVALID_ARGUMENT = 1, /* a null pointer, a bad rank or dtype */
  RASPRT_ERROR_OUT_OF_MEMORY = 2,
  RASPRT_ERROR_IO = 3,     /* a file could not be opened, read or written */
  RASPRT_ERROR_FORMAT = 4, /* a file's contents are malformed or truncated */
  RASPRT_ERROR_UNSUPPORTED = 5, /* well formed, but not something we handle */
} rasprt_status;

typedef enum rasprt_dtype {
  RASPRT_F32 = 0,
  RASPRT_F16 = 1,
  RASPRT_BF16 = 2,
  RASPRT_I32 = 3,
  RASPRT_I64 = 4,
  RASPRT_BOOL = 5, /* one byte per element, 0 or 1 */
} rasprt_dtype;

/// A strided view of a tensor. Strides count elements, not bytes.
typedef struct rasprt_tensor {
  void *data;
  rasprt_dtype dtype;
  int32_t rank;
  int64_t shape[RASPRT_MAX_RANK];
  int64_t strides[RASPRT_MAX_RANK];
  /* Nonzero when `data` was allocated by the runtime and is released by
     rasprt_tensor_free. */
  int32_t owns_data;
} rasprt_tensor;

/// The message of the last failure on this thread ("" when none).
RASPRT_API const char *rasprt_last_error(void);
/// The name of a status code, e.g. "format error".
RASPRT_API const char *rasprt_status_name(rasprt_status status);

/// Bytes per element, or 0 for an unknown dtype.
RASPRT_API size_t rasprt_dtype_size(rasprt_dtype dtype);
/// The dtype's name as the language spells it: "f32", "bf16", "i32", ...
RASPRT_API const char *rasprt_dtype_name(rasprt_dtype dtype);

/// Number of elements (1 for rank 0).
RASPRT_API int64_t rasprt_tensor_numel(const rasprt_tensor *tensor);
/// Whether the strides are the row-major strides of the shape.
RASPRT_API int rasprt_tensor_is_contiguous(const rasprt_tensor *tensor);

/// Describes caller-owned `data` as a row-major tensor (no allocation; the
/// tensor does not own the data).
RASPRT_API rasprt_status rasprt_tensor_view(rasprt_tensor *out, void *data,
                                            rasprt_dtype dtype, int32_t rank,
                                            const int64_t *shape);
/// Allocates a zero-filled, row-major, RASPRT_ALIGNMENT-aligned tensor.
RASPRT_API rasprt_status rasprt_tensor_alloc(rasprt_tensor *out,
                                             rasprt_dtype dtype, int32_t rank,
                                             const int64_t *shape);
/// Releases what rasprt_tensor_alloc or rasprt_npy_read allocated; clears the
/// descriptor. Safe on a descriptor that does not own its data.
RASPRT_API void rasprt_tensor_free(rasprt_tensor *tensor);

/// The allocator compiled code uses for its buffers (at least 64-byte
/// aligned). Blocks of 64 KiB or more are kept when freed, up to
/// RASPRT_CACHE_BYTES (default 1 GiB), and reused by later calls. A buffer
/// from here may be released with rasprt_buffer_free (and cached) or with
/// free().
RASPRT_API void *rasprt_buffer_alloc(size_t alignment, size_t size);
RASPRT_API void rasprt_buffer_free(void *buffer);
/// How many bytes of freed blocks the allocator keeps for reuse now.
RASPRT_API size_t rasprt_buffer_cached_bytes(void);

/// CUDA (programs compiled with --target=cuda). The driver library
/// (libcuda.so.1, or the file RASPRT_CUDA_DRIVER names) is opened on first
/// use; device RASPRT_CUDA_DEVICE (default 0) is used. Nothing here needs
/// CUDA to build or link.
///
/// Loads the driver: RASPRT_OK, or RASPRT_ERROR_UNSUPPORTED with the reason
/// in rasprt_last_error(). Every CUDA entry point makes the device's
/// primary context current while it runs and the caller's again after, so
/// a host may use contexts of its own on any thread.
RASPRT_API rasprt_status rasprt_cuda_init(void);
/// Compiled GPU code reports no status per call: the first CUDA failure
/// (driver missing, a failed launch or allocation) is kept for the calling
/// thread -- a call runs on one thread, so threads calling programs at once
/// do not see each other's failures -- later GPU work on that thread is
/// skipped, and this returns it (RASPRT_ERROR_UNSUPPORTED, message in
/// rasprt_last_error()) and clears it. Kernels that fail to load (when the
/// program is loaded) are every thread's failure until one takes it. Call
/// it after each call into a CUDA program, on the same thread.
RASPRT_API rasprt_status rasprt_cuda_check(void);
/// Device memory for the inputs of CUDA programs (their kernels cannot
/// reach host memory). Release it with rasprt_buffer_free, as the results
/// of CUDA programs, which are device memory too (never with free()). Host
/// memory when CUDA failed; rasprt_cuda_check then says why.
RASPRT_API void *rasprt_cuda_alloc(size_t size);
/// Copies `size` bytes between any two of host and device memory (CUDA's
/// unified addressing tells which is which); returns when done.
RASPRT_API rasprt_status rasprt_cuda_copy(void *dst, const void *src, size_t size);

/// Reads a NumPy .npy file (format 1.0-3.0, little-endian, C order) of
/// float32, float16, int32, int64 or bool into a newly allocated tensor;
/// two-byte voids ('<V2', how NumPy saves ml_dtypes' bfloat16) are bf16.
RASPRT_API rasprt_status rasprt_npy_read(const char *path, rasprt_tensor *out);
/// Writes a tensor (any strides) as a C-order .npy file; bf16 as two-byte
/// voids ('<V2'), which NumPy users view as ml_dtypes.bfloat16. Writes to
/// a temporary file first, so a failure never leaves a partial file at
/// `path`.
RASPRT_API rasprt_status rasprt_npy_write(const char *path,
                                          const rasprt_tensor *tensor);

/// Calling compiled entry points (docs/abi.md): their C interface takes
/// strided descriptors {allocated, aligned, offset, sizes[rank],
/// strides[rank]}, all 64-bit. This writes the descriptor of `tensor` into
/// `descriptor` (3 + 2 * rank int64 words).
RASPRT_API void rasprt_descriptor_from_tensor(const rasprt_tensor *tensor,
                                              int64_t *descriptor);
/// Wraps a result descriptor as a tensor of `dtype` and `rank`. The tensor
/// owns the result's buffer (rasprt_tensor_free releases it) when the
/// buffer starts where the data does, as compiled code allocates results;
/// otherwise `owns_data` is 0 and the caller frees descriptor[0].
RASPRT_API void rasprt_tensor_from_descriptor(const int64_t *descriptor,
                                              rasprt_dtype dtype, int32_t rank,
                                              rasprt_tensor *out);

/// The body of a parallel loop: handles iterations [begin, end).
typedef void (*rasprt_parallel_body)(int64_t begin, int64_t end, void *context);

/// Runs `body` over [0, count) in chunks of at least `grain` iterations on
/// the runtime's thread pool (the calling thread works too) and returns when
/// every chunk is done. Calls from inside a body run serially, so nested
/// parallel loops are safe. Compiled parallel loops call this.
RASPRT_API void rasprt_parallel_for(int64_t count, int64_t grain,
                                    rasprt_parallel_body body, void *context);
/// Calls `function(argument)`, a call of compiled code (the JIT and the
/// AOT runner call entry points through it). Where compiled code cannot go
/// on (a buffer it needs cannot be allocated), the call ends early instead
/// of crashing: the buffers it had allocated are freed, and this returns
/// RASPRT_ERROR_OUT_OF_MEMORY with rasprt_last_error() naming the size.
/// Compiled code called without it prints that error and exits with
/// status 1.
RASPRT_API rasprt_status rasprt_guarded_call(void (*function)(void *), void *argument);

/// The number of threads parallel loops use: RASPRT_NUM_THREADS if set,
/// else the hardware's.
RASPRT_API int32_t rasprt_num_threads(void);
/// Sets the number of threads (at least 1) for later parallel loops.
RASPRT_API void rasprt_set_num_threads(int32_t count);

/// An open .safetensors file: its header is parsed, tensors are read on
/// demand.
typedef struct rasprt_safetensors rasprt_safetensors;

/// Opens and validates a .safetensors file (an 8-byte little-endian header
/// length, a JSON header, the data).
RASPRT_API rasprt_status rasprt_safetensors_open(const char *path,
                                                 rasprt_safetensors **out);
RASPRT_API void rasprt_safetensors_close(rasprt_safetensors *file);
/// The number of tensors in the file, and the name of tensor `i` (in the
/// file's order).
RASPRT_API int64_t rasprt_safetensors_count(const rasprt_safetensors *file);
RASPRT_API const char *rasprt_safetensors_name(const rasprt_safetensors *file,
                                               int64_t i);
/// Loads tensor `name` into a newly allocated tensor, checking that it has
/// `dtype` and `rank` dimensions equal to `shape` (a negative entry accepts
/// any size). Messages name the file, the tensor and what differs.
RASPRT_API rasprt_status rasprt_safetensors_load(rasprt_safetensors *file,
                                                 const char *name,
                                                 rasprt_dtype dtype,
                                                 int32_t rank,
                                                 const int64_t *shape,
                                                 rasprt_tensor *out);

/// Weights packed once (docs/abi.md, "Weights packed once"): a model's
/// GEMMs copy each block of their weight matrix into a panel laid out for
/// the micro-kernel, at every call. Tensors added to a panel cache that is
/// in use on the calling thread are packed the first time a GEMM reads them
/// and read from there by every later call. The cache does not copy the
/// tensors: they must stay alive and unchanged while it is in use (after a
/// change, use a new cache). One cache may serve several programs and
/// threads at once.
typedef struct rasprt_panel_cache rasprt_panel_cache;

RASPRT_API rasprt_panel_cache *rasprt_panel_cache_create(void);
/// Frees the cache and its panels; it must not be in use on any thread.
RASPRT_API void rasprt_panel_cache_free(rasprt_panel_cache *cache);
/// Adds a contiguous tensor (f32, f16 or bf16; others are not read by GEMMs
/// and are ignored) whose panels the cache may keep.
RASPRT_API rasprt_status rasprt_panel_cache_add(rasprt_panel_cache *cache,
                                                const rasprt_tensor *tensor);
/// Makes `cache` (or null: none) the one compiled code called on this
/// thread reads panels from; returns the previous one, to restore after the
/// call.
RASPRT_API rasprt_panel_cache *rasprt_panel_cache_use(rasprt_panel_cache *cache);
/// Bytes of panels the cache holds so far.
RASPRT_API size_t rasprt_panel_cache_bytes(const rasprt_panel_cache *cache);

/// Called by compiled GEMMs (convert-matmul-to-tiled-loops), once per call
/// and matrix: the panels of the matrix at `aligned` + `offset` elements
/// ([rows, cols], rows `row_stride` apart, `dtype` F32, F16 or BF16; B =
/// the matrix or, with `transposed`, its transpose, [K, N]), packed as
/// blocks of `block_cols` columns of B, each [K, width] (the last may be
/// narrower), one after the other, in f32. `*result` is a 1-D memref
/// descriptor {allocated, aligned, offset, size, stride}: allocated is
/// null, so that the compiled code's deallocation of call results frees
/// nothing; size 0 when the calling thread uses no cache or the matrix is
/// not in it.
RASPRT_API void _mlir_ciface_rasprt_gemm_panels(int64_t *result, int64_t aligned,
                                                int64_t offset, int64_t rows, int64_t cols,
                                                int64_t row_stride, int32_t dtype,
                                                int32_t transposed, int64_t block_cols);

#ifdef __cplusplus
} /* extern "C" */
#endif

#endif /* RASPRT_RASPRT_H */
