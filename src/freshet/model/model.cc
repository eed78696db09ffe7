#include "freshet/model/model.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <utility>

#include "absl/strings/str_cat.h"
#include "freshet/base/status_macros.h"
#include "freshet/model/model_config.h"
#include "freshet/model/rng.h"

namespace freshet {
namespace {

template <typename T>
using ColVectorMap = Eigen::Map<Eigen::Matrix<T, Eigen::Dynamic, 1>>;
template <typename T>
using ConstColVectorMap = Eigen::Map<const Eigen::Matrix<T, Eigen::Dynamic, 1>>;

bool UsesWide(ModelType t) {
  return t == ModelType::kLr || t == ModelType::kFm ||
         t == ModelType::kDeepFm || t == ModelType::kWideDeep;
}
bool UsesFm(ModelType t) {
  return t == ModelType::kFm || t == ModelType::kDeepFm;
}
bool UsesTower(ModelType t) {
  return t == ModelType::kDeepFm || t == ModelType::kWideDeep ||
         t == ModelType::kDcnV2 || t == ModelType::kMlp;
}

}  // namespace

absl::StatusOr<ModelType> ParseModelType(std::string_view name) {
  if (name == "lr") return ModelType::kLr;
  if (name == "fm") return ModelType::kFm;
  if (name == "deepfm") return ModelType::kDeepFm;
  if (name == "wide_deep") return ModelType::kWideDeep;
  if (name == "dcn_v2") return ModelType::kDcnV2;
  if (name == "mlp") return ModelType::kMlp;
  return absl::InvalidArgumentError(absl::StrCat(
      "model.type: expected one of lr, fm, deepfm, wide_deep, dcn_v2, mlp, "
      "got '",
      std::string(name), "'"));
}

std::string ModelTypeName(ModelType type) {
  switch (type) {
    case ModelType::kLr:
      return "lr";
    case ModelType::kFm:
      return "fm";
    case ModelType::kDeepFm:
      return "deepfm";
    case ModelType::kWideDeep:
      return "wide_deep";
    case ModelType::kDcnV2:
      return "dcn_v2";
    case ModelType::kMlp:
      return "mlp";
  }
  return "unknown";
}

absl::StatusOr<ModelShape> ResolveModelShape(const ModelSpec& spec,
                                             absl::Span<const int> slot_dims,
                                             int num_dense) {
  ASSIGN_OR_RETURN(ModelType type, ParseModelType(spec.type));
  if (num_dense < 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model: number of dense features must be >= 0, got ", num_dense));
  }
  const bool embeddings = type != ModelType::kLr;
  ModelShape shape;
  shape.num_dense = num_dense;
  shape.needs_wide = UsesWide(type);
  for (size_t s = 0; s < slot_dims.size(); ++s) {
    SlotShape slot;
    slot.needs_wide = shape.needs_wide;
    if (embeddings) {
      if (slot_dims[s] <= 0) {
        return absl::InvalidArgumentError(
            absl::StrCat("model ", spec.type, ": slot ", s,
                         ": embedding dim must be > 0, got ", slot_dims[s]));
      }
      if (UsesFm(type) && slot_dims[s] != slot_dims[0]) {
        return absl::InvalidArgumentError(absl::StrCat(
            "model ", spec.type,
            ": every slot needs the same embedding dim "
            "(the FM term takes inner products of their factors); slot 0 has ",
            slot_dims[0], ", slot ", s, " has ", slot_dims[s]));
      }
      slot.embedding_dim = slot_dims[s];
      slot.embedding_offset = shape.embedding_width;
      shape.embedding_width += slot_dims[s];
    }
    shape.slots.push_back(slot);
  }
  if (UsesFm(type) && slot_dims.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("model ", spec.type, ": needs at least one slot"));
  }
  if (UsesTower(type) && shape.embedding_width + num_dense == 0) {
    return absl::InvalidArgumentError(absl::StrCat(
        "model ", spec.type, ": needs at least one slot or dense feature"));
  }
  return shape;
}

absl::StatusOr<std::vector<int>> SlotDimsOf(const JobConfig& job) {
  std::vector<int> dims;
  for (const SlotSpec& slot : job.schema.slots) {
    const std::string& table = slot.table.empty() ? slot.name : slot.table;
    const TableSpec* found = nullptr;
    for (const TableSpec& t : job.tables) {
      if (t.name == table) found = &t;
    }
    if (found == nullptr) {
      return absl::NotFoundError(absl::StrCat("schema.slots: slot '", slot.name,
                                              "': no table named '", table,
                                              "' in tables"));
    }
    dims.push_back(found->dim);
  }
  return dims;
}

template <typename T>
absl::StatusOr<std::unique_ptr<BasicModel<T>>> BasicModel<T>::Create(
    const ModelSpec& spec, absl::Span<const int> slot_dims, int num_dense,
    uint64_t seed) {
  ASSIGN_OR_RETURN(ModelShape shape,
                   ResolveModelShape(spec, slot_dims, num_dense));
  ASSIGN_OR_RETURN(ModelType type, ParseModelType(spec.type));
  ASSIGN_OR_RETURN(Activation activation, ParseActivation(spec.activation));
  std::string key, message;
  if (FindModelRangeError(spec, &key, &message)) {
    return absl::InvalidArgumentError(
        absl::StrCat("model.", key, ": ", message));
  }

  std::unique_ptr<BasicModel<T>> m(new BasicModel<T>());
  m->type_ = type;
  m->shape_ = std::move(shape);
  m->serving_logit_offset_ = std::log(spec.negative_sampling_rate);
  const ModelShape& sh = m->shape_;
  size_t at = 0;
  if (UsesWide(type)) {
    m->has_wide_ = true;
    m->wide_offset_ = at;
    m->blocks_.push_back({"wide/bias", at, 1});
    at += 1;
    if (sh.num_dense > 0) {
      m->blocks_.push_back(
          {"wide/dense", at, static_cast<size_t>(sh.num_dense)});
      at += sh.num_dense;
    }
  }
  if (UsesFm(type)) {
    m->fm_.emplace(sh.num_slots(), sh.slots[0].embedding_dim);
  }
  if (UsesTower(type)) {
    m->tower_in_ = sh.embedding_width + sh.num_dense;
    m->concat_tower_input_ = sh.embedding_width > 0 && sh.num_dense > 0;
    if (type == ModelType::kDcnV2 && spec.cross_layers > 0) {
      m->cross_.emplace(m->tower_in_, spec.cross_layers, at);
      for (int l = 0; l < spec.cross_layers; ++l) {
        const Linear<T>& layer = m->cross_->layers()[l];
        m->blocks_.push_back({absl::StrCat("cross/", l, "/w"), layer.offset(),
                              static_cast<size_t>(layer.in()) * layer.out()});
        m->blocks_.push_back(
            {absl::StrCat("cross/", l, "/b"),
             layer.offset() + static_cast<size_t>(layer.in()) * layer.out(),
             static_cast<size_t>(layer.out())});
      }
      at += m->cross_->num_params();
    }
    std::vector<int> dims = spec.hidden;
    dims.push_back(1);
    m->mlp_.emplace(m->tower_in_, dims, activation, /*activate_last=*/false,
                    at);
    for (size_t l = 0; l < dims.size(); ++l) {
      const Linear<T>& layer = m->mlp_->layers()[l];
      m->blocks_.push_back({absl::StrCat("mlp/", l, "/w"), layer.offset(),
                            static_cast<size_t>(layer.in()) * layer.out()});
      m->blocks_.push_back(
          {absl::StrCat("mlp/", l, "/b"),
           layer.offset() + static_cast<size_t>(layer.in()) * layer.out(),
           static_cast<size_t>(layer.out())});
    }
    at += m->mlp_->num_params();
  }
  m->params_.assign(at, T(0));

  Rng rng(seed);
  if (m->cross_) m->cross_->Init(&rng, m->params_.data());
  if (m->mlp_) m->mlp_->Init(&rng, m->params_.data());

  Layout& lay = m->layout_;
  size_t w = 0;
  auto region = [&w](size_t width) {
    const size_t start = w;
    w += width;
    return start;
  };
  if (m->concat_tower_input_) lay.x0 = region(m->tower_in_);
  if (m->cross_) lay.cross = region(m->cross_->StateFloats());
  if (m->mlp_) lay.acts = region(m->mlp_->ActivationFloats());
  if (m->fm_) {
    lay.fm_state = region(m->fm_->StateFloats());
    lay.fm_out = region(1);
  }
  if (m->mlp_) {
    lay.dx0 = region(m->tower_in_);
    lay.mlp_scratch = region(m->mlp_->BackwardScratchFloats());
  }
  if (m->cross_) {
    lay.dcross_out = region(m->tower_in_);
    lay.cross_scratch = region(m->cross_->BackwardScratchFloats());
  }
  lay.total = w;
  return m;
}

template <typename T>
double BasicModel<T>::forward_flops_per_example() const {
  double f = 0;
  if (has_wide_) f += shape_.num_slots() + 2.0 * shape_.num_dense + 1;
  if (fm_) f += 3.0 * fm_->num_fields() * fm_->dim() + 2.0 * fm_->dim();
  if (cross_) f += cross_->flops_per_example();
  if (mlp_) f += mlp_->flops_per_example();
  return f;
}

template <typename T>
const T* BasicModel<T>::TowerInput(const Input& input, const T* ws) const {
  if (concat_tower_input_) return ws + input.batch * layout_.x0;
  return shape_.embedding_width > 0 ? input.embeddings : input.dense;
}

template <typename T>
void BasicModel<T>::Forward(const Input& input, Workspace* workspace,
                            T* logits) const {
  const int batch = input.batch;
  const size_t need = static_cast<size_t>(batch) * layout_.total;
  if (workspace->buf_.size() < need) workspace->buf_.resize(need);
  workspace->batch_ = batch;
  T* ws = workspace->buf_.data();
  const T* p = params_.data();
  ColVectorMap<T> out(logits, batch);

  if (has_wide_) {
    const int slots = shape_.num_slots();
    const int dense = shape_.num_dense;
    const T bias = p[wide_offset_];
    const T* w = p + wide_offset_ + 1;
    for (int b = 0; b < batch; ++b) {
      T z = slots > 0 ? SequentialSum(input.wide + b * slots, slots) : T(0);
      z += bias;
      if (dense > 0) z += SequentialDot(input.dense + b * dense, w, dense);
      logits[b] = z;
    }
  } else {
    out.setZero();
  }

  if (fm_) {
    T* fm_out = ws + batch * layout_.fm_out;
    fm_->Forward(batch, input.embeddings, fm_out,
                 ws + batch * layout_.fm_state);
    out += ConstColVectorMap<T>(fm_out, batch);
  }

  if (mlp_) {
    if (concat_tower_input_) {
      MatrixMap<T> x0(ws + batch * layout_.x0, batch, tower_in_);
      const int e = shape_.embedding_width;
      x0.leftCols(e) = ConstMatrixMap<T>(input.embeddings, batch, e);
      x0.rightCols(shape_.num_dense) =
          ConstMatrixMap<T>(input.dense, batch, shape_.num_dense);
    }
    const T* x0 = TowerInput(input, ws);
    const T* mlp_in = x0;
    if (cross_) {
      T* state = ws + batch * layout_.cross;
      cross_->Forward(p, batch, x0, state);
      mlp_in = cross_->Output(batch, x0, state);
    }
    T* acts = ws + batch * layout_.acts;
    mlp_->Forward(p, batch, mlp_in, acts);
    out += ConstColVectorMap<T>(mlp_->Output(batch, acts), batch);
  }
}

template <typename T>
void BasicModel<T>::Backward(const Input& input, Workspace* workspace,
                             const T* dlogits, T* dparams,
                             const InputGrad* grad) const {
  const int batch = input.batch;
  assert(workspace->batch_ == batch);
  T* ws = workspace->buf_.data();
  const T* p = params_.data();
  ConstColVectorMap<T> dout(dlogits, batch);
  T* demb = grad != nullptr && shape_.embedding_width > 0 ? grad->embeddings
                                                          : nullptr;

  if (has_wide_) {
    dparams[wide_offset_] += SequentialSum(dlogits, batch);
    if (shape_.num_dense > 0) {
      // Row by row, so that the rounding does not depend on addresses.
      VectorMap<T> dw(dparams + wide_offset_ + 1, shape_.num_dense);
      ConstMatrixMap<T> dense(input.dense, batch, shape_.num_dense);
      for (int b = 0; b < batch; ++b) dw += dlogits[b] * dense.row(b);
    }
    if (grad != nullptr && grad->wide != nullptr && shape_.num_slots() > 0) {
      MatrixMap<T>(grad->wide, batch, shape_.num_slots()).colwise() = dout;
    }
  }

  if (mlp_) {
    const T* x0 = TowerInput(input, ws);
    const T* mlp_in =
        cross_ ? cross_->Output(batch, x0, ws + batch * layout_.cross) : x0;
    T* dx0 = ws + batch * layout_.dx0;
    // The tower's input gradient is needed for the embeddings and, with a
    // cross network, for the cross network's own parameters.
    const bool need_dx0 = demb != nullptr;
    T* dmlp_in = nullptr;
    if (cross_) {
      dmlp_in = ws + batch * layout_.dcross_out;
    } else if (need_dx0) {
      dmlp_in = dx0;
    }
    mlp_->Backward(p, batch, mlp_in, ws + batch * layout_.acts, dlogits,
                   ws + batch * layout_.mlp_scratch, dparams, dmlp_in);
    if (cross_) {
      cross_->Backward(p, batch, x0, ws + batch * layout_.cross, dmlp_in,
                       ws + batch * layout_.cross_scratch, dparams, dx0);
    }
    if (need_dx0) {
      const int e = shape_.embedding_width;
      MatrixMap<T>(demb, batch, e) =
          ConstMatrixMap<T>(dx0, batch, tower_in_).leftCols(e);
    }
  } else if (demb != nullptr) {
    MatrixMap<T>(demb, batch, shape_.embedding_width).setZero();
  }

  if (fm_ && demb != nullptr) {
    fm_->Backward(batch, input.embeddings, ws + batch * layout_.fm_state,
                  dlogits, demb);
  }
}

template class BasicModel<float>;
template class BasicModel<double>;

}  // namespace freshet
