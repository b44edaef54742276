// GPU test helpers shared by the GPU training and replica tests (see gpu_test_util.h).
#include "gpu/gpu_test_util.h"
#include "core/data/readers.h"
#include "core/optimizers/optimizer.h"
#include "core/presets.h"
#include "test_util.h"

namespace dpt::test {

std::vector<Device> gpus(int n) {
  std::vector<Device> d;
  for (int i = 0; i < n; ++i) d.push_back(Device::cuda(i));
  return d;
}

std::vector<Device> on_gpu0(int replicas) { return std::vector<Device>(size_t(replicas), Device::cuda(0)); }

std::unique_ptr<Sequential> model_for(const std::string& which) {
  if (which == "bn-net") return bn_dropout_net(11);
  if (which == "graph-net") return graph_net(11);
  if (which == "embed-net") return embed_net(11);
  if (which == "dot-net") return dot_net(11);
  if (which == "two-tower-net") return two_tower_net(11);
  if (which == "attention-net") return attention_net(11);
  if (which == "masked-attention-net") return masked_attention_net(11);
  if (which == "luong-net") return luong_net(11);
  if (which == "bahdanau-net") return bahdanau_net(11);
  if (which == "gqa-net") return gqa_net(11);
  if (which == "lstm-net") return lstm_net(11);
  if (which == "gru-net") return gru_net(11);
  if (which == "srnn-net") return srnn_net(11);
  if (which == "rnn-dropout-net") return rnn_dropout_net(11);
  if (which == "rnn-acts-net") return rnn_acts_net(11);
  if (which == "gru-v1-net") return gru_v1_net(11);
  if (which == "bidir-net") return bidir_net(11);
  if (which == "tdist-net") return tdist_net(11);
  if (which == "masked-rnn-net") return masked_rnn_net(11);
  if (which == "seqout-net") return seqout_net(11);
  if (which == "maskout-net") return maskout_net(11);
  auto m = find_preset(which).make();
  m->build(find_preset(which).input, 11);
  return m;
}

double train_pair(const std::string& which, const std::vector<Device>& a, const std::vector<Device>& b, int64_t batch,
                  ParallelOptions po, const std::string& optimizer) {
  OptimizerConfig oc;
  oc.name = optimizer;
  return train_pair(which, a, b, batch, po, oc);
}

double train_pair(const std::string& which, const std::vector<Device>& a, const std::vector<Device>& b, int64_t batch,
                  ParallelOptions po, const OptimizerConfig& oc) {
  auto ma = model_for(which), mb = model_for(which);
  const Shape in = ma->input_shape();
  Dataset data = make_synthetic(in, shape_numel(ma->output_shape()), 96, 5, ma->input_index_limit());
  if (ma->num_inputs() > 1) data.inputs = ma->input_shapes();  // packed rows, one part an input
  FitOptions fo;
  fo.epochs = 2;
  fo.batch_size = batch;
  fo.steps_per_epoch = 4;
  fo.verbose = 0;
  fo.seed = 3;
  auto opt = make_optimizer(oc);
  Trainer(*ma, a, LossKind::categorical_crossentropy, *opt, 1, po).fit(data, nullptr, fo, {});
  Trainer(*mb, b, LossKind::categorical_crossentropy, *opt, 1, po).fit(data, nullptr, fo, {});
  return rel_diff(*ma, *mb);
}

}  // namespace dpt::test
