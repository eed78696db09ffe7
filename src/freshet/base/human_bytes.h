// HumanBytes: a byte count for people, as the CLI prints table sizes and
// checkpoint directories.
#ifndef FRESHET_BASE_HUMAN_BYTES_H_
#define FRESHET_BASE_HUMAN_BYTES_H_

#include <cstdint>
#include <string>

namespace freshet {

// "512 B" below 1 KiB; else one decimal in the largest binary unit that
// keeps the number at least 1 (KiB up to TiB): "1.5 MiB", "2048.0 TiB".
std::string HumanBytes(uint64_t bytes);

}  // namespace freshet

#endif  // FRESHET_BASE_HUMAN_BYTES_H_
