// The text that `freshet ckpt ls`, `verify` and `digest` print of a
// checkpoint folder: its inventory (inventory.h) as a table, the verdicts of
// a verification with the chain restore would use, and the digest of the
// newest good chain (chain_reader.h). JSON is inventory.h's FolderJson().
//
// Thread safety: free functions over plain values; VerifyFolderText() reads
// the folder as VerifyCheckpointFolder() does.
#ifndef FRESHET_CKPT_INVENTORY_TEXT_H_
#define FRESHET_CKPT_INVENTORY_TEXT_H_

#include <functional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "freshet/ckpt/chain_reader.h"
#include "freshet/ckpt/inventory.h"

namespace freshet {

// The table row of one entry: ID, KIND, PARENT, PREVIOUS, CREATED (UTC),
// STREAM POSITION, EXAMPLES, ROWS, DELETED, BYTES, STATUS. A .tmp entry
// has "(.tmp)" as its kind, "-" in the manifest's columns and an
// "unpublished: ..." status; one whose manifest cannot be read has "?"
// there and the manifest's error as its status.
std::vector<std::string> FolderRow(const FolderEntry& e);

// `freshet ckpt ls DIR`: a header and one aligned row per entry; or, with
// no entries, "DIR: no checkpoints", which says when DIR is itself one
// checkpoint directory. Lines end in a newline.
std::string FolderText(const std::string& dir,
                       const std::vector<FolderEntry>& entries);

// "ckpt-0000000001 ok\n" or "ckpt-0000000001 DAMAGED: why\n".
std::string VerdictLine(const std::string& name, const absl::Status& status);

// `freshet ckpt verify DIR` of a folder's entries (ListCheckpointFolder()),
// given to `print` one line at a time (each ending in a newline) as the
// checkpoints are verified: "NAME ignored: unpublished ..." per .tmp entry,
// then a VerdictLine() per published one, "NAME not used by restore: why"
// per good one that restore would not use, "restore would use NAME (chain
// ...; stream position \"...\")" or "restore would fail: no good full
// checkpoint", and "D of P checkpoints damaged" when any is. With no
// published entry only "DIR: no checkpoints to verify" follows the .tmp
// lines. Returns the verification (no verdicts when nothing was published).
FolderVerification VerifyFolderText(
    const std::string& dir, const std::vector<FolderEntry>& entries,
    const std::function<void(const std::string& line)>& print);

// `freshet ckpt digest DIR`: "digest       <16 hex digits>" (the line of
// `freshet train`) and "as of        NAME (chain ...), created ..., stream
// position \"...\"", each ending in a newline.
std::string ChainDigestText(const CheckpointChain& chain);

}  // namespace freshet

#endif  // FRESHET_CKPT_INVENTORY_TEXT_H_
