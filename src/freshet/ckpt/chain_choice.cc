#include "freshet/ckpt/chain_choice.h"

#include "absl/strings/str_format.h"

namespace freshet {

ChainChoice ChooseNewestGoodChain(
    const std::vector<CheckpointInfo>& list,
    const std::function<absl::Status(const CheckpointInfo&)>& verify) {
  ChainChoice choice;
  // Why a checkpoint was found unusable, by index into `list`.
  std::vector<std::string> why(list.size());
  auto finish = [&](size_t from) {
    for (size_t k = from; k < list.size(); ++k) {
      std::string reason = why[k];
      if (reason.empty()) {
        reason = list[k].manifest.kind == CheckpointKind::kIncremental
                     ? absl::StrFormat(
                           "its chain (full checkpoint %d) is not usable",
                           list[k].manifest.parent_id)
                     : std::string("its chain is broken");
      }
      choice.skipped.emplace_back(k, std::move(reason));
    }
  };
  for (size_t i = list.size(); i-- > 0;) {
    const CheckpointInfo& full = list[i];
    if (!full.manifest_status.ok()) {
      why[i] = std::string(full.manifest_status.message());
      continue;
    }
    if (full.manifest.kind != CheckpointKind::kFull) continue;
    absl::Status st = verify(full);
    if (!st.ok()) {
      why[i] = std::string(st.message());
      continue;
    }
    choice.chain.push_back(i);
    for (size_t j = i + 1; j < list.size(); ++j) {
      const CheckpointInfo& c = list[j];
      if (!why[j].empty()) break;
      const CheckpointInfo& prev = list[choice.chain.back()];
      if (c.manifest.kind != CheckpointKind::kIncremental ||
          c.manifest.parent_id != full.id ||
          c.manifest.previous_id != prev.id) {
        why[j] = absl::StrFormat(
            "does not follow checkpoint %d (%s, parent %d, previous %d)",
            prev.id, CheckpointKindName(c.manifest.kind), c.manifest.parent_id,
            c.manifest.previous_id);
        break;
      }
      st = verify(c);
      if (!st.ok()) {
        why[j] = std::string(st.message());
        break;
      }
      choice.chain.push_back(j);
    }
    finish(choice.chain.back() + 1);
    return choice;
  }
  finish(0);
  return choice;
}

}  // namespace freshet
