// CUDA elementwise helpers (bias, scaling, the fused bias/activation epilogues of Dense and
// Conv2D) and dropout through the shared counter-based mask.
#include "kernels/activation.h"
#include "kernels/cuda_check.h"
#include "kernels/cuda_launch.cuh"
#include "kernels/cuda_reduce.cuh"
#include "kernels/dropout.h"
#include "kernels/elementwise.h"
#include "kernels/reorder.h"

namespace dpt::kernels {

__global__ void bias_add_kernel(float* y, const float* bias, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  DPT_GRID_STRIDE(i, n) y[i] += bias[i % cols];
}

struct LoadRows {
  const float* x;
  int64_t cols;
  __device__ void operator()(int64_t r, int64_t c, double* v) const { v[0] = x[r * cols + c]; }
};
struct AddToFloats {
  float* out;
  __device__ void operator()(int, int64_t c, double s) const { out[c] += float(s); }
};

// The activation's gradient, written back to dy as it is summed: each (r, c) is loaded once.
struct LoadActivationGrad {
  Activation a;
  const float* y;
  float* dy;
  int64_t cols;
  __device__ void operator()(int64_t r, int64_t c, double* v) const {
    const int64_t i = r * cols + c;
    const float g = activation_bwd(a, y[i], dy[i]);
    dy[i] = g;
    v[0] = g;
  }
};

__global__ void bias_activation_kernel(Activation a, float* y, const float* bias, int64_t rows, int64_t cols) {
  const int64_t n = rows * cols;
  DPT_GRID_STRIDE(i, n) y[i] = activation_fwd(a, bias ? y[i] + bias[i % cols] : y[i]);
}

__global__ void scale_kernel(float* x, int64_t n, float s) {
  DPT_GRID_STRIDE(i, n) x[i] *= s;
}

__global__ void dropout_kernel(const float* x, float* y, int64_t rows, int64_t cols, float rate, float scale,
                               DropoutKey key, bool shared, BroadcastMap noise) {
  const int64_t n = rows * cols;
  DPT_GRID_STRIDE(i, n) {
    const int64_t r = i / cols, c = i % cols;
    const uint32_t k = row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + r));
    y[i] = dropout_value(x[i], uniform_in_row(k, uint32_t(shared ? noise.source(c) : c)), rate, scale);
  }
}

__global__ void alpha_dropout_kernel(const float* x, float* y, int64_t rows, int64_t cols, float rate,
                                     AlphaDropoutForm f, DropoutKey key, bool shared, BroadcastMap noise, bool grad) {
  const int64_t n = rows * cols;
  DPT_GRID_STRIDE(i, n) {
    const int64_t r = i / cols, c = i % cols;
    const uint32_t k = row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + r));
    y[i] = alpha_dropout_value(x[i], uniform_in_row(k, uint32_t(shared ? noise.source(c) : c)), rate, f, grad);
  }
}

__global__ void gaussian_noise_kernel(const float* x, float* y, int64_t rows, int64_t cols, float stddev, bool multiply,
                                      DropoutKey key) {
  const int64_t n = rows * cols;
  DPT_GRID_STRIDE(i, n) {
    const int64_t r = i / cols, c = i % cols;
    const uint32_t k = row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + r));
    y[i] = gaussian_noise_value(x[i], normal_in_row(k, uint32_t(c)), stddev, multiply);
  }
}

__global__ void random_flip_kernel(Flip2d g, DropoutKey key, const float* __restrict__ x, float* __restrict__ y) {
  const int64_t n = g.n * g.h * g.w * g.c;
  DPT_GRID_STRIDE(e, n) {
    const int64_t k = e % g.c, p = e / g.c, j = p % g.w, q = p / g.w, i = q % g.h, s = q / g.h;
    const bool flip = flip_drawn(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + s));
    y[e] = x[s * g.h * g.w * g.c + flip_source(g, flip, i, j) + k];
  }
}

__global__ void dropout_mask_kernel(float* mask, int64_t rows, int64_t cols, float rate, float scale, DropoutKey key) {
  const int64_t n = rows * cols;
  DPT_GRID_STRIDE(i, n) {
    const int64_t r = i / cols, c = i % cols;
    const uint32_t k = row_key(key.seed, uint64_t(key.epoch), uint64_t(key.step), uint64_t(key.row_offset + r));
    mask[i] = dropout_value(1.f, uniform_in_row(k, uint32_t(c)), rate, scale);
  }
}

__global__ void apply_masks_kernel(int64_t count, const float* in, const float* masks, int64_t period, int copies,
                                   float* out, int64_t out_stride) {
  DPT_GRID_STRIDE(i, count) {
    const float v = in[i];
    const int64_t e = i % period;
    for (int g = 0; g < copies; ++g) out[g * out_stride + i] = v * masks[g * period + e];
  }
}

__global__ void masked_sum_kernel(int64_t count, const float* parts, const float* masks, int64_t period, int copies,
                                  float* out, bool accumulate) {
  DPT_GRID_STRIDE(i, count) {
    out[i] = masked_sum_value(out[i], parts + i, count, masks + i % period, period, copies, accumulate);
  }
}

void bias_add_cuda(float* y, const float* bias, int64_t rows, int64_t cols, void* stream) {
  if (rows * cols == 0) return;
  bias_add_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(y, bias, rows,
                                                                                                     cols);
  DPT_CUDA_LAUNCH_CHECK();
}

void bias_grad_cuda(const float* dy, float* db, int64_t rows, int64_t cols, CudaResources& r) {
  column_reduce_cuda<1>(r, LoadRows{dy, cols}, AddToFloats{db}, rows, cols);
}

// gelu and the kinds after it need the pre-activation kept for backward: their layers run the
// epilogue linear and apply them through activation_forward_cuda.
static void check_epilogue(Activation a, const char* where) {
  DPT_CHECK(!a.needs_input(), where << ": an activation whose gradient needs its input is not an epilogue");
}

void bias_activation_cuda(Activation a, float* y, const float* bias, int64_t rows, int64_t cols, CudaResources& r) {
  check_epilogue(a, "bias_activation_cuda");
  if (rows * cols == 0) return;
  if (a == Activation::softmax) {  // a row operation: the bias first, then the rows
    if (bias) bias_add_cuda(y, bias, rows, cols, r.stream());
    activation_forward_cuda(a, y, y, rows, cols, r.stream());
    return;
  }
  if (a == Activation::linear && !bias) return;
  bias_activation_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, r.stream()>>>(a, y, bias, rows, cols);
  DPT_CUDA_LAUNCH_CHECK();
}

void activation_bias_grad_cuda(Activation a, const float* y, float* dy, float* db, int64_t rows, int64_t cols,
                               CudaResources& r) {
  check_epilogue(a, "activation_bias_grad_cuda");
  if (db && a != Activation::linear && a != Activation::softmax) {  // softmax is a row operation
    column_reduce_cuda<1>(r, LoadActivationGrad{a, y, dy, cols}, AddToFloats{db}, rows, cols);
    return;
  }
  activation_backward_cuda(a, nullptr, y, dy, dy, rows, cols, r.stream());  // linear: nothing to do
  if (db) bias_grad_cuda(dy, db, rows, cols, r);
}

// activation_bias_grad_nchw_cuda's pass: a block takes 32 columns (channels) of its chunk of rows
// (positions n*hw), 32 rows at a time through a shared tile: read y and dy along the channels
// (coalesced), write the gradient back in place (kNhwc) and, from the tile, to NCHW along the
// positions (coalesced); each thread sums its column's gradients in double, and the block leaves
// one partial sum per column and chunk, as column_partials_kernel does (column_finish_kernel adds
// them in chunk order: the same bits every run). Index type I: 32-bit when every index fits.
template <typename I, bool kNhwc>
__global__ void activation_grad_nchw_kernel(Activation a, const float* __restrict__ y, float* dy,
                                            float* __restrict__ dt, I rows, I hw, I cols, double* partial) {
  __shared__ float tile[32][33];
  __shared__ double sums[kReduceRowsPerBlock][33];
  const I tx = I(threadIdx.x), ty = I(threadIdx.y), c0 = I(blockIdx.x) * 32;
  const I per = (rows + I(gridDim.y) - 1) / I(gridDim.y), r0 = I(blockIdx.y) * per;
  const I r1 = r0 + per < rows ? r0 + per : rows;
  double acc = 0.0;
  for (I rt = r0; rt < r1; rt += 32) {
    for (I j = ty; j < 32; j += kReduceRowsPerBlock) {
      const I r = rt + j, c = c0 + tx;
      if (r < r1 && c < cols) {
        const I i = r * cols + c;
        const float g = activation_bwd(a, y[i], dy[i]);
        if (kNhwc) dy[i] = g;
        acc += g;
        tile[j][tx] = g;
      }
    }
    __syncthreads();
    const I r = rt + tx, s = r / hw, p = r - s * hw;
    for (I j = ty; j < 32; j += kReduceRowsPerBlock) {
      const I c = c0 + j;
      if (r < r1 && c < cols) dt[(s * cols + c) * hw + p] = tile[tx][j];
    }
    __syncthreads();
  }
  if (!partial) return;
  sums[ty][tx] = acc;
  __syncthreads();
  if (ty == 0 && c0 + tx < cols) {
    double t = 0.0;
    for (int j = 0; j < kReduceRowsPerBlock; ++j) t += sums[j][tx];
    partial[int64_t(blockIdx.y) * cols + c0 + tx] = t;
  }
}

void activation_bias_grad_nchw_cuda(Activation a, const float* y, float* dy, float* db, int64_t n, int64_t hw,
                                    int64_t cols, float* dy_nchw, bool keep_nhwc, CudaResources& r) {
  check_epilogue(a, "activation_bias_grad_nchw_cuda");
  const int64_t rows = n * hw;
  if (rows * cols == 0) return;
  if (a == Activation::softmax) {  // a row operation: its own pass, then the transpose
    activation_bias_grad_cuda(a, y, dy, db, rows, cols, r);
    transpose_cuda(dy, dy_nchw, n, hw, cols, r.stream());
    return;
  }
  double* partial = db ? static_cast<double*>(r.scratch(cuda_reduce_scratch_bytes(cols))) : nullptr;
  const int64_t chunks = cuda_reduce_chunks(rows, cols);
  const dim3 grid(unsigned((cols + 31) / 32), unsigned(chunks)), block(32, kReduceRowsPerBlock);
  // every index, and one tile past the end
  const bool small = rows * cols + 64 * cols < INT32_MAX && !cuda_wide_indices_forced();
  if (small && keep_nhwc)
    activation_grad_nchw_kernel<int, true>
        <<<grid, block, 0, r.stream()>>>(a, y, dy, dy_nchw, int(rows), int(hw), int(cols), partial);
  else if (small)
    activation_grad_nchw_kernel<int, false>
        <<<grid, block, 0, r.stream()>>>(a, y, dy, dy_nchw, int(rows), int(hw), int(cols), partial);
  else if (keep_nhwc)
    activation_grad_nchw_kernel<int64_t, true>
        <<<grid, block, 0, r.stream()>>>(a, y, dy, dy_nchw, rows, hw, cols, partial);
  else
    activation_grad_nchw_kernel<int64_t, false>
        <<<grid, block, 0, r.stream()>>>(a, y, dy, dy_nchw, rows, hw, cols, partial);
  DPT_CUDA_LAUNCH_CHECK();
  if (!db) return;
  column_finish_kernel<1><<<unsigned(cols), kFinishThreads, 0, r.stream()>>>(AddToFloats{db}, cols, chunks, partial);
  DPT_CUDA_LAUNCH_CHECK();
}

void scale_cuda(float* x, int64_t n, float s, CudaResources& r) {
  if (n == 0) return;
  scale_kernel<<<grid_blocks(n), kBlockThreads, 0, r.stream()>>>(x, n, s);
  DPT_CUDA_LAUNCH_CHECK();
}

void dropout_cuda(const float* x, float* y, int64_t rows, int64_t cols, float rate, const DropoutKey& key,
                  const BroadcastMap* noise, void* stream) {
  if (rows * cols == 0) return;
  const float scale = float(1.0 / (1.0 - double(rate)));
  dropout_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, y, rows, cols, rate, scale, key, noise != nullptr, noise ? *noise : BroadcastMap{});
  DPT_CUDA_LAUNCH_CHECK();
}

void alpha_dropout_cuda(const float* x, float* y, int64_t rows, int64_t cols, float rate, const DropoutKey& key,
                        const BroadcastMap* noise, bool grad, void* stream) {
  if (rows * cols == 0) return;
  alpha_dropout_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, y, rows, cols, rate, alpha_dropout_form(rate), key, noise != nullptr, noise ? *noise : BroadcastMap{}, grad);
  DPT_CUDA_LAUNCH_CHECK();
}

void gaussian_noise_cuda(const float* x, float* y, int64_t rows, int64_t cols, float stddev, bool multiply,
                         const DropoutKey& key, void* stream) {
  if (rows * cols == 0) return;
  gaussian_noise_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      x, y, rows, cols, stddev, multiply, key);
  DPT_CUDA_LAUNCH_CHECK();
}

void random_flip_cuda(const Flip2d& g, const DropoutKey& key, const float* x, float* y, void* stream) {
  const int64_t n = g.n * g.h * g.w * g.c;
  if (n == 0) return;
  random_flip_kernel<<<grid_blocks(n), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(g, key, x, y);
  DPT_CUDA_LAUNCH_CHECK();
}

void dropout_mask_cuda(float* mask, int64_t rows, int64_t cols, float rate, const DropoutKey& key, void* stream) {
  if (rows * cols == 0) return;
  const float scale = float(1.0 / (1.0 - double(rate)));
  dropout_mask_kernel<<<grid_blocks(rows * cols), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      mask, rows, cols, rate, scale, key);
  DPT_CUDA_LAUNCH_CHECK();
}

void apply_masks_cuda(int64_t count, const float* in, const float* masks, int64_t period, int copies, float* out,
                      int64_t out_stride, void* stream) {
  if (count == 0 || copies == 0) return;
  apply_masks_kernel<<<grid_blocks(count), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      count, in, masks, period, copies, out, out_stride);
  DPT_CUDA_LAUNCH_CHECK();
}

void masked_sum_cuda(int64_t count, const float* parts, const float* masks, int64_t period, int copies, float* out,
                     bool accumulate, void* stream) {
  if (count == 0 || copies == 0) return;
  masked_sum_kernel<<<grid_blocks(count), kBlockThreads, 0, static_cast<cudaStream_t>(stream)>>>(
      count, parts, masks, period, copies, out, accumulate);
  DPT_CUDA_LAUNCH_CHECK();
}

}  // namespace dpt::kernels
