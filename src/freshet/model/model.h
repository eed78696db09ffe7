// Model: the dense part of a recommendation model, and the model zoo.
//
// A Freshet model is embedding lookups per slot plus a dense part. The
// trainer (or the predictor) looks rows up in the embedding tables and pools
// each slot's rows (sum or mean, with id weights); the model sees, for a batch
// of B examples, the pooled rows and the dense features, and returns one logit
// per example. Backward returns the gradient with respect to every pooled row,
// which the caller scatters back to the table rows, and accumulates the
// gradient of the dense parameters into a flat buffer laid out like params(),
// to which the caller applies a dense optimizer.
//
// What each slot needs from the tables is given by shape(): a slot may need a
// `wide` row (one weight, dim 1, from a dim-1 table) and/or an embedding row of
// `embedding_dim` (0: none). The model zoo:
//
//   lr         bias + Σ_slots wide + w·dense
//   fm         lr + FM second-order term over the slots' factors
//   deepfm     fm + MLP(concat(factors, dense)); FM and MLP share the factors
//   wide_deep  lr + MLP(concat(embeddings, dense))
//   dcn_v2     MLP(CrossNetV2(concat(embeddings, dense))): the stacked form,
//              cross layers first, then the hidden layers, then a linear
//              output layer (with `hidden` empty: cross layers + linear)
//   mlp        MLP(concat(embeddings, dense))
//
// Every MLP is `hidden` layers with `activation` followed by a linear layer to
// one logit. fm and deepfm require every slot's embedding dim to be equal.
//
// Batch layout (all row-major, one row per example, as the caller pools into
// them): embeddings [B x shape().embedding_width] with slot s in columns
// [embedding_offset, embedding_offset + embedding_dim); wide [B x num_slots];
// dense [B x num_dense].
//
// Thread safety: after Create() the structure is immutable. Forward() and
// Backward() are const and may run concurrently on separate Workspaces; the
// forward pass is the same code in training and serving. Writing params()
// while another thread runs Forward() is the caller's to synchronise.
//
// Determinism: the same spec, shape and seed give bit-identical parameters,
// and the same inputs then give bit-identical outputs in one build.
//
// The model is a template over the scalar type so that tests can check the
// hand-derived gradients against finite differences in double precision;
// training and serving use Model = BasicModel<float>.
#ifndef FRESHET_MODEL_MODEL_H_
#define FRESHET_MODEL_MODEL_H_

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/types/span.h"
#include "freshet/base/config.h"
#include "freshet/model/activation.h"
#include "freshet/model/cross_net.h"
#include "freshet/model/fm_interaction.h"
#include "freshet/model/mlp.h"

namespace freshet {

enum class ModelType { kLr, kFm, kDeepFm, kWideDeep, kDcnV2, kMlp };

// Parses "lr", "fm", "deepfm", "wide_deep", "dcn_v2" or "mlp".
absl::StatusOr<ModelType> ParseModelType(std::string_view name);
std::string ModelTypeName(ModelType type);

struct SlotShape {
  bool needs_wide = false;   // look up a dim-1 wide row for this slot
  int embedding_dim = 0;     // look up an embedding row of this dim; 0: none
  int embedding_offset = 0;  // first column of the slot in the embeddings
};

struct ModelShape {
  std::vector<SlotShape> slots;
  int num_dense = 0;
  int embedding_width = 0;  // Σ embedding_dim over the slots
  bool needs_wide = false;  // the model reads ModelInput::wide

  int num_slots() const { return static_cast<int>(slots.size()); }
};

// Decides which rows a model of `spec` needs per slot, given the dim of each
// slot's embedding table (in schema order) and the number of dense features.
absl::StatusOr<ModelShape> ResolveModelShape(const ModelSpec& spec,
                                             absl::Span<const int> slot_dims,
                                             int num_dense);

// The embedding dim of every slot of `job`'s schema, from its table.
absl::StatusOr<std::vector<int>> SlotDimsOf(const JobConfig& job);

// A named range of the flat parameter buffer, for inspection and logs.
struct ParamBlock {
  std::string name;  // e.g. "wide/bias", "mlp/0/w", "cross/1/b"
  size_t offset = 0;
  size_t size = 0;
};

// One batch, as pointers into caller buffers (see the layout above). A
// pointer may be null when its width is 0 or, for `wide`, when the model does
// not need it.
template <typename T>
struct BasicModelInput {
  int batch = 0;
  const T* embeddings = nullptr;  // [batch x embedding_width]
  const T* wide = nullptr;        // [batch x num_slots]
  const T* dense = nullptr;       // [batch x num_dense]
};

// Gradients of the loss with respect to the inputs, overwritten by Backward.
// Null pointers are not computed.
template <typename T>
struct BasicModelInputGrad {
  T* embeddings = nullptr;  // [batch x embedding_width]
  T* wide = nullptr;        // [batch x num_slots]
};

template <typename T>
class BasicModel;

// Scratch memory of one Forward/Backward pair. It grows to the largest batch
// seen and is then reused: a warm workspace makes both passes allocation-free.
// Not thread-safe: one workspace per thread.
template <typename T>
class BasicWorkspace {
 public:
  size_t capacity() const { return buf_.size(); }

 private:
  friend class BasicModel<T>;
  std::vector<T> buf_;
  int batch_ = 0;  // batch of the last Forward
};

template <typename T>
class BasicModel {
 public:
  using Input = BasicModelInput<T>;
  using InputGrad = BasicModelInputGrad<T>;
  using Workspace = BasicWorkspace<T>;

  // Builds the model of `spec` and initialises its parameters from `seed`
  // (Xavier uniform, He uniform before relu; biases 0). `slot_dims` and
  // `num_dense` as for ResolveModelShape().
  static absl::StatusOr<std::unique_ptr<BasicModel>> Create(
      const ModelSpec& spec, absl::Span<const int> slot_dims, int num_dense,
      uint64_t seed);

  BasicModel(const BasicModel&) = delete;
  BasicModel& operator=(const BasicModel&) = delete;

  ModelType type() const { return type_; }
  const ModelShape& shape() const { return shape_; }

  // The flat dense parameters; gradients use the same layout.
  absl::Span<T> params() { return absl::MakeSpan(params_); }
  absl::Span<const T> params() const { return absl::MakeConstSpan(params_); }
  size_t num_params() const { return params_.size(); }
  const std::vector<ParamBlock>& param_blocks() const { return blocks_; }

  // ln(r) for negative-sampling rate r: add it to a logit before serving.
  double serving_logit_offset() const { return serving_logit_offset_; }

  // Multiply-adds ×2 of the dense layers per example in Forward; Backward
  // costs about twice as much.
  double forward_flops_per_example() const;

  // logits[b] for every example of `input` (overwritten). REQUIRES: `input`
  // follows shape(); batch > 0.
  void Forward(const Input& input, Workspace* workspace, T* logits) const;

  // Backward pass for dL/dlogits = dlogits [batch]: adds the parameter
  // gradients into dparams (num_params() floats, not cleared) and writes the
  // input gradients that `grad` asks for (grad may be null).
  // REQUIRES: Forward(input, workspace, ...) was the last call on
  // `workspace`, with the same input and parameters.
  void Backward(const Input& input, Workspace* workspace, const T* dlogits,
                T* dparams, const InputGrad* grad) const;

 private:
  BasicModel() = default;

  // Row-major [batch x width] regions of the workspace, as offsets per
  // example: region r starts at batch * offset.
  struct Layout {
    size_t x0 = 0;          // tower input, when it must be concatenated
    size_t cross = 0;       // cross network state
    size_t acts = 0;        // MLP activations
    size_t fm_state = 0;    // FM per-example state
    size_t fm_out = 0;      // FM output [batch]
    size_t dx0 = 0;         // d tower input
    size_t dcross_out = 0;  // d cross output
    size_t cross_scratch = 0;
    size_t mlp_scratch = 0;
    size_t total = 0;
  };

  const T* TowerInput(const Input& input, const T* ws) const;

  ModelType type_ = ModelType::kLr;
  ModelShape shape_;
  bool has_wide_ = false;
  std::optional<FmInteraction<T>> fm_;
  std::optional<CrossNetV2<T>> cross_;
  std::optional<Mlp<T>> mlp_;
  int tower_in_ = 0;
  bool concat_tower_input_ = false;
  size_t wide_offset_ = 0;  // bias, then num_dense weights
  std::vector<T> params_;
  std::vector<ParamBlock> blocks_;
  Layout layout_;
  double serving_logit_offset_ = 0.0;
};

using Model = BasicModel<float>;
using ModelInput = BasicModelInput<float>;
using ModelInputGrad = BasicModelInputGrad<float>;
using ModelWorkspace = BasicWorkspace<float>;

extern template class BasicModel<float>;
extern template class BasicModel<double>;

}  // namespace freshet

#endif  // FRESHET_MODEL_MODEL_H_
