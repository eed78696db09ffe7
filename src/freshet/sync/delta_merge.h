// Merging delta batches: what a publisher does with a batch its sink did not
// acknowledge.
//
// MergeOlderInto(older, newer) makes `newer` carry, per table, the net effect
// of applying `older` and then `newer`: a key's latest change wins (an upsert
// in `newer` replaces the row of `older`; a deletion in `newer` removes it),
// a key deleted and re-inserted becomes an upsert, a key upserted and then
// deleted a deletion. Deletions still go before rows, but no key is both
// deleted and upserted. `newer` keeps its header (epoch, versions, cut time,
// examples); it takes the dense part of `older` when it has none of its own
// and the older of the two freshness stamps. Merging into a full batch keeps
// it full: the older rows are all in it already.
//
// The cost is one hash set of `newer`'s keys per table and a pass over
// `older`; it is paid only after a failed send.
//
// Plain functions over values; not synchronised.
#ifndef FRESHET_SYNC_DELTA_MERGE_H_
#define FRESHET_SYNC_DELTA_MERGE_H_

#include "freshet/sync/delta_batch.h"

namespace freshet {

// Tables are matched by name; a table only `older` has is appended.
void MergeOlderInto(DeltaBatch older, DeltaBatch* newer);

}  // namespace freshet

#endif  // FRESHET_SYNC_DELTA_MERGE_H_
