// The one rule for choosing which checkpoints of a directory form the chain
// to read: the newest full checkpoint that verifies, then the incrementals
// after it in id order, each of which must name that full checkpoint as its
// parent and the previous member as its previous, up to the first that is
// damaged or does not follow on. RestoreCheckpoint() (checkpoint.h) and
// ReadCheckpointChain() (chain_reader.h) both choose with it.
//
// Thread safety: a pure function (`verify` is called on the caller's
// thread).
#ifndef FRESHET_CKPT_CHAIN_CHOICE_H_
#define FRESHET_CKPT_CHAIN_CHOICE_H_

#include <cstddef>
#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/status.h"
#include "freshet/ckpt/checkpoint.h"

namespace freshet {

// Which checkpoints of a list (ListCheckpoints() order) form the newest good
// chain.
struct ChainChoice {
  std::vector<size_t> chain;  // indices into the list, full first; empty
                              // when no full checkpoint is good
  // The checkpoints newer than the chain's last one, by increasing id, each
  // with why it is not used.
  std::vector<std::pair<size_t, std::string>> skipped;
};

// Picks the newest good chain of `list`. `verify` checks one checkpoint
// (VerifyCheckpoint(), or a cached result of it); it is called only for the
// checkpoints the choice depends on.
ChainChoice ChooseNewestGoodChain(
    const std::vector<CheckpointInfo>& list,
    const std::function<absl::Status(const CheckpointInfo&)>& verify);

}  // namespace freshet

#endif  // FRESHET_CKPT_CHAIN_CHOICE_H_
