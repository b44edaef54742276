// The training step: replicas (devices, models, optimizers, communicator), batches loaded into
// per-replica slices, forward/backward on replica threads with gradient buckets reduced as backward
// produces them, the update; weights and optimizer state in and out. fit/evaluate/predict, the
// loops around it, are in trainer_fit.cpp.
#include "parallel/trainer.h"
#include <algorithm>
#include <chrono>
#include <climits>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <sstream>
#include "core/error.h"
#include "core/io/hdf5_weights.h"
#include "core/io/keras_model.h"
#include "kernels/cuda_backend.h"
#include "kernels/gemm.h"
#include "kernels/loss.h"
#include "kernels/seqmask.h"
#include "parallel/communicator.h"
#include "parallel/prefetcher.h"
#include "parallel/replica_pool.h"
#include "parallel/slicing.h"
#include "parallel/trainer_replica.h"

namespace dpt {

Strategy strategy_from_name(const std::string& n) {
  if (n == "allreduce") return Strategy::allreduce;
  if (n == "ps") return Strategy::parameter_server;
  DPT_FAIL("unknown strategy '" << n << "' (supported: allreduce, ps)");
}

std::string strategy_name(Strategy s) { return s == Strategy::allreduce ? "allreduce" : "ps"; }

namespace {

using Clock = std::chrono::steady_clock;

int64_t mib(int64_t bytes) { return (bytes + (1 << 20) - 1) >> 20; }

uint64_t checksum(const float* p, int64_t n) {  // FNV-1a over the bits
  uint64_t h = 1469598103934665603ULL;
  const auto* b = reinterpret_cast<const unsigned char*>(p);
  for (int64_t i = 0; i < n * int64_t(sizeof(float)); ++i) h = (h ^ b[i]) * 1099511628211ULL;
  return h;
}

}  // namespace

Trainer::Trainer(Sequential& model, std::vector<Device> devices, LossKind loss, const Optimizer& optimizer, int threads,
                 ParallelOptions options)
    : template_(model), loss_(loss), threads_(std::max(threads, 1)), popt_(options) {
  DPT_CHECK(model.built(), "model '" << model.name() << "' must be built before training");
  DPT_CHECK(!devices.empty(), "no devices to train on");
  DPT_CHECK(popt_.check_every >= 0, "--check-replicas must be >= 0, got " << popt_.check_every);
  const int N = int(devices.size());
  gpu_ = devices[0].is_cuda();
  for (const Device& d : devices)
    DPT_CHECK(d.is_cuda() == gpu_, "replicas must all be CPUs or all be GPUs, got " << devices[0].str() << " and "
                                                                                   << d.str());
  if (gpu_ && N > 1) {  // NCCL takes one rank per GPU; all replicas on one GPU is the other option
    std::vector<int> idx;
    for (const Device& d : devices) idx.push_back(d.index);
    std::sort(idx.begin(), idx.end());
    DPT_CHECK(idx.front() == idx.back() || std::adjacent_find(idx.begin(), idx.end()) == idx.end(),
              "GPU replicas must be on distinct GPUs (or all on one GPU), got a GPU twice among " << N);
  }
  opt_slots_ = optimizer.num_slots();
  if (!gpu_)  // every CPU replica's weights, gradients and optimizer state, before any is made
    check_host_bytes(checked_mul(N, replica_bytes(0, 0), "the replicas' weights"),
                     "model '" + model.name() + "' on " + std::to_string(N) + " CPU replica" + (N > 1 ? "s" : "") +
                         " (weights, gradients and optimizer state in each)",
                     "lower --replicas");
  std::vector<int> gpu_index;
  std::vector<kernels::CudaResources*> streams;
  for (int r = 0; r < N; ++r) {
    const Device& d = devices[size_t(r)];
    auto rep = std::make_unique<Replica>();
    rep->ctx.device = d;
    rep->ctx.threads = std::max(1, threads_ / N);
    if (gpu_) {  // a compute stream with cuBLAS/cuDNN handles per GPU; weights and state on the GPU
      rep->cuda.reset(kernels::cuda_resources_create(d.index, popt_.tf32, popt_.deterministic));
      rep->ctx.cuda = rep->cuda.get();
      gpu_index.push_back(d.index);
      streams.push_back(rep->cuda.get());
    }
    rep->model = model.clone();
    rep->model->to_device(d);
    rep->opt = optimizer.clone();
    rep->opt->build(model.num_trainable(), d, model.trainable_sizes());
    replicas_.push_back(std::move(rep));
  }
  // One GPU makes no NCCL call; N GPUs share one NCCL communicator; CPU replicas share memory.
  // Replicas that all sit on one GPU (tests on a single-GPU machine) sum through that GPU.
  const bool one_gpu = gpu_ && std::count(gpu_index.begin(), gpu_index.end(), gpu_index[0]) == N;
  if (gpu_ && N > 1 && one_gpu) {
    comm_ = make_shared_gpu_communicator(gpu_index[0], streams);
  } else if (gpu_ && N > 1) {
    comm_ = make_nccl_communicator(gpu_index, streams);
  } else
    comm_ = std::make_unique<HostCommunicator>(N);
  for (int r = 0; r < N; ++r) {
    Replica& rep = *replicas_[size_t(r)];
    rep.reducer.setup(comm_.get(), r, rep.model->grads(), popt_.bucket_bytes / int64_t(sizeof(float)),
                      popt_.strategy == Strategy::parameter_server);
    if (popt_.sync_batchnorm && N > 1) {
      rep.sync = std::make_unique<detail::CommBatchSync>(comm_.get(), r);
      rep.ctx.batch_sync = rep.sync.get();
    }
  }
  prefetch_ = std::make_unique<Prefetcher>();
  if (N > 1) {
    pool_ = std::make_unique<ReplicaPool>(
        N, [this](int r) { kernels::set_cpu_threads(replicas_[size_t(r)]->ctx.threads); },
        [this] { comm_->abort(); });
  }
  // (An activity regularizer on the last layer reads its output's gradient: not the fused one.)
  const auto& last_activity = model.layers().back()->activity_regularizer();
  fused_ =
      loss_fuses_with(loss, model.layers().back()->output_activation()) && !(last_activity && last_activity->active());
  const Shape& out = template_.output_shape();
  steps_ = out.size() >= 2 ? shape_numel(out) / std::max<int64_t>(out.back(), 1) : 1;
  mask_layer_ = template_.output_mask_layer();
  for (auto& r : replicas_) r->model->set_fused_output_grad(fused_);
  set_metrics(default_metrics(loss));
  std::vector<kernels::PenaltyWeight> weights;
  for (const WeightRef& w : template_.weights())
    if (w.spec.trainable && w.spec.regularizer.active())
      weights.push_back(
          {w.offset, shape_numel(w.spec.shape), float(w.spec.regularizer.l1), float(w.spec.regularizer.l2)});
  penalty_chunks_ = kernels::make_penalty_chunks(weights);
  for (const WeightRef& w : template_.weights()) {
    if (!w.spec.trainable || !w.spec.constraint) continue;
    const Constraint& c = *w.spec.constraint;
    const int64_t rank = int64_t(w.spec.shape.size());
    std::vector<int64_t> axes;  // empty: every axis (None)
    for (int64_t a : c.all_axes ? std::vector<int64_t>{} : c.axis) {
      const int64_t k = a < 0 ? a + rank : a;
      DPT_CHECK(k >= 0 && k < rank, "weight '" << w.keras_name() << "' of shape " << shape_str(w.spec.shape)
                                               << " has no axis " << a << " for its constraint");
      axes.push_back(k);
    }
    const std::vector<int64_t> shape(w.spec.shape.begin(), w.spec.shape.end());
    constraints_.push_back(kernels::make_constraint_plan(c.kind, float(c.min_value), float(c.max_value), float(c.rate),
                                                         w.offset, shape, axes));
  }
  const size_t chunk_bytes = penalty_chunks_.size() * sizeof(kernels::PenaltyChunk);
  for (auto& r : replicas_) {
    r->penalty_cpu.assign(penalty_chunks_.size(), 0.0);
    if (r->cuda && penalized()) {
      r->enter();
      r->penalty_chunks = Buffer(r->ctx.device, chunk_bytes);
      kernels::cuda_copy(r->penalty_chunks.data(), penalty_chunks_.data(), chunk_bytes, nullptr);
      r->penalty_dev = Buffer(r->ctx.device, penalty_chunks_.size() * sizeof(double));
      r->penalty_host = Buffer(Device::cpu(), penalty_chunks_.size() * sizeof(double), true);
    }
  }
}

void Trainer::replica_constraints(Replica& rep) {
  for (const kernels::ConstraintPlan& p : constraints_) {
    if (rep.cuda)
      kernels::constrain_cuda(p, rep.model->params(), kernels::cuda_stream_of(*rep.cuda));
    else
      kernels::constrain_cpu(p, rep.model->params());
  }
}

void Trainer::replica_penalty(Replica& rep, bool grads) {
  if (!penalized()) return;
  float* g = grads ? rep.model->grads() : nullptr;
  const int64_t count = int64_t(penalty_chunks_.size());
  if (!rep.cuda) {
    kernels::penalty_cpu(penalty_chunks_.data(), count, rep.model->params(), g, rep.penalty_cpu.data());
    return;
  }
  void* s = kernels::cuda_stream_of(*rep.cuda);
  double* dev = static_cast<double*>(rep.penalty_dev.data());
  kernels::penalty_cuda(static_cast<const kernels::PenaltyChunk*>(rep.penalty_chunks.data()), count,
                        rep.model->params(), g, dev, s);
  kernels::cuda_copy(rep.penalty_host.data(), dev, size_t(count) * sizeof(double), rep.cuda.get());
}

double Trainer::penalty_sum(Replica& rep) const {
  if (!penalized()) return 0.0;
  const double* p = rep.cuda ? static_cast<const double*>(rep.penalty_host.data()) : rep.penalty_cpu.data();
  double sum = 0.0;
  for (size_t c = 0; c < penalty_chunks_.size(); ++c) sum += p[c];
  return sum;
}

void Trainer::set_metrics(const MetricRequests& requests) {
  metrics_ = resolve_metrics(requests, loss_, shape_numel(template_.output_shape()) / steps_);
  for (const Metric& m : metrics_)  // as Keras's: its classes take (batch, columns) alone
    DPT_CHECK(steps_ == 1 || (m.kind != MetricKind::r2 && m.kind != MetricKind::fbeta),
              "metric '" << m.name << "' expects an output of shape (batch, columns), as Keras's "
                         << metric_class_name(m.request.kind) << " does; this model's output is "
                         << shape_str(template_.output_shape()) << " per sample");
  metric_slot_.assign(1, 0);
  for (const Metric& m : metrics_) metric_slot_.push_back(metric_slot_.back() + kernels::metric_slots(m));
}

std::vector<double> Trainer::metric_values(const std::vector<double>& sums, double seen) const {
  std::vector<double> out;
  for (size_t k = 0; k < metrics_.size(); ++k)
    out.push_back(metric_value(metrics_[k], sums.data() + metric_slot_[k], seen));
  return out;
}

std::vector<std::string> Trainer::metric_names() const {
  std::vector<std::string> names;
  for (const Metric& m : metrics_) names.push_back(m.name);
  return names;
}

MetricRequests Trainer::metric_requests() const {
  MetricRequests out;
  for (const Metric& m : metrics_) out.push_back(m.request);
  return out;
}

Trainer::~Trainer() {
  pool_.reset();  // replica threads end before the replicas' GPU state goes
  comm_.reset();
  for (int slot = 0; slot < 2; ++slot) {
    try {
      drain_uploads(slot);
    } catch (const std::exception& e) {  // destructors log, never throw
      std::fprintf(stderr, "dptrain: warning: %s\n", e.what());
    }
  }
}

void Trainer::drain_uploads(int slot) {
  if (!uploaded_[slot]) return;  // an upload of a batch no step used may still read the slot's buffers
  for (auto& rep : replicas_) {
    kernels::cuda_wait_uploads(*rep->cuda, slot);
    kernels::cuda_stream_sync(*rep->cuda);
  }
  uploaded_[slot] = false;
}

const Optimizer& Trainer::optimizer() const {
  const Optimizer& opt = *replicas_[0]->opt;
  if (!gpu_) return opt;
  if (!host_opt_) {
    host_opt_ = opt.clone();
    host_opt_->build(template_.num_trainable(), Device::cpu());
  }
  kernels::cuda_stream_sync(*replicas_[0]->cuda);
  if (!opt.schedule()) host_opt_->set_learning_rate(opt.learning_rate());
  host_opt_->copy_state_from(opt);
  return *host_opt_;
}
Sequential& Trainer::replica_model(int r) { return *replicas_.at(size_t(r))->model; }

void Trainer::check_input_shapes(const Dataset& d, const std::string& whose) const {
  const std::vector<Shape> want = template_.input_shapes(), got = d.input_shapes();
  if (want.size() == 1 && got.size() == 1) {
    DPT_CHECK(got[0] == want[0], whose << "samples have shape " << shape_str(got[0]) << " but model '"
                                       << template_.name() << "' expects inputs of shape " << shape_str(want[0]));
    return;
  }
  if (got == want) return;
  auto list = [](const std::vector<Shape>& shapes, const std::vector<std::string>* names) {
    std::string out;
    for (size_t k = 0; k < shapes.size(); ++k)
      out += (k ? ", " : "") + (names ? "'" + (*names)[k] + "' " : std::string()) + shape_str(shapes[k]);
    return out;
  };
  std::string spec;
  for (size_t k = 0; k < want.size(); ++k) spec += (k ? "+" : "") + template_.input_names()[k];
  DPT_FAIL((whose.empty() ? "the " : whose)
           << "data gives " << got.size() << (got.size() == 1 ? " input " : " inputs ") << list(got, nullptr)
           << " but model '" << template_.name() << "' takes " << want.size()
           << (want.size() == 1 ? " input " : " inputs ") << list(want, &template_.input_names())
           << (want.size() > 1
                   ? ": give one array an input, in this order (npy:" + spec + " files,Y or h5:FILE:" + spec + ",y)"
                   : std::string()));
}

void Trainer::check_data(const Dataset& d, const char* what) const {
  DPT_CHECK(d.has_labels(), what << " data has no labels: give them (for .npy data: npy:XFILE,YFILE)");
  check_input_shapes(d, std::string(what) + " ");
  template_.check_inputs(d.x.data(), int64_t(d.x.size()), std::string(what) + " data");
  const int64_t width = shape_numel(template_.output_shape());
  if (d.y_is_index && width > 1)
    DPT_CHECK(d.num_classes <= width, what << " labels span " << d.num_classes << " classes but model '"
                                           << template_.name() << "' outputs " << width);
  if (!d.y_is_index && d.y_dim == 1 && width > 1) {  // meant as class indices?
    size_t bad = 0;
    while (bad < d.y.size() && d.y[bad] >= 0 && d.y[bad] == std::floor(d.y[bad]) && d.y[bad] < float(INT32_MAX)) ++bad;
    std::ostringstream which;
    if (bad < d.y.size()) which << ": label " << d.y[bad] << " of sample " << bad << " is not";
    DPT_FAIL(what << " labels are one column of values, not class indices (whole numbers in [0, 2^31)" << which.str()
                  << "), but model '" << template_.name() << "' outputs " << width
                  << ": give class indices, or targets of shape (samples, " << width << ")");
  }
  if (!d.y_is_index)
    DPT_CHECK(d.y_dim == width, what << " targets have " << d.y_dim << " columns but model '" << template_.name()
                                     << "' outputs " << width);
}

Dataset Trainer::targets_for(const Dataset& d) const {
  const int64_t width = shape_numel(template_.output_shape());
  Dataset t = d.slice(0, d.size());
  if (loss_base(loss_) == LossKind::sparse_categorical_crossentropy) {
    if (!t.y_is_index) {  // one-hot rows -> class indices
      std::vector<float> idx(size_t(t.size()));
      for (int64_t i = 0; i < t.size(); ++i) {
        const float* row = t.y.data() + i * t.y_dim;
        idx[size_t(i)] = float(std::max_element(row, row + t.y_dim) - row);
      }
      t.y.swap(idx);
      t.y_dim = 1;
      t.y_is_index = true;
    }
  } else if (t.y_is_index && width > 1) {
    t.num_classes = width;
    t.to_one_hot();
  }
  return t;
}

int64_t Trainer::replica_bytes(int64_t rows, int64_t y_dim) const {
  int64_t per_row = 2 * (shape_numel(template_.input_shape()) + y_dim), biggest = per_row / 2, work = 0;
  for (auto& l : template_.layers()) {
    per_row += shape_numel(l->output_shape()) + l->kept_elems(1);
    biggest = std::max(biggest, shape_numel(l->output_shape()));
    work = std::max(work, l->workspace_elems(1));
  }
  per_row += work;  // the layers' shared scratch
  const int64_t P = template_.num_params(), T = template_.num_trainable();
  const int64_t fixed = P + T * int64_t(1 + opt_slots_);
  return checked_mul(checked_mul(rows, per_row + 2 * biggest, "a replica's activations") + fixed, 4,
                     "a replica's memory");
}

void Trainer::prepare(int64_t global_batch, const Dataset& like) {
  DPT_CHECK(global_batch >= 1, "batch size must be >= 1, got " << global_batch);
  const int64_t N = replicas();
  // The last replica's slice is the largest (slicing.h); replicas with no rows keep one.
  const int64_t largest = std::max<int64_t>(max_slice_rows(global_batch, N, N - 1), 1);
  const bool new_y = like.y_dim != y_dim_;
  if (!gpu_) {  // the replicas' activations and the double-buffered batches, before any is allocated
    int64_t total = checked_mul(checked_mul(2 * global_batch, shape_numel(template_.input_shape()) + like.y_dim + 1,
                                            "the batch buffers"),
                                4, "the batch buffers");
    for (int i = 0; i < int(N); ++i)
      DPT_CHECK(!__builtin_add_overflow(total, replica_bytes(std::max<int64_t>(max_slice_rows(global_batch, N, i), 1),
                                                             like.y_dim),
                                        &total),
                "a global batch of " << global_batch << " is too large to size");
    check_host_bytes(total,
                     "a global batch of " + std::to_string(global_batch) + " over " + std::to_string(N) + " CPU replica" +
                         (N > 1 ? "s" : "") + " of model '" + template_.name() + "'",
                     "lower --batch-size" + std::string(N > 1 ? " or --replicas" : ""));
  }
  try {
    for (int i = 0; i < int(N); ++i) {
      Replica* r = replicas_[size_t(i)].get();
      const int64_t rows = std::max<int64_t>(max_slice_rows(global_batch, N, i), 1);
      r->enter();
      r->model->prepare(rows, &r->ctx);
      if (r->cuda && (rows > r->cap || new_y)) {  // the replica's slice buffers on its GPU
        r->cap = std::max(rows, r->cap);
        uploaded_[0] = uploaded_[1] = false;  // new device slots (freeing the old ones waited for the GPU)
        Shape xs = template_.input_shape();
        xs.insert_front(r->cap);
        for (int b = 0; b < 2; ++b) {
          r->x[b] = Tensor(xs, r->ctx.device);
          r->y[b] = Tensor({r->cap, like.y_dim}, r->ctx.device);
          r->w[b] = Tensor({r->cap}, r->ctx.device);
        }
      }
      const int64_t row_floats = (1 + slots()) * r->cap * steps_;
      if (r->cuda && r->rows_dev.numel() < row_floats) {  // per-row loss and metrics
        r->rows_dev = Tensor({row_floats}, r->ctx.device);
        r->rows_host = Tensor({row_floats}, Device::cpu(), true);
      }
    }
  } catch (const Error& e) {
    if (!gpu_ || std::string(e.what()).find("out of GPU memory") == std::string::npos) throw;
    const int64_t need = replica_bytes(largest, like.y_dim);
    DPT_FAIL(e.what() << ". A per-replica batch of " << largest << " (global batch " << global_batch << " over " << N
                      << " GPU" << (N > 1 ? "s" : "") << ") needs about " << mib(need)
                      << " MiB per GPU for weights, optimizer state and activations (plus cuDNN workspace, "
                         "transposed copies where a convolution runs NCHW, and patch matrices where it runs as a "
                         "GEMM): lower --batch-size or add GPUs");
  }
  if (global_batch > batch_cap_ || new_y) {
    batch_cap_ = std::max(global_batch, batch_cap_);
    Shape xs = template_.input_shape();
    xs.insert_front(batch_cap_);
    for (int b = 0; b < 2; ++b) {  // pinned for GPU replicas: asynchronous uploads
      x_buf_[b] = Tensor(xs, Device::cpu(), gpu_);
      y_buf_[b] = Tensor({batch_cap_, like.y_dim}, Device::cpu(), gpu_);
      w_buf_[b] = Tensor({batch_cap_}, Device::cpu(), gpu_);
    }
    y_dim_ = like.y_dim;
  }
}

void Trainer::load_batch(const Dataset& data, const int64_t* idx, int64_t n) { load_into(cur_, data, idx, n); }

void Trainer::load_next(const Dataset& data, const int64_t* idx, int64_t n) {
  const int slot = 1 - cur_;
  load_into(slot, data, idx, n);
  if (!gpu_) return;
  const int N = replicas();
  const int64_t sx = shape_numel(template_.input_shape());
  for (int r = 0; r < N; ++r) {  // the slot's device buffers were last read by a finished step
    Replica& rep = *replicas_[size_t(r)];
    const Slice sl = batch_slice(n, N, r);
    auto up = [&](Tensor& dev, const Tensor& host, int64_t width) {
      kernels::cuda_upload(dev.data(), host.data() + sl.offset * width, size_t(sl.count * width) * sizeof(float),
                           *rep.cuda);
    };
    up(rep.x[slot], x_buf_[slot], sx);
    up(rep.y[slot], y_buf_[slot], y_dim_);
    if (use_w_) up(rep.w[slot], w_buf_[slot], 1);
    kernels::cuda_uploads_queued(*rep.cuda, slot);  // the step using this slot waits for these alone
  }
  uploaded_[slot] = true;
}

void Trainer::load_into(int slot, const Dataset& data, const int64_t* idx, int64_t n) {
  drain_uploads(slot);  // (training stopped with the next batch uploaded)
  const int64_t s = data.sample_numel();
  float *x = x_buf_[slot].data(), *y = y_buf_[slot].data(), *w = w_buf_[slot].data();
  for (int64_t i = 0; i < n; ++i) {
    std::memcpy(x + i * s, data.x.data() + idx[i] * s, sizeof(float) * size_t(s));
    if (!data.y.empty()) std::memcpy(y + i * y_dim_, data.y.data() + idx[i] * y_dim_, sizeof(float) * size_t(y_dim_));
    w[i] = use_w_ ? (*w_src_)[size_t(idx[i])] : 1.f;
  }
}

Tensor Trainer::slice_for(Replica& rep, const Tensor& all, Tensor& dev, int64_t offset, int64_t count) {
  Tensor host = all.rows(offset, count);
  if (!rep.cuda) return host;
  Tensor d = dev.rows(0, count);
  copy_floats(d.data(), rep.ctx.device, host.data(), Device::cpu(), host.numel(), rep.cuda.get());
  return d;
}

void Trainer::replica_loss(Replica& rep, const Tensor& out_in, const Tensor& y_in, float scale, Tensor* grad_in,
                           const float* w, bool want_metrics) {
  const int64_t n = out_in.dim(0) * steps_, K = want_metrics ? int64_t(metrics_.size()) : 0, S = K ? slots() : 0;
  // The rows: a sample's, or each of its steps' (steps_ > 1), each step's share of the sample
  // 1/steps_ (rep.loss and the metric sums stay per sample).
  auto rows_of = [&](const Tensor& t) { return Tensor::view(t.data(), {n, n ? t.numel() / n : 0}, t.device()); };
  const Tensor out = rows_of(out_in), y = rows_of(y_in);
  Tensor grad_rows = grad_in ? rows_of(*grad_in) : Tensor();
  Tensor* grad = grad_in ? &grad_rows : nullptr;
  // Under Keras's mask (w: the mask) the caller scales the sums; else each step is its share.
  const float share = mask_layer_ >= 0 ? 1.f : 1.f / float(steps_);
  // Keras's weighted_metrics take the sample (or class) weights; a mask keeps rows instead (below).
  const float* metric_w = mask_layer_ < 0 ? w : nullptr;
  if (!rep.cuda) {  // rep.metric_sums: cleared by the caller (Replica::clear_sums)
    rep.loss =
        loss_sum(loss_, fused_, out, y, scale * share, grad, w, float(label_smoothing_), float(huber_delta_), focal_) *
        share;
    std::fill(rep.metric_sums.begin(), rep.metric_sums.begin() + S, 0.0);
    const int64_t oc = n ? out.numel() / n : 0, yc = n ? y.numel() / n : 0;
    for (int64_t k = 0; k < K; ++k) {
      double* sums = rep.metric_sums.data() + metric_slot_[size_t(k)];
      if (mask_layer_ < 0) {
        kernels::metric_slots_cpu<float>(metrics_[size_t(k)], out.data(), y.data(), n, oc, sums, metric_w);
      } else {
        for (int64_t r = 0; r < n; ++r)  // the kept rows alone (w is 0 or 1)
          if (w[r] != 0.f)
            kernels::metric_slots_cpu<float>(metrics_[size_t(k)], out.data() + r * oc, y.data() + r * yc, 1, oc, sums);
      }
    }
    for (int64_t s = 0; s < S; ++s) rep.metric_sums[size_t(s)] *= share;
    return;
  }
  // One thread per row through the CPU's per-row formulas; the rows come to the host once, after
  // the step's last kernel (finish_rows), and are summed there in row order.
  const int64_t cols = n ? out.numel() / n : 0, cap = rep.cap * steps_;
  void* s = kernels::cuda_stream_of(*rep.cuda);
  float* rows = rep.rows_dev.data();
  kernels::loss_rows_cuda(loss_, fused_, out.data(), y.data(), n, cols, scale * share, grad ? grad->data() : nullptr,
                          rows, w, s, float(label_smoothing_), float(huber_delta_), focal_);
  for (int64_t k = 0; k < K; ++k) {
    float* rk = rows + (1 + metric_slot_[size_t(k)]) * cap;
    kernels::metric_rows_cuda(metrics_[size_t(k)], out.data(), y.data(), n, cols, rk, s, cap, metric_w);
  }
  if (mask_layer_ >= 0)
    for (int64_t j = 1; j <= S; ++j) kernels::mask_rows_cuda(n, 1, w, rows + j * cap, rows + j * cap, s);  // kept rows
  // One copy of every slot's rows (the loss's, then the metrics'), cap apart.
  copy_floats(rep.rows_host.data(), Device::cpu(), rows, rep.ctx.device, S * cap + n, rep.cuda.get());
  rep.metric_rows = S;
}

void Trainer::finish_rows(Replica& rep, int64_t count) {
  if (!rep.cuda) return;
  kernels::cuda_stream_sync(*rep.cuda);
  if (count == 0) return;
  const float* h = rep.rows_host.data();
  const int64_t rows = count * steps_, cap = rep.cap * steps_;
  const double share = mask_layer_ >= 0 ? 1.0 : 1.0 / double(steps_);
  rep.loss = 0;
  for (int64_t i = 0; i < rows; ++i) rep.loss += h[i];
  rep.loss *= share;
  for (int64_t k = 0; k < rep.metric_rows; ++k) {
    double sum = 0;
    for (int64_t i = 0; i < rows; ++i) sum += h[(1 + k) * cap + i];
    rep.metric_sums[size_t(k)] = sum * share;
  }
}

void Trainer::scale_floats(Replica& rep, float* p, int64_t n, float s) {
  if (rep.cuda) {
    kernels::scale_cuda(p, n, s, *rep.cuda);
    return;
  }
  for (int64_t i = 0; i < n; ++i) p[i] *= s;
}

int64_t Trainer::kept_rows(int64_t rows) const {
  if (mask_layer_ < 0) return 0;
  return template_.layers()[size_t(mask_layer_)]->count_kept(x_buf_[cur_].data(), rows);
}

const float* Trainer::mask_weights(Replica& rep) const {
  return mask_layer_ < 0 ? nullptr : rep.model->layers()[size_t(mask_layer_)]->mask();
}

double Trainer::train_step(int64_t rows, int64_t epoch, int64_t step, std::vector<double>* metric_sums) {
  const int N = replicas();
  // Under Keras's mask at the output: the loss over the batch's kept rows (0 where none is kept,
  // as Keras's divide_no_nan), reported per sample as Keras's loss tracker weighs batches.
  const int64_t kept = kept_rows(rows);
  const float scale = mask_layer_ < 0 ? 1.f / float(rows) : kept > 0 ? 1.f / float(kept) : 0.f;
  const int64_t T = template_.num_trainable();
  const bool ps = popt_.strategy == Strategy::parameter_server;
  // Per-replica batch statistics give per-replica moving statistics; they are merged every step,
  // so replicas stay identical (a checkpoint at any step then resumes exactly).
  const bool merge_stats = N > 1 && !popt_.sync_batchnorm && template_.num_updated() > T;
  auto work = [&](int r) {
    Replica& rep = *replicas_[size_t(r)];
    rep.enter();
    Sequential& m = *rep.model;
    const Slice s = batch_slice(rows, N, r);
    rep.clear_sums(size_t(slots()));
    rep.reducer.begin_step();
    m.zero_grads(rep.ctx.cuda);
    GradReadyHook* hook = N > 1 ? &rep.reducer : nullptr;
    // A replica with an empty slice does no work, but still joins the collectives (and, with
    // synchronised batch norm, runs its zero rows through the model to join the statistics sums).
    if (s.count > 0 || rep.ctx.batch_sync) {
      rep.ctx.key = {seed_, epoch, step, s.offset};
      Tensor x, y;
      const float* w = nullptr;
      if (uploaded_[cur_]) {  // uploaded during the previous step: wait for the copies, no new ones
        kernels::cuda_wait_uploads(*rep.cuda, cur_);
        x = rep.x[cur_].rows(0, s.count);
        y = rep.y[cur_].rows(0, s.count);
        if (use_w_) w = rep.w[cur_].data();
      } else {
        x = slice_for(rep, x_buf_[cur_], rep.x[cur_], s.offset, s.count);
        y = slice_for(rep, y_buf_[cur_], rep.y[cur_], s.offset, s.count);
        if (use_w_) w = slice_for(rep, w_buf_[cur_], rep.w[cur_], s.offset, s.count).data();
      }
      Tensor out = m.forward(rep.ctx, x, true);
      Tensor g = m.output_grad(s.count);
      if (mask_layer_ >= 0) w = mask_weights(rep);
      if (s.count > 0) replica_loss(rep, out, y, scale, &g, w, metric_sums != nullptr);
      m.set_activity_scale(1.f / float(rows));  // Keras divides the penalty by the batch's size
      m.backward(rep.ctx, x, hook);
    } else if (hook) {
      m.emit_grad_ranges(hook);
    }
    if (hook) rep.reducer.flush();
    if (merge_stats) {  // moving statistics: every replica takes the average (rank-order sum / N)
      const int64_t U = m.num_updated();  // the constants after them stay as they are
      comm_->all_reduce_sum(r, m.params() + T, U - T);
      comm_->join(r);
      scale_floats(rep, m.params() + T, U - T, 1.f / float(N));
    }
    comm_->join(r);  // GPUs: the update waits for the last gradient bucket
    if (!ps || r == 0) {
      replica_penalty(rep, true);  // Keras's regularizers: the summed gradient gains their slopes
      rep.opt->apply(rep.ctx, m.params(), m.grads());
      replica_constraints(rep);  // after every update, as Keras's optimizers apply them
    }
    if (ps && N > 1) {  // the server's updated weights go back to every worker
      const auto t = Clock::now();
      comm_->broadcast(r, m.params(), T, 0);
      comm_->join(r);
      rep.reducer.seconds_ += std::chrono::duration<double>(Clock::now() - t).count();
      rep.reducer.bytes_ += T * int64_t(sizeof(float));
    }
    finish_rows(rep, s.count);
    if (s.count > 0 || rep.ctx.batch_sync) rep.activity = m.activity_penalty();  // (finish_rows synced)
    if (r == 0) rep.penalty = penalty_sum(rep);                                  // at the weights the step started from
  };
  on_replicas(work);
  uploaded_[cur_] = false;  // consumed: a batch is uploaded once per step, as in fit
  double total = 0, comm_s = 0, activity = 0;
  for (auto& rep : replicas_) {  // rank order: the same sum whatever the thread timing
    total += rep->loss;
    activity += rep->activity;
    if (metric_sums)
      for (size_t k = 0; k < metric_sums->size() && k < rep->metric_sums.size(); ++k)
        (*metric_sums)[k] += rep->metric_sums[k];
    comm_s += rep->reducer.seconds_;
  }
  if (mask_layer_ >= 0) total *= kept > 0 ? double(rows) / double(kept) : 0.0;
  total += replicas_[0]->penalty * double(rows);  // Keras's loss adds the regularizers' penalty
  total += activity;                              // and the activity regularizers' (over rows, later)
  metric_weight_ = mask_layer_ >= 0 ? double(kept) : double(rows);
  last_.comm_ms = 1000.0 * comm_s / N;
  last_.bytes_reduced = replicas_[0]->reducer.bytes_;
  ++steps_done_;
  if (popt_.check_every > 0 && steps_done_ % popt_.check_every == 0) check_replicas(epoch, step);
  return total;
}

double Trainer::learning_rate() const { return replicas_[0]->opt->learning_rate(); }

void Trainer::set_label_smoothing(double s) {
  check_label_smoothing(loss_, s);
  label_smoothing_ = s;
}

void Trainer::set_huber_delta(double delta) {
  check_huber_delta(loss_, delta);
  huber_delta_ = delta;
}

void Trainer::set_focal(const FocalParams& f) {
  check_focal(loss_, f);
  focal_ = f;
}

void Trainer::set_learning_rate(double lr) {
  DPT_CHECK(lr > 0 && std::isfinite(lr), "learning rate must be > 0, got " << lr);
  for (auto& rep : replicas_) rep->opt->set_learning_rate(lr);
}

std::vector<float> Trainer::get_weights() {
  sync_template();
  return std::vector<float>(template_.params(), template_.params() + template_.num_params());
}

void Trainer::set_weights(const std::vector<float>& w) {
  DPT_CHECK(int64_t(w.size()) == template_.num_params(), "set_weights: " << w.size() << " values for "
                                                                        << template_.num_params() << " weights");
  std::copy(w.begin(), w.end(), template_.params());
  for (auto& rep : replicas_) {
    if (rep->cuda) kernels::cuda_stream_sync(*rep->cuda);
    rep->model->copy_params_from(template_);
  }
}

void Trainer::save_template(const std::string& path, bool weights_only) {
  sync_template();
  if (weights_only)
    save_weights_as_keras(template_, path, &optimizer());
  else
    save_model(template_, path, loss_spec(), metric_requests(), &optimizer(),
               nullptr);  // a host copy of the state on GPUs
}

void Trainer::set_optimizer_state(const Optimizer& state) {
  for (auto& rep : replicas_) rep->opt->copy_state_from(state);
}

void Trainer::check_replicas(int64_t epoch, int64_t step) const {
  const int64_t n = template_.num_params();  // trainable weights and merged moving statistics
  std::vector<float> host;
  auto sum_of = [&](const Replica& rep) {
    if (!rep.cuda) return checksum(rep.model->params(), n);
    host.resize(size_t(n));
    kernels::cuda_stream_sync(*rep.cuda);
    copy_floats(host.data(), Device::cpu(), rep.model->params(), rep.ctx.device, n);
    return checksum(host.data(), n);
  };
  const uint64_t ref = sum_of(*replicas_[0]);
  std::string bad;
  for (size_t r = 1; r < replicas_.size(); ++r)
    if (sum_of(*replicas_[r]) != ref) bad += (bad.empty() ? "" : ", ") + std::to_string(r);
  DPT_CHECK(bad.empty(), "replica weights diverged at epoch " << epoch + 1 << ", step " << step + 1 << ": replica(s) "
                                                              << bad << " differ from replica 0; training stopped");
}

void Trainer::finalize_optimizer() {
  if (!replicas_[0]->opt->uses_ema()) return;
  const bool ps = popt_.strategy == Strategy::parameter_server;
  const int N = replicas();
  const int64_t T = template_.num_trainable();
  auto work = [&](int r) {
    Replica& rep = *replicas_[size_t(r)];
    rep.enter();
    if (!ps || r == 0) rep.opt->finalize(rep.ctx, rep.model->params());
    if (ps && N > 1) {
      comm_->broadcast(r, rep.model->params(), T, 0);
      comm_->join(r);
    }
  };
  on_replicas(work);
}

void Trainer::sync_template() {
  // Replicas are identical (weights by construction, moving statistics merged every step).
  if (replicas_[0]->cuda) kernels::cuda_stream_sync(*replicas_[0]->cuda);
  template_.copy_params_from(*replicas_[0]->model);
}

}  // namespace dpt
